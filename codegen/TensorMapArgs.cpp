//===- TensorMapArgs.cpp - Tensor maps as by-value grid constants ---------===//
//
// s2-tensor-map-args (Passes.td): after convert-gpu-to-nvvm, gives the
// arguments a kernel lists in `s2.tensor_map_args` the attributes of a
// `const __grid_constant__ CUtensorMap` parameter (llvm.byval of 128 bytes,
// llvm.align 64, nvvm.grid_constant), which a gpu.func cannot carry.
//
//===----------------------------------------------------------------------===//

#include "codegen/Lowering.h"
#include "codegen/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace s2c {
#define GEN_PASS_DEF_TENSORMAPARGS
#include "codegen/Passes.h.inc"
} // namespace s2c

using namespace mlir;

namespace {

struct TensorMapArgs : public s2c::impl::TensorMapArgsBase<TensorMapArgs> {
  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    Builder b(ctx);
    auto ptrTy = LLVM::LLVMPointerType::get(ctx);
    auto mapTy = LLVM::LLVMArrayType::get(b.getI8Type(), 128);
    module.walk([&](gpu::GPUFuncOp fn) {
      if (fn->hasAttr(s2c::kTensorMapArgsAttr)) {
        fn.emitError() << "'" << s2c::kTensorMapArgsAttr
                       << "' on a gpu.func: s2-tensor-map-args runs after "
                          "convert-gpu-to-nvvm";
        signalPassFailure();
      }
    });
    module.walk([&](LLVM::LLVMFuncOp fn) {
      auto marker =
          fn->getAttrOfType<DenseI64ArrayAttr>(s2c::kTensorMapArgsAttr);
      if (!marker)
        return;
      if (!fn->hasAttr(NVVM::NVVMDialect::getKernelFuncAttrName())) {
        fn.emitError() << "'" << s2c::kTensorMapArgsAttr
                       << "' on a function that is not a kernel";
        signalPassFailure();
        return;
      }
      for (int64_t i : marker.asArrayRef()) {
        if (i < 0 || i >= int64_t(fn.getNumArguments()) ||
            fn.getArgument(unsigned(i)).getType() != ptrTy) {
          fn.emitError() << "'" << s2c::kTensorMapArgsAttr << "' lists " << i
                         << ", which is not an !llvm.ptr argument";
          signalPassFailure();
          return;
        }
        unsigned a = unsigned(i);
        fn.setArgAttr(a, LLVM::LLVMDialect::getByValAttrName(),
                      TypeAttr::get(mapTy));
        fn.setArgAttr(a, LLVM::LLVMDialect::getAlignAttrName(),
                      b.getI64IntegerAttr(64));
        fn.setArgAttr(a, NVVM::NVVMDialect::getGridConstantAttrName(),
                      b.getUnitAttr());
      }
      fn->removeAttr(s2c::kTensorMapArgsAttr);
    });
  }
};

} // namespace
