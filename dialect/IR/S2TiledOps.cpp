//===- S2TiledOps.cpp - The tiled level of the s2 dialect ------*- C++ -*-===//
//
// Custom assembly and verifiers of s2.schedule, s2.group, s2.phase, the span
// ops and s2.tile_table (declared in S2TiledOps.td), and the conversions
// between s2::Schedule and the IR.
//
//===----------------------------------------------------------------------===//

#include "dialect/IR/S2TiledOps.h"

#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/STLExtras.h"

#include <set>

using namespace mlir;
using namespace s2c;

//===----------------------------------------------------------------------===//
// Bounds
//===----------------------------------------------------------------------===//

static constexpr int64_t kMaxBoundField = int64_t(1) << 40;

static std::vector<s2::AffineBound> unflatten(ArrayRef<int64_t> flat) {
  std::vector<s2::AffineBound> out;
  for (size_t i = 0; i + 5 <= flat.size(); i += 5)
    out.push_back(
        {flat[i], flat[i + 1], flat[i + 2], flat[i + 3], flat[i + 4]});
  return out;
}

static SmallVector<int64_t> flatten(const std::vector<s2::AffineBound> &list) {
  SmallVector<int64_t> out;
  for (const s2::AffineBound &e : list)
    out.append({e.a, e.b, e.c, e.mul, e.add});
  return out;
}

static void printOffset(llvm::raw_ostream &os, int64_t v) {
  if (v > 0)
    os << " + " << v;
  else if (v < 0)
    os << " - " << -v;
}

static void printLinear(llvm::raw_ostream &os, int64_t a, int64_t b) {
  if (a == 1)
    os << "t";
  else
    os << a << " * t";
  printOffset(os, b);
}

void s2c::printBound(llvm::raw_ostream &os, const s2::AffineBound &e) {
  if (e.a == 0 && e.b == 0 && e.c == 1 && e.mul == 1) {
    os << e.add;
    return;
  }
  if (e.c == 1 && e.mul == 1 && e.b == 0) {
    printLinear(os, e.a, e.add);
    return;
  }
  os << "(";
  printLinear(os, e.a, e.b);
  os << ")";
  if (e.c != 1)
    os << " floordiv " << e.c;
  if (e.mul != 1)
    os << " * " << e.mul;
  printOffset(os, e.add);
}

void s2c::printBoundList(llvm::raw_ostream &os,
                         const std::vector<s2::AffineBound> &list, bool isLo) {
  if (list.empty()) {
    os << (isLo ? "begin" : "end");
    return;
  }
  if (list.size() == 1) {
    printBound(os, list.front());
    return;
  }
  os << (isLo ? "max(" : "min(");
  llvm::interleaveComma(list, os,
                        [&](const s2::AffineBound &e) { printBound(os, e); });
  os << ")";
}

/// offset ::= ((`+` | `-`) integer)?
static ParseResult parseOffset(OpAsmParser &parser, int64_t &v) {
  v = 0;
  bool minus = false;
  if (succeeded(parser.parseOptionalMinus()))
    minus = true;
  else if (failed(parser.parseOptionalPlus()))
    return success();
  if (parser.parseInteger(v))
    return failure();
  if (minus)
    v = -v;
  return success();
}

/// linear ::= (integer `*`)? `t` offset, after an optional leading integer
/// `a` already read (then `*` `t` must follow).
static ParseResult parseLinearRest(OpAsmParser &parser, int64_t &b) {
  if (parser.parseKeyword("t"))
    return failure();
  return parseOffset(parser, b);
}

/// bound ::= integer | linear | `(` linear `)` (`floordiv` int)? (`*` int)?
///           offset
static ParseResult parseBound(OpAsmParser &parser, s2::AffineBound &e) {
  e = s2::AffineBound();
  if (succeeded(parser.parseOptionalLParen())) {
    int64_t a = 1;
    OptionalParseResult r = parser.parseOptionalInteger(a);
    if (r.has_value() && (failed(*r) || parser.parseStar()))
      return failure();
    if (parseLinearRest(parser, e.b) || parser.parseRParen())
      return failure();
    e.a = a;
    if (succeeded(parser.parseOptionalKeyword("floordiv")) &&
        parser.parseInteger(e.c))
      return failure();
    if (succeeded(parser.parseOptionalStar()) && parser.parseInteger(e.mul))
      return failure();
    return parseOffset(parser, e.add);
  }
  if (succeeded(parser.parseOptionalKeyword("t"))) {
    e.a = 1;
    return parseOffset(parser, e.add);
  }
  int64_t v = 0;
  OptionalParseResult r = parser.parseOptionalInteger(v);
  if (!r.has_value())
    return parser.emitError(parser.getCurrentLocation(),
                            "expected a bound: an integer, 'a * t + b' or "
                            "'(a * t + b) floordiv c * m + d'");
  if (failed(*r))
    return failure();
  if (succeeded(parser.parseOptionalStar())) {
    e.a = v;
    return parseLinearRest(parser, e.add);
  }
  e.add = v;
  return success();
}

/// boundList ::= `begin` | `end` | bound | (`max` | `min`) `(` bound,+ `)`
static ParseResult parseBoundList(OpAsmParser &parser,
                                  SmallVectorImpl<int64_t> &flat, bool isLo) {
  if (succeeded(parser.parseOptionalKeyword(isLo ? "begin" : "end")))
    return success();
  std::vector<s2::AffineBound> list;
  auto one = [&]() -> ParseResult {
    s2::AffineBound e;
    if (parseBound(parser, e))
      return failure();
    list.push_back(e);
    return success();
  };
  if (succeeded(parser.parseOptionalKeyword(isLo ? "max" : "min"))) {
    if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Paren, one))
      return failure();
  } else if (one()) {
    return failure();
  }
  flat.append(flatten(list));
  return success();
}

/// flag ::= `full` | `masked`
static ParseResult parseFlag(OpAsmParser &parser, OperationState &result,
                             StringAttr name) {
  if (succeeded(parser.parseOptionalKeyword("masked"))) {
    result.addAttribute(name, parser.getBuilder().getUnitAttr());
    return success();
  }
  return parser.parseKeyword("full", " or 'masked'");
}

static LogicalResult verifyBounds(Operation *op, ArrayRef<int64_t> flat,
                                  StringRef what) {
  if (flat.size() % 5 != 0)
    return op->emitOpError()
           << "'" << what << "' must hold 5 integers per bound, got "
           << flat.size();
  for (size_t i = 0; i < flat.size(); i += 5) {
    for (size_t k = 0; k < 5; ++k)
      if (flat[i + k] < -kMaxBoundField || flat[i + k] > kMaxBoundField)
        return op->emitOpError()
               << "bound field '" << flat[i + k] << "' in '" << what
               << "' is out of range: expected magnitude at most 2^40";
    if (flat[i + 2] <= 0)
      return op->emitOpError() << "bound divisor '" << flat[i + 2] << "' in '"
                               << what << "' must be positive";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// s2.schedule
//===----------------------------------------------------------------------===//

Block &ScheduleOp::getScheduleBlock() {
  Region &r = getBody();
  if (r.empty())
    r.emplaceBlock();
  return r.front();
}

static bool isSupportedTile(int64_t x) {
  return x >= 16 && x <= 256 && (x & (x - 1)) == 0;
}

LogicalResult ScheduleOp::verify() {
  int64_t heads = getHeadsAttr().getInt();
  if (heads < 1 || heads > s2::Limits::kMaxHeads)
    return emitOpError() << "head count '" << heads
                         << "' is out of range: expected 1 to "
                         << s2::Limits::kMaxHeads;
  for (auto [name, v] : {std::make_pair("block_m", getBlockMAttr().getInt()),
                         std::make_pair("block_n", getBlockNAttr().getInt())})
    if (!isSupportedTile(v))
      return emitOpError() << "tile size '" << v << "' (" << name
                           << ") is not supported: expected a power of two "
                              "in 16..256";
  if (getMaxSeqLenAttr() && getMaxSeqLenAttr().getInt() <= 0)
    return emitOpError() << "max_seq_len '" << getMaxSeqLenAttr().getInt()
                         << "' must be positive";
  PatternOp pattern = getPatternOp();
  if (!pattern)
    return emitOpError() << "refers to unknown pattern '" << getPattern()
                         << "'";
  if (pattern.getHeads() != uint64_t(heads) ||
      pattern.getCausal() != getCausal())
    return emitOpError() << "does not match pattern '" << getPattern()
                         << "': expected " << pattern.getHeads() << " heads, "
                         << (pattern.getCausal() ? "causal" : "bidirectional");
  return success();
}

PatternOp ScheduleOp::getPatternOp() {
  return SymbolTable::lookupNearestSymbolFrom<PatternOp>(*this,
                                                         getPatternAttr());
}

LogicalResult ScheduleOp::verifyRegions() {
  int64_t heads = getHeadsAttr().getInt();
  std::vector<int> owner(size_t(heads), 0);
  std::set<int64_t> tableIndices;
  int64_t numTables = 0;
  bool usesTables = false;
  if (getBody().empty())
    return success();
  for (Operation &op : getBody().front()) {
    if (auto table = dyn_cast<TileTableOp>(op)) {
      ++numTables;
      if (!tableIndices.insert(table.getIndexAttr().getInt()).second)
        return table.emitOpError() << "duplicate table index '"
                                   << table.getIndexAttr().getInt() << "'";
      continue;
    }
    auto group = dyn_cast<GroupOp>(op);
    if (!group)
      return op.emitOpError() << "is not allowed in 's2.schedule': expected "
                                 "'s2.group' or 's2.tile_table'";
    for (int64_t h : group.getHeads()) {
      if (h < 0 || h >= heads)
        return group.emitOpError()
               << "head '" << h << "' is out of range: expected 0 to "
               << heads - 1;
      if (owner[size_t(h)]++)
        return group.emitOpError()
               << "head '" << h << "' belongs to more than one group";
    }
    WalkResult w = group.walk([&](TableOp t) -> WalkResult {
      usesTables = true;
      return success();
    });
    (void)w;
  }
  for (int64_t i = 0; i < numTables; ++i)
    if (!tableIndices.count(i))
      return emitOpError() << "table indices must be 0 to " << numTables - 1
                           << ", missing '" << i << "'";
  WalkResult w = walk([&](TableOp t) -> WalkResult {
    int64_t idx = t.getIndexAttr().getInt();
    if (idx < 0 || idx >= numTables) {
      t.emitOpError() << "table index '" << idx << "' is out of range: the "
                      << "schedule has " << numTables << " table(s)";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (w.wasInterrupted())
    return failure();
  if (usesTables && !getMaxSeqLenAttr())
    return emitOpError() << "uses tables but has no 'max_seq_len'";
  return success();
}

//===----------------------------------------------------------------------===//
// s2.group, s2.phase
//===----------------------------------------------------------------------===//

LogicalResult GroupOp::verifyRegions() {
  ArrayRef<int64_t> heads = getHeads();
  if (heads.empty())
    return emitOpError() << "must name at least one head";
  for (size_t i = 1; i < heads.size(); ++i)
    if (heads[i] <= heads[i - 1])
      return emitOpError() << "heads must be sorted and unique";
  if (getBody().empty())
    return success();
  int64_t prevEnd = 0;
  bool first = true;
  for (Operation &op : getBody().front()) {
    auto phase = dyn_cast<PhaseOp>(op);
    if (!phase)
      return op.emitOpError() << "is not allowed in 's2.group': expected "
                                 "'s2.phase'";
    int64_t b = phase.getTBeginAttr().getInt();
    if (!first && (prevEnd < 0 || b < prevEnd))
      return phase.emitOpError() << "query tiles starting at '" << b
                                 << "' overlap the previous phase";
    first = false;
    prevEnd = phase.getTEndAttr() ? phase.getTEndAttr().getInt() : -1;
  }
  return success();
}

LogicalResult PhaseOp::verify() {
  int64_t b = getTBeginAttr().getInt();
  if (b < 0)
    return emitOpError() << "first query tile '" << b
                         << "' must not be negative";
  if (getTEndAttr() && getTEndAttr().getInt() <= b)
    return emitOpError() << "query tile range [" << b << ", "
                         << getTEndAttr().getInt() << ") is empty";
  return success();
}

/// phase ::= `tiles` `[` int `,` (int | `end`) `)` attr-dict-with-keyword
///           region
ParseResult PhaseOp::parse(OpAsmParser &parser, OperationState &result) {
  Builder &b = parser.getBuilder();
  int64_t begin = 0, end = 0;
  if (parser.parseKeyword("tiles") || parser.parseLSquare() ||
      parser.parseInteger(begin) || parser.parseComma())
    return failure();
  result.addAttribute(getTBeginAttrName(result.name),
                      b.getI64IntegerAttr(begin));
  if (failed(parser.parseOptionalKeyword("end"))) {
    if (parser.parseInteger(end))
      return failure();
    result.addAttribute(getTEndAttrName(result.name), b.getI64IntegerAttr(end));
  }
  if (parser.parseRParen() ||
      parser.parseOptionalAttrDictWithKeyword(result.attributes))
    return failure();
  Region *body = result.addRegion();
  if (parser.parseRegion(*body, {}))
    return failure();
  if (body->empty())
    body->emplaceBlock();
  return success();
}

void PhaseOp::print(OpAsmPrinter &p) {
  p << " tiles [" << getTBeginAttr().getInt() << ", ";
  if (getTEndAttr())
    p << getTEndAttr().getInt();
  else
    p << "end";
  p << ")";
  p.printOptionalAttrDictWithKeyword((*this)->getAttrs(),
                                     {getTBeginAttrName(), getTEndAttrName()});
  p << " ";
  p.printRegion(getBody(), /*printEntryBlockArgs=*/false,
                /*printBlockTerminators=*/false);
}

//===----------------------------------------------------------------------===//
// Spans
//===----------------------------------------------------------------------===//

ParseResult RangeOp::parse(OpAsmParser &parser, OperationState &result) {
  SmallVector<int64_t> lo, hi;
  if (parser.parseKeyword("from") || parseBoundList(parser, lo, true) ||
      parser.parseKeyword("to") || parseBoundList(parser, hi, false) ||
      parseFlag(parser, result, getMaskedAttrName(result.name)) ||
      parser.parseOptionalAttrDict(result.attributes))
    return failure();
  MLIRContext *ctx = parser.getContext();
  result.addAttribute(getLoAttrName(result.name),
                      DenseI64ArrayAttr::get(ctx, lo));
  result.addAttribute(getHiAttrName(result.name),
                      DenseI64ArrayAttr::get(ctx, hi));
  return success();
}

void RangeOp::print(OpAsmPrinter &p) {
  p << " from ";
  printBoundList(p.getStream(), unflatten(getLo()), true);
  p << " to ";
  printBoundList(p.getStream(), unflatten(getHi()), false);
  p << (getMasked() ? " masked" : " full");
  p.printOptionalAttrDict(
      (*this)->getAttrs(),
      {getLoAttrName(), getHiAttrName(), getMaskedAttrName()});
}

LogicalResult RangeOp::verify() {
  if (failed(verifyBounds(*this, getLo(), "lo")) ||
      failed(verifyBounds(*this, getHi(), "hi")))
    return failure();
  return success();
}

ParseResult ProgressionOp::parse(OpAsmParser &parser, OperationState &result) {
  Builder &b = parser.getBuilder();
  int64_t step = 0, run = 0;
  SmallVector<int64_t> residues, lo, hi;
  if (parser.parseKeyword("step") || parser.parseInteger(step) ||
      parser.parseKeyword("run") || parser.parseInteger(run) ||
      parser.parseKeyword("residues") ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square,
                                     [&]() -> ParseResult {
                                       int64_t r = 0;
                                       if (parser.parseInteger(r))
                                         return failure();
                                       residues.push_back(r);
                                       return success();
                                     }) ||
      parser.parseKeyword("from") || parseBoundList(parser, lo, true) ||
      parser.parseKeyword("to") || parseBoundList(parser, hi, false) ||
      parseFlag(parser, result, getMaskedAttrName(result.name)) ||
      parser.parseOptionalAttrDict(result.attributes))
    return failure();
  MLIRContext *ctx = parser.getContext();
  result.addAttribute(getStepAttrName(result.name), b.getI64IntegerAttr(step));
  result.addAttribute(getRunAttrName(result.name), b.getI64IntegerAttr(run));
  result.addAttribute(getResiduesAttrName(result.name),
                      DenseI64ArrayAttr::get(ctx, residues));
  result.addAttribute(getLoAttrName(result.name),
                      DenseI64ArrayAttr::get(ctx, lo));
  result.addAttribute(getHiAttrName(result.name),
                      DenseI64ArrayAttr::get(ctx, hi));
  return success();
}

void ProgressionOp::print(OpAsmPrinter &p) {
  p << " step " << getStepAttr().getInt() << " run " << getRunAttr().getInt()
    << " residues [";
  llvm::interleaveComma(getResidues(), p);
  p << "] from ";
  printBoundList(p.getStream(), unflatten(getLo()), true);
  p << " to ";
  printBoundList(p.getStream(), unflatten(getHi()), false);
  p << (getMasked() ? " masked" : " full");
  p.printOptionalAttrDict((*this)->getAttrs(),
                          {getStepAttrName(), getRunAttrName(),
                           getResiduesAttrName(), getLoAttrName(),
                           getHiAttrName(), getMaskedAttrName()});
}

LogicalResult ProgressionOp::verify() {
  int64_t step = getStepAttr().getInt(), run = getRunAttr().getInt();
  if (step < 2 || step > kMaxBoundField)
    return emitOpError() << "step '" << step
                         << "' is out of range: expected at least 2";
  if (run < 1 || run >= step)
    return emitOpError() << "run '" << run << "' must be in 1.." << step - 1;
  for (int64_t r : getResidues())
    if (r < 0 || r >= step)
      return emitOpError() << "residue '" << r << "' must be in 0.."
                           << step - 1;
  if (auto group = (*this)->getParentOfType<GroupOp>())
    if (group.getHeads().size() != getResidues().size())
      return emitOpError() << "has " << getResidues().size()
                           << " residue(s), expected one per head of the "
                              "group ("
                           << group.getHeads().size() << ")";
  if (failed(verifyBounds(*this, getLo(), "lo")) ||
      failed(verifyBounds(*this, getHi(), "hi")))
    return failure();
  return success();
}

ParseResult TableOp::parse(OpAsmParser &parser, OperationState &result) {
  int64_t index = 0;
  if (parser.parseInteger(index) ||
      parseFlag(parser, result, getMaskedAttrName(result.name)) ||
      parser.parseOptionalAttrDict(result.attributes))
    return failure();
  result.addAttribute(getIndexAttrName(result.name),
                      parser.getBuilder().getI64IntegerAttr(index));
  return success();
}

void TableOp::print(OpAsmPrinter &p) {
  p << " " << getIndexAttr().getInt() << (getMasked() ? " masked" : " full");
  p.printOptionalAttrDict((*this)->getAttrs(),
                          {getIndexAttrName(), getMaskedAttrName()});
}

LogicalResult TableOp::verify() {
  if (getIndexAttr().getInt() < 0)
    return emitOpError() << "table index '" << getIndexAttr().getInt()
                         << "' must not be negative";
  return success();
}

LogicalResult TileTableOp::verify() {
  ArrayRef<int64_t> rowPtr = getRowPtr(), cols = getCols();
  if (rowPtr.empty() || rowPtr.front() != 0)
    return emitOpError() << "row_ptr must start with 0";
  for (size_t i = 1; i < rowPtr.size(); ++i)
    if (rowPtr[i] < rowPtr[i - 1])
      return emitOpError() << "row_ptr must not decrease (at entry " << i
                           << ")";
  if (rowPtr.back() != int64_t(cols.size()))
    return emitOpError() << "row_ptr ends at '" << rowPtr.back()
                         << "', expected the column count " << cols.size();
  for (size_t r = 0; r + 1 < rowPtr.size(); ++r)
    for (int64_t x = rowPtr[r]; x < rowPtr[r + 1]; ++x)
      if (cols[size_t(x)] < 0 ||
          (x > rowPtr[r] && cols[size_t(x)] <= cols[size_t(x - 1)]))
        return emitOpError() << "row " << r
                             << " must list non-negative key tiles in "
                                "ascending order";
  return success();
}

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

s2::Schedule s2c::scheduleFromOp(ScheduleOp op) {
  s2::Schedule s;
  s.tiles.blockM = op.getBlockMAttr().getInt();
  s.tiles.blockN = op.getBlockNAttr().getInt();
  s.causal = op.getCausalAttr().getValue();
  s.heads = op.getHeadsAttr().getInt();
  s.maxSeqLen = op.getMaxSeqLenAttr() ? op.getMaxSeqLenAttr().getInt() : 0;
  s.tiles.maxSeqLen = s.maxSeqLen;
  for (Operation &o : op.getScheduleBlock()) {
    if (auto t = dyn_cast<TileTableOp>(o)) {
      size_t idx = size_t(t.getIndexAttr().getInt());
      if (s.tables.size() <= idx)
        s.tables.resize(idx + 1);
      s.tables[idx].rowPtr.assign(t.getRowPtr().begin(), t.getRowPtr().end());
      s.tables[idx].cols.assign(t.getCols().begin(), t.getCols().end());
      continue;
    }
    auto g = dyn_cast<GroupOp>(o);
    if (!g)
      continue;
    s2::HeadGroup hg;
    hg.heads.assign(g.getHeads().begin(), g.getHeads().end());
    if (!g.getBody().empty())
      for (Operation &po : g.getBody().front()) {
        auto ph = dyn_cast<PhaseOp>(po);
        if (!ph)
          continue;
        s2::Phase phase;
        phase.tBegin = ph.getTBeginAttr().getInt();
        phase.tEnd = ph.getTEndAttr() ? ph.getTEndAttr().getInt() : -1;
        if (!ph.getBody().empty())
          for (Operation &so : ph.getBody().front()) {
            s2::Span sp;
            sp.residue.assign(size_t(s.heads), 0);
            if (auto r = dyn_cast<RangeOp>(so)) {
              sp.kind = s2::SpanKind::Range;
              sp.lo = unflatten(r.getLo());
              sp.hi = unflatten(r.getHi());
              sp.masked = r.getMasked();
            } else if (auto p = dyn_cast<ProgressionOp>(so)) {
              sp.kind = s2::SpanKind::Progression;
              sp.step = p.getStepAttr().getInt();
              sp.run = p.getRunAttr().getInt();
              sp.lo = unflatten(p.getLo());
              sp.hi = unflatten(p.getHi());
              sp.masked = p.getMasked();
              ArrayRef<int64_t> res = p.getResidues();
              for (size_t i = 0; i < res.size() && i < hg.heads.size(); ++i)
                if (hg.heads[i] >= 0 && hg.heads[i] < s.heads)
                  sp.residue[size_t(hg.heads[i])] = res[i];
            } else if (auto t = dyn_cast<TableOp>(so)) {
              sp.kind = s2::SpanKind::Table;
              sp.table = int32_t(t.getIndexAttr().getInt());
              sp.masked = t.getMasked();
            } else {
              continue;
            }
            phase.spans.push_back(std::move(sp));
          }
        hg.phases.push_back(std::move(phase));
      }
    s.groups.push_back(std::move(hg));
  }
  return s;
}

ScheduleOp s2c::buildScheduleOp(OpBuilder &builder, Location loc,
                                StringRef pattern, const s2::Schedule &s) {
  OpBuilder::InsertionGuard guard(builder);
  MLIRContext *ctx = builder.getContext();
  auto i64 = [&](int64_t v) { return builder.getI64IntegerAttr(v); };
  auto arr = [&](ArrayRef<int64_t> v) {
    return DenseI64ArrayAttr::get(ctx, v);
  };
  auto unit = [&](bool on) { return on ? builder.getUnitAttr() : UnitAttr(); };
  ScheduleOp op = ScheduleOp::create(
      builder, loc, FlatSymbolRefAttr::get(ctx, pattern), i64(s.heads),
      i64(s.tiles.blockM), i64(s.tiles.blockN), builder.getBoolAttr(s.causal),
      s.maxSeqLen > 0 ? i64(s.maxSeqLen) : IntegerAttr(), UnitAttr());
  builder.setInsertionPointToEnd(&op.getScheduleBlock());
  for (const s2::HeadGroup &g : s.groups) {
    GroupOp gop = GroupOp::create(builder, loc, arr(g.heads));
    Block *gb = &gop.getBody().emplaceBlock();
    OpBuilder::InsertionGuard inGroup(builder);
    for (const s2::Phase &ph : g.phases) {
      builder.setInsertionPointToEnd(gb);
      PhaseOp pop =
          PhaseOp::create(builder, loc, i64(ph.tBegin),
                          ph.tEnd >= 0 ? i64(ph.tEnd) : IntegerAttr());
      builder.setInsertionPointToEnd(&pop.getBody().emplaceBlock());
      for (const s2::Span &sp : ph.spans) {
        switch (sp.kind) {
        case s2::SpanKind::Range:
          RangeOp::create(builder, loc, arr(flatten(sp.lo)),
                          arr(flatten(sp.hi)), unit(sp.masked));
          break;
        case s2::SpanKind::Progression: {
          SmallVector<int64_t> res;
          for (int64_t h : g.heads)
            res.push_back(h >= 0 && size_t(h) < sp.residue.size()
                              ? sp.residue[size_t(h)]
                              : 0);
          ProgressionOp::create(builder, loc, i64(sp.step), i64(sp.run),
                                arr(res), arr(flatten(sp.lo)),
                                arr(flatten(sp.hi)), unit(sp.masked));
          break;
        }
        case s2::SpanKind::Table:
          TableOp::create(builder, loc, i64(sp.table), unit(sp.masked));
          break;
        }
      }
    }
  }
  builder.setInsertionPointToEnd(&op.getScheduleBlock());
  for (size_t i = 0; i < s.tables.size(); ++i)
    TileTableOp::create(builder, loc, i64(int64_t(i)), arr(s.tables[i].rowPtr),
                        arr(s.tables[i].cols));
  return op;
}
