//===- PatternStats.h - Analyses of a sparse-attention pattern -*- C++ -*-===//
//
// MLIR-free analyses over s2::Pattern, used by the s2-analyze pass and by
// `s2c inspect`:
//
//  - density: visible (query, key) token pairs per head over the causal
//    pairs (all pairs when bidirectional) at a sequence length;
//  - coverage: whether the union of the heads sees every causally visible
//    block pair at a sequence length, and which pairs it misses;
//  - empty rows: query blocks that see no key block for some head. Exact for
//    every query block, with no horizon: for each rule, "some key block j <= i
//    is allowed" holds for all i past a threshold (dense, local, sink and
//    dilated from 0, stride from the first column r = (-shift) mod step,
//    global from its smallest block), so a head's non-empty rows are a
//    finite union of intervals [max(qBegin, threshold), qEnd) plus the query
//    blocks listed in explicit pairs, and the empty rows are its complement.
//    A row counts as empty when it sees no key block at or before itself:
//    such a row is empty whenever the sequence ends in it;
//  - KV-cache behaviour (causal patterns): a pattern is KV-cache efficient
//    (DKernel's notion) when every key block j is used by a contiguous run
//    of query blocks starting at j, so a decoder may drop it once unused;
//    the KV fraction of a head at length S is the fraction of the S tokens'
//    key blocks that some query block at or after the last one (position
//    S - 1 and all future positions) can still see, i.e. what a decoder must
//    keep. The fraction is exact for all future query blocks (closed forms
//    per rule); the efficiency check is made over the blocks of length S.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_ANALYSIS_PATTERNSTATS_H
#define S2C_DIALECT_ANALYSIS_PATTERNSTATS_H

#include "s2/Pattern.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace s2c {

/// Returns an empty string when the analyses at `seqLen` tokens are
/// affordable for `p` (seqLen >= 1 and blocks^2 * heads at most 2^31), else
/// a message saying what was expected.
std::string checkAnalysisLength(const s2::Pattern &p, int64_t seqLen);

/// Number of query blocks (= key blocks) of a sequence of seqLen tokens.
int64_t numBlocks(const s2::Pattern &p, int64_t seqLen);

struct DensityStats {
  int64_t seqLen = 0;
  /// Pairs a head could see: S(S+1)/2 when causal, S*S when bidirectional.
  int64_t referencePairs = 0;
  /// Visible token pairs per head (s2::countVisiblePairs).
  std::vector<int64_t> visiblePairs;
  /// visiblePairs[h] / referencePairs.
  std::vector<double> density;
  /// Sum of visiblePairs over heads * referencePairs.
  double overall = 0;
};
DensityStats computeDensity(const s2::Pattern &p, int64_t seqLen);

struct CoverageStats {
  int64_t numBlocks = 0;
  /// Block pairs (i, j) (j <= i when causal) no head sees.
  int64_t uncovered = 0;
  /// The first uncovered pairs, in row-major order (at most 8).
  std::vector<std::pair<int64_t, int64_t>> sample;
  bool complete() const { return uncovered == 0; }
};
CoverageStats computeCoverage(const s2::Pattern &p, int64_t seqLen);

/// Query blocks [begin, end) (end < 0: no end) that see no key block, for
/// the heads in `heads` (sorted), which all have exactly these empty ranges.
struct EmptyRows {
  std::vector<int64_t> heads;
  std::vector<std::pair<int64_t, int64_t>> ranges;
};
/// The empty query-block ranges of every head, grouped by identical ranges;
/// empty when no head has an empty row.
std::vector<EmptyRows> findEmptyRows(const s2::Pattern &p);

/// The empty query-block ranges of head h (end < 0: no end).
std::vector<std::pair<int64_t, int64_t>> emptyRowsOfHead(const s2::Pattern &p,
                                                         int64_t h);

struct KvCacheStats {
  /// False for bidirectional patterns (no decoder): the rest is then unset.
  bool applicable = false;
  int64_t numBlocks = 0;
  /// Per head: every key block's users form a run starting at the block.
  std::vector<uint8_t> efficient;
  /// Per head, when not efficient: key block j, a query block i > j that
  /// does not use it, and a later query block that does.
  struct Violation {
    int64_t keyBlock = -1, gap = -1, later = -1;
  };
  std::vector<Violation> violation;
  /// Per head: key blocks (of the numBlocks) some query block >= the last
  /// one can see, and that count over numBlocks.
  std::vector<int64_t> keptBlocks;
  std::vector<double> fraction;
  bool allEfficient() const {
    for (uint8_t e : efficient)
      if (!e)
        return false;
    return true;
  }
};
KvCacheStats computeKvCache(const s2::Pattern &p, int64_t seqLen);

/// Formats a sorted index list compactly: "0 to 27, 30" (runs of three or
/// more as ranges), as the s2 dialect prints head sets.
std::string formatIndexSet(const std::vector<int64_t> &set);

/// Formats query-block ranges as "[0, 7), [64, end)".
std::string formatRanges(const std::vector<std::pair<int64_t, int64_t>> &r);

} // namespace s2c

#endif // S2C_DIALECT_ANALYSIS_PATTERNSTATS_H
