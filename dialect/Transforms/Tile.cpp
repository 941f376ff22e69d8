//===- Tile.cpp - The s2-tile pass -----------------------------*- C++ -*-===//
//
// Lowers every s2.pattern without a schedule to an s2.schedule computed by
// s2::buildSchedule (the logic lives in runtime/lib/Schedule.cpp; this pass
// only picks tile sizes, checks them and materialises the result).
//
//===----------------------------------------------------------------------===//

#include "dialect/IR/PatternConversion.h"
#include "dialect/IR/S2TiledOps.h"
#include "dialect/Transforms/Passes.h"

#include "llvm/ADT/StringSet.h"

namespace s2c {
#define GEN_PASS_DEF_S2TILE
#include "dialect/Transforms/Passes.h.inc"
} // namespace s2c

using namespace mlir;
using namespace s2c;

namespace {
struct S2TilePass : public s2c::impl::S2TileBase<S2TilePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::StringSet<> tiled;
    for (ScheduleOp s : module.getOps<ScheduleOp>())
      tiled.insert(s.getPattern());
    SmallVector<PatternOp> patterns(module.getOps<PatternOp>());
    bool ok = true;
    for (PatternOp op : patterns)
      if (!tiled.contains(op.getSymName()))
        ok &= succeeded(tile(op));
    if (!ok)
      signalPassFailure();
  }

  LogicalResult tile(PatternOp op) {
    s2::Pattern p = patternFromOp(op);
    if (maxSeqLen < 0 || maxSeqLen > (int64_t(1) << 28))
      return op.emitError() << "max-seq-len '" << int64_t(maxSeqLen)
                            << "' is out of range: expected 0 to 2^28";
    s2::TileConfig tc;
    if (blockM == 0 || blockN == 0) {
      int64_t d = headDim ? int64_t(headDim) : p.headDim;
      tc = s2::chooseTiles(p, d,
                           wgmmaOnly && d == 128 ? s2::TileTarget::Sm90aD128
                                                 : s2::TileTarget::Any);
    }
    if (blockM != 0)
      tc.blockM = blockM;
    if (blockN != 0)
      tc.blockN = blockN;
    tc.maxSeqLen = maxSeqLen;
    for (auto [name, v] : {std::make_pair("block-m", tc.blockM),
                           std::make_pair("block-n", tc.blockN)}) {
      if (v != 64 && v != 128)
        return op.emitError() << "unsupported tile size '" << v << "' for "
                              << name << ": expected 64 or 128";
      if (v % p.block != 0 && p.block % v != 0)
        return op.emitError() << "tile size '" << v << "' (" << name
                              << ") and the pattern block '" << p.block
                              << "' do not divide one another";
    }
    s2::Schedule s;
    std::string error;
    if (!s2::buildSchedule(p, tc, s, error))
      return op.emitError()
             << "cannot tile pattern '" << p.name << "': " << error;
    // Before s2-merge-q, tiles merging several pattern blocks are masked.
    if (p.block < std::max(tc.blockM, tc.blockN))
      for (s2::HeadGroup &g : s.groups)
        for (s2::Phase &ph : g.phases)
          for (s2::Span &sp : ph.spans)
            sp.masked = true;
    OpBuilder builder(op);
    builder.setInsertionPointAfter(op);
    buildScheduleOp(builder, op.getLoc(), op.getSymName(), s);
    return success();
  }
};
} // namespace
