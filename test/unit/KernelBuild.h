//===- KernelBuild.h - Building one kernel in a test (test helper) --------===//
//
// What the kernel-builder tests share: a fresh context and module, the
// diagnostics a builder reports, its result, and a kernel configuration
// from head dim, dtype and tile sizes.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_TEST_UNIT_KERNELBUILD_H
#define S2C_TEST_UNIT_KERNELBUILD_H

#include "codegen/KernelBuilder.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <string>

namespace s2c {
namespace test {

/// One built kernel: its context and module, the builder's result and the
/// diagnostics it reported.
struct Built {
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::FailureOr<KernelInfo> info = mlir::failure();
  std::string diag;
};

/// Runs `builder` on a fresh module of `b`, collecting its diagnostics.
inline void buildWith(
    Built &b,
    llvm::function_ref<mlir::FailureOr<KernelInfo>(mlir::ModuleOp)> builder) {
  mlir::ScopedDiagnosticHandler handler(&b.ctx, [&](mlir::Diagnostic &d) {
    b.diag += d.str();
    return mlir::success();
  });
  b.module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&b.ctx));
  b.info = builder(*b.module);
}

/// A configuration of `target` with head dim `d`, dtype `dt` and tiles
/// bm x bn (16 query rows a warp).
inline KernelConfig kernelConfig(KernelConfig::Target target, int64_t d,
                                 s2::DType dt, int64_t bm, int64_t bn) {
  KernelConfig c;
  c.target = target;
  c.headDim = d;
  c.dtype = dt;
  c.blockM = bm;
  c.blockN = bn;
  c.numWarps = bm / 16;
  return c;
}

} // namespace test
} // namespace s2c

#endif // S2C_TEST_UNIT_KERNELBUILD_H
