//===- SeqParallel.h - Pattern-aware sequence-parallel plans --------------===//
//
// Plans one attention forward over P ranks that each own a contiguous token
// shard of q, k and v (DistFlashAttn / LightSeq layout), and simulates the
// plan's per-rank work and traffic. The unit of work is a piece: a run of
// query tiles of one rank's shard against the key tiles of one (possibly
// other) rank's shard. A piece's work is its number of (query tile, key tile)
// visits in the closed-form schedule (s2/Schedule.h), summed over heads and
// counted from span lengths, never by enumerating tiles, so 1M tokens over 64
// ranks plans in well under a second. Only the key/value tiles a piece's
// queries visit are sent, per KV head. Pieces of busy ranks move to idle ranks
// (preferably to the rank that owns their keys, which then needs only the
// queries; DistFlashAttn's load balancing, generalised to the pattern's real
// work); a moved piece's partial output and log-sum-exp go back to the owner,
// which merges them. Nothing here runs anything: it is MLIR-free and
// CUDA-free, and the runtime side (transport, kernels, merging) is separate.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_RUNTIME_INCLUDE_S2_SEQPARALLEL_H
#define S2C_RUNTIME_INCLUDE_S2_SEQPARALLEL_H

#include "s2/Pattern.h"
#include "s2/Schedule.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace s2 {

/// Limits of the planner; larger inputs are rejected with an error.
struct SpLimits {
  static constexpr int64_t kMinRanks = 2;
  static constexpr int64_t kMaxRanks = 64;
  static constexpr int64_t kMaxSeqLen = int64_t(1) << 24;
};

/// How busy ranks hand work to idle ones.
enum class SpBalance : uint8_t {
  /// Every rank computes its own queries (the ring's assignment).
  None,
  /// DistFlashAttn: a piece (or a query-tile suffix of it) moves to the
  /// rank owning its keys, which then needs only the queries; else to the
  /// least busy rank.
  KvOwner,
  /// A query-tile suffix of the busiest rank moves, with all its pieces, to
  /// the least busy rank as one task: the queries travel once, the keys it
  /// visits come from their owners (a gather).
  QueryRows,
  /// Plans with both and keeps QueryRows only when it moves fewer bytes
  /// and its lock-step work (SpStats::lockstepWork) is at most 10% above
  /// KvOwner's; else KvOwner.
  Auto,
};

/// Printable name ("none", "kv-owner", "query-rows", "auto").
const char *spBalanceName(SpBalance b);

struct SpConfig {
  /// Sequence length in tokens (query length = key length).
  int64_t seqLen = 0;
  /// Number of ranks P.
  int64_t ranks = 2;
  /// Kernel tiles; shard boundaries are multiples of max(blockM, blockN).
  TileConfig tiles;
  /// Head dimension and bytes per element of q, k, v and partial outputs.
  int64_t headDim = 128;
  int64_t elementBytes = 2;
  /// How pieces of busy ranks move to idle ranks.
  SpBalance balance = SpBalance::Auto;
  /// Pack each rank's small own pieces into one step (a gather from several
  /// ranks) up to the work of the largest task of the plan.
  bool packSteps = true;
};

/// Key tiles [tileBegin, tileEnd) of one KV head.
struct SpBlockRange {
  int64_t kvHead = 0;
  int64_t tileBegin = 0;
  int64_t tileEnd = 0;
};

/// Query tiles [qTileBegin, qTileEnd) of rank `owner` against the key tiles
/// of rank `kvRank`, computed on rank `computeRank` at step `step`.
struct SpPiece {
  int64_t owner = 0;
  int64_t kvRank = 0;
  int64_t computeRank = 0;
  int64_t qTileBegin = 0;
  int64_t qTileEnd = 0;
  int64_t step = 0;
  /// Pieces with the same task >= 0 form one task (a QueryRows move): the
  /// same rank computes them in the same step. -1: a task of its own.
  int64_t task = -1;
  /// (query tile, key tile) visits summed over heads.
  int64_t work = 0;
  /// The key tiles of kvRank's shard the piece's queries visit, per KV head
  /// (sorted by head then tile, coalesced).
  std::vector<SpBlockRange> kvBlocks;
  /// Bytes of K and V of kvBlocks sent for this piece (0 when computed on
  /// kvRank). Queries and outputs travel per (owner, computeRank) query-tile
  /// range, see SpTransfer.
  int64_t kvBytes = 0;
};

enum class SpTransferKind : uint8_t { KeyValue, Query, Output };

/// Printable name ("kv", "q", "out").
const char *spTransferKindName(SpTransferKind kind);

/// One point-to-point message. KeyValue and Query messages must arrive
/// before `step` starts (they are sent during the previous step to overlap
/// with compute); Output messages leave after `step` and are merged by the
/// receiver (the owner) with log-sum-exp. KeyValue messages carry the
/// kvBlocks of one piece; Query messages carry the owner's query tiles
/// [qTileBegin, qTileEnd) (all heads) once per computing rank, before the
/// first piece that needs them; Output messages carry the partial output
/// and log-sum-exp of those rows after the last such piece (the computing
/// rank merges its own partials of the same rows first).
struct SpTransfer {
  int64_t step = 0;
  int64_t src = 0;
  int64_t dst = 0;
  SpTransferKind kind = SpTransferKind::KeyValue;
  /// KeyValue: the piece. Query / Output: -1.
  int64_t piece = -1;
  int64_t qTileBegin = 0;
  int64_t qTileEnd = 0;
  int64_t bytes = 0;
};

struct SpPlan {
  SpConfig config;
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t numQueryTiles = 0;
  int64_t numKeyTiles = 0;
  /// Token shard of rank r: [shardBegin[r], shardBegin[r + 1]).
  std::vector<int64_t> shardBegin;
  /// Pieces, sorted by (computeRank, step).
  std::vector<SpPiece> pieces;
  std::vector<SpTransfer> transfers;
  /// Steps of the plan (the most tasks any rank computes).
  int64_t steps = 0;
  /// The balancing the plan used (never Auto).
  SpBalance balanceUsed = SpBalance::None;
  /// Work of each rank's own queries (what the rank computes in the ring).
  std::vector<int64_t> ownWork;
  /// pairWork[i * P + j]: work of rank i's queries against shard j's keys.
  std::vector<int64_t> pairWork;
};

/// Query tiles [begin, end) of rank r's shard.
std::pair<int64_t, int64_t> spQueryTiles(const SpPlan &plan, int64_t r);
/// Key tiles [begin, end) of rank r's shard.
std::pair<int64_t, int64_t> spKeyTiles(const SpPlan &plan, int64_t r);

/// Plans `p` over `cfg.ranks` ranks. Returns false with a message on
/// unsupported input (ranks outside 2..64, seqLen outside 1..2^24, no
/// schedule for the pattern and tiles).
bool planSequenceParallel(const Pattern &p, const SpConfig &cfg, SpPlan &out,
                          std::string &error);

struct SpRankStats {
  int64_t work = 0;
  /// Steps in which the rank computes (tasks).
  int64_t steps = 0;
  int64_t pieces = 0;
  int64_t bytesSent = 0;
  int64_t bytesReceived = 0;
};

struct SpStats {
  std::vector<SpRankStats> ranks;
  int64_t steps = 0;
  int64_t totalWork = 0;
  int64_t maxWork = 0;
  double meanWork = 0;
  /// maxWork / meanWork (1 when there is no work).
  double imbalance = 1;
  /// Sum over steps of the largest work any rank does in the step: the
  /// plan's time in work units if ranks move in lock step and transfers
  /// hide behind compute. The ideal is totalWork / P.
  int64_t lockstepWork = 0;
  int64_t kvBytes = 0;
  int64_t qBytes = 0;
  int64_t outBytes = 0;
  int64_t totalBytes = 0;
  /// The dense ring: every rank sends all its K and V to every other rank
  /// in P steps and computes its own queries.
  int64_t ringSteps = 0;
  int64_t ringBytes = 0;
  int64_t ringMaxWork = 0;
  double ringImbalance = 1;
  /// The ring's lockstepWork: step d, rank i computes (i, (i - d) mod P).
  int64_t ringLockstepWork = 0;
};

/// Per-rank work, pieces and traffic of a plan, and the ring baseline.
SpStats simulateSequenceParallel(const SpPlan &plan);

} // namespace s2

#endif // S2C_RUNTIME_INCLUDE_S2_SEQPARALLEL_H
