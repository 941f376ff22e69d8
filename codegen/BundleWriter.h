//===- BundleWriter.h - Kernels of a tiled module into one bundle ---------===//
//
// The last codegen step: for one scheduled pattern (a module holding an
// s2.pattern and its s2.schedule), builds every requested kernel variant
// (target x dtype x head dim: the forward kernel and the merge kernel of
// docs/bundle.md) with the kernel builders, lowers each to PTX
// (and to a cubin when ptxas is installed), and collects them with the
// pattern, the tile sizes and the schedule tables into an s2::Bundle that
// the runtime loads (docs/bundle.md).
//
//===----------------------------------------------------------------------===//

#ifndef S2C_CODEGEN_BUNDLEWRITER_H
#define S2C_CODEGEN_BUNDLEWRITER_H

#include "codegen/HopperKernel.h"
#include "codegen/KernelBuilder.h"
#include "s2/Bundle.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <vector>

namespace s2c {

/// Which kernels to emit. Empty lists mean "the pattern's setting, else
/// every supported value".
struct VariantOptions {
  std::vector<KernelConfig::Target> targets;
  std::vector<s2::DType> dtypes;
  std::vector<int64_t> headDims;
  /// Also assemble cubins through ptxas when it is installed.
  bool cubin = true;
  /// MMA instructions of the sm_90a forward kernels (sm_80: mma.sync).
  MmaKind mma = MmaKind::Sync;
  /// Key tiles a step of the sm_90a wgmma kernels (KernelConfig::keyTiles;
  /// 0: the builder's choice). The other kernels ignore it.
  int64_t keyTiles = 0;
};

/// The kernel variants VariantOptions selects for `pattern`.
std::vector<KernelConfig> selectVariants(const s2::Pattern &pattern,
                                         const VariantOptions &options);

/// Builds, lowers and collects every variant into a bundle. Diagnostics go
/// to the module's context.
mlir::FailureOr<s2::Bundle> buildBundle(mlir::ModuleOp tiled,
                                        const VariantOptions &options);

} // namespace s2c

#endif // S2C_CODEGEN_BUNDLEWRITER_H
