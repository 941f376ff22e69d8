//===- S2Ops.cpp - Operations of the s2 dialect ----------------*- C++ -*-===//
//
// Custom assembly helpers and verifiers of s2.pattern and the rule ops. The
// verifiers enforce the same invariants as s2::validatePattern, with the
// limits of s2::Limits, and point at the offending op.
//
//===----------------------------------------------------------------------===//

#include "dialect/IR/S2Ops.h"

#include "s2/Pattern.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

#include <optional>

using namespace mlir;
using namespace s2c;

/// Largest number of indices a set or pair list may hold when parsed.
static constexpr int64_t kMaxParsedIndices = int64_t(1) << 20;

//===----------------------------------------------------------------------===//
// Index sets
//===----------------------------------------------------------------------===//

ParseResult s2c::parseIndexSet(OpAsmParser &parser, DenseI64ArrayAttr &set) {
  SmallVector<int64_t> values;
  auto parseElement = [&]() -> ParseResult {
    SMLoc loc = parser.getCurrentLocation();
    int64_t lo = 0;
    if (parser.parseInteger(lo))
      return failure();
    int64_t hi = lo;
    if (succeeded(parser.parseOptionalKeyword("to")) && parser.parseInteger(hi))
      return failure();
    if (hi < lo)
      return parser.emitError(loc, "expected an ascending range, got '")
             << lo << " to " << hi << "'";
    // hi >= lo, so the unsigned difference is exact.
    uint64_t span = uint64_t(hi) - uint64_t(lo);
    if (span >= uint64_t(kMaxParsedIndices) ||
        int64_t(values.size() + span) >= kMaxParsedIndices)
      return parser.emitError(loc, "index set too large (at most ")
             << kMaxParsedIndices << " indices)";
    for (int64_t v = lo; v <= hi; ++v)
      values.push_back(v);
    return success();
  };
  if (parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Square,
                                     parseElement))
    return failure();
  set = DenseI64ArrayAttr::get(parser.getContext(), values);
  return success();
}

void s2c::printIndexSet(OpAsmPrinter &printer, Operation *,
                        DenseI64ArrayAttr set) {
  ArrayRef<int64_t> v = set.asArrayRef();
  printer << '[';
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j] != INT64_MAX && v[j + 1] == v[j] + 1)
      ++j;
    if (i)
      printer << ", ";
    if (j - i >= 2) {
      printer << v[i] << " to " << v[j];
    } else {
      printer << v[i];
      if (j > i)
        printer << ", " << v[j];
    }
    i = j + 1;
  }
  printer << ']';
}

//===----------------------------------------------------------------------===//
// Query ranges
//===----------------------------------------------------------------------===//

ParseResult s2c::parseQueryRange(OpAsmParser &parser, IntegerAttr &qBegin,
                                 IntegerAttr &qEnd) {
  if (failed(parser.parseOptionalKeyword("queries")))
    return success();
  int64_t begin = 0;
  if (parser.parseLSquare() || parser.parseInteger(begin) ||
      parser.parseComma())
    return failure();
  Builder b(parser.getContext());
  if (begin != 0)
    qBegin = b.getI64IntegerAttr(begin);
  if (succeeded(parser.parseOptionalKeyword("end")))
    return parser.parseRParen();
  int64_t end = 0;
  if (parser.parseInteger(end) || parser.parseRParen())
    return failure();
  qEnd = b.getI64IntegerAttr(end);
  return success();
}

void s2c::printQueryRange(OpAsmPrinter &printer, Operation *,
                          IntegerAttr qBegin, IntegerAttr qEnd) {
  int64_t begin = qBegin ? qBegin.getInt() : 0;
  if (begin == 0 && !qEnd)
    return;
  printer << " queries [" << begin << ", ";
  if (qEnd)
    printer << qEnd.getInt();
  else
    printer << "end";
  printer << ')';
}

ParseResult s2c::parseHeadsAndQueries(OpAsmParser &parser,
                                      DenseI64ArrayAttr &heads,
                                      IntegerAttr &qBegin, IntegerAttr &qEnd) {
  if (parseIndexSet(parser, heads))
    return failure();
  return parseQueryRange(parser, qBegin, qEnd);
}

void s2c::printHeadsAndQueries(OpAsmPrinter &printer, Operation *op,
                               DenseI64ArrayAttr heads, IntegerAttr qBegin,
                               IntegerAttr qEnd) {
  printIndexSet(printer, op, heads);
  printQueryRange(printer, op, qBegin, qEnd);
}

//===----------------------------------------------------------------------===//
// Shift tables
//===----------------------------------------------------------------------===//

/// Bound on the closed form's coefficients and head indices, so that
/// expanding it cannot overflow.
static constexpr int64_t kMaxCoefficient = s2::Limits::kMaxBlockIndex;

ParseResult s2c::parseShiftTable(OpAsmParser &parser, DenseI64ArrayAttr &shift,
                                 DenseI64ArrayAttr heads) {
  SMLoc loc = parser.getCurrentLocation();
  if (succeeded(parser.parseOptionalLParen())) {
    int64_t d = 1, a = 0, b = 0;
    if (succeeded(parser.parseOptionalKeyword("h"))) {
      a = 1;
      if (succeeded(parser.parseOptionalSlash()) && parser.parseInteger(d))
        return failure();
      if (succeeded(parser.parseOptionalStar()) && parser.parseInteger(a))
        return failure();
      if (succeeded(parser.parseOptionalPlus())) {
        if (parser.parseInteger(b))
          return failure();
      } else if (succeeded(parser.parseOptionalMinus())) {
        if (parser.parseInteger(b))
          return failure();
        b = -b;
      }
    } else if (parser.parseInteger(b)) {
      return failure();
    }
    if (parser.parseRParen())
      return failure();
    if (d < 1 || d > s2::Limits::kMaxHeads)
      return parser.emitError(loc, "expected a divisor in 1..")
             << s2::Limits::kMaxHeads << ", got " << d;
    if (a < -kMaxCoefficient || a > kMaxCoefficient || b < -kMaxCoefficient ||
        b > kMaxCoefficient)
      return parser.emitError(loc, "shift coefficient out of range (at most ")
             << kMaxCoefficient << " in magnitude)";
    SmallVector<int64_t> values;
    for (int64_t h : heads.asArrayRef()) {
      if (h < 0 || h > s2::Limits::kMaxHeads)
        return parser.emitError(loc, "head index ")
               << h << " out of range for a closed-form shift";
      values.push_back((h / d) * a + b);
    }
    shift = DenseI64ArrayAttr::get(parser.getContext(), values);
    return success();
  }
  SmallVector<int64_t> values;
  if (parser.parseCommaSeparatedList(
          OpAsmParser::Delimiter::Square, [&]() -> ParseResult {
            if (int64_t(values.size()) >= kMaxParsedIndices)
              return parser.emitError(parser.getCurrentLocation(),
                                      "shift table too large");
            return parser.parseInteger(values.emplace_back());
          }))
    return failure();
  shift = DenseI64ArrayAttr::get(parser.getContext(), values);
  return success();
}

namespace {
/// shift(h) = (h / d) * a + b.
struct ClosedForm {
  int64_t d = 1, a = 0, b = 0;
};
} // namespace

/// Finds (a, b) with shift[k] = (heads[k] / d) * a + b for every k.
static std::optional<ClosedForm>
fitClosedForm(ArrayRef<int64_t> heads, ArrayRef<int64_t> shift, int64_t d) {
  if (heads.empty() || heads.size() != shift.size() || d < 1)
    return std::nullopt;
  for (int64_t h : heads)
    if (h < 0 || h > s2::Limits::kMaxHeads)
      return std::nullopt;
  for (int64_t s : shift)
    if (s < -kMaxCoefficient || s > kMaxCoefficient)
      return std::nullopt;
  ClosedForm f;
  f.d = d;
  int64_t q0 = heads[0] / d;
  size_t k1 = 1;
  while (k1 < heads.size() && heads[k1] / d == q0)
    ++k1;
  if (k1 < heads.size()) {
    int64_t dq = heads[k1] / d - q0, ds = shift[k1] - shift[0];
    if (ds % dq != 0)
      return std::nullopt;
    f.a = ds / dq;
  }
  f.b = shift[0] - f.a * q0;
  if (f.a < -kMaxCoefficient || f.a > kMaxCoefficient ||
      f.b < -kMaxCoefficient || f.b > kMaxCoefficient)
    return std::nullopt;
  for (size_t k = 0; k < heads.size(); ++k)
    if ((heads[k] / d) * f.a + f.b != shift[k])
      return std::nullopt;
  return f;
}

void s2c::printShiftTable(OpAsmPrinter &printer, Operation *op,
                          DenseI64ArrayAttr shift, DenseI64ArrayAttr heads) {
  ArrayRef<int64_t> h = heads.asArrayRef(), s = shift.asArrayRef();
  // Try the head index first, then the KV head index h / G.
  std::optional<ClosedForm> form;
  if (h.size() >= 2 && h.size() == s.size()) {
    form = fitClosedForm(h, s, 1);
    auto pattern = op ? op->getParentOfType<PatternOp>() : PatternOp();
    if (!form && pattern && pattern.getGroupSize() > 1)
      form = fitClosedForm(h, s, pattern.getGroupSize());
  }
  if (!form) {
    printer << '[';
    llvm::interleaveComma(s, printer);
    printer << ']';
    return;
  }
  printer << '(';
  if (form->a == 0) {
    printer << form->b << ')';
    return;
  }
  printer << 'h';
  if (form->d != 1)
    printer << " / " << form->d;
  if (form->a != 1)
    printer << " * " << form->a;
  if (form->b > 0)
    printer << " + " << form->b;
  else if (form->b < 0)
    printer << " - " << -form->b;
  printer << ')';
}

//===----------------------------------------------------------------------===//
// Block pairs and causality
//===----------------------------------------------------------------------===//

ParseResult s2c::parseBlockPairs(OpAsmParser &parser,
                                 DenseI64ArrayAttr &pairs) {
  SmallVector<int64_t> values;
  if (parser.parseCommaSeparatedList(
          OpAsmParser::Delimiter::Square, [&]() -> ParseResult {
            if (int64_t(values.size()) >= 2 * kMaxParsedIndices)
              return parser.emitError(parser.getCurrentLocation(),
                                      "too many block pairs");
            int64_t i = 0, j = 0;
            if (parser.parseLParen() || parser.parseInteger(i) ||
                parser.parseComma() || parser.parseInteger(j) ||
                parser.parseRParen())
              return failure();
            values.push_back(i);
            values.push_back(j);
            return success();
          }))
    return failure();
  pairs = DenseI64ArrayAttr::get(parser.getContext(), values);
  return success();
}

void s2c::printBlockPairs(OpAsmPrinter &printer, Operation *,
                          DenseI64ArrayAttr pairs) {
  ArrayRef<int64_t> v = pairs.asArrayRef();
  printer << '[';
  for (size_t k = 0; k + 1 < v.size(); k += 2) {
    if (k)
      printer << ", ";
    printer << '(' << v[k] << ", " << v[k + 1] << ')';
  }
  printer << ']';
}

ParseResult s2c::parseOptionalDType(OpAsmParser &parser, DTypeAttr &dtype) {
  if (failed(parser.parseOptionalKeyword("dtype")))
    return success();
  StringRef word;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseKeyword(&word))
    return failure();
  std::optional<DType> value = symbolizeDType(word);
  if (!value)
    return parser.emitError(loc, "expected 'bf16', 'f16' or 'any', got '")
           << word << "'";
  dtype = DTypeAttr::get(parser.getContext(), *value);
  return success();
}

void s2c::printOptionalDType(OpAsmPrinter &printer, Operation *,
                             DTypeAttr dtype) {
  if (dtype)
    printer << "dtype " << stringifyDType(dtype.getValue());
}

ParseResult s2c::parseCausality(OpAsmParser &parser, BoolAttr &causal) {
  StringRef word;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseKeyword(&word))
    return failure();
  if (word != "causal" && word != "bidirectional")
    return parser.emitError(loc, "expected 'causal' or 'bidirectional', got '")
           << word << "'";
  causal = BoolAttr::get(parser.getContext(), word == "causal");
  return success();
}

void s2c::printCausality(OpAsmPrinter &printer, Operation *, BoolAttr causal) {
  printer << (causal && causal.getValue() ? "causal" : "bidirectional");
}

ParseResult s2c::parseSettings(OpAsmParser &parser, BoolAttr &causal,
                               IntegerAttr &headDim, DTypeAttr &dtype) {
  if (parseCausality(parser, causal))
    return failure();
  if (succeeded(parser.parseOptionalKeyword("head_dim"))) {
    int64_t value = 0;
    if (parser.parseInteger(value))
      return failure();
    headDim = Builder(parser.getContext()).getI64IntegerAttr(value);
  }
  return parseOptionalDType(parser, dtype);
}

void s2c::printSettings(OpAsmPrinter &printer, Operation *op, BoolAttr causal,
                        IntegerAttr headDim, DTypeAttr dtype) {
  printCausality(printer, op, causal);
  if (headDim)
    printer << " head_dim " << headDim.getInt();
  if (dtype)
    printer << ' ';
  printOptionalDType(printer, op, dtype);
}

//===----------------------------------------------------------------------===//
// PatternOp
//===----------------------------------------------------------------------===//

void PatternOp::build(OpBuilder &builder, OperationState &state, StringRef name,
                      int64_t heads, int64_t kvHeads, int64_t block,
                      bool causal) {
  state.addAttribute(getSymNameAttrName(state.name),
                     builder.getStringAttr(name));
  state.addAttribute(getHeadsAttrName(state.name),
                     builder.getI64IntegerAttr(heads));
  state.addAttribute(getKvHeadsAttrName(state.name),
                     builder.getI64IntegerAttr(kvHeads));
  state.addAttribute(getBlockAttrName(state.name),
                     builder.getI64IntegerAttr(block));
  state.addAttribute(getCausalAttrName(state.name),
                     builder.getBoolAttr(causal));
  Region *body = state.addRegion();
  body->push_back(new Block());
}

Block &PatternOp::getRuleBlock() {
  Region &body = getBody();
  if (body.empty())
    body.push_back(new Block());
  return body.front();
}

LogicalResult PatternOp::verify() {
  int64_t heads = getHeads(), kvHeads = getKvHeads(), block = getBlock();
  if (heads < 1 || heads > s2::Limits::kMaxHeads)
    return emitOpError("expected 'heads' in 1..")
           << s2::Limits::kMaxHeads << ", got " << heads;
  if (kvHeads < 1 || kvHeads > heads || heads % kvHeads != 0)
    return emitOpError("expected 'kv_heads' to divide 'heads' (")
           << heads << "), got " << kvHeads;
  if (block < s2::Limits::kMinBlock || block > s2::Limits::kMaxBlock ||
      (block & (block - 1)) != 0)
    return emitOpError("expected 'block' to be a power of two in ")
           << s2::Limits::kMinBlock << ".." << s2::Limits::kMaxBlock << ", got "
           << block;
  if (std::optional<uint64_t> headDim = getHeadDim())
    if (*headDim != 64 && *headDim != 128)
      return emitOpError("expected 'head_dim' 64 or 128, got ")
             << int64_t(*headDim);
  return success();
}

LogicalResult PatternOp::verifyRegions() {
  for (Operation &op : getBody().getOps())
    if (op.getDialect() != (*this)->getDialect())
      return op.emitOpError("is not allowed in 's2.pattern'; expected s2 "
                            "rule ops");
  return success();
}

//===----------------------------------------------------------------------===//
// Rule ops
//===----------------------------------------------------------------------===//

/// Checks that `set` is sorted, unique and within [0, bound); `what` names
/// the set in diagnostics.
static LogicalResult verifySortedSet(Operation *op, ArrayRef<int64_t> set,
                                     int64_t bound, StringRef what) {
  for (size_t k = 0; k < set.size(); ++k) {
    if (set[k] < 0 || set[k] >= bound)
      return op->emitOpError("expected ")
             << what << " in 0.." << bound - 1 << ", got " << set[k];
    if (k > 0 && set[k] <= set[k - 1])
      return op->emitOpError("expected ") << what << " sorted and unique, got "
                                          << set[k] << " after " << set[k - 1];
  }
  return success();
}

/// The checks every rule shares: the head set fits the pattern, the query
/// range is ordered and within limits.
static LogicalResult verifyRuleCommon(Operation *op, ArrayRef<int64_t> heads,
                                      std::optional<uint64_t> qBegin,
                                      std::optional<uint64_t> qEnd) {
  auto pattern = op->getParentOfType<PatternOp>();
  if (!pattern)
    return op->emitOpError("expected to be inside 's2.pattern'");
  if (failed(verifySortedSet(op, heads, pattern.getHeads(), "heads")))
    return failure();
  const int64_t big = s2::Limits::kMaxBlockIndex;
  int64_t begin = qBegin ? int64_t(*qBegin) : 0;
  if (begin < 0 || begin > big)
    return op->emitOpError("expected the first query block in 0..")
           << big << ", got " << begin;
  if (qEnd) {
    int64_t end = int64_t(*qEnd);
    if (end <= begin || end > big)
      return op->emitOpError("expected the query range end in ")
             << begin + 1 << ".." << big << ", got " << end;
  }
  return success();
}

/// Checks a block count parameter against 1..kMaxBlockIndex.
static LogicalResult verifyCount(Operation *op, int64_t value, StringRef what) {
  if (value < 1 || value > s2::Limits::kMaxBlockIndex)
    return op->emitOpError("expected '")
           << what << "' in 1.." << s2::Limits::kMaxBlockIndex << ", got "
           << value;
  return success();
}

LogicalResult DenseOp::verify() {
  return verifyRuleCommon(*this, getHeads(), getQBegin(), getQEnd());
}

LogicalResult LocalOp::verify() {
  if (failed(verifyRuleCommon(*this, getHeads(), getQBegin(), getQEnd())))
    return failure();
  return verifyCount(*this, getWindow(), "window");
}

LogicalResult SinkOp::verify() {
  if (failed(verifyRuleCommon(*this, getHeads(), getQBegin(), getQEnd())))
    return failure();
  return verifyCount(*this, getCount(), "count");
}

LogicalResult StrideOp::verify() {
  if (failed(verifyRuleCommon(*this, getHeads(), getQBegin(), getQEnd())) ||
      failed(verifyCount(*this, getStep(), "step")))
    return failure();
  if (getShift().size() != getHeads().size())
    return emitOpError("expected one shift per head (")
           << getHeads().size() << "), got " << getShift().size();
  const int64_t big = s2::Limits::kMaxBlockIndex;
  for (int64_t s : getShift())
    if (s < -big || s > big)
      return emitOpError("expected shifts in ")
             << -big << ".." << big << ", got " << s;
  return success();
}

LogicalResult GlobalOp::verify() {
  if (failed(verifyRuleCommon(*this, getHeads(), getQBegin(), getQEnd())))
    return failure();
  if (getBlocks().empty())
    return emitOpError("expected at least one global block");
  return verifySortedSet(*this, getBlocks(), s2::Limits::kMaxBlockIndex + 1,
                         "global blocks");
}

LogicalResult DilatedOp::verify() {
  if (failed(verifyRuleCommon(*this, getHeads(), getQBegin(), getQEnd())) ||
      failed(verifyCount(*this, getWindow(), "window")) ||
      failed(verifyCount(*this, getDilation(), "dilation")))
    return failure();
  if (getWindow() * getDilation() > s2::Limits::kMaxBlockIndex)
    return emitOpError("expected 'window' * 'dilation' at most ")
           << s2::Limits::kMaxBlockIndex << ", got "
           << getWindow() * getDilation();
  return success();
}

LogicalResult BlocksOp::verify() {
  if (failed(verifyRuleCommon(*this, getHeads(), getQBegin(), getQEnd())))
    return failure();
  ArrayRef<int64_t> v = getPairs();
  if (v.empty() || v.size() % 2 != 0)
    return emitOpError("expected a non-empty list of block pairs");
  if (int64_t(v.size() / 2) > s2::Limits::kMaxExplicitBlocks)
    return emitOpError("expected at most ")
           << s2::Limits::kMaxExplicitBlocks << " block pairs, got "
           << v.size() / 2;
  const int64_t big = s2::Limits::kMaxBlockIndex;
  for (size_t k = 0; k < v.size(); k += 2) {
    if (v[k] < 0 || v[k + 1] < 0 || v[k] > big || v[k + 1] > big)
      return emitOpError("expected block indices in 0..")
             << big << ", got (" << v[k] << ", " << v[k + 1] << ")";
    if (k > 0 &&
        std::make_pair(v[k - 2], v[k - 1]) >= std::make_pair(v[k], v[k + 1]))
      return emitOpError("expected block pairs sorted and unique, got (")
             << v[k] << ", " << v[k + 1] << ") after (" << v[k - 2] << ", "
             << v[k - 1] << ")";
  }
  return success();
}

#define GET_OP_CLASSES
#include "dialect/IR/S2Ops.cpp.inc"
