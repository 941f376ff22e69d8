//===- HopperKernel.h - Forward kernels with warpgroup MMA (sm_90a) -------===//
//
// A second generator of the forward attention kernel, for sm_90a only: the
// same kernel ABI (docs/bundle.md, version 2), the same schedule walk, masks,
// online softmax and epilogue as buildForwardKernel (KernelBuilder.h), but
// S = QK^T and O += PV run on Hopper warpgroup MMA (wgmma): one warpgroup
// (4 warps) computes 64 query rows, Q and K are read by wgmma straight from
// 128-byte-swizzled shared memory through matrix descriptors, P stays in
// registers as wgmma's A operand and V is read as a transposed (MN-major)
// B operand. Where hopperUsesTma, the kernel takes the K/V tensor maps
// (docs/bundle.md, ABI version 3) and K/V tiles move by TMA on mbarriers
// when the runtime passes valid maps, by cp.async otherwise; elsewhere it is
// an ABI version 2 kernel with cp.async. Where hopperRingStages, the kernel
// is warp specialised: a producer warpgroup streams K and V, the consumer
// warpgroups compute; where hopperKeyTiles, each step gathers two key
// tiles into one 128-key buffer. docs/kernels.md, "Hopper path", has the
// design.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_CODEGEN_HOPPERKERNEL_H
#define S2C_CODEGEN_HOPPERKERNEL_H

#include "codegen/KernelBuilder.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <optional>
#include <string>

namespace s2c {

/// The kernel name buildHopperForwardKernel gives a configuration (with
/// keyTiles as the builder resolved it), e.g.
/// "s2_fwd_sm90a_wgmma_bf16_d128_m64n64", with "x2" appended for key-tile
/// pairs ("..._m128n64x2").
std::string hopperKernelName(const KernelConfig &config);

/// The schedule key tiles a pipeline step of the kernel of `pattern` and
/// `config` (built with `deferPV`) loads: config.keyTiles when set, else 2
/// for the warp-specialised 128 x 64 kernel at head dim 128 where the
/// pattern's blocks are 64 tokens or more (key-tile pairs: two 64-key
/// tiles, wherever the schedule puts them, in one 128-key buffer, so that
/// S, the softmax and P V run on 128 keys at a time as in the 128 x 128
/// kernel), and 1 elsewhere. The other hopper* functions take the
/// configuration's keyTiles as it is (0: 1).
int64_t hopperKeyTiles(const KernelConfig &config, const s2::Pattern &pattern,
                       bool deferPV = true);

/// Dynamic shared memory (bytes) of the wgmma kernel of `config` (built
/// with `deferPV`, see buildHopperForwardKernel): the Q tile, `stages` K
/// and V tiles and 64 bytes for the TMA mbarriers, or, warp specialised,
/// the K and V rings, a zero V tile and four mbarriers a ring stage; plus
/// 1024 bytes so that the tiles can be aligned to the 1024-byte period of
/// the 128-byte swizzle at run time.
int64_t hopperSharedBytes(const KernelConfig &config, bool deferPV = true);

/// Like buildForwardKernel (same arguments, same ABI, same `gpu.module
/// @s2_kernels`), with wgmma. Requires config.target == Sm90a, blockM 64
/// (one warpgroup) or 128 (two), numWarps = blockM / 16, blockN 64 or 128,
/// head dim 64 or 128, bf16 or f16, 2 stages; anything else is reported
/// through MLIR diagnostics at the module's location and yields failure.
///
/// With `deferPV` (the default), key tile n's O += PV is issued together
/// with tile n + 1's S = QK^T and the softmax of n + 1 overlaps it
/// (docs/kernels.md, "Overlapped P V") wherever hopperDefersPV(config);
/// otherwise every tile runs S, softmax and P V one after another.
mlir::FailureOr<KernelInfo>
buildHopperForwardKernel(mlir::ModuleOp module, const s2::Pattern &pattern,
                         const s2::Schedule &schedule,
                         const KernelConfig &config, bool deferPV = true);

/// Whether the configuration gets the overlapped P V: block_n 64 at head
/// dim 128, 64 x 64 tiles at head dim 64 (elsewhere it costs occupancy or
/// spills).
bool hopperDefersPV(const KernelConfig &config);

/// The CTAs per SM an overlapped kernel of the configuration asks ptxas to
/// fit (`nvvm.minctasm`, PTX .minnctapersm), or 0: 4 at head dim 64; the
/// warp-specialised kernels' 1 (128 x 64) or 2 (64 x 64), which setmaxnreg
/// needs.
int64_t hopperMinCtasPerSM(const KernelConfig &config);

/// Whether the configuration's kernel (built with `deferPV`) takes the K/V
/// tensor maps and loads by TMA (ABI version 3): every warp-specialised
/// kernel, and unspecialised 128 x 64 tiles at head dim 128 and 64 x 64 at
/// head dim 64, where it measured faster than cp.async (docs/results.md,
/// "kernel v5"); elsewhere the TMA path's instructions and registers cost
/// more than the copies they replace, or are unmeasured.
bool hopperUsesTma(const KernelConfig &config, bool deferPV = true);

/// The K/V ring depth of the warp-specialised kernel of the configuration
/// (built with `deferPV`), or 0 where it is not warp specialised: the
/// overlapped head-dim-128 kernels (64 x 64, 128 x 64, 128 x 128) are;
/// two stages of 128-key buffers with key-tile pairs (config.keyTiles). A
/// producer warpgroup after the consumers streams K and V through the ring, by
/// TMA (cp.async when the runtime passes no tensor maps), and the consumer
/// warpgroups only wait, compute and release buffers (docs/kernels.md,
/// "Warp specialisation").
int64_t hopperRingStages(const KernelConfig &config, bool deferPV = true);

/// The registers a thread (setmaxnreg) of the producer and of each consumer
/// warpgroup of a warp-specialised kernel, or {0, 0}: together at most the
/// register file over hopperMinCtasPerSM CTAs.
std::pair<int64_t, int64_t> hopperRegisterSplit(const KernelConfig &config);

/// Which tensor-core instructions the sm_90a forward kernels use: mma.sync
/// (buildForwardKernel) or warpgroup MMA (buildHopperForwardKernel), with
/// P V overlapped (Wgmma) or not (WgmmaSerial). sm_80 kernels always use
/// mma.sync.
enum class MmaKind { Sync, Wgmma, WgmmaSerial };

/// The kind a name spells ("sync", "wgmma", "wgmma-serial"), or nothing.
std::optional<MmaKind> parseMmaKind(llvm::StringRef name);

/// Printable name of a kind ("sync", "wgmma", "wgmma-serial").
const char *mmaKindName(MmaKind kind);

/// The wgmma kernel (buildHopperForwardKernel) for any kind but Sync, with
/// the kind's P V schedule; reports non-sm_90a targets as errors.
mlir::FailureOr<KernelInfo>
buildWgmmaForwardKernel(mlir::ModuleOp module, const s2::Pattern &pattern,
                        const s2::Schedule &schedule,
                        const KernelConfig &config, MmaKind mma);

/// buildHopperForwardKernel when `mma` is a wgmma kind and the target is
/// sm_90a, buildForwardKernel otherwise.
mlir::FailureOr<KernelInfo> buildForwardKernelWith(mlir::ModuleOp module,
                                                   const s2::Pattern &pattern,
                                                   const s2::Schedule &schedule,
                                                   const KernelConfig &config,
                                                   MmaKind mma);

} // namespace s2c

#endif // S2C_CODEGEN_HOPPERKERNEL_H
