//===- ConvertS2ToGPU.cpp - Tiled s2 IR to GPU kernels --------------------===//
//
// convert-s2-to-gpu: a thin pass over s2c::buildForwardKernel,
// s2c::buildMergeKernel and s2c::buildCopyKernel. It reads each s2.schedule
// and its s2.pattern back into the MLIR-free structs and lets the kernel
// builders append the forward kernel and the merge kernel of its dtype and
// head dim, then the copy kernel once; options pick the target, dtype and
// head dim (tile sizes are the schedule's).
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "codegen/CopyKernel.h"
#include "codegen/HopperKernel.h"
#include "codegen/KernelBuilder.h"
#include "dialect/IR/PatternConversion.h"
#include "dialect/IR/S2TiledOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace s2c {
#define GEN_PASS_DEF_CONVERTS2TOGPU
#include "codegen/Passes.h.inc"
} // namespace s2c

using namespace mlir;

namespace {

struct ConvertS2ToGPU : public s2c::impl::ConvertS2ToGPUBase<ConvertS2ToGPU> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    s2c::KernelConfig base;
    std::optional<s2c::KernelConfig::Target> parsedTarget =
        s2c::parseTargetName(target);
    if (!parsedTarget) {
      module.emitError() << "unknown target '" << target
                         << "'; expected sm_80 or sm_90a";
      return signalPassFailure();
    }
    base.target = *parsedTarget;
    std::optional<s2c::MmaKind> mmaKind = s2c::parseMmaKind(mma);
    if (!mmaKind) {
      module.emitError() << "unknown mma kind '" << mma
                         << "'; expected sync, wgmma or wgmma-serial";
      return signalPassFailure();
    }
    s2::DType optDtype = s2::DType::Any;
    if (!dtype.empty()) {
      std::optional<s2::DType> parsed = s2c::parseDTypeName(dtype);
      if (!parsed) {
        module.emitError() << "unsupported element type '" << dtype
                           << "'; the kernel builder supports bf16 and f16";
        return signalPassFailure();
      }
      optDtype = *parsed;
    }

    SmallVector<s2c::ScheduleOp> schedules(module.getOps<s2c::ScheduleOp>());
    if (schedules.empty()) {
      module.emitError() << "no 's2.schedule' in the module; run s2-tile "
                            "before convert-s2-to-gpu";
      return signalPassFailure();
    }
    for (s2c::ScheduleOp sched : schedules) {
      s2::Pattern pattern = s2c::patternFromOp(sched.getPatternOp());
      s2::Schedule schedule = s2c::scheduleFromOp(sched);
      s2c::KernelConfig cfg = base;
      cfg.dtype = optDtype != s2::DType::Any        ? optDtype
                  : pattern.dtype != s2::DType::Any ? pattern.dtype
                                                    : s2::DType::BF16;
      cfg.headDim = headDim > 0           ? int64_t(headDim)
                    : pattern.headDim > 0 ? pattern.headDim
                                          : 128;
      s2c::applyScheduleTiles(cfg, schedule);
      if (*mmaKind != s2c::MmaKind::Sync)
        cfg.keyTiles = keyTiles;
      if (failed(
              *mmaKind != s2c::MmaKind::Sync
                  ? s2c::buildWgmmaForwardKernel(module, pattern, schedule, cfg,
                                                 *mmaKind)
                  : s2c::buildForwardKernel(module, pattern, schedule, cfg)) ||
          failed(s2c::buildMergeKernel(module, cfg)))
        return signalPassFailure();
    }
    if (failed(s2c::buildCopyKernel(module, base.target)))
      return signalPassFailure();
  }
};

} // namespace
