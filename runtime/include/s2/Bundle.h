//===- Bundle.h - The .s2m bundle: compiled kernels plus a manifest -------===//
//
// A Bundle is the in-memory form of one `.s2m` file: the pattern it was
// compiled from (name and s2::serializePattern text, which the oracle reads),
// the kernel settings and tile sizes, one entry per compiled kernel (target,
// dtype, head dim, launch shape, PTX and/or cubin) and the i32 table data the
// kernels take as their last parameter. writeBundle and readBundle convert
// between this struct and the versioned binary file described in
// docs/bundle.md. Nothing here depends on MLIR, LLVM or CUDA: the compiler
// writes bundles with it and the runtime reads them with it.
//
// The reader treats its input as hostile: every length is checked against
// the bytes that remain and against fixed limits before anything is
// allocated, and any corrupt, truncated, oversize or wrong-version input is
// rejected with a message.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_RUNTIME_INCLUDE_S2_BUNDLE_H
#define S2C_RUNTIME_INCLUDE_S2_BUNDLE_H

#include "s2/Pattern.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace s2 {

/// Version of the file layout written by writeBundle. readBundle accepts
/// exactly this version.
constexpr uint32_t kBundleFormatVersion = 2;
/// Version of the kernel ABIs (docs/bundle.md, "Kernel ABI" and "Merge
/// kernel ABI").
constexpr int32_t kKernelAbiVersion = 2;
/// Kernel ABI of forward kernels that may load K/V with the tensor memory
/// accelerator: version 2's parameters, then a flag and the K and V tensor
/// maps (docs/bundle.md, "Kernel ABI (forward, version 3)"). Only forward
/// kernels use it; the others stay at kKernelAbiVersion.
constexpr int32_t kKernelAbiTensorMaps = 3;

/// What a bundle kernel computes.
enum class KernelKind : uint8_t {
  /// The attention forward pass over the pattern (29 parameters; 32 at
  /// kernel ABI kKernelAbiTensorMaps).
  Forward = 0,
  /// The log-sum-exp merge of two partial results (15 parameters).
  Merge = 1,
  /// The segment copy that packs and unpacks sequence-parallel messages (2
  /// parameters; dtype and head dim unused, head dim 0).
  Copy = 2,
};
/// The eight bytes every bundle starts with.
constexpr char kBundleMagic[8] = {'S', '2', 'M', 'B', 'N', 'D', 'L', '\0'};
/// Size of the fixed header in front of the manifest.
constexpr size_t kBundleHeaderSize = 40;

/// Limits enforced by the reader (and by the writer's callers).
struct BundleLimits {
  /// Largest whole file, 1 GiB.
  static constexpr uint64_t kMaxFileBytes = uint64_t(1) << 30;
  /// Largest name, target or setting string.
  static constexpr uint32_t kMaxNameBytes = 4096;
  /// Largest pattern text.
  static constexpr uint32_t kMaxPatternBytes = 64u << 20;
  static constexpr uint32_t kMaxKernels = 1024;
  static constexpr uint32_t kMaxSettings = 4096;
  static constexpr uint32_t kMaxTables = 1u << 20;
};

/// One compiled kernel: a (target, dtype, head dim) variant of the forward
/// pass over the whole pattern (all head groups), or of the merge kernel.
struct BundleKernel {
  KernelKind kind = KernelKind::Forward;
  /// Entry point name in the PTX / cubin.
  std::string name;
  /// "sm_80", "sm_90a", ...: the architecture the code was generated for.
  std::string target;
  /// BF16 or F16 (never Any).
  DType dtype = DType::BF16;
  int32_t headDim = 0;
  /// Query rows per CTA and keys per step.
  int32_t blockM = 0;
  int32_t blockN = 0;
  /// Threads per CTA.
  int32_t threads = 0;
  /// Dynamic shared memory per CTA in bytes.
  int32_t sharedBytes = 0;
  /// Kernel ABI version: kKernelAbiVersion, or kKernelAbiTensorMaps for a
  /// forward kernel (the reader refuses anything else).
  int32_t abiVersion = kKernelAbiVersion;
  /// PTX text (no terminating NUL inside); empty when absent.
  std::string ptx;
  /// cubin bytes for exactly `target`; empty when absent.
  std::string cubin;
};

/// One named slice of the table data (for tools and documentation; the
/// kernels have their offsets compiled in).
struct BundleTable {
  /// What the slice holds, e.g. "group0.rowptr", "group1.cols", "bitmap".
  std::string name;
  /// First element and number of elements in Bundle::tableData.
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct Bundle {
  /// The pattern: its name and its serializePattern text.
  std::string patternName;
  std::string patternText;
  /// Copies of the pattern's settings (checked against the text on read).
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t block = 0;
  bool causal = true;
  /// Kernel settings fixed by the pattern or the compiler command line; 0 /
  /// Any when several variants were emitted.
  int32_t headDim = 0;
  DType dtype = DType::Any;
  /// Tile sizes of the schedule (every kernel uses these).
  int32_t blockM = 0;
  int32_t blockN = 0;
  /// Longest key length (tokens) the table-backed parts of the schedule were
  /// built for; 0 when the schedule is closed-form and works at any length.
  int64_t maxSeqLen = 0;
  /// Free-form key/value settings (compiler version, options, ...).
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<BundleKernel> kernels;
  /// The i32 table data passed to every kernel as parameter 25, and its
  /// layout.
  std::vector<int32_t> tableData;
  std::vector<BundleTable> tables;
};

/// Fills the pattern fields of `b` (name, text, heads, kv heads, block,
/// causal, head dim and dtype settings) from `p`.
void setBundlePattern(Bundle &b, const Pattern &p);

/// Checks the invariants readBundle enforces (sizes, limits, known targets
/// and dtypes, at least one payload per kernel, table slices in range,
/// pattern text consistent with the copied settings). Returns an empty string
/// when valid, else a message.
std::string validateBundle(const Bundle &b);

/// Serialises `b` to the file format of docs/bundle.md. The result is only
/// meaningful when validateBundle(b) is empty.
std::string writeBundle(const Bundle &b);

/// Reads a whole file of at most `maxBytes` bytes into `out`. On failure
/// returns false with a message in `error`; `tooLarge` (when given) tells a
/// size overrun from an I/O error. The one file reader of the runtime and
/// its tools.
bool readFileBounded(const std::string &path, uint64_t maxBytes,
                     std::string &out, std::string &error,
                     bool *tooLarge = nullptr);

/// Parses a bundle file. Returns false with a message in `error` on any
/// corrupt, truncated, oversize or wrong-version input; never crashes and
/// never allocates more than a small multiple of `size`.
bool readBundle(const void *data, size_t size, Bundle &out, std::string &error);

/// Parses "sm_80", "sm_90a", ... into 10*major+minor (80, 90) and whether it
/// is an architecture-specific ("a") target. Returns false when malformed.
bool parseTarget(const std::string &target, int &arch, bool &archSpecific);

/// CRC-32 (IEEE 802.3, as zlib) of `size` bytes.
uint32_t crc32(const void *data, size_t size);

} // namespace s2

#endif // S2C_RUNTIME_INCLUDE_S2_BUNDLE_H
