//===- PatternConversion.cpp - s2::Pattern <-> s2.pattern ------*- C++ -*-===//
//
// Builds s2.pattern ops from s2::Pattern and reads them back. Each rule kind
// maps to one op; unused s2::Rule fields map to zero on the way back.
//
//===----------------------------------------------------------------------===//

#include "dialect/IR/PatternConversion.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace s2c;

Location s2c::locationOf(MLIRContext *ctx, StringRef fileName,
                         s2::SourcePos pos) {
  return FileLineColLoc::get(ctx, fileName, unsigned(std::max(0, pos.line)),
                             unsigned(std::max(0, pos.col)));
}

/// The source position of a location (0:0 when it has no FileLineColLoc).
static s2::SourcePos positionOf(Location loc) {
  if (auto fileLoc = loc->findInstanceOf<FileLineColLoc>())
    return {int32_t(fileLoc.getLine()), int32_t(fileLoc.getColumn())};
  return {};
}

s2::Pattern s2c::patternFromOp(PatternOp op) {
  s2::Pattern p;
  p.name = op.getSymName().str();
  p.heads = op.getHeads();
  p.kvHeads = op.getKvHeads();
  p.block = op.getBlock();
  p.causal = op.getCausal();
  p.headDim = op.getHeadDim() ? int64_t(*op.getHeadDim()) : 0;
  p.dtype = s2::DType::Any;
  if (std::optional<DType> dtype = op.getDtype())
    p.dtype = *dtype == DType::BF16  ? s2::DType::BF16
              : *dtype == DType::F16 ? s2::DType::F16
                                     : s2::DType::Any;
  p.loc = positionOf(op.getLoc());
  if (op.getBody().empty())
    return p;
  auto heads = size_t(std::max<int64_t>(0, p.heads));
  for (Operation &inner : op.getBody().front()) {
    s2::Rule r;
    r.heads.assign(heads, 0);
    ArrayRef<int64_t> set;
    bool isRule =
        TypeSwitch<Operation *, bool>(&inner)
            .Case([&](DenseOp) {
              r.kind = s2::RuleKind::Dense;
              return true;
            })
            .Case([&](LocalOp o) {
              r.kind = s2::RuleKind::Local;
              r.n = o.getWindow();
              return true;
            })
            .Case([&](StrideOp o) {
              r.kind = s2::RuleKind::Stride;
              r.step = o.getStep();
              r.shift.assign(heads, 0);
              ArrayRef<int64_t> hs = o.getHeads(), sh = o.getShift();
              for (size_t k = 0; k < hs.size() && k < sh.size(); ++k)
                if (hs[k] >= 0 && size_t(hs[k]) < heads)
                  r.shift[size_t(hs[k])] = sh[k];
              return true;
            })
            .Case([&](SinkOp o) {
              r.kind = s2::RuleKind::Sink;
              r.n = o.getCount();
              return true;
            })
            .Case([&](GlobalOp o) {
              r.kind = s2::RuleKind::Global;
              r.set.assign(o.getBlocks().begin(), o.getBlocks().end());
              return true;
            })
            .Case([&](DilatedOp o) {
              r.kind = s2::RuleKind::Dilated;
              r.n = o.getWindow();
              r.step = o.getDilation();
              return true;
            })
            .Case([&](BlocksOp o) {
              r.kind = s2::RuleKind::Blocks;
              ArrayRef<int64_t> v = o.getPairs();
              for (size_t k = 0; k + 1 < v.size(); k += 2)
                r.blocks.emplace_back(v[k], v[k + 1]);
              return true;
            })
            .Default([](Operation *) { return false; });
    if (!isRule)
      continue;
    auto hs = inner.getAttrOfType<DenseI64ArrayAttr>("heads");
    if (hs)
      for (int64_t h : hs.asArrayRef())
        if (h >= 0 && size_t(h) < heads)
          r.heads[size_t(h)] = 1;
    if (auto qb = inner.getAttrOfType<IntegerAttr>("q_begin"))
      r.qBegin = qb.getInt();
    if (auto qe = inner.getAttrOfType<IntegerAttr>("q_end"))
      r.qEnd = qe.getInt();
    r.loc = positionOf(inner.getLoc());
    p.rules.push_back(std::move(r));
  }
  return p;
}

PatternOp s2c::buildPatternOp(OpBuilder &builder, const s2::Pattern &p,
                              StringRef fileName) {
  MLIRContext *ctx = builder.getContext();
  auto op = PatternOp::create(builder, locationOf(ctx, fileName, p.loc),
                              p.name.empty() ? "_" : p.name, p.heads, p.kvHeads,
                              p.block, p.causal);
  if (p.headDim != 0)
    op.setHeadDimAttr(builder.getI64IntegerAttr(p.headDim));
  if (p.dtype != s2::DType::Any)
    op.setDtypeAttr(DTypeAttr::get(
        ctx, p.dtype == s2::DType::BF16 ? DType::BF16 : DType::F16));
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(&op.getRuleBlock());
  for (const s2::Rule &r : p.rules) {
    Location loc = locationOf(ctx, fileName, r.loc);
    SmallVector<int64_t> heads, shift;
    for (size_t h = 0; h < r.heads.size(); ++h)
      if (r.heads[h]) {
        heads.push_back(int64_t(h));
        if (r.kind == s2::RuleKind::Stride)
          shift.push_back(h < r.shift.size() ? r.shift[h] : 0);
      }
    DenseI64ArrayAttr headsAttr = builder.getDenseI64ArrayAttr(heads);
    IntegerAttr qb =
        r.qBegin != 0 ? builder.getI64IntegerAttr(r.qBegin) : IntegerAttr();
    IntegerAttr qe =
        r.qEnd >= 0 ? builder.getI64IntegerAttr(r.qEnd) : IntegerAttr();
    switch (r.kind) {
    case s2::RuleKind::Dense:
      DenseOp::create(builder, loc, headsAttr, qb, qe);
      break;
    case s2::RuleKind::Local:
      LocalOp::create(builder, loc, headsAttr, qb, qe,
                      builder.getI64IntegerAttr(r.n));
      break;
    case s2::RuleKind::Stride:
      StrideOp::create(builder, loc, headsAttr, qb, qe,
                       builder.getI64IntegerAttr(r.step),
                       builder.getDenseI64ArrayAttr(shift));
      break;
    case s2::RuleKind::Sink:
      SinkOp::create(builder, loc, headsAttr, qb, qe,
                     builder.getI64IntegerAttr(r.n));
      break;
    case s2::RuleKind::Global:
      GlobalOp::create(builder, loc, headsAttr, qb, qe,
                       builder.getDenseI64ArrayAttr(r.set));
      break;
    case s2::RuleKind::Dilated:
      DilatedOp::create(builder, loc, headsAttr, qb, qe,
                        builder.getI64IntegerAttr(r.n),
                        builder.getI64IntegerAttr(r.step));
      break;
    case s2::RuleKind::Blocks: {
      SmallVector<int64_t> flat;
      for (auto [i, j] : r.blocks) {
        flat.push_back(i);
        flat.push_back(j);
      }
      BlocksOp::create(builder, loc, headsAttr, qb, qe,
                       builder.getDenseI64ArrayAttr(flat));
      break;
    }
    }
  }
  return op;
}
