//===- Schedule.h - Tiled key-tile schedules of a pattern -----------------===//
//
// For kernel tile sizes BLOCK_M x BLOCK_N, a Schedule says for every head and
// every query tile which key tiles a kernel visits, in closed form wherever
// the pattern allows (ranges and arithmetic progressions whose bounds are
// affine in the query tile index), with a table fallback only for irregular
// rules. It is MLIR-free: the s2-tile pass materialises it as IR, the kernel
// builder reads it back, the runtime and the GPU checks evaluate it, and the
// property tests compare it with the oracle (s2/Pattern.h).
//
// Coordinates. Query tile t covers absolute positions [t*BM, (t+1)*BM); key
// tile k covers [k*BN, (k+1)*BN). Every bound is clamped to [0, numKeyTiles)
// where numKeyTiles = ceil(Sk / BN) is known only at run time.
//
// Exactness. For every head and query tile t, the spans of the phase holding
// t are disjoint and their union is exactly the set of key tiles k <
// numKeyTiles holding at least one (query, key) element of the full tile
// rectangle that the oracle shows (token level, causality included). Rows
// outside the query and keys past Sk inside a partial tile are left to the
// kernel's always-on bounds check. A span is `masked` when some tile of it
// may hold an element that the pattern hides although causality does not;
// an unmasked span's tiles show every causally allowed element (the kernel
// then only applies the causal diagonal and the sequence-end checks).
//
// Tables are used only for heads that have an explicit `blocks` rule, or
// whose rules the closed-form builder cannot order into disjoint spans:
// bounds whose order changes periodically in t, more than 512 phases,
// dilated windows of more than 64 diagonals, global sets of more than 2048
// blocks, unions of progressions whose joint period exceeds 4096 tiles, and
// causal strides over blocks finer than BLOCK_N with BLOCK_M < BLOCK_N when
// no window covers the diagonal key tile and BLOCK_N / block does not
// divide the stride (the diagonal tile's visibility then is not one bound).
// Local, local + stride (S2), sink, dense, global and dilated rules, and
// their unions and query-range scopes, are closed form. A span's bounds are
// the same for every head of its group; only progression residues differ.
//
// Span order. Spans are listed by increasing key tiles; the kernel may visit
// them in any order (the online softmax is order-independent).
//
//===----------------------------------------------------------------------===//

#ifndef S2C_RUNTIME_INCLUDE_S2_SCHEDULE_H
#define S2C_RUNTIME_INCLUDE_S2_SCHEDULE_H

#include "s2/Pattern.h"

#include <cstdint>
#include <string>
#include <vector>

namespace s2 {

struct TileConfig {
  int64_t blockM = 128;
  int64_t blockN = 64;
  /// Longest key length (tokens) any table is built for; 0 means the
  /// default, kDefaultTableSeqLen. Ignored by closed-form schedules.
  int64_t maxSeqLen = 0;
  static constexpr int64_t kDefaultTableSeqLen = 32768;
};

/// floorDiv(a * t + b, c) * mul + add with c > 0: one closed-form bound in the
/// query tile index t.
struct AffineBound {
  int64_t a = 0;
  int64_t b = 0;
  int64_t c = 1;
  int64_t mul = 1;
  int64_t add = 0;
  int64_t eval(int64_t t) const;
  bool operator==(const AffineBound &o) const {
    return a == o.a && b == o.b && c == o.c && mul == o.mul && add == o.add;
  }
  bool operator!=(const AffineBound &o) const { return !(*this == o); }
};

enum class SpanKind : uint8_t {
  /// Every key tile in [lo, hi).
  Range,
  /// Key tiles k in [lo, hi) with (k - residue[h]) mod step < run.
  Progression,
  /// Key tiles listed in a table row (Schedule::tables[table], row t).
  Table,
};

/// Printable name of a span kind ("range", "progression", "table").
const char *spanKindName(SpanKind kind);

struct Span {
  SpanKind kind = SpanKind::Range;
  /// lo(t) = max(0, max_i lo[i].eval(t)); hi(t) = min(numKeyTiles,
  /// min_i hi[i].eval(t)). Empty lists mean 0 and numKeyTiles.
  std::vector<AffineBound> lo;
  std::vector<AffineBound> hi;
  /// Progression: the step, the run length (consecutive tiles per period,
  /// 1 <= run < step) and the per-head residue (indexed by pattern head;
  /// only the group's heads are meaningful), 0 <= residue < step.
  int64_t step = 1;
  int64_t run = 1;
  std::vector<int64_t> residue;
  /// Table: index into Schedule::tables.
  int32_t table = -1;
  /// True when tiles of this span may hold elements the pattern hides
  /// (beyond the causal diagonal and the sequence end, which the kernel
  /// always checks): the kernel must evaluate the pattern per element.
  bool masked = false;

  /// True when key tile k (already known to be in [lo(t), hi(t))) belongs
  /// to a Range or Progression span for head h.
  bool contains(int64_t h, int64_t k) const;
  bool operator==(const Span &o) const;
};

/// A run of query tiles [tBegin, tEnd) (tEnd < 0: no end) sharing one span
/// list. Query-range scopes in a pattern give a head several phases.
struct Phase {
  int64_t tBegin = 0;
  int64_t tEnd = -1;
  std::vector<Span> spans;
};

/// Heads whose schedules are equal up to per-head residues.
struct HeadGroup {
  std::vector<int64_t> heads;
  std::vector<Phase> phases;
};

/// CSR rows of key tiles, one row per query tile in [0, rows).
struct TileTable {
  std::vector<int64_t> rowPtr;
  std::vector<int64_t> cols;
  int64_t rows() const {
    return rowPtr.empty() ? 0 : int64_t(rowPtr.size()) - 1;
  }
};

struct Schedule {
  TileConfig tiles;
  bool causal = true;
  int64_t heads = 0;
  std::vector<HeadGroup> groups;
  std::vector<TileTable> tables;
  /// Longest key length (tokens) the tables were built for; 0 when the
  /// schedule is closed-form and works at any length.
  int64_t maxSeqLen = 0;
};

/// Builds the schedule of `p` for `tiles`. Tile sizes must be powers of two
/// in 16..256. Returns false with a message on unsupported input.
bool buildSchedule(const Pattern &p, const TileConfig &tiles, Schedule &out,
                   std::string &error);

/// The group index of head h, or -1.
int64_t groupOf(const Schedule &s, int64_t head);

/// The phase of head h's group holding query tile t, or nullptr.
const Phase *phaseOf(const Schedule &s, int64_t head, int64_t t);

/// The key tiles head h's query tile t visits, in visit order.
std::vector<int64_t> keyTilesOf(const Schedule &s, int64_t head, int64_t t,
                                int64_t numKeyTiles);

/// True when head h's query tile t visits key tile k through a masked span.
bool tileMasked(const Schedule &s, int64_t head, int64_t t, int64_t k,
                int64_t numKeyTiles);

/// The transposed schedule of one head: for each key tile, the query tiles
/// (ascending) that visit it. CSR over key tiles [0, numKeyTiles).
struct TransposedSchedule {
  int64_t numQueryTiles = 0;
  int64_t numKeyTiles = 0;
  /// First query tile of the query (tiles before it are never listed).
  int64_t firstQueryTile = 0;
  std::vector<int64_t> rowPtr;
  std::vector<int64_t> cols;
  /// masked[x] says whether visit cols[x] goes through a masked span.
  std::vector<uint8_t> masked;
};

/// Transposes head h's schedule for a query of sq rows over sk keys
/// (bottom-right aligned, sq <= sk).
TransposedSchedule transposeSchedule(const Schedule &s, int64_t head,
                                     int64_t sq, int64_t sk);

/// Fraction of the tensor-core work of `p` tiled with `tiles` at sq = sk =
/// seqLen spent on elements the oracle hides: 1 - visible pairs / (visited
/// tiles * BM * BN). Returns 1 when no schedule can be built.
double mergeWaste(const Pattern &p, const TileConfig &tiles, int64_t seqLen);

/// Which kernels a tile choice is for: any target (the shapes every kernel
/// is measured with), or only sm_90a warpgroup-MMA kernels at head dim 128,
/// whose warp-specialised 128 x 128 kernel is the fastest where the
/// pattern fills its tiles.
enum class TileTarget { Any, Sm90aD128 };

/// Cost model: picks BLOCK_M, BLOCK_N in {64, 128} for `p` and head dim
/// `headDim` (0: 128) minimising estimated time at a reference length.
/// For TileTarget::Sm90aD128, 128 x 128 where it wastes at most 2% more of
/// the tensor-core work on hidden elements than 128 x 64 (mergeWaste at
/// 8192 tokens: dense and 128-token-block patterns), else the same choice
/// as for any target.
TileConfig chooseTiles(const Pattern &p, int64_t headDim,
                       TileTarget target = TileTarget::Any);

} // namespace s2

#endif // S2C_RUNTIME_INCLUDE_S2_SCHEDULE_H
