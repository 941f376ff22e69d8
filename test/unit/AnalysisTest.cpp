//===- AnalysisTest.cpp - Pattern analyses and the dialect round trip -----===//
//
// The analyses of dialect/Analysis/PatternStats.h against numbers worked out
// by hand and against brute force over the oracle (s2::blockVisible), and
// the s2::Pattern -> s2.pattern -> s2::Pattern round trip, directly and
// through the printed IR.
//
//===----------------------------------------------------------------------===//

#include "compiler/MLIRGen/MLIRGen.h"
#include "dialect/Analysis/PatternStats.h"
#include "dialect/IR/PatternConversion.h"
#include "dialect/IR/S2Dialect.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <random>

using namespace s2c;

namespace {

s2::Pattern makePattern(int64_t heads, int64_t kvHeads, bool causal,
                        int64_t block = 16) {
  s2::Pattern p;
  p.name = "t";
  p.heads = heads;
  p.kvHeads = kvHeads;
  p.block = block;
  p.causal = causal;
  return p;
}

s2::Rule &addRule(s2::Pattern &p, s2::RuleKind kind,
                  std::vector<int64_t> heads) {
  s2::Rule r;
  r.kind = kind;
  r.heads.assign(size_t(p.heads), 0);
  for (int64_t h : heads)
    r.heads[size_t(h)] = 1;
  if (kind == s2::RuleKind::Stride)
    r.shift.assign(size_t(p.heads), 0);
  p.rules.push_back(r);
  return p.rules.back();
}

using Ranges = std::vector<std::pair<int64_t, int64_t>>;

//===----------------------------------------------------------------------===//
// Density and coverage
//===----------------------------------------------------------------------===//

TEST(Density, LocalWindowByHand) {
  s2::Pattern p = makePattern(2, 2, true);
  addRule(p, s2::RuleKind::Local, {0, 1}).n = 2;
  // 4 diagonal blocks of 16*17/2 = 136 pairs, 3 full blocks of 256.
  DensityStats d = computeDensity(p, 64);
  EXPECT_EQ(d.referencePairs, 64 * 65 / 2);
  EXPECT_EQ(d.visiblePairs, (std::vector<int64_t>{1312, 1312}));
  EXPECT_DOUBLE_EQ(d.overall, 1312.0 / 2080.0);
}

TEST(Density, PartialLastBlockAndBidirectional) {
  s2::Pattern p = makePattern(1, 1, true);
  addRule(p, s2::RuleKind::Local, {0}).n = 1;
  // 40 tokens: diagonal blocks of 16, 16 and 8 tokens.
  DensityStats d = computeDensity(p, 40);
  EXPECT_EQ(d.referencePairs, 820);
  EXPECT_EQ(d.visiblePairs[0], 136 + 136 + 36);

  s2::Pattern b = makePattern(2, 1, false);
  addRule(b, s2::RuleKind::Dense, {0});
  addRule(b, s2::RuleKind::Local, {1}).n = 1;
  d = computeDensity(b, 40);
  EXPECT_EQ(d.referencePairs, 1600);
  EXPECT_EQ(d.visiblePairs[0], 1600);
  EXPECT_EQ(d.visiblePairs[1], 256 + 256 + 64);
  EXPECT_DOUBLE_EQ(d.overall, (1600.0 + 576.0) / 3200.0);
}

TEST(Coverage, ShardsCoverWindowDoesNot) {
  // S2 shards: heads 0, 1 take even columns, heads 2, 3 odd ones.
  s2::Pattern p = makePattern(4, 2, true);
  addRule(p, s2::RuleKind::Local, {0, 1, 2, 3}).n = 1;
  s2::Rule &s = addRule(p, s2::RuleKind::Stride, {0, 1, 2, 3});
  s.step = 2;
  s.shift = {0, 0, 1, 1};
  EXPECT_TRUE(computeCoverage(p, 1024).complete());

  s2::Pattern w = makePattern(1, 1, true);
  addRule(w, s2::RuleKind::Local, {0}).n = 2;
  CoverageStats c = computeCoverage(w, 64);
  EXPECT_EQ(c.numBlocks, 4);
  EXPECT_EQ(c.uncovered, 3);
  EXPECT_EQ(c.sample, (Ranges{{2, 0}, {3, 0}, {3, 1}}));
}

//===----------------------------------------------------------------------===//
// Empty rows
//===----------------------------------------------------------------------===//

TEST(EmptyRows, ByHand) {
  s2::Pattern p = makePattern(4, 1, true);
  s2::Rule &s = addRule(p, s2::RuleKind::Stride, {0, 1});
  s.step = 4;
  s.shift = {-2, 0, 0, 0};
  s2::Rule &l = addRule(p, s2::RuleKind::Local, {2});
  l.n = 3;
  l.qBegin = 5;
  l.qEnd = 9;
  s2::Rule &b = addRule(p, s2::RuleKind::Blocks, {2});
  b.blocks = {{0, 1}, {2, 0}};
  EXPECT_EQ(emptyRowsOfHead(p, 0), (Ranges{{0, 2}}));
  EXPECT_TRUE(emptyRowsOfHead(p, 1).empty());
  EXPECT_EQ(emptyRowsOfHead(p, 2), (Ranges{{0, 2}, {3, 5}, {9, -1}}));
  EXPECT_EQ(emptyRowsOfHead(p, 3), (Ranges{{0, -1}}));

  std::vector<EmptyRows> groups = findEmptyRows(p);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].heads, (std::vector<int64_t>{0}));
  EXPECT_EQ(groups[2].heads, (std::vector<int64_t>{3}));
  EXPECT_EQ(formatRanges(groups[1].ranges), "[0, 2), [3, 5), [9, end)");
}

/// A random valid pattern with small parameters, so that every event
/// (scopes, stride columns, global and explicit blocks) lies below 40.
s2::Pattern randomPattern(std::mt19937 &rng, bool causal) {
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  s2::Pattern p = makePattern(uni(1, 3), 1, causal);
  p.kvHeads = 1;
  int64_t rules = uni(0, 4);
  for (int64_t k = 0; k < rules; ++k) {
    auto kind = s2::RuleKind(uni(0, 6));
    std::vector<int64_t> heads;
    for (int64_t h = 0; h < p.heads; ++h)
      if (uni(0, 1))
        heads.push_back(h);
    s2::Rule &r = addRule(p, kind, heads);
    if (uni(0, 2) == 0)
      r.qBegin = uni(0, 12);
    if (uni(0, 2) == 0)
      r.qEnd = r.qBegin + uni(1, 12);
    switch (kind) {
    case s2::RuleKind::Local:
    case s2::RuleKind::Sink:
      r.n = uni(1, 4);
      break;
    case s2::RuleKind::Stride:
      r.step = uni(1, 9);
      for (int64_t &s : r.shift)
        s = uni(-12, 12);
      break;
    case s2::RuleKind::Dilated:
      r.n = uni(1, 3);
      r.step = uni(1, 3);
      break;
    case s2::RuleKind::Global:
      r.set = {uni(0, 5), uni(6, 20)};
      break;
    case s2::RuleKind::Blocks:
      r.blocks = {{uni(0, 6), uni(0, 6)}, {uni(7, 14), uni(0, 14)}};
      break;
    case s2::RuleKind::Dense:
      break;
    }
  }
  EXPECT_EQ(s2::validatePattern(p), "");
  return p;
}

TEST(EmptyRows, MatchesOracleOnRandomPatterns) {
  std::mt19937 rng(20261126);
  const int64_t horizon = 80; // past every event of randomPattern
  for (int trial = 0; trial < 400; ++trial) {
    s2::Pattern p = randomPattern(rng, trial % 2 == 0);
    for (int64_t h = 0; h < p.heads; ++h) {
      Ranges ranges = emptyRowsOfHead(p, h);
      for (int64_t i = 0; i < horizon; ++i) {
        bool sees = false;
        for (int64_t j = 0; j <= i && !sees; ++j)
          sees = s2::blockVisible(p, h, i, j);
        bool listed = false;
        for (auto [lo, hi] : ranges)
          listed |= i >= lo && (hi < 0 || i < hi);
        ASSERT_EQ(listed, !sees)
            << "trial " << trial << " head " << h << " row " << i << "\n"
            << s2::serializePattern(p);
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// KV cache
//===----------------------------------------------------------------------===//

TEST(KvCache, LocalStrideByHand) {
  s2::Pattern p = makePattern(1, 1, true);
  addRule(p, s2::RuleKind::Local, {0}).n = 4;
  addRule(p, s2::RuleKind::Stride, {0}).step = 8;
  // 1024 tokens = 64 blocks. The last query block (63) and later ones keep
  // the window 60..63 and the columns 0, 8, ..., 56: 12 of 64 blocks.
  KvCacheStats k = computeKvCache(p, 1024);
  ASSERT_TRUE(k.applicable);
  EXPECT_TRUE(k.allEfficient());
  EXPECT_EQ(k.keptBlocks, (std::vector<int64_t>{12}));
  EXPECT_DOUBLE_EQ(k.fraction[0], 12.0 / 64.0);
}

TEST(KvCache, DilatedAndLateScopesAreNotEfficient) {
  s2::Pattern p = makePattern(2, 1, true);
  s2::Rule &d = addRule(p, s2::RuleKind::Dilated, {0});
  d.n = 3;
  d.step = 2;
  // Head 1: a window first, then from query block 6 a stride whose columns
  // the window had dropped.
  s2::Rule &l = addRule(p, s2::RuleKind::Local, {1});
  l.n = 2;
  l.qEnd = 6;
  s2::Rule &s = addRule(p, s2::RuleKind::Stride, {1});
  s.step = 4;
  s.qBegin = 6;
  KvCacheStats k = computeKvCache(p, 160);
  EXPECT_FALSE(k.efficient[0]);
  EXPECT_EQ(k.violation[0].keyBlock, 0);
  EXPECT_EQ(k.violation[0].gap, 1);
  EXPECT_EQ(k.violation[0].later, 2);
  EXPECT_FALSE(k.efficient[1]);
  EXPECT_EQ(k.violation[1].keyBlock, 0);
  EXPECT_EQ(k.violation[1].gap, 2);
  EXPECT_EQ(k.violation[1].later, 6);
  // 10 blocks; head 0 keeps 5..9 (key block j is seen by query blocks
  // j, j + 2, j + 4, one of which is at least 9); head 1 keeps the columns
  // 0, 4, 8.
  EXPECT_EQ(k.keptBlocks, (std::vector<int64_t>{5, 3}));

  s2::Pattern b = makePattern(1, 1, false);
  addRule(b, s2::RuleKind::Dense, {0});
  EXPECT_FALSE(computeKvCache(b, 64).applicable);
}

TEST(KvCache, KeptBlocksMatchOracleOnRandomPatterns) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    s2::Pattern p = randomPattern(rng, true);
    int64_t seqLen = 16 * (1 + trial % 30);
    KvCacheStats k = computeKvCache(p, seqLen);
    int64_t nb = k.numBlocks;
    for (int64_t h = 0; h < p.heads; ++h) {
      int64_t kept = 0;
      for (int64_t j = 0; j < nb; ++j) {
        bool used = false;
        // Past block 80 every rule's scope and visibility is settled.
        for (int64_t i = nb - 1; i < nb + 120 && !used; ++i)
          used = s2::blockVisible(p, h, i, j);
        kept += used;
      }
      ASSERT_EQ(k.keptBlocks[size_t(h)], kept)
          << "trial " << trial << " head " << h << "\n"
          << s2::serializePattern(p);
    }
  }
}

TEST(Format, IndexSetsAndLengthLimits) {
  EXPECT_EQ(formatIndexSet({0, 1, 2, 3, 5, 7, 8}), "0 to 3, 5, 7, 8");
  EXPECT_EQ(formatIndexSet({}), "");
  s2::Pattern p = makePattern(8, 8, true);
  EXPECT_EQ(checkAnalysisLength(p, 8192), "");
  EXPECT_NE(checkAnalysisLength(p, 0), "");
  EXPECT_NE(checkAnalysisLength(p, int64_t(1) << 40), "");
}

//===----------------------------------------------------------------------===//
// Pattern -> IR -> Pattern
//===----------------------------------------------------------------------===//

s2::Pattern everyRule() {
  s2::Pattern p = makePattern(8, 2, true, 64);
  p.name = "every_rule";
  p.headDim = 128;
  p.dtype = s2::DType::BF16;
  p.loc = {3, 1};
  addRule(p, s2::RuleKind::Dense, {6, 7}).loc = {4, 3};
  s2::Rule &l = addRule(p, s2::RuleKind::Local, {0, 1, 2, 3, 4, 5});
  l.n = 16;
  l.qBegin = 4;
  l.loc = {5, 3};
  s2::Rule &s = addRule(p, s2::RuleKind::Stride, {0, 1, 2, 3, 4, 5});
  s.step = 8;
  s.shift = {0, 0, 0, 0, 2, 2, 0, 0};
  s.loc = {6, 3};
  s2::Rule &odd = addRule(p, s2::RuleKind::Stride, {1, 4});
  odd.step = 5;
  odd.shift = {0, -3, 0, 0, 7, 0, 0, 0};
  s2::Rule &sink = addRule(p, s2::RuleKind::Sink, {0});
  sink.n = 1;
  sink.qEnd = 100;
  addRule(p, s2::RuleKind::Global, {2}).set = {0, 9, 10, 11};
  s2::Rule &dil = addRule(p, s2::RuleKind::Dilated, {3});
  dil.n = 4;
  dil.step = 3;
  addRule(p, s2::RuleKind::Blocks, {5}).blocks = {{0, 0}, {7, 2}};
  p.rules.back().loc = {12, 7};
  return p;
}

TEST(RoundTrip, PatternToIRAndBack) {
  s2::Pattern p = everyRule();
  ASSERT_EQ(s2::validatePattern(p), "");
  mlir::MLIRContext ctx;
  std::vector<s2::Pattern> patterns = {p, makePattern(2, 1, false)};
  patterns[1].name = "second";
  addRule(patterns[1], s2::RuleKind::Dense, {0, 1});
  mlir::OwningOpRef<mlir::ModuleOp> module = mlirGen(ctx, patterns, "every.s2");
  ASSERT_TRUE(module);
  std::vector<PatternOp> ops(module->getOps<PatternOp>().begin(),
                             module->getOps<PatternOp>().end());
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(s2::serializePattern(patternFromOp(ops[0])),
            s2::serializePattern(p));
  EXPECT_EQ(s2::serializePattern(patternFromOp(ops[1])),
            s2::serializePattern(patterns[1]));
  auto loc = mlir::dyn_cast<mlir::FileLineColLoc>(
      (*ops[0].getBody().front().begin()).getLoc());
  ASSERT_TRUE(loc);
  EXPECT_EQ(loc.getFilename().str(), "every.s2");
  EXPECT_EQ(loc.getLine(), 4u);
  EXPECT_EQ(loc.getColumn(), 3u);

  // Through the printed form (positions then come from the printed text).
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  mlir::OwningOpRef<mlir::ModuleOp> reparsed =
      mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
  ASSERT_TRUE(reparsed);
  s2::Pattern back = patternFromOp(*reparsed->getOps<PatternOp>().begin());
  back.loc = p.loc;
  for (size_t k = 0; k < back.rules.size(); ++k)
    back.rules[k].loc = p.rules[k].loc;
  EXPECT_EQ(s2::serializePattern(back), s2::serializePattern(p));
}

TEST(RoundTrip, RandomPatterns) {
  std::mt19937 rng(99);
  mlir::MLIRContext ctx;
  for (int trial = 0; trial < 200; ++trial) {
    s2::Pattern p = randomPattern(rng, trial % 2 == 0);
    mlir::OwningOpRef<mlir::ModuleOp> module = mlirGen(ctx, {p}, "r.s2");
    ASSERT_TRUE(module);
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    mlir::OwningOpRef<mlir::ModuleOp> reparsed =
        mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
    ASSERT_TRUE(reparsed) << text;
    s2::Pattern back = patternFromOp(*reparsed->getOps<PatternOp>().begin());
    back.loc = p.loc;
    for (size_t k = 0; k < back.rules.size(); ++k)
      back.rules[k].loc = p.rules[k].loc;
    ASSERT_EQ(s2::serializePattern(back), s2::serializePattern(p)) << text;
  }
}

TEST(RoundTrip, InvalidPatternFailsVerification) {
  s2::Pattern p = makePattern(4, 3, true); // kv_heads does not divide heads
  mlir::MLIRContext ctx;
  ctx.getDiagEngine().registerHandler([](mlir::Diagnostic &) {});
  EXPECT_FALSE(mlirGen(ctx, {p}, "bad.s2"));
}

} // namespace
