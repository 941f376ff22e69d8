//===- SeqParallelTest.cpp - Sequence-parallel planner tests --------------===//
//
// Checks plans of s2/SeqParallel.h against the schedule enumerated tile by
// tile (keyTilesOf): every visit of a rank's queries is computed by exactly
// one piece, pieces' work is their visit count, every key/value block a piece
// needs is sent to the rank computing it (and nothing it does not need),
// every moved piece's output returns to its owner; dense bytes equal the
// ring's, S2 bytes are lower, and the work imbalance stays within bounds.
//
//===----------------------------------------------------------------------===//

#include "s2/SeqParallel.h"
#include "TestPatterns.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>

using namespace s2;

namespace {

using s2test::makeRule;

/// S2 local-stride, causal.
Pattern s2Pattern(int64_t heads, int64_t block, int64_t window,
                  int64_t stride) {
  return s2test::s2Pattern(heads, block, true, window, stride);
}

Pattern densePattern(int64_t heads, bool causal) {
  Pattern p;
  p.name = "dense";
  p.heads = p.kvHeads = heads;
  p.block = 64;
  p.causal = causal;
  p.rules = {makeRule(p, RuleKind::Dense)};
  return p;
}

/// Random patterns of every rule kind, GQA groups included.
Pattern randomPattern(std::mt19937_64 &rng) {
  s2test::RandomPatternOptions o;
  o.maxHeads = 6;
  o.maxBlockLog2 = 3;
  o.maxTokens = 3000;
  o.gqaPairs = true;
  return s2test::randomPattern(rng, o);
}

/// Checks `plan` against the tile-by-tile schedule; returns "" or a message.
std::string checkPlan(const Pattern &p, const SpPlan &plan) {
  const SpConfig &cfg = plan.config;
  int64_t P = cfg.ranks, S = cfg.seqLen;
  int64_t bm = cfg.tiles.blockM, bn = cfg.tiles.blockN;
  Schedule sched;
  std::string err;
  if (!buildSchedule(p, cfg.tiles, sched, err))
    return "schedule: " + err;
  if (plan.shardBegin.size() != size_t(P + 1) || plan.shardBegin[0] != 0 ||
      plan.shardBegin[size_t(P)] != S)
    return "bad shards";
  for (int64_t r = 0; r < P; ++r) {
    if (plan.shardBegin[size_t(r)] > plan.shardBegin[size_t(r + 1)])
      return "shards not ordered";
    if (plan.shardBegin[size_t(r)] % std::max(bm, bn) != 0)
      return "shard not tile aligned";
  }
  int64_t nk = (S + bn - 1) / bn, nq = (S + bm - 1) / bm;
  auto shardOfKey = [&](int64_t k) {
    for (int64_t r = 0; r < P; ++r) {
      auto [a, b] = spKeyTiles(plan, r);
      if (k >= a && k < b)
        return r;
    }
    return int64_t(-1);
  };
  // Pieces by (owner, kvRank).
  std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> byPair;
  std::vector<std::set<std::pair<int64_t, int64_t>>> listed(plan.pieces.size());
  for (size_t x = 0; x < plan.pieces.size(); ++x) {
    const SpPiece &pc = plan.pieces[x];
    auto [q0, q1] = spQueryTiles(plan, pc.owner);
    auto [k0, k1] = spKeyTiles(plan, pc.kvRank);
    if (pc.qTileBegin < q0 || pc.qTileEnd > q1 || pc.qTileBegin >= pc.qTileEnd)
      return "piece " + std::to_string(x) + " outside its owner's queries";
    byPair[{pc.owner, pc.kvRank}].push_back(x);
    for (const SpBlockRange &b : pc.kvBlocks) {
      if (b.tileBegin < k0 || b.tileEnd > k1 || b.tileBegin >= b.tileEnd ||
          b.kvHead < 0 || b.kvHead >= plan.kvHeads)
        return "piece " + std::to_string(x) +
               " lists a block outside its shard";
      for (int64_t k = b.tileBegin; k < b.tileEnd; ++k)
        listed[x].insert({b.kvHead, k});
    }
  }
  std::vector<int64_t> visits(plan.pieces.size(), 0);
  std::vector<std::set<std::pair<int64_t, int64_t>>> used(plan.pieces.size());
  std::vector<int64_t> ownVisits(size_t(P), 0);
  for (int64_t i = 0; i < P; ++i) {
    auto [q0, q1] = spQueryTiles(plan, i);
    for (int64_t t = q0; t < q1 && t < nq; ++t)
      for (int64_t h = 0; h < p.heads; ++h)
        for (int64_t k : keyTilesOf(sched, h, t, nk)) {
          int64_t j = shardOfKey(k);
          if (j < 0)
            return "key tile outside every shard";
          size_t found = 0, hits = 0;
          for (size_t x : byPair[{i, j}]) {
            const SpPiece &pc = plan.pieces[x];
            if (t >= pc.qTileBegin && t < pc.qTileEnd) {
              found = x;
              ++hits;
            }
          }
          if (hits != 1)
            return "visit (head " + std::to_string(h) + ", q tile " +
                   std::to_string(t) + ", k tile " + std::to_string(k) +
                   ") in " + std::to_string(hits) + " pieces";
          ++visits[found];
          ++ownVisits[size_t(i)];
          int64_t g = p.kvHeadOf(h);
          if (!listed[found].count({g, k}))
            return "piece " + std::to_string(found) + " misses kv block (" +
                   std::to_string(g) + ", " + std::to_string(k) + ")";
          used[found].insert({g, k});
        }
  }
  for (int64_t i = 0; i < P; ++i)
    if (ownVisits[size_t(i)] != plan.ownWork[size_t(i)])
      return "own work of rank " + std::to_string(i) + " is wrong";
  // Steps: one task per rank and step (pieces of one QueryRows task share
  // it).
  std::map<std::pair<int64_t, int64_t>, size_t> slots;
  for (size_t x = 0; x < plan.pieces.size(); ++x) {
    const SpPiece &pc = plan.pieces[x];
    if (visits[x] != pc.work || pc.work == 0)
      return "piece " + std::to_string(x) + " work " + std::to_string(pc.work) +
             " but " + std::to_string(visits[x]) + " visits";
    if (used[x] != listed[x])
      return "piece " + std::to_string(x) + " lists blocks it never visits";
    if (pc.step < 0 || pc.step >= plan.steps)
      return "piece " + std::to_string(x) + " has a bad step";
    auto [it, fresh] = slots.insert({{pc.computeRank, pc.step}, x});
    if (!fresh) {
      const SpPiece &o = plan.pieces[it->second];
      if (pc.task < 0 || o.task != pc.task || o.owner != pc.owner)
        return "pieces " + std::to_string(x) + " and " +
               std::to_string(it->second) + " share a step";
    }
    // Keys and values: one message from kvRank unless computed there.
    int64_t tokens = 0;
    for (const SpBlockRange &b : pc.kvBlocks)
      tokens += std::min(b.tileEnd * bn, S) - b.tileBegin * bn;
    int64_t kvBytes = tokens * cfg.headDim * cfg.elementBytes * 2;
    int nkv = 0;
    bool qIn = false, outBack = false;
    for (const SpTransfer &tr : plan.transfers) {
      if (tr.kind == SpTransferKind::KeyValue && tr.piece == int64_t(x)) {
        ++nkv;
        if (tr.step != pc.step || tr.src != pc.kvRank ||
            tr.dst != pc.computeRank || tr.bytes != kvBytes)
          return "bad kv transfer of piece " + std::to_string(x);
      }
      bool covers =
          tr.qTileBegin <= pc.qTileBegin && tr.qTileEnd >= pc.qTileEnd;
      if (tr.kind == SpTransferKind::Query && covers && tr.src == pc.owner &&
          tr.dst == pc.computeRank && tr.step <= pc.step)
        qIn = true;
      if (tr.kind == SpTransferKind::Output && covers &&
          tr.src == pc.computeRank && tr.dst == pc.owner && tr.step >= pc.step)
        outBack = true;
    }
    if (nkv != int(pc.computeRank != pc.kvRank))
      return "piece " + std::to_string(x) + " has wrong kv transfers";
    if (pc.computeRank != pc.owner && (!qIn || !outBack))
      return "piece " + std::to_string(x) +
             " computed away from its owner without its queries or without "
             "returning its output";
  }
  // Query and output messages: sizes, and no rows sent twice to a rank.
  std::set<std::tuple<int, int64_t, int64_t, int64_t>> rows;
  for (const SpTransfer &tr : plan.transfers) {
    if (tr.kind == SpTransferKind::KeyValue)
      continue;
    if (tr.src == tr.dst)
      return "message to itself";
    int64_t qTokens = std::min(tr.qTileEnd * bm, S) - tr.qTileBegin * bm;
    int64_t per = tr.kind == SpTransferKind::Query
                      ? cfg.headDim * cfg.elementBytes
                      : cfg.headDim * cfg.elementBytes + 4;
    if (tr.bytes != qTokens * p.heads * per)
      return "bad query or output message size";
    for (int64_t t = tr.qTileBegin; t < tr.qTileEnd; ++t)
      if (!rows.insert({int(tr.kind), tr.src, tr.dst, t}).second)
        return "query tile " + std::to_string(t) + " sent twice";
  }
  return "";
}

SpPlan plan(const Pattern &p, int64_t S, int64_t P, int64_t bm = 64,
            int64_t bn = 64, SpBalance balance = SpBalance::Auto) {
  SpConfig cfg;
  cfg.seqLen = S;
  cfg.ranks = P;
  cfg.tiles.blockM = bm;
  cfg.tiles.blockN = bn;
  cfg.balance = balance;
  SpPlan out;
  std::string err;
  EXPECT_TRUE(planSequenceParallel(p, cfg, out, err)) << err;
  return out;
}

TEST(SeqParallel, ExactOnS2AndDense) {
  for (int64_t P : {2, 3, 5, 8})
    for (int64_t S : {1000, 4999, 8192, 12345})
      for (auto [bm, bn] :
           {std::pair<int64_t, int64_t>{64, 64}, {128, 64}, {64, 128}}) {
        for (const Pattern &p : {s2Pattern(8, 64, 4, 4), s2Pattern(4, 32, 3, 8),
                                 densePattern(4, true), densePattern(2, false)})
          for (SpBalance b :
               {SpBalance::KvOwner, SpBalance::QueryRows, SpBalance::Auto}) {
            SpPlan pl = plan(p, S, P, bm, bn, b);
            EXPECT_EQ(checkPlan(p, pl), "")
                << p.name << " S=" << S << " P=" << P << " " << bm << "x" << bn
                << " " << spBalanceName(b);
          }
      }
}

TEST(SeqParallel, ExactOnRandomPatterns) {
  std::mt19937_64 rng(8);
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  int checked = 0, moved = 0;
  for (int n = 0; n < 150; ++n) {
    Pattern p = randomPattern(rng);
    ASSERT_EQ(validatePattern(p), "");
    int64_t S = uni(1, 4000), P = uni(2, 16);
    int64_t bm = int64_t(32) << uni(0, 2), bn = int64_t(32) << uni(0, 2);
    SpPlan pl = plan(p, S, P, bm, bn, SpBalance(uni(0, 3)));
    EXPECT_EQ(checkPlan(p, pl), "") << "case " << n << " S=" << S << " P=" << P
                                    << " " << bm << "x" << bn << "\n"
                                    << serializePattern(p);
    ++checked;
    for (const SpPiece &pc : pl.pieces)
      if (pc.computeRank != pc.owner) {
        ++moved;
        break;
      }
  }
  EXPECT_EQ(checked, 150);
  // The random plans do move work (the checks above cover moved pieces).
  EXPECT_GT(moved, 40);
}

TEST(SeqParallel, DenseBytesEqualRing) {
  // Bidirectional dense: every rank needs every key, and the shards are
  // equal, so nothing moves and the plan is the ring.
  for (int64_t P : {2, 4, 7, 16}) {
    Pattern p = densePattern(4, false);
    SpPlan pl = plan(p, P * 64 * 9, P);
    SpStats st = simulateSequenceParallel(pl);
    EXPECT_EQ(st.kvBytes, st.ringBytes) << P;
    EXPECT_EQ(st.totalBytes, st.ringBytes) << P;
    EXPECT_EQ(st.steps, P);
    EXPECT_DOUBLE_EQ(st.imbalance, 1.0);
  }
  // Unbalanced, any length: the key/value bytes are the ring's.
  for (int64_t S : {777, 5000, 65537}) {
    Pattern p = densePattern(2, false);
    SpPlan pl = plan(p, S, 5, 64, 64, SpBalance::None);
    SpStats st = simulateSequenceParallel(pl);
    EXPECT_EQ(st.kvBytes, st.ringBytes) << S;
    EXPECT_EQ(st.totalBytes, st.ringBytes) << S;
  }
  // The ring's bytes: (P - 1) * S * kv heads * head dim * 2 bytes * 2.
  SpPlan pl = plan(densePattern(2, false), 1000, 3);
  EXPECT_EQ(simulateSequenceParallel(pl).ringBytes, 2 * 1000 * 2 * 128 * 4);
}

TEST(SeqParallel, S2BytesStrictlyLower) {
  for (int64_t P : {2, 4, 8, 16, 32, 64})
    for (int64_t S : {int64_t(32768), int64_t(100003)}) {
      Pattern p = s2Pattern(32, 64, 16, 16);
      SpStats st = simulateSequenceParallel(plan(p, S, P));
      EXPECT_LT(st.totalBytes, st.ringBytes) << S << " " << P;
      EXPECT_LT(st.kvBytes, st.ringBytes) << S << " " << P;
    }
}

TEST(SeqParallel, ImbalanceBounded) {
  // Stated bound (docs/sequence-parallel.md): max/mean work <= 1.05 for S2
  // and dense causal at 128k tokens, P = 2..64; the ring's is about 2.
  for (int64_t P : {2, 3, 4, 8, 16, 32, 64})
    for (const Pattern &p :
         {s2Pattern(32, 64, 16, 16), densePattern(32, true)}) {
      SpStats st = simulateSequenceParallel(plan(p, 131072, P));
      EXPECT_LE(st.imbalance, 1.05) << p.name << " P=" << P;
      EXPECT_LE(st.steps, st.ringSteps) << p.name << " P=" << P;
      // Synchronous steps: never slower than the ring's rotation.
      EXPECT_LE(st.lockstepWork, st.ringLockstepWork) << p.name << " P=" << P;
      if (p.name == "dense" && P >= 4) {
        EXPECT_GT(st.ringImbalance, 1.5) << P;
      }
      // Each balancing on its own keeps the bound; DistFlashAttn's step
      // count (P / 2 + 1 for even P) on dense causal.
      for (SpBalance b : {SpBalance::KvOwner, SpBalance::QueryRows}) {
        SpStats sb = simulateSequenceParallel(plan(p, 131072, P, 64, 64, b));
        EXPECT_LE(sb.imbalance, 1.05) << p.name << " P=" << P;
        EXPECT_LE(sb.steps, P) << p.name << " P=" << P;
        if (b == SpBalance::KvOwner && p.name == "dense" && P % 2 == 0) {
          EXPECT_EQ(sb.steps, P / 2 + 1) << P;
        }
      }
    }
}

TEST(SeqParallel, NoBalanceIsTheOwnersWork) {
  Pattern p = s2Pattern(8, 64, 4, 4);
  SpPlan pl = plan(p, 20000, 6, 64, 64, SpBalance::None);
  SpStats st = simulateSequenceParallel(pl);
  for (int64_t r = 0; r < 6; ++r)
    EXPECT_EQ(st.ranks[size_t(r)].work, pl.ownWork[size_t(r)]);
  EXPECT_EQ(st.qBytes + st.outBytes, 0);
  EXPECT_DOUBLE_EQ(st.imbalance, st.ringImbalance);
}

TEST(SeqParallel, MillionTokensSixtyFourRanks) {
  for (const Pattern &p : {s2Pattern(32, 64, 16, 16), densePattern(32, true)}) {
    auto t0 = std::chrono::steady_clock::now();
    SpPlan pl = plan(p, 1048576, 64);
    SpStats st = simulateSequenceParallel(pl);
    double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    std::printf("%s 1M tokens x 64 ranks: plan + simulate %.3f s, %zu pieces, "
                "%lld steps, imbalance %.4f\n",
                p.name.c_str(), s, pl.pieces.size(), (long long)st.steps,
                st.imbalance);
    // Generous for a loaded machine; the measured time is in the docs.
    EXPECT_LT(s, 10.0);
    EXPECT_LE(st.imbalance, 1.05);
    EXPECT_EQ(st.totalWork, [&] {
      int64_t w = 0;
      for (int64_t x : pl.ownWork)
        w += x;
      return w;
    }());
  }
}

TEST(SeqParallel, TinySequencesLeaveShardsEmpty) {
  // Fewer tiles than ranks: some shards are empty, the plan stays exact.
  for (int64_t S : {1, 63, 65, 100, 1000})
    for (SpBalance b :
         {SpBalance::KvOwner, SpBalance::QueryRows, SpBalance::Auto}) {
      Pattern p = s2Pattern(4, 16, 2, 3);
      p.kvHeads = 2;
      SpPlan pl = plan(p, S, 64, 64, 64, b);
      EXPECT_EQ(checkPlan(p, pl), "") << S << " " << spBalanceName(b);
      SpStats st = simulateSequenceParallel(pl);
      EXPECT_LE(st.totalBytes, st.ringBytes) << S;
    }
}

TEST(SeqParallel, RejectsBadInput) {
  Pattern p = s2Pattern(4, 64, 4, 4);
  SpConfig cfg;
  SpPlan out;
  std::string err;
  cfg.seqLen = 1024;
  cfg.ranks = 1;
  EXPECT_FALSE(planSequenceParallel(p, cfg, out, err));
  EXPECT_NE(err.find("ranks '1'"), std::string::npos) << err;
  cfg.ranks = 65;
  EXPECT_FALSE(planSequenceParallel(p, cfg, out, err));
  cfg.ranks = 4;
  cfg.seqLen = 0;
  EXPECT_FALSE(planSequenceParallel(p, cfg, out, err));
  EXPECT_NE(err.find("sequence length '0'"), std::string::npos) << err;
  cfg.seqLen = 1024;
  cfg.tiles.blockM = 48;
  EXPECT_FALSE(planSequenceParallel(p, cfg, out, err));
}

} // namespace
