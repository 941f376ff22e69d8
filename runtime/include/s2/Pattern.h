//===- Pattern.h - The resolved meaning of a sparse-attention pattern -----===//
//
// A Pattern is the fully resolved, MLIR-free description of a pattern file:
// global settings plus a flat list of rules, each already evaluated for every
// head it applies to (head expressions such as shard shifts are turned into
// per-head tables by the frontend). It is what the compiler reasons about,
// what a bundle carries (see serializePattern), and what the oracle
// evaluates. Nothing here depends on MLIR or LLVM, so the runtime and the GPU
// checks on a machine without MLIR use exactly the same semantics.
//
// Semantics (the oracle). Positions are absolute token positions; with a
// query of length Sq over keys of length Sk, query row r sits at absolute
// position r + (Sk - Sq) (bottom-right alignment). Query block i holds
// positions [i*block, (i+1)*block), key block j likewise. For head h, key
// block j is visible from query block i when some rule whose scope contains
// (h, i) allows (i, j) and, for causal patterns, j <= i. Token-level: key
// position k is visible from query position p when its blocks are visible
// and, for causal patterns, k <= p.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_RUNTIME_INCLUDE_S2_PATTERN_H
#define S2C_RUNTIME_INCLUDE_S2_PATTERN_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace s2 {

/// Limits enforced by the frontend and by deserialisation. Anything larger is
/// rejected with an error, never allocated.
struct Limits {
  static constexpr int64_t kMaxHeads = 1024;
  static constexpr int64_t kMinBlock = 16;
  static constexpr int64_t kMaxBlock = 256;
  /// Largest block index any rule parameter may mention (2^24 blocks of 16
  /// tokens is 256M tokens).
  static constexpr int64_t kMaxBlockIndex = int64_t(1) << 24;
  static constexpr int64_t kMaxExplicitBlocks = 1 << 20;
};

enum class RuleKind : uint8_t {
  /// Every key block.
  Dense,
  /// Causal: 0 <= i - j < n. Bidirectional: |i - j| < n.
  Local,
  /// Vertical stride: (j + shift[h]) mod step == 0 (positive modulus).
  Stride,
  /// Sink columns: j < n.
  Sink,
  /// Global blocks g in `set`: query block g sees every key block, and every
  /// query block sees key block g (Longformer's symmetric global tokens).
  Global,
  /// Dilated window: causal 0 <= i - j < n*step and (i - j) mod step == 0;
  /// bidirectional |i - j| < n*step and |i - j| mod step == 0.
  Dilated,
  /// Explicit (query block, key block) pairs.
  Blocks,
};

/// Printable name of a rule kind ("dense", "local", ...).
const char *ruleKindName(RuleKind kind);

enum class DType : uint8_t { Any, BF16, F16 };
const char *dtypeName(DType dtype);

/// A line:column position in the pattern source, 1-based; 0 means unknown.
struct SourcePos {
  int32_t line = 0;
  int32_t col = 0;
};

struct Rule {
  RuleKind kind = RuleKind::Dense;
  /// heads[h] != 0 when the rule applies to query head h (size = heads).
  std::vector<uint8_t> heads;
  /// Query blocks [qBegin, qEnd) the rule applies to; qEnd < 0 means no end.
  int64_t qBegin = 0;
  int64_t qEnd = -1;
  /// Local: window blocks. Sink: number of blocks. Dilated: window count.
  int64_t n = 0;
  /// Stride: the stride V. Dilated: the dilation.
  int64_t step = 0;
  /// Stride: per query head shift (size = heads; entries of heads outside
  /// the scope are 0).
  std::vector<int64_t> shift;
  /// Global: block indices (sorted, unique).
  std::vector<int64_t> set;
  /// Blocks: (query block, key block) pairs (sorted, unique).
  std::vector<std::pair<int64_t, int64_t>> blocks;
  /// Where the rule was written.
  SourcePos loc;

  bool appliesTo(int64_t h, int64_t i) const {
    return h >= 0 && h < int64_t(heads.size()) && heads[h] && i >= qBegin &&
           (qEnd < 0 || i < qEnd);
  }
};

struct Pattern {
  std::string name;
  int64_t heads = 0;
  int64_t kvHeads = 0;
  /// Pattern block size in tokens.
  int64_t block = 64;
  bool causal = true;
  /// Kernel settings fixed by the user; 0 / Any means "left to the compiler".
  int64_t headDim = 0;
  DType dtype = DType::Any;
  std::vector<Rule> rules;
  SourcePos loc;

  /// Query heads per KV head.
  int64_t groupSize() const { return kvHeads > 0 ? heads / kvHeads : 1; }
  /// The KV head serving query head h.
  int64_t kvHeadOf(int64_t h) const { return h / groupSize(); }
};

/// Block-level visibility for head h: query block i, key block j (causality
/// at block level included: for causal patterns j > i is never visible).
bool blockVisible(const Pattern &p, int64_t h, int64_t i, int64_t j);

/// Token-level visibility for head h at absolute positions.
bool tokenVisible(const Pattern &p, int64_t h, int64_t qpos, int64_t kpos);

/// The block mask of head h over nq x nk blocks, row-major (1 = visible).
std::vector<uint8_t> blockMask(const Pattern &p, int64_t h, int64_t nq,
                               int64_t nk);

/// The token mask of head h for a query of sq rows over sk keys (sq <= sk,
/// bottom-right aligned), row-major sq x sk (1 = visible).
std::vector<uint8_t> tokenMask(const Pattern &p, int64_t h, int64_t sq,
                               int64_t sk);

/// Number of visible (query, key) token pairs of head h for sq x sk.
int64_t countVisiblePairs(const Pattern &p, int64_t h, int64_t sq, int64_t sk);

/// Checks the structural invariants (sizes, limits, sorted sets). Returns an
/// empty string when valid, else a message.
std::string validatePattern(const Pattern &p);

/// A compact, versioned, line-oriented text form of a pattern, carried in
/// bundles. deserializePattern validates and returns false with a message on
/// any malformed input.
std::string serializePattern(const Pattern &p);
bool deserializePattern(const std::string &text, Pattern &out,
                        std::string &error);

/// Published S2 shard shift (DKernel): for query head h the KV head g = h /
/// groupSize is shifted by g * max(1, V / heads) + offset.
int64_t shardShift(const Pattern &p, int64_t h, int64_t stride, int64_t offset);

} // namespace s2

#endif // S2C_RUNTIME_INCLUDE_S2_PATTERN_H
