//===- MergeQ.cpp - The s2-merge-q pass ------------------------*- C++ -*-===//
//
// Recomputes each s2.schedule from its pattern with s2::buildSchedule,
// checks that its spans are the ones s2-tile produced, replaces it with the
// exact full/masked flags (tiles merging several pattern blocks are full
// only when every causally allowed element is visible), marks it `merged`
// and reports the wasted tensor-core fraction (s2::mergeWaste).
//
//===----------------------------------------------------------------------===//

#include "dialect/IR/PatternConversion.h"
#include "dialect/IR/S2TiledOps.h"
#include "dialect/Transforms/Passes.h"

#include "llvm/Support/Format.h"

namespace s2c {
#define GEN_PASS_DEF_S2MERGEQ
#include "dialect/Transforms/Passes.h.inc"
} // namespace s2c

using namespace mlir;
using namespace s2c;

/// Equal spans, flags aside.
static bool sameSpans(const s2::Schedule &x, const s2::Schedule &y) {
  if (x.groups.size() != y.groups.size() || x.tables.size() != y.tables.size())
    return false;
  for (size_t g = 0; g < x.groups.size(); ++g) {
    const s2::HeadGroup &a = x.groups[g], &b = y.groups[g];
    if (a.heads != b.heads || a.phases.size() != b.phases.size())
      return false;
    for (size_t i = 0; i < a.phases.size(); ++i) {
      const s2::Phase &p = a.phases[i], &q = b.phases[i];
      if (p.tBegin != q.tBegin || p.tEnd != q.tEnd ||
          p.spans.size() != q.spans.size())
        return false;
      for (size_t k = 0; k < p.spans.size(); ++k) {
        s2::Span s = p.spans[k];
        s.masked = q.spans[k].masked;
        if (!(s == q.spans[k]))
          return false;
      }
    }
  }
  for (size_t t = 0; t < x.tables.size(); ++t)
    if (x.tables[t].rowPtr != y.tables[t].rowPtr ||
        x.tables[t].cols != y.tables[t].cols)
      return false;
  return true;
}

namespace {
struct S2MergeQPass : public s2c::impl::S2MergeQBase<S2MergeQPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<ScheduleOp> schedules(getOperation().getOps<ScheduleOp>());
    bool ok = true;
    for (ScheduleOp op : schedules)
      ok &= succeeded(merge(op));
    if (!ok)
      signalPassFailure();
  }

  LogicalResult merge(ScheduleOp op) {
    if (seqLen < 1 || seqLen > (int64_t(1) << 20))
      return op.emitError() << "seq-len '" << int64_t(seqLen)
                            << "' is out of range: expected 1 to 2^20";
    PatternOp pattern = op.getPatternOp();
    s2::Pattern p = patternFromOp(pattern);
    s2::Schedule current = scheduleFromOp(op);
    s2::TileConfig tc = current.tiles;
    s2::Schedule exact;
    std::string error;
    if (!s2::buildSchedule(p, tc, exact, error))
      return op.emitError()
             << "cannot tile pattern '" << p.name << "': " << error;
    if (exact.causal != current.causal || exact.heads != current.heads ||
        exact.maxSeqLen != current.maxSeqLen || !sameSpans(exact, current)) {
      InFlightDiagnostic diag = op.emitError()
                                << "schedule does not match pattern '" << p.name
                                << "': expected the spans s2-tile "
                                << "computes for tiles " << tc.blockM << " x "
                                << tc.blockN;
      diag.attachNote(pattern.getLoc()) << "pattern defined here";
      return diag;
    }
    OpBuilder builder(op);
    ScheduleOp merged = buildScheduleOp(builder, op.getLoc(), p.name, exact);
    merged.setMerged(true);
    (*merged).setDiscardableAttrs(op->getDiscardableAttrDictionary());
    op.erase();
    if (!emitRemarks)
      return success();
    int64_t spans = 0, full = 0;
    for (const s2::HeadGroup &g : exact.groups)
      for (const s2::Phase &ph : g.phases)
        for (const s2::Span &sp : ph.spans) {
          ++spans;
          full += sp.masked ? 0 : 1;
        }
    double waste = s2::mergeWaste(p, tc, seqLen);
    std::string w;
    llvm::raw_string_ostream(w) << llvm::format("%.4f", waste);
    merged.emitRemark() << "pattern '" << p.name << "' tiled " << tc.blockM
                        << " x " << tc.blockN << ": " << full << " of " << spans
                        << " spans full; " << w
                        << " of the tensor-core work at " << int64_t(seqLen)
                        << " tokens is on hidden elements";
    return success();
  }
};
} // namespace
