//===- TiledOpsTest.cpp - s2::Schedule <-> s2.schedule round trips --------===//
//
// Every schedule s2::buildSchedule produces (closed forms, progressions with
// runs, diagonal spans with max/min bounds, tables) must survive
// buildScheduleOp -> print -> parse -> verify -> scheduleFromOp unchanged,
// so that the code generator reads back exactly what s2-tile computed.
//
//===----------------------------------------------------------------------===//

#include "compiler/Inspect/SchedulePrinter.h"
#include "dialect/IR/PatternConversion.h"
#include "dialect/IR/S2Dialect.h"
#include "dialect/IR/S2TiledOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <random>

using namespace s2;

namespace {

Pattern randomPattern(std::mt19937_64 &rng) {
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  Pattern p;
  p.name = "r";
  p.heads = uni(1, 4);
  p.kvHeads = p.heads;
  p.block = int64_t(16) << uni(0, 4);
  p.causal = uni(0, 1);
  for (int k = int(uni(1, 3)); k > 0; --k) {
    Rule r;
    r.kind = RuleKind(uni(0, 6));
    r.heads.assign(size_t(p.heads), 1);
    if (uni(0, 3) == 0) {
      r.qBegin = uni(0, 8);
      if (uni(0, 1))
        r.qEnd = r.qBegin + uni(1, 8);
    }
    switch (r.kind) {
    case RuleKind::Dense:
      break;
    case RuleKind::Local:
    case RuleKind::Sink:
      r.n = uni(1, 4);
      break;
    case RuleKind::Stride:
      r.step = uni(2, 9);
      r.shift.resize(size_t(p.heads));
      for (auto &s : r.shift)
        s = uni(-5, 5);
      break;
    case RuleKind::Global:
      r.set = {uni(0, 3), uni(5, 9)};
      break;
    case RuleKind::Dilated:
      r.n = uni(1, 3);
      r.step = uni(1, 3);
      break;
    case RuleKind::Blocks:
      r.blocks = {{uni(0, 2), uni(0, 2)}, {uni(3, 5), uni(0, 5)}};
      break;
    }
    p.rules.push_back(r);
  }
  return p;
}

bool sameSchedule(const Schedule &x, const Schedule &y) {
  if (x.tiles.blockM != y.tiles.blockM || x.tiles.blockN != y.tiles.blockN ||
      x.causal != y.causal || x.heads != y.heads ||
      x.maxSeqLen != y.maxSeqLen || x.groups.size() != y.groups.size() ||
      x.tables.size() != y.tables.size())
    return false;
  for (size_t g = 0; g < x.groups.size(); ++g) {
    if (x.groups[g].heads != y.groups[g].heads ||
        x.groups[g].phases.size() != y.groups[g].phases.size())
      return false;
    for (size_t i = 0; i < x.groups[g].phases.size(); ++i) {
      const Phase &a = x.groups[g].phases[i], &b = y.groups[g].phases[i];
      if (a.tBegin != b.tBegin || a.tEnd != b.tEnd || a.spans != b.spans)
        return false;
    }
  }
  for (size_t t = 0; t < x.tables.size(); ++t)
    if (x.tables[t].rowPtr != y.tables[t].rowPtr ||
        x.tables[t].cols != y.tables[t].cols)
      return false;
  return true;
}

TEST(TiledOps, RandomSchedulesRoundTrip) {
  mlir::MLIRContext ctx;
  ctx.loadDialect<s2c::S2Dialect>();
  std::mt19937_64 rng(99);
  for (int n = 0; n < 300; ++n) {
    Pattern p = randomPattern(rng);
    ASSERT_EQ(validatePattern(p), "");
    TileConfig tc{(rng() & 1) ? 64 : 128, (rng() & 1) ? 64 : 128, 1024};
    Schedule s;
    std::string err;
    ASSERT_TRUE(buildSchedule(p, tc, s, err)) << err;

    mlir::OpBuilder b(&ctx);
    mlir::Location loc = b.getUnknownLoc();
    mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc);
    b.setInsertionPointToEnd(module->getBody());
    s2c::buildPatternOp(b, p, "test.s2");
    s2c::buildScheduleOp(b, loc, p.name, s);
    ASSERT_TRUE(mlir::succeeded(mlir::verify(*module)));

    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    mlir::OwningOpRef<mlir::ModuleOp> parsed =
        mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
    ASSERT_TRUE(parsed) << text;
    auto ops = parsed->getOps<s2c::ScheduleOp>();
    ASSERT_FALSE(ops.empty());
    Schedule back = s2c::scheduleFromOp(*ops.begin());
    EXPECT_TRUE(sameSchedule(s, back)) << serializePattern(p) << text;
  }
}

TEST(TiledOps, BoundText) {
  std::string text;
  llvm::raw_string_ostream os(text);
  s2c::printBound(os, AffineBound{0, 0, 1, 1, 7});
  os << " | ";
  s2c::printBound(os, AffineBound{2, 0, 1, 1, -3});
  os << " | ";
  s2c::printBound(os, AffineBound{3, 5, 4, 2, -1});
  os << " | ";
  s2c::printBoundList(os, {}, true);
  os << " | ";
  s2c::printBoundList(os, {AffineBound{1, 0, 1, 1, 0}, AffineBound{}}, false);
  EXPECT_EQ(text, "7 | 2 * t - 3 | (3 * t + 5) floordiv 4 * 2 - 1 | begin | "
                  "min(t, 0)");
}

TEST(TiledOps, PrintSchedule) {
  Pattern p;
  p.name = "s2";
  p.heads = 2;
  p.kvHeads = 2;
  p.block = 64;
  Rule l;
  l.kind = RuleKind::Local;
  l.heads = {1, 1};
  l.n = 2;
  Rule st;
  st.kind = RuleKind::Stride;
  st.heads = {1, 1};
  st.step = 4;
  st.shift = {0, 1};
  p.rules = {l, st};
  Schedule s;
  std::string err;
  ASSERT_TRUE(buildSchedule(p, TileConfig{64, 64, 0}, s, err)) << err;
  std::string text;
  llvm::raw_string_ostream os(text);
  s2c::printSchedule(p, s, os);
  EXPECT_NE(text.find("schedule of pattern 's2' (2 heads, block 64, causal): "
                      "tiles 64 x 64 (query rows x keys), 1 group, closed "
                      "form (no tables)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("progression [begin, t - 1) every 4 tiles, from residue "
                      "0 (head 0), 3 (head 1); full"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("range [t - 1, t + 1); full"), std::string::npos) << text;
  // Head 0, query tile 9: key tiles 0, 4 (stride) and 8, 9 (window).
  EXPECT_NE(text.find("     9 #...#...##......"), std::string::npos) << text;
}

} // namespace
