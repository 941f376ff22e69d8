//===- KernelBuilder.h - Forward sparse-attention kernels as GPU IR -------===//
//
// Builds the forward attention kernel of a pattern as a `gpu.func` inside a
// `gpu.module`, from the MLIR-free s2::Pattern (the rules, for per-element
// masks) and s2::Schedule (the key tiles every query tile visits). The kernel
// follows the ABI of docs/bundle.md (version 2) exactly and the
// FlashAttention-2 algorithm: each warp owns 16 query rows whose Q fragments
// live in registers, K/V tiles stream through swizzled, double-buffered
// shared memory with cp.async, S = QK^T and O += PV run on m16n8k16 tensor
// core instructions, and the softmax is computed online in registers. The
// design is described in docs/kernels.md.
//
// Beside it, buildMergeKernel emits the ABI's merge kernel: the elementwise
// log-sum-exp fold of two partial results (sequence parallelism).
//
// Target-specific instruction selection (the mma flavour, fragment loads,
// asynchronous copies) sits behind KernelTarget so that a Hopper target with
// wgmma and TMA can be added beside the sm_80 mma.sync one.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_CODEGEN_KERNELBUILDER_H
#define S2C_CODEGEN_KERNELBUILDER_H

#include "s2/Bundle.h"
#include "s2/Pattern.h"
#include "s2/Schedule.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace s2c {

/// What one kernel is specialised for. Tile sizes come from the schedule
/// (s2-tile owns them); blockM/blockN here must agree with it.
struct KernelConfig {
  enum class Target { Sm80, Sm90a };
  Target target = Target::Sm80;
  /// Element type of q, k, v and o: BF16 or F16.
  s2::DType dtype = s2::DType::BF16;
  /// 64 or 128.
  int64_t headDim = 64;
  /// Query rows per CTA (16 per warp) and keys per pipeline step.
  int64_t blockM = 64;
  int64_t blockN = 64;
  int64_t numWarps = 4;
  /// Shared-memory buffers for K/V tiles (2 = double buffering).
  int64_t stages = 2;
  /// Schedule key tiles (of blockN keys) gathered into one pipeline step:
  /// 1, or 2 for the sm_90a warp-specialised 128 x 64 kernel, whose steps
  /// load two key tiles, wherever the schedule puts them, into one
  /// 128-key buffer (docs/kernels.md, "Key-tile pairs"). 0: the builder's
  /// choice (hopperKeyTiles; 1 for mma.sync).
  int64_t keyTiles = 0;
};

/// What the runtime needs to launch a built kernel.
struct KernelInfo {
  /// Forward pass or merge kernel (docs/bundle.md).
  s2::KernelKind kind = s2::KernelKind::Forward;
  std::string name;
  /// For a merge kernel: blockM = rows per CTA, blockN = 0.
  KernelConfig config;
  /// Threads per CTA (block = (threads, 1, 1)).
  int64_t threads = 0;
  /// Dynamic shared memory in bytes.
  int64_t sharedBytes = 0;
  /// Kernel ABI version (s2::kKernelAbiVersion, or s2::kKernelAbiTensorMaps
  /// for forward kernels that take the K/V tensor maps).
  int32_t abiVersion = s2::kKernelAbiVersion;
};

/// Takes the tile sizes (and the warps they imply: 16 query rows a warp)
/// from the schedule, which owns them.
void applyScheduleTiles(KernelConfig &config, const s2::Schedule &schedule);

/// The target / element type a name spells ("sm_80", "sm_90a"; "bf16",
/// "f16" or "fp16"), or nothing. The one parser of these names for the
/// pass options and the driver.
std::optional<KernelConfig::Target> parseTargetName(llvm::StringRef name);
std::optional<s2::DType> parseDTypeName(llvm::StringRef name);

/// Printable name of a target ("sm_80", "sm_90a").
const char *targetName(KernelConfig::Target target);
/// The kernel name buildForwardKernel gives a configuration, e.g.
/// "s2_fwd_sm80_bf16_d128_m64n64".
std::string kernelName(const KernelConfig &config);

/// Appends a `gpu.module @s2_kernels` (or reuses an existing one) to `module`
/// holding one kernel that implements the forward pass of `pattern` under
/// `schedule` with the docs/bundle.md ABI, and marks the module as a GPU
/// container. Unsupported settings (head dim, dtype, tile shapes) are
/// reported through MLIR diagnostics at the module's location and yield
/// failure.
mlir::FailureOr<KernelInfo> buildForwardKernel(mlir::ModuleOp module,
                                               const s2::Pattern &pattern,
                                               const s2::Schedule &schedule,
                                               const KernelConfig &config);

/// The merge kernel's entry name for a configuration's dtype and head dim,
/// e.g. "s2_merge_bf16_d128" (no target: the IR is the same for all).
std::string mergeKernelName(const KernelConfig &config);

/// Appends to `gpu.module @s2_kernels` of `module` (created when missing)
/// the merge kernel of docs/bundle.md ("Merge kernel ABI") for the
/// configuration's dtype and head dim: 128 threads, each one (row, 16-byte
/// chunk) of a row, so 128 / (headDim / 8) rows per CTA, no shared memory.
/// When the module already holds it (several schedules of one dtype and
/// head dim), returns its info without adding a second copy. Unsupported
/// dtypes / head dims are reported at the module's location.
mlir::FailureOr<KernelInfo> buildMergeKernel(mlir::ModuleOp module,
                                             const KernelConfig &config);

/// The merge arithmetic of one row, as the merge kernel emits it: from the
/// two log-sum-exps `lse` and `lseIn` (f32) and the two outputs `o` and `oIn`
/// (f32, or vectors of f32 with the same shape) returns the merged output
/// and log-sum-exp, and `keep` (i1): the partial result is empty
/// (lseIn = -inf, lse finite) and the row stays as it is. Exposed for
/// tests that evaluate the emitted ops on the host.
struct MergeMath {
  mlir::Value keep, o, lse;
};
MergeMath emitMergeMath(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lse,
                        mlir::Value lseIn, mlir::Value o, mlir::Value oIn);

/// The i32 table data a kernel built from `schedule` reads through its
/// `tables` argument: for each Schedule::tables[i] in order, its rowPtr
/// (rows + 1 entries, relative to the row's own cols) followed by its cols.
/// Empty when the schedule has no tables (the argument may then be null).
std::vector<int32_t> packScheduleTables(const s2::Schedule &schedule);

/// For tests: the key tiles that query tile `tile` of pattern head `head`
/// visits, in visit order, computed by the kernel's own span arithmetic
/// (the IR the kernel uses, built on constants and folded) for closed-form
/// spans, clipped to the key window of tiles [windowBegin, windowEnd)
/// (windowEnd < 0: no end but numKeyTiles). Fails when a value does not
/// fold (Table spans read memory).
mlir::FailureOr<std::vector<int64_t>>
foldKeyTiles(const s2::Pattern &pattern, const s2::Schedule &schedule,
             const KernelConfig &config, int64_t head, int64_t tile,
             int64_t numKeyTiles, int64_t windowBegin = 0,
             int64_t windowEnd = -1);

/// The seam between the target-independent kernel structure and the
/// instructions of one GPU generation. Fragments are 32-bit registers
/// represented as vector<2xT> values (T = f16 or bf16); accumulators are
/// scalar f32 values in the PTX m16n8 C/D order (c0..c3).
class KernelTarget {
public:
  virtual ~KernelTarget();
  /// Loads four 8x8 16-bit matrices from shared memory (ldmatrix.x4). Lane l
  /// passes the element index of row (l mod 8) of matrix (l / 8). Returns
  /// four vector<2xT> registers, one per matrix.
  virtual llvm::SmallVector<mlir::Value, 4>
  loadMatrixX4(mlir::OpBuilder &b, mlir::Location loc, mlir::Value smem,
               mlir::Value index, bool transpose) = 0;
  /// One m16n8k16 tensor-core step: returns A * B + C with `a` four and `b`
  /// two vector<2xT> registers, `c` four f32 values.
  virtual llvm::SmallVector<mlir::Value, 4>
  mma16816(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange a,
           mlir::ValueRange b16, mlir::ValueRange c) = 0;
  /// Starts an asynchronous 16-byte copy global -> shared that reads
  /// `srcElements` elements (0..8) and zero-fills the rest. Returns its
  /// token.
  virtual mlir::Value asyncCopy16(mlir::OpBuilder &b, mlir::Location loc,
                                  mlir::Value dst, mlir::Value dstIndex,
                                  mlir::Value src, mlir::Value srcIndex,
                                  mlir::Value srcElements) = 0;
  /// Closes the group of copies `tokens` and returns the group's token.
  virtual mlir::Value commitGroup(mlir::OpBuilder &b, mlir::Location loc,
                                  mlir::ValueRange tokens) = 0;
  /// Waits until at most `pending` committed groups are in flight.
  virtual void waitGroups(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value token, int32_t pending) = 0;
};

/// The mma.sync + ldmatrix + cp.async target (sm_80; also used for sm_90a
/// until the wgmma/TMA target exists).
std::unique_ptr<KernelTarget> createMmaSyncTarget(s2::DType dtype);

} // namespace s2c

#endif // S2C_CODEGEN_KERNELBUILDER_H
