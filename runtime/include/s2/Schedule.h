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
};

/// floorDiv(a * t + b, c) with c > 0: one closed-form bound in the query
/// tile index t.
struct AffineBound {
  int64_t a = 0;
  int64_t b = 0;
  int64_t c = 1;
  int64_t eval(int64_t t) const;
  bool operator==(const AffineBound &o) const {
    return a == o.a && b == o.b && c == o.c;
  }
};

enum class SpanKind : uint8_t {
  /// Every key tile in [lo, hi).
  Range,
  /// Key tiles k in [lo, hi) with k mod step == residue[h].
  Progression,
  /// Key tiles listed in a table row (Schedule::tables[table], row t).
  Table,
};

struct Span {
  SpanKind kind = SpanKind::Range;
  /// lo(t) = max(0, max_i lo[i].eval(t)); hi(t) = min(numKeyTiles,
  /// min_i hi[i].eval(t)). Empty lists mean 0 and numKeyTiles.
  std::vector<AffineBound> lo;
  std::vector<AffineBound> hi;
  /// Progression: the step and the per-head residue (indexed by pattern
  /// head; only the group's heads are meaningful), 0 <= residue < step.
  int64_t step = 1;
  std::vector<int64_t> residue;
  /// Table: index into Schedule::tables.
  int32_t table = -1;
  /// True when tiles of this span may hold elements the pattern hides
  /// (beyond the causal diagonal and the sequence end, which the kernel
  /// always checks): the kernel must evaluate the pattern per element.
  bool masked = false;
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
};

struct Schedule {
  TileConfig tiles;
  bool causal = true;
  std::vector<HeadGroup> groups;
  std::vector<TileTable> tables;
  /// Longest key length (tokens) the tables were built for; 0 when the
  /// schedule is closed-form and works at any length.
  int64_t maxSeqLen = 0;
};

} // namespace s2

#endif // S2C_RUNTIME_INCLUDE_S2_SCHEDULE_H
