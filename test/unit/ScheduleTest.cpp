//===- ScheduleTest.cpp - Tiled schedules against the oracle --------------===//
//
// The schedule (s2/Schedule.h) must visit, for every head and query tile,
// exactly the key tiles holding an element the oracle shows, each once, and
// mark masked every tile holding an element the pattern hides. Checked here
// over thousands of random patterns of every rule kind, plus golden shapes
// for the S2 pattern (closed form, no tables) and the helpers.
//
//===----------------------------------------------------------------------===//

#include "s2/Schedule.h"
#include "TestPatterns.h"
#include "s2/Pattern.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <set>
#include <string>

using namespace s2;

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

using s2test::makeRule;
using s2test::s2Pattern;

/// Random patterns of every rule kind (explicit blocks when asked).
Pattern randomPattern(std::mt19937_64 &rng, bool allowBlocks) {
  s2test::RandomPatternOptions o;
  o.allowBlocks = allowBlocks;
  return s2test::randomPattern(rng, o);
}

/// The truth for one tile pair, from the oracle's block mask: 0 no visible
/// element, else 1 + (1 when some element is hidden by the pattern alone).
struct Truth {
  const Pattern &p;
  int64_t bm, bn, nkb;
  std::vector<uint8_t> mask;
  Truth(const Pattern &p, int64_t h, int64_t bm, int64_t bn, int64_t nqt,
        int64_t nkt)
      : p(p), bm(bm), bn(bn) {
    nkb = ceilDiv(nkt * bn, p.block);
    mask = blockMask(p, h, ceilDiv(nqt * bm, p.block), nkb);
  }
  void tile(int64_t t, int64_t k, bool &visible, bool &hidden) const {
    int64_t b = p.block, q0 = t * bm, q1 = q0 + bm, k0 = k * bn, k1 = k0 + bn;
    visible = hidden = false;
    for (int64_t i = q0 / b; i * b < q1; ++i)
      for (int64_t j = k0 / b; j * b < k1; ++j) {
        // The sub-rectangle rows [max(q0,ib), min(q1,(i+1)b)) x cols
        // [max(k0,jb), ...) has a causally allowed element iff its first
        // column is at most its last row.
        if (p.causal && std::max(k0, j * b) > std::min(q1, (i + 1) * b) - 1)
          continue;
        (mask[size_t(i * nkb + j)] ? visible : hidden) = true;
      }
  }
};

/// Same truth straight from tokenVisible (slow; used on small cases to
/// check the block-level reasoning above).
void tokenTruth(const Pattern &p, int64_t h, int64_t bm, int64_t bn, int64_t t,
                int64_t k, bool &visible, bool &hidden) {
  visible = hidden = false;
  for (int64_t q = t * bm; q < (t + 1) * bm; ++q)
    for (int64_t x = k * bn; x < (k + 1) * bn; ++x) {
      if (p.causal && x > q)
        continue;
      (tokenVisible(p, h, q, x) ? visible : hidden) = true;
    }
}

/// Patterns that must get no table: no explicit blocks, and (causal) every
/// head with a stride also has an unscoped local window, which covers the
/// diagonal key tile (as in S2).
bool closedFormExpected(const Pattern &p) {
  for (const Rule &r : p.rules)
    if (r.kind == RuleKind::Blocks)
      return false;
  if (!p.causal)
    return true;
  for (int64_t h = 0; h < p.heads; ++h) {
    bool stride = false, local = false;
    for (const Rule &r : p.rules) {
      if (!r.heads[size_t(h)])
        continue;
      stride |= r.kind == RuleKind::Stride;
      local |= r.kind == RuleKind::Local && r.qBegin == 0 && r.qEnd < 0;
    }
    if (stride && !local)
      return false;
  }
  return true;
}

struct Stats {
  int64_t patterns = 0, tilePairs = 0, visited = 0, maskedFull = 0,
          tableHeads = 0;
};

/// Checks one pattern at one tiling and length; returns false on the first
/// failure (with a gtest message).
bool checkPattern(const Pattern &p, int64_t bm, int64_t bn, int64_t sq,
                  int64_t sk, bool tokenLevel, Stats &st) {
  TileConfig tc;
  tc.blockM = bm;
  tc.blockN = bn;
  tc.maxSeqLen = sk;
  Schedule s;
  std::string err;
  if (!buildSchedule(p, tc, s, err)) {
    ADD_FAILURE() << "buildSchedule failed: " << err;
    return false;
  }
  if (closedFormExpected(p) && !s.tables.empty()) {
    ADD_FAILURE() << "table for a pattern without explicit blocks:\n"
                  << serializePattern(p) << "tiles " << bm << "x" << bn;
    return false;
  }
  int64_t nk = ceilDiv(sk, bn), tLast = ceilDiv(sk, bm);
  int64_t tFirst = (sk - sq) / bm;
  std::vector<size_t> heads(size_t(p.heads), 0);
  for (const HeadGroup &g : s.groups)
    for (int64_t h : g.heads)
      ++heads[size_t(h)];
  for (int64_t h = 0; h < p.heads; ++h) {
    if (heads[size_t(h)] != 1) {
      ADD_FAILURE() << "head " << h << " is in " << heads[size_t(h)]
                    << " groups";
      return false;
    }
    const HeadGroup &grp = s.groups[size_t(groupOf(s, h))];
    if (!grp.phases.empty() &&
        grp.phases.front().spans.front().kind == SpanKind::Table)
      ++st.tableHeads;
    Truth truth(p, h, bm, bn, tLast, nk);
    std::vector<std::vector<std::pair<int64_t, uint8_t>>> tr(
        static_cast<size_t>(nk));
    for (int64_t t = tFirst; t < tLast; ++t) {
      std::vector<int64_t> got = keyTilesOf(s, h, t, nk);
      std::vector<uint8_t> seen(size_t(nk), 0);
      for (int64_t k : got) {
        if (k < 0 || k >= nk || seen[size_t(k)]++) {
          ADD_FAILURE() << "head " << h << " tile " << t << " visits key tile "
                        << k << " twice or out of range\n"
                        << serializePattern(p);
          return false;
        }
        bool m = tileMasked(s, h, t, k, nk);
        tr[size_t(k)].emplace_back(t, m ? 1 : 0);
      }
      for (int64_t k = 0; k < nk; ++k) {
        bool vis, hid;
        truth.tile(t, k, vis, hid);
        if (tokenLevel) {
          bool tv, th;
          tokenTruth(p, h, bm, bn, t, k, tv, th);
          if (tv != vis || th != hid) {
            ADD_FAILURE() << "test truth disagrees with the token oracle";
            return false;
          }
        }
        ++st.tilePairs;
        if (bool(seen[size_t(k)]) != vis) {
          ADD_FAILURE() << "head " << h << " query tile " << t << " key tile "
                        << k
                        << (vis ? " visible but not visited"
                                : " visited but not visible")
                        << " (tiles " << bm << "x" << bn << ", sq " << sq
                        << ", sk " << sk << ")\n"
                        << serializePattern(p);
          return false;
        }
        if (!vis)
          continue;
        ++st.visited;
        bool m = tileMasked(s, h, t, k, nk);
        if (hid && !m) {
          ADD_FAILURE() << "head " << h << " query tile " << t << " key tile "
                        << k << " hides elements but is not masked (tiles "
                        << bm << "x" << bn << ")\n"
                        << serializePattern(p);
          return false;
        }
        if (!hid && m)
          ++st.maskedFull;
      }
    }
    // The transposed schedule is the exact transpose.
    TransposedSchedule ts = transposeSchedule(s, h, sq, sk);
    if (ts.numKeyTiles != nk || int64_t(ts.rowPtr.size()) != nk + 1) {
      ADD_FAILURE() << "transpose has the wrong shape";
      return false;
    }
    for (int64_t k = 0; k < nk; ++k) {
      std::vector<std::pair<int64_t, uint8_t>> row;
      for (int64_t x = ts.rowPtr[size_t(k)]; x < ts.rowPtr[size_t(k + 1)]; ++x)
        row.emplace_back(ts.cols[size_t(x)], ts.masked[size_t(x)]);
      if (row != tr[size_t(k)]) {
        ADD_FAILURE() << "transpose differs at key tile " << k;
        return false;
      }
    }
  }
  ++st.patterns;
  return true;
}

TEST(Schedule, RandomPatternsMatchOracle) {
  auto start = std::chrono::steady_clock::now();
  // S2C_SCHEDULE_SEED / S2C_SCHEDULE_PATTERNS widen the search locally.
  const char *seedEnv = std::getenv("S2C_SCHEDULE_SEED");
  const char *countEnv = std::getenv("S2C_SCHEDULE_PATTERNS");
  std::mt19937_64 rng(seedEnv ? std::strtoull(seedEnv, nullptr, 10) : 20261126);
  Stats st;
  const int kPatterns = countEnv ? std::atoi(countEnv) : 5000;
  for (int n = 0; n < kPatterns; ++n) {
    Pattern p = randomPattern(rng, n % 8 == 0);
    ASSERT_EQ(validatePattern(p), "");
    int64_t bm = (rng() & 1) ? 64 : 128, bn = (rng() & 1) ? 64 : 128;
    int64_t sk = std::uniform_int_distribution<int64_t>(1, 1700)(rng);
    int64_t sq =
        (rng() & 1) ? sk : std::uniform_int_distribution<int64_t>(1, sk)(rng);
    bool tokenLevel = n % 100 == 0 && sk <= 600;
    if (!checkPattern(p, bm, bn, sq, sk, tokenLevel, st))
      FAIL() << "pattern " << n;
  }
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("[ schedule ] %lld patterns, %lld tile pairs, %lld visited, "
              "%lld full tiles marked masked, %lld table heads, %.2f s\n",
              (long long)st.patterns, (long long)st.tilePairs,
              (long long)st.visited, (long long)st.maskedFull,
              (long long)st.tableHeads, secs);
  EXPECT_EQ(st.patterns, kPatterns);
}

TEST(Schedule, LongRangeSpotChecks) {
  // Closed forms are decided for all t from a few periods; check far query
  // tiles (up to 64k tokens) of random closed-form patterns.
  std::mt19937_64 rng(7);
  int checked = 0;
  for (int n = 0; n < 400; ++n) {
    Pattern p = randomPattern(rng, false);
    int64_t bm = (rng() & 1) ? 64 : 128, bn = (rng() & 1) ? 64 : 128;
    TileConfig tc{bm, bn, 1024};
    Schedule s;
    std::string err;
    ASSERT_TRUE(buildSchedule(p, tc, s, err)) << err;
    if (!s.tables.empty())
      continue;
    ++checked;
    int64_t sk = 65536 + int64_t(rng() % 1000), b = p.block;
    int64_t nk = ceilDiv(sk, bn), nq = ceilDiv(sk, bm);
    for (int x = 0; x < 12; ++x) {
      int64_t t = int64_t(rng() % uint64_t(nq));
      int64_t h = int64_t(rng() % uint64_t(p.heads));
      std::vector<int64_t> got = keyTilesOf(s, h, t, nk);
      std::vector<uint8_t> seen(size_t(nk), 0);
      for (int64_t k : got) {
        ASSERT_TRUE(k >= 0 && k < nk && !seen[size_t(k)]);
        seen[size_t(k)] = 1;
      }
      int64_t q0 = t * bm, q1 = q0 + bm;
      for (int64_t k = 0; k < nk; ++k) {
        int64_t k0 = k * bn, k1 = k0 + bn;
        bool vis = false, hid = false;
        for (int64_t i = q0 / b; i * b < q1; ++i)
          for (int64_t j = k0 / b; j * b < k1; ++j) {
            if (p.causal && std::max(k0, j * b) > std::min(q1, (i + 1) * b) - 1)
              continue;
            (blockVisible(p, h, i, j) ? vis : hid) = true;
          }
        ASSERT_EQ(bool(seen[size_t(k)]), vis)
            << "head " << h << " tile " << t << " key tile " << k << " tiles "
            << bm << "x" << bn << "\n"
            << serializePattern(p);
        if (vis && hid) {
          ASSERT_TRUE(tileMasked(s, h, t, k, nk));
        }
      }
    }
  }
  EXPECT_GT(checked, 200);
}

TEST(Schedule, S2FamilyNeverNeedsTables) {
  // The published S2 rule (window + rotating stride), with and without sink
  // blocks, GQA, both causalities, every block and tile size: exact against
  // the oracle and closed form.
  Stats st;
  for (int64_t block : {16, 32, 64, 128, 256})
    for (bool causal : {true, false})
      for (bool sink : {false, true})
        for (int64_t bm : {64, 128})
          for (int64_t bn : {64, 128}) {
            Pattern p = s2Pattern(8, block, causal, 3, 5);
            p.kvHeads = 4;
            for (int64_t h = 0; h < 8; ++h)
              p.rules[1].shift[size_t(h)] = shardShift(p, h, 5, 1);
            if (sink) {
              Rule r = makeRule(p, RuleKind::Sink);
              r.n = 2;
              p.rules.push_back(r);
            }
            TileConfig tc{bm, bn, 0};
            Schedule s;
            std::string err;
            ASSERT_TRUE(buildSchedule(p, tc, s, err)) << err;
            EXPECT_TRUE(s.tables.empty()) << serializePattern(p);
            int64_t sk = 40 * block + 77;
            ASSERT_TRUE(checkPattern(p, bm, bn, sk - 100, sk, false, st));
          }
}

TEST(Schedule, S2CausalIsClosedForm) {
  // Window 4 blocks + stride 8, block = tile = 64: per query tile the
  // progression below the window and the window range, both unmasked.
  Pattern p = s2Pattern(8, 64, true, 4, 8);
  TileConfig tc;
  tc.blockM = 64;
  tc.blockN = 64;
  Schedule s;
  std::string err;
  ASSERT_TRUE(buildSchedule(p, tc, s, err)) << err;
  EXPECT_TRUE(s.tables.empty());
  EXPECT_EQ(s.maxSeqLen, 0);
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(s.groups[0].heads.size(), 8u);
  const Phase &last = s.groups[0].phases.back();
  EXPECT_EQ(last.tEnd, -1);
  ASSERT_EQ(last.spans.size(), 2u);
  const Span &prog = last.spans[0], &win = last.spans[1];
  EXPECT_EQ(prog.kind, SpanKind::Progression);
  EXPECT_EQ(prog.step, 8);
  EXPECT_FALSE(prog.masked);
  EXPECT_EQ(win.kind, SpanKind::Range);
  EXPECT_FALSE(win.masked);
  // Head h's residue is -shift(h) mod 8 = -h mod 8.
  for (int64_t h = 0; h < 8; ++h)
    EXPECT_EQ(prog.residue[size_t(h)], (8 - h) % 8);
  // Query tile 20, head 1: progression {7, 15} below the window 17..20.
  EXPECT_EQ(keyTilesOf(s, 1, 20, 100),
            (std::vector<int64_t>{7, 15, 17, 18, 19, 20}));
  // Key tile 20 is past the key length (numKeyTiles = 19).
  EXPECT_EQ(keyTilesOf(s, 1, 20, 19), (std::vector<int64_t>{7, 15, 17, 18}));
}

TEST(Schedule, S2LargeBlockGivesRuns) {
  // block 128 over 64-key tiles: the stride visits runs of two tiles.
  Pattern p = s2Pattern(4, 128, true, 2, 4);
  TileConfig tc;
  tc.blockM = 128;
  tc.blockN = 64;
  Schedule s;
  std::string err;
  ASSERT_TRUE(buildSchedule(p, tc, s, err)) << err;
  EXPECT_TRUE(s.tables.empty());
  ASSERT_EQ(s.groups.size(), 1u);
  const Phase &last = s.groups[0].phases.back();
  ASSERT_FALSE(last.spans.empty());
  EXPECT_EQ(last.spans[0].kind, SpanKind::Progression);
  EXPECT_EQ(last.spans[0].step, 8);
  EXPECT_EQ(last.spans[0].run, 2);
}

TEST(Schedule, SmallBlocksAreMergedAndMasked) {
  // block 16 under 128x64 tiles: each query tile visits the union of its
  // eight blocks' key tiles; partially visible tiles are masked.
  Pattern p = s2Pattern(2, 16, true, 3, 8);
  TileConfig tc;
  Schedule s;
  std::string err;
  ASSERT_TRUE(buildSchedule(p, tc, s, err)) << err;
  EXPECT_TRUE(s.tables.empty());
  bool anyMasked = false;
  for (const Phase &ph : s.groups[0].phases)
    for (const Span &sp : ph.spans)
      anyMasked |= sp.masked;
  EXPECT_TRUE(anyMasked);
  EXPECT_GT(mergeWaste(p, tc, 4096), 0.3);
}

TEST(Schedule, DenseCausalIsOneFullRange) {
  Pattern p = s2test::densePattern(2, 64);
  Schedule s;
  std::string err;
  ASSERT_TRUE(buildSchedule(p, TileConfig(), s, err)) << err;
  ASSERT_EQ(s.groups.size(), 1u);
  ASSERT_EQ(s.groups[0].phases.size(), 1u);
  ASSERT_EQ(s.groups[0].phases[0].spans.size(), 1u);
  const Span &sp = s.groups[0].phases[0].spans[0];
  EXPECT_EQ(sp.kind, SpanKind::Range);
  EXPECT_FALSE(sp.masked);
  EXPECT_TRUE(sp.lo.empty());
  ASSERT_EQ(sp.hi.size(), 1u); // the causal clamp to the diagonal tile
  EXPECT_EQ(keyTilesOf(s, 0, 3, 100),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  // Causal dense wastes only half the diagonal tiles.
  EXPECT_LT(mergeWaste(p, TileConfig(), 8192), 0.05);
}

TEST(Schedule, ExplicitBlocksUseTables) {
  Pattern p;
  p.name = "b";
  p.heads = 1;
  p.kvHeads = 1;
  p.block = 64;
  p.causal = false;
  Rule r = makeRule(p, RuleKind::Blocks);
  r.blocks = {{0, 3}, {2, 1}};
  p.rules = {r};
  TileConfig tc;
  tc.blockM = 64;
  tc.blockN = 64;
  tc.maxSeqLen = 1024;
  Schedule s;
  std::string err;
  ASSERT_TRUE(buildSchedule(p, tc, s, err)) << err;
  EXPECT_EQ(s.maxSeqLen, 1024);
  ASSERT_FALSE(s.tables.empty());
  EXPECT_EQ(keyTilesOf(s, 0, 0, 16), (std::vector<int64_t>{3}));
  EXPECT_EQ(keyTilesOf(s, 0, 2, 16), (std::vector<int64_t>{1}));
  EXPECT_TRUE(keyTilesOf(s, 0, 1, 16).empty());
}

TEST(Schedule, RejectsUnsupportedTiles) {
  Pattern p = s2Pattern(2, 64, true, 2, 4);
  TileConfig tc;
  tc.blockM = 48;
  Schedule s;
  std::string err;
  EXPECT_FALSE(buildSchedule(p, tc, s, err));
  EXPECT_NE(err.find("tile size 48"), std::string::npos) << err;
  p.heads = 0;
  EXPECT_FALSE(buildSchedule(p, TileConfig(), s, err));
  // Tables are bounded: a blocks rule at 2^28 tokens of 16-token blocks.
  Pattern q;
  q.name = "b";
  q.heads = 1;
  q.kvHeads = 1;
  q.block = 16;
  Rule r = makeRule(q, RuleKind::Blocks);
  r.blocks = {{1, 0}};
  q.rules = {r};
  EXPECT_FALSE(buildSchedule(q, TileConfig{64, 64, int64_t(1) << 28}, s, err));
  EXPECT_NE(err.find("too large to build"), std::string::npos) << err;
}

TEST(Schedule, ChooseTilesPicksSupportedSizes) {
  Pattern p = s2Pattern(8, 16, true, 4, 16);
  TileConfig tc = chooseTiles(p, 128);
  EXPECT_TRUE(tc.blockM == 64 || tc.blockM == 128);
  EXPECT_TRUE(tc.blockN == 64 || tc.blockN == 128);
  EXPECT_FALSE(tc.blockM == 128 && tc.blockN == 128);
  // Small blocks favour small tiles: less merged waste.
  EXPECT_LE(mergeWaste(p, tc, 8192),
            mergeWaste(p, TileConfig{128, 128, 0}, 8192));
}

/// Key tiles a 128-row query tile of `p` visits under 128 x 64 tiles, on
/// average over heads and query tiles, at `len` tokens.
double meanKeyTiles128x64(const Pattern &p, int64_t len) {
  TileConfig tc{128, 64, 0};
  Schedule s;
  std::string err;
  EXPECT_TRUE(buildSchedule(p, tc, s, err)) << err;
  int64_t nq = (len + 127) / 128, nk = (len + 63) / 64;
  double total = 0;
  for (int64_t h = 0; h < p.heads; ++h)
    for (int64_t t = 0; t < nq; ++t)
      total += double(keyTilesOf(s, h, t, nk).size());
  return total / double(nq * p.heads);
}

TEST(Schedule, KeyTilesAQueryTileVisits) {
  // The counts the sm_90a head-dim-128 tile choice and its comment rest on
  // (chooseTiles: pairs from 24 key tiles at 128k; measured outcomes there).
  Pattern window = s2Pattern(32, 64, true, 16, 16);
  window.rules.pop_back();
  Pattern v16 = s2Pattern(32, 64, true, 16, 16);
  Pattern v64 = s2Pattern(32, 64, true, 16, 64);
  EXPECT_NEAR(meanKeyTiles128x64(window, 8192), 16.0, 0.5);
  EXPECT_NEAR(meanKeyTiles128x64(window, 131072), 16.9, 0.5);
  EXPECT_NEAR(meanKeyTiles128x64(v16, 8192), 19.1, 0.5);
  EXPECT_NEAR(meanKeyTiles128x64(v16, 32768), 31.8, 0.5);
  EXPECT_NEAR(meanKeyTiles128x64(v16, 131072), 79.9, 0.5);
  EXPECT_NEAR(meanKeyTiles128x64(v64, 8192), 16.8, 0.5);
  EXPECT_NEAR(meanKeyTiles128x64(v64, 32768), 20.5, 0.5);
  EXPECT_NEAR(meanKeyTiles128x64(v64, 131072), 32.7, 0.5);
}

TEST(Schedule, ChooseTilesForWarpSpecialisedHopperKernels) {
  // Dense causal and 128-token blocks fill 128 x 128 tiles: the sm_90a
  // head-dim-128 choice takes them. 64-token strided blocks would leave
  // half of each key tile masked: 128 x 64, whose kernel pairs key tiles
  // (codegen/HopperKernel.h). A sliding window (a query tile visits 17 key
  // tiles at any length) and 32-token blocks keep the choice for any
  // target.
  Pattern dense = s2test::densePattern(2, 64);
  Pattern b128 = s2Pattern(8, 128, true, 8, 16);
  Pattern b64 = s2Pattern(8, 64, true, 16, 16);
  Pattern b64v64 = s2Pattern(8, 64, true, 16, 64);
  Pattern window = s2Pattern(8, 64, true, 16, 16);
  window.rules.pop_back();
  Pattern b32 = s2Pattern(8, 32, true, 32, 32);
  for (const Pattern *p : {&dense, &b128, &b64, &b64v64, &window, &b32}) {
    TileConfig any = chooseTiles(*p, 128);
    TileConfig h = chooseTiles(*p, 128, TileTarget::Sm90aD128);
    EXPECT_FALSE(any.blockM == 128 && any.blockN == 128) << p->name;
    EXPECT_EQ(chooseTiles(*p, 128, TileTarget::Any).blockM, any.blockM);
    bool wide = p == &dense || p == &b128, pairs = p == &b64 || p == &b64v64;
    EXPECT_EQ(h.blockM, wide || pairs ? 128 : any.blockM) << p->name;
    EXPECT_EQ(h.blockN, wide ? 128 : pairs ? 64 : any.blockN) << p->name;
  }
  // (The portable choice differs from the pairs' 128 x 64 for both.)
  EXPECT_EQ(chooseTiles(window, 128).blockM, 64);
  EXPECT_EQ(chooseTiles(b32, 128).blockM, 64);
}

} // namespace
