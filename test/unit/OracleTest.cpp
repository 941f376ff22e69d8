//===- OracleTest.cpp - The pattern oracle against hand-written truths ----===//
//
// The oracle is what every other test trusts, so it is checked here against
// masks written out by hand and against the published S2 (DKernel) formula
// written independently below, never against itself.
//
//===----------------------------------------------------------------------===//

#include "s2/oracle.h"
#include "s2/Pattern.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

using namespace s2;

namespace {

Rule makeRule(const Pattern &p, RuleKind kind, int64_t h0, int64_t h1) {
  Rule r;
  r.kind = kind;
  r.heads.assign(size_t(p.heads), 0);
  for (int64_t h = h0; h <= h1; ++h)
    r.heads[size_t(h)] = 1;
  return r;
}

Pattern basePattern(int64_t heads, int64_t kvHeads, bool causal) {
  Pattern p;
  p.name = "t";
  p.heads = heads;
  p.kvHeads = kvHeads;
  p.block = 16;
  p.causal = causal;
  return p;
}

std::string maskString(const Pattern &p, int64_t h, int64_t n) {
  std::string s;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j)
      s += blockVisible(p, h, i, j) ? '#' : '.';
    s += '\n';
  }
  return s;
}

TEST(Oracle, LocalCausalGolden) {
  Pattern p = basePattern(1, 1, true);
  Rule r = makeRule(p, RuleKind::Local, 0, 0);
  r.n = 2;
  p.rules.push_back(r);
  EXPECT_EQ(maskString(p, 0, 5), "#....\n"
                                 "##...\n"
                                 ".##..\n"
                                 "..##.\n"
                                 "...##\n");
}

TEST(Oracle, LocalBidirectionalGolden) {
  Pattern p = basePattern(1, 1, false);
  Rule r = makeRule(p, RuleKind::Local, 0, 0);
  r.n = 2;
  p.rules.push_back(r);
  EXPECT_EQ(maskString(p, 0, 5), "##...\n"
                                 "###..\n"
                                 ".###.\n"
                                 "..###\n"
                                 "...##\n");
}

TEST(Oracle, LocalStrideGolden) {
  // Two heads, window 1, stride 3 with shifts 0 and 1:
  // head 0 sees columns j with j % 3 == 0; head 1 j with (j + 1) % 3 == 0.
  Pattern p = basePattern(2, 2, true);
  Rule l = makeRule(p, RuleKind::Local, 0, 1);
  l.n = 1;
  Rule s = makeRule(p, RuleKind::Stride, 0, 1);
  s.step = 3;
  s.shift = {0, 1};
  p.rules = {l, s};
  EXPECT_EQ(maskString(p, 0, 6), "#.....\n"
                                 "##....\n"
                                 "#.#...\n"
                                 "#..#..\n"
                                 "#..##.\n"
                                 "#..#.#\n");
  EXPECT_EQ(maskString(p, 1, 6), "#.....\n"
                                 ".#....\n"
                                 "..#...\n"
                                 "..##..\n"
                                 "..#.#.\n"
                                 "..#..#\n");
}

TEST(Oracle, SinkGlobalGolden) {
  Pattern p = basePattern(1, 1, true);
  Rule l = makeRule(p, RuleKind::Local, 0, 0);
  l.n = 1;
  Rule g = makeRule(p, RuleKind::Global, 0, 0);
  g.set = {2};
  p.rules = {l, g};
  // Query block 2 sees all of 0..2; everyone at or after 2 sees key block 2.
  EXPECT_EQ(maskString(p, 0, 5), "#....\n"
                                 ".#...\n"
                                 "###..\n"
                                 "..##.\n"
                                 "..#.#\n");
  Pattern q = basePattern(1, 1, true);
  Rule sk = makeRule(q, RuleKind::Sink, 0, 0);
  sk.n = 2;
  q.rules = {sk};
  EXPECT_EQ(maskString(q, 0, 4), "#...\n"
                                 "##..\n"
                                 "##..\n"
                                 "##..\n");
}

TEST(Oracle, DilatedAndBlocksGolden) {
  Pattern p = basePattern(1, 1, true);
  Rule d = makeRule(p, RuleKind::Dilated, 0, 0);
  d.n = 2;
  d.step = 2;
  p.rules = {d};
  EXPECT_EQ(maskString(p, 0, 5), "#....\n"
                                 ".#...\n"
                                 "#.#..\n"
                                 ".#.#.\n"
                                 "..#.#\n");
  Pattern q = basePattern(1, 1, false);
  Rule b = makeRule(q, RuleKind::Blocks, 0, 0);
  b.blocks = {{0, 3}, {2, 1}};
  q.rules = {b};
  EXPECT_EQ(maskString(q, 0, 4), "...#\n"
                                 "....\n"
                                 ".#..\n"
                                 "....\n");
}

TEST(Oracle, QueryRangeScopes) {
  // Dense for query blocks [0, 2), local 1 after.
  Pattern p = basePattern(1, 1, true);
  Rule d = makeRule(p, RuleKind::Dense, 0, 0);
  d.qEnd = 2;
  Rule l = makeRule(p, RuleKind::Local, 0, 0);
  l.n = 1;
  l.qBegin = 2;
  p.rules = {d, l};
  EXPECT_EQ(maskString(p, 0, 4), "#...\n"
                                 "##..\n"
                                 "..#.\n"
                                 "...#\n");
}

/// DKernel's get_sparse_attn_mask, written out independently: with
/// head_sliding_step = max(1, V / num_heads), for KV head g the vertical
/// columns are (j + g*step + offset) % V == 0; the last num_dense KV heads
/// are dense; the block mask is (i >= j) & ((i - j < L) | vertical).
bool dkernelVisible(int64_t heads, int64_t kvHeads, int64_t L, int64_t V,
                    int64_t offset, int64_t numDense, int64_t h, int64_t i,
                    int64_t j) {
  int64_t step = std::max<int64_t>(1, V / heads);
  int64_t g = h / (heads / kvHeads);
  bool vert = (g >= kvHeads - numDense) || ((j + g * step + offset) % V == 0);
  return i >= j && (i - j < L || vert);
}

TEST(Oracle, MatchesPublishedS2Formula) {
  struct Case {
    int64_t heads, kvHeads, L, V, offset, numDense;
  };
  const Case cases[] = {{32, 32, 16, 8, 0, 0}, {32, 8, 16, 8, 0, 0},
                        {32, 8, 4, 64, 1, 2},  {4, 4, 2, 16, 0, 1},
                        {8, 2, 1, 3, 0, 0},    {16, 16, 8, 16, 3, 0}};
  for (const Case &c : cases) {
    Pattern p = basePattern(c.heads, c.kvHeads, true);
    int64_t group = c.heads / c.kvHeads;
    int64_t lastSparse = (c.kvHeads - c.numDense) * group - 1;
    if (lastSparse >= 0) {
      Rule l = makeRule(p, RuleKind::Local, 0, lastSparse);
      l.n = c.L;
      Rule s = makeRule(p, RuleKind::Stride, 0, lastSparse);
      s.step = c.V;
      s.shift.assign(size_t(p.heads), 0);
      for (int64_t h = 0; h <= lastSparse; ++h)
        s.shift[size_t(h)] = shardShift(p, h, c.V, c.offset);
      p.rules.push_back(l);
      p.rules.push_back(s);
    }
    if (c.numDense > 0)
      p.rules.push_back(
          makeRule(p, RuleKind::Dense, lastSparse + 1, c.heads - 1));
    ASSERT_EQ(validatePattern(p), "");
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t i = 0; i < 70; ++i)
        for (int64_t j = 0; j < 70; ++j)
          ASSERT_EQ(blockVisible(p, h, i, j),
                    dkernelVisible(c.heads, c.kvHeads, c.L, c.V, c.offset,
                                   c.numDense, h, i, j))
              << "heads " << c.heads << " h " << h << " i " << i << " j " << j;
  }
}

TEST(Oracle, TokenCausalityAndAlignment) {
  Pattern p = basePattern(1, 1, true);
  p.rules = {makeRule(p, RuleKind::Dense, 0, 0)};
  // Query of 3 rows over 5 keys: rows sit at absolute positions 2, 3, 4.
  auto m = tokenMask(p, 0, 3, 5);
  std::string s;
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t k = 0; k < 5; ++k)
      s += m[size_t(r * 5 + k)] ? '#' : '.';
    s += '\n';
  }
  EXPECT_EQ(s, "###..\n"
               "####.\n"
               "#####\n");
  EXPECT_EQ(countVisiblePairs(p, 0, 3, 5), 12);
}

TEST(Oracle, CountPairsMatchesTokenMask) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    Pattern p = basePattern(2, 1, trial % 2 == 0);
    Rule l = makeRule(p, RuleKind::Local, 0, 1);
    l.n = 1 + int64_t(rng() % 3);
    Rule s = makeRule(p, RuleKind::Stride, 0, 1);
    s.step = 2 + int64_t(rng() % 4);
    s.shift = {int64_t(rng() % 5), int64_t(rng() % 5)};
    p.rules = {l, s};
    int64_t sk = 1 + int64_t(rng() % 90);
    int64_t sq = 1 + int64_t(rng() % sk);
    for (int64_t h = 0; h < 2; ++h) {
      auto m = tokenMask(p, h, sq, sk);
      int64_t n = 0;
      for (uint8_t v : m)
        n += v;
      EXPECT_EQ(countVisiblePairs(p, h, sq, sk), n);
    }
  }
}

TEST(Oracle, SerializationRoundTripAndCApi) {
  Pattern p = basePattern(4, 2, true);
  p.name = "rt";
  p.headDim = 128;
  p.dtype = DType::BF16;
  Rule l = makeRule(p, RuleKind::Local, 0, 2);
  l.n = 3;
  l.loc = {4, 7};
  Rule s = makeRule(p, RuleKind::Stride, 1, 2);
  s.step = 4;
  s.shift = {0, 5, -2, 0};
  Rule g = makeRule(p, RuleKind::Global, 3, 3);
  g.set = {0, 9};
  g.qBegin = 2;
  g.qEnd = 40;
  Rule b = makeRule(p, RuleKind::Blocks, 0, 3);
  b.blocks = {{1, 0}, {5, 2}};
  p.rules = {l, s, g, b};
  std::string text = serializePattern(p);
  Pattern q;
  std::string err;
  ASSERT_TRUE(deserializePattern(text, q, err)) << err;
  EXPECT_EQ(serializePattern(q), text);
  for (int64_t h = 0; h < 4; ++h)
    EXPECT_EQ(blockMask(p, h, 45, 45), blockMask(q, h, 45, 45));

  s2_oracle *o = nullptr;
  char msg[256];
  ASSERT_EQ(s2_oracle_create(text.data(), text.size(), &o, msg, sizeof msg), 0)
      << msg;
  EXPECT_EQ(s2_oracle_heads(o), 4);
  EXPECT_EQ(s2_oracle_block_visible(o, 1, 5, 3), blockVisible(p, 1, 5, 3));
  std::vector<uint8_t> rows(size_t(3 * 100));
  s2_oracle_token_mask_rows(o, 2, 70, 100, 10, 13, rows.data());
  auto full = tokenMask(p, 2, 70, 100);
  for (size_t x = 0; x < rows.size(); ++x)
    EXPECT_EQ(rows[x], full[10 * 100 + x]);
  s2_oracle_destroy(o);
}

TEST(Oracle, DeserializeRejectsGarbage) {
  Pattern q;
  std::string err;
  EXPECT_FALSE(deserializePattern("", q, err));
  EXPECT_FALSE(deserializePattern("s2pattern 2\n", q, err));
  EXPECT_NE(err.find("version"), std::string::npos);
  EXPECT_FALSE(deserializePattern(
      "s2pattern 1\nname x\nsettings 99999 1 64 1 0 any\nend\n", q, err));
  EXPECT_FALSE(deserializePattern(
      "s2pattern 1\nname x\nsettings 4 3 64 1 0 any\nend\n", q, err));
  EXPECT_FALSE(
      deserializePattern("s2pattern 1\nname x\nsettings 4 4 64 1 0 "
                         "any\nrule local 0 -1 0 0 0 0\nheads 1 0\nend\n",
                         q, err));
  // Truncations of a valid description never crash and never succeed.
  Pattern p = basePattern(2, 2, true);
  Rule s = makeRule(p, RuleKind::Stride, 0, 1);
  s.step = 4;
  s.shift = {1, 2};
  p.rules = {s};
  std::string text = serializePattern(p);
  for (size_t n = 0; n + 4 < text.size(); ++n)
    EXPECT_FALSE(deserializePattern(text.substr(0, n), q, err)) << n;
}

} // namespace
