//===- Sema.cpp - Resolve a pattern AST into an s2::Pattern ---------------===//
//
// Settings first (so head scopes know the head count), then a walk over the
// body that carries the current head set and query block range down nested
// scopes (intersecting them) and turns every rule into one s2::Rule. Every
// size is checked against s2::Limits before anything is allocated for it.
//
//===----------------------------------------------------------------------===//

#include "compiler/Frontend/Sema.h"
#include "compiler/Frontend/Lexer.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace s2c;
using llvm::failure;
using llvm::FailureOr;
using llvm::LogicalResult;
using llvm::SMLoc;
using llvm::success;
using llvm::Twine;

namespace {

/// Most rules one pattern may hold, and most explicit entries (global blocks
/// plus block pairs) over all its rules.
constexpr size_t kMaxRules = 4096;
constexpr int64_t kMaxHeadStep = s2::Limits::kMaxHeads;

class Sema {
public:
  Sema(const ast::PatternDecl &decl, const llvm::SourceMgr &sourceMgr,
       mlir::MLIRContext &context)
      : decl(decl), sourceMgr(sourceMgr), context(context) {}

  FailureOr<s2::Pattern> run();

private:
  mlir::Location loc(SMLoc l) const {
    return translateLocation(sourceMgr, &context, l);
  }
  mlir::InFlightDiagnostic error(SMLoc l, const Twine &message) const {
    return mlir::emitError(loc(l), message);
  }
  s2::SourcePos pos(SMLoc l) const {
    if (!l.isValid())
      return {};
    auto lc = sourceMgr.getLineAndColumn(l);
    return {int32_t(lc.first), int32_t(lc.second)};
  }

  LogicalResult resolveSettings();
  LogicalResult resolveBody(const ast::Body &body,
                            const std::vector<uint8_t> &heads, int64_t qBegin,
                            int64_t qEnd);
  LogicalResult resolveHeadScope(const ast::Scope &scope,
                                 const std::vector<uint8_t> &parent,
                                 std::vector<uint8_t> &out);
  LogicalResult resolveQueryScope(const ast::Scope &scope, int64_t &qBegin,
                                  int64_t &qEnd);
  LogicalResult resolveRule(const ast::Rule &rule,
                            const std::vector<uint8_t> &heads, int64_t qBegin,
                            int64_t qEnd);
  LogicalResult resolveShifts(const ast::Rule &rule, s2::Rule &out);
  LogicalResult countBlockItem(const ast::Range &range, int64_t &count) const;
  LogicalResult checkBlockCount(const ast::Rule &rule, int64_t count);
  FailureOr<int64_t> evalExpr(const ast::Expr &expr, int64_t h) const;
  LogicalResult checkCoverage() const;

  const ast::PatternDecl &decl;
  const llvm::SourceMgr &sourceMgr;
  mlir::MLIRContext &context;
  s2::Pattern p;
  int64_t explicitEntries = 0;
};

} // namespace

static std::string quoteKind(const ast::Setting &s) {
  switch (s.kind) {
  case ast::Setting::Kind::Heads:
    return "'heads'";
  case ast::Setting::Kind::KVHeads:
    return "'kv_heads'";
  case ast::Setting::Kind::Block:
    return "'block'";
  case ast::Setting::Kind::Causal:
    return "'causal'";
  case ast::Setting::Kind::Bidirectional:
    return "'bidirectional'";
  case ast::Setting::Kind::HeadDim:
    return "'head_dim'";
  case ast::Setting::Kind::DType:
    return "'dtype'";
  }
  return "'?'";
}

FailureOr<s2::Pattern> Sema::run() {
  p.name = decl.name;
  p.loc = pos(decl.loc);
  if (failed(resolveSettings()))
    return failure();
  std::vector<uint8_t> all(size_t(p.heads), 1);
  if (failed(resolveBody(decl.body, all, 0, -1)) || failed(checkCoverage()))
    return failure();
  std::string invalid = s2::validatePattern(p);
  if (!invalid.empty()) {
    error(decl.loc, "internal error: pattern '" + decl.name +
                        "' resolved to an invalid pattern: " + invalid);
    return failure();
  }
  return std::move(p);
}

LogicalResult Sema::resolveSettings() {
  // One slot per setting; causal and bidirectional share one.
  enum { Heads, KVHeads, Block, Causality, HeadDim, DType, NumSlots };
  const ast::Setting *seen[NumSlots] = {};
  for (const auto &node : decl.body) {
    const auto *s = llvm::dyn_cast<ast::Setting>(node.get());
    if (!s)
      continue;
    int slot = 0;
    switch (s->kind) {
    case ast::Setting::Kind::Heads:
      slot = Heads;
      break;
    case ast::Setting::Kind::KVHeads:
      slot = KVHeads;
      break;
    case ast::Setting::Kind::Block:
      slot = Block;
      break;
    case ast::Setting::Kind::Causal:
    case ast::Setting::Kind::Bidirectional:
      slot = Causality;
      break;
    case ast::Setting::Kind::HeadDim:
      slot = HeadDim;
      break;
    case ast::Setting::Kind::DType:
      slot = DType;
      break;
    }
    if (const ast::Setting *prev = seen[slot]) {
      if (prev->kind == s->kind)
        error(s->getLoc(), "duplicate setting " + quoteKind(*s))
                .attachNote(loc(prev->getLoc()))
            << "previous setting here";
      else
        error(s->getLoc(), "setting " + quoteKind(*s) +
                               " conflicts with an earlier " + quoteKind(*prev))
                .attachNote(loc(prev->getLoc()))
            << "previous setting here";
      return failure();
    }
    seen[slot] = s;
  }

  if (!seen[Heads]) {
    error(decl.nameLoc, "pattern '" + decl.name +
                            "' is missing the 'heads' setting; expected "
                            "'heads N;' with N in 1.." +
                            Twine(s2::Limits::kMaxHeads));
    return failure();
  }
  int64_t heads = seen[Heads]->value;
  if (heads < 1 || heads > s2::Limits::kMaxHeads) {
    error(seen[Heads]->valueLoc, "'heads' must be in 1.." +
                                     Twine(s2::Limits::kMaxHeads) + ", got " +
                                     Twine(heads));
    return failure();
  }
  p.heads = heads;
  p.kvHeads = heads;
  if (const ast::Setting *s = seen[KVHeads]) {
    if (s->value < 1 || s->value > heads) {
      error(s->valueLoc, "'kv_heads' must be in 1.." + Twine(heads) +
                             " (the number of heads), got " + Twine(s->value));
      return failure();
    }
    if (heads % s->value != 0) {
      error(s->valueLoc, "'kv_heads' " + Twine(s->value) +
                             " does not divide 'heads' " + Twine(heads) +
                             "; expected a divisor of the number of heads");
      return failure();
    }
    p.kvHeads = s->value;
  }
  if (const ast::Setting *s = seen[Block]) {
    int64_t b = s->value;
    if (b < s2::Limits::kMinBlock || b > s2::Limits::kMaxBlock ||
        !llvm::isPowerOf2_64(uint64_t(b))) {
      error(s->valueLoc, "'block' must be a power of two in " +
                             Twine(s2::Limits::kMinBlock) + ".." +
                             Twine(s2::Limits::kMaxBlock) + ", got " +
                             Twine(b));
      return failure();
    }
    p.block = b;
  }
  if (const ast::Setting *s = seen[Causality])
    p.causal = s->kind == ast::Setting::Kind::Causal;
  if (const ast::Setting *s = seen[HeadDim]) {
    if (s->value != 64 && s->value != 128) {
      error(s->valueLoc, "'head_dim' " + Twine(s->value) +
                             " is not supported; expected 64 or 128");
      return failure();
    }
    p.headDim = s->value;
  }
  if (const ast::Setting *s = seen[DType]) {
    llvm::StringRef w = s->word;
    if (w == "bf16") {
      p.dtype = s2::DType::BF16;
    } else if (w == "f16" || w == "fp16") {
      p.dtype = s2::DType::F16;
    } else if (w.starts_with("fp8") || w.starts_with("f8") ||
               w.starts_with("e4m3") || w.starts_with("e5m2")) {
      error(s->valueLoc,
            "dtype '" + w + "' is not supported yet; expected 'bf16' or 'f16'");
      return failure();
    } else {
      error(s->valueLoc, "unknown dtype '" + w + "'; expected 'bf16' or 'f16'");
      return failure();
    }
  }
  return success();
}

LogicalResult Sema::resolveBody(const ast::Body &body,
                                const std::vector<uint8_t> &heads,
                                int64_t qBegin, int64_t qEnd) {
  for (const auto &node : body) {
    if (llvm::isa<ast::Setting>(node.get()))
      continue;
    if (const auto *rule = llvm::dyn_cast<ast::Rule>(node.get())) {
      if (failed(resolveRule(*rule, heads, qBegin, qEnd)))
        return failure();
      continue;
    }
    const auto &scope = llvm::cast<ast::Scope>(*node);
    if (scope.kind == ast::Scope::Kind::Heads) {
      std::vector<uint8_t> inner;
      if (failed(resolveHeadScope(scope, heads, inner)) ||
          failed(resolveBody(scope.body, inner, qBegin, qEnd)))
        return failure();
    } else {
      int64_t b = qBegin, e = qEnd;
      if (failed(resolveQueryScope(scope, b, e)) ||
          failed(resolveBody(scope.body, heads, b, e)))
        return failure();
    }
  }
  return success();
}

LogicalResult Sema::resolveHeadScope(const ast::Scope &scope,
                                     const std::vector<uint8_t> &parent,
                                     std::vector<uint8_t> &out) {
  std::vector<uint8_t> listed(size_t(p.heads), 0);
  std::string lastHead = Twine(p.heads - 1).str();
  for (const ast::Range &r : scope.ranges) {
    int64_t first = r.first, last = r.last;
    if (r.kind == ast::Range::Kind::Single) {
      if (first >= p.heads) {
        error(r.loc, "head " + Twine(first) + " is out of range; pattern '" +
                         decl.name + "' has heads 0.." + lastHead);
        return failure();
      }
    } else {
      bool halfOpen = r.kind == ast::Range::Kind::HalfOpen;
      std::string spelling =
          (Twine(first) + (halfOpen ? "..<" : "..") + Twine(last)).str();
      if (halfOpen ? last <= first : last < first) {
        error(r.loc, "empty head range '" + spelling + "'");
        return failure();
      }
      if (halfOpen)
        --last;
      if (last >= p.heads) {
        error(r.loc, "head range '" + spelling +
                         "' is out of range; pattern '" + decl.name +
                         "' has heads 0.." + lastHead);
        return failure();
      }
      if (r.step < 1 || r.step > kMaxHeadStep) {
        error(r.stepLoc, "head 'step' must be in 1.." + Twine(kMaxHeadStep) +
                             ", got " + Twine(r.step));
        return failure();
      }
    }
    for (int64_t h = first; h <= last; h += r.step)
      listed[size_t(h)] = 1;
  }
  out.assign(size_t(p.heads), 0);
  bool any = false;
  for (int64_t h = 0; h < p.heads; ++h) {
    out[size_t(h)] = listed[size_t(h)] && parent[size_t(h)];
    any |= out[size_t(h)] != 0;
  }
  if (!any) {
    error(scope.getLoc(),
          "empty head set: no listed head is in the enclosing head scope");
    return failure();
  }
  return success();
}

LogicalResult Sema::resolveQueryScope(const ast::Scope &scope, int64_t &qBegin,
                                      int64_t &qEnd) {
  const ast::Range &r = scope.ranges.front();
  const int64_t b = p.block;
  const int64_t maxToken = s2::Limits::kMaxBlockIndex * b;
  if (r.first > maxToken ||
      (r.kind != ast::Range::Kind::OpenEnded && r.last > maxToken)) {
    error(r.loc, "query range is out of range; token positions must be at "
                 "most " +
                     Twine(maxToken));
    return failure();
  }
  if (r.first % b != 0) {
    error(r.loc, "query range must start at a multiple of the block size " +
                     Twine(b) + ", got " + Twine(r.first));
    return failure();
  }
  int64_t begin = r.first / b, end = -1;
  switch (r.kind) {
  case ast::Range::Kind::Inclusive:
    if (r.last < r.first) {
      error(r.loc, "empty query range '" + Twine(r.first) + ".." +
                       Twine(r.last) + "'");
      return failure();
    }
    if ((r.last + 1) % b != 0) {
      error(r.loc, "inclusive query range must end just before a multiple of "
                   "the block size " +
                       Twine(b) + " (e.g. '" + Twine(r.first) + ".." +
                       Twine(r.first + b - 1) + "'), got '" + Twine(r.first) +
                       ".." + Twine(r.last) + "'");
      return failure();
    }
    end = (r.last + 1) / b;
    break;
  case ast::Range::Kind::HalfOpen:
    if (r.last <= r.first) {
      error(r.loc, "empty query range '" + Twine(r.first) + "..<" +
                       Twine(r.last) + "'");
      return failure();
    }
    if (r.last % b != 0) {
      error(r.loc, "query range must end at a multiple of the block size " +
                       Twine(b) + ", got '" + Twine(r.first) + "..<" +
                       Twine(r.last) + "'");
      return failure();
    }
    end = r.last / b;
    break;
  default:
    break;
  }
  int64_t newBegin = std::max(qBegin, begin);
  int64_t newEnd = qEnd < 0 ? end : (end < 0 ? qEnd : std::min(qEnd, end));
  if (newEnd >= 0 && newEnd <= newBegin) {
    error(scope.getLoc(),
          "empty query range: this scope does not overlap the enclosing "
          "query scope");
    return failure();
  }
  qBegin = newBegin;
  qEnd = newEnd;
  return success();
}

/// Checks a count-like rule parameter against 1..kMaxBlockIndex.
static bool inBlockRange(int64_t v) {
  return v >= 1 && v <= s2::Limits::kMaxBlockIndex;
}

LogicalResult Sema::resolveRule(const ast::Rule &rule,
                                const std::vector<uint8_t> &heads,
                                int64_t qBegin, int64_t qEnd) {
  if (p.rules.size() >= kMaxRules) {
    error(rule.getLoc(), "too many rules in pattern '" + decl.name +
                             "'; at most " + Twine(kMaxRules) + " are allowed");
    return failure();
  }
  const std::string maxBlocks = std::to_string(s2::Limits::kMaxBlockIndex);
  s2::Rule r;
  r.heads = heads;
  r.qBegin = qBegin;
  r.qEnd = qEnd;
  r.loc = pos(rule.getLoc());
  switch (rule.kind) {
  case ast::Rule::Kind::Dense:
    r.kind = s2::RuleKind::Dense;
    break;
  case ast::Rule::Kind::Local:
  case ast::Rule::Kind::Sink: {
    bool local = rule.kind == ast::Rule::Kind::Local;
    r.kind = local ? s2::RuleKind::Local : s2::RuleKind::Sink;
    if (!inBlockRange(rule.n)) {
      error(rule.nLoc, Twine(local ? "'local' window" : "'sink'") +
                           " must be in 1.." + maxBlocks + " blocks, got " +
                           Twine(rule.n));
      return failure();
    }
    r.n = rule.n;
    break;
  }
  case ast::Rule::Kind::Dilated:
    r.kind = s2::RuleKind::Dilated;
    if (!inBlockRange(rule.n)) {
      error(rule.nLoc, "'dilated' window count must be in 1.." + maxBlocks +
                           ", got " + Twine(rule.n));
      return failure();
    }
    if (!inBlockRange(rule.step)) {
      error(rule.stepLoc, "'dilated' step must be in 1.." + maxBlocks +
                              ", got " + Twine(rule.step));
      return failure();
    }
    if (rule.n * rule.step > s2::Limits::kMaxBlockIndex) {
      error(rule.nLoc, "'dilated' window spans " + Twine(rule.n * rule.step) +
                           " blocks; at most " + maxBlocks + " are allowed");
      return failure();
    }
    r.n = rule.n;
    r.step = rule.step;
    break;
  case ast::Rule::Kind::Stride:
    r.kind = s2::RuleKind::Stride;
    if (!inBlockRange(rule.n)) {
      error(rule.nLoc, "'stride' must be in 1.." + maxBlocks + " blocks, got " +
                           Twine(rule.n));
      return failure();
    }
    r.step = rule.n;
    if (failed(resolveShifts(rule, r)))
      return failure();
    break;
  case ast::Rule::Kind::Global: {
    r.kind = s2::RuleKind::Global;
    int64_t count = 0;
    for (const ast::Range &item : rule.items)
      if (failed(countBlockItem(item, count)))
        return failure();
    if (failed(checkBlockCount(rule, count)))
      return failure();
    r.set.reserve(size_t(count));
    for (const ast::Range &item : rule.items) {
      int64_t last =
          item.kind == ast::Range::Kind::HalfOpen ? item.last - 1 : item.last;
      for (int64_t g = item.first; g <= last; ++g)
        r.set.push_back(g);
    }
    std::sort(r.set.begin(), r.set.end());
    r.set.erase(std::unique(r.set.begin(), r.set.end()), r.set.end());
    explicitEntries += count;
    break;
  }
  case ast::Rule::Kind::Blocks: {
    r.kind = s2::RuleKind::Blocks;
    int64_t count = 0;
    for (const auto &pair : rule.pairs) {
      int64_t nq = 0, nk = 0;
      if (failed(countBlockItem(pair.first, nq)) ||
          failed(countBlockItem(pair.second, nk)))
        return failure();
      // Each side is at most kMaxBlockIndex + 1, so the product fits.
      count += nq * nk;
      if (failed(checkBlockCount(rule, count)))
        return failure();
    }
    r.blocks.reserve(size_t(count));
    for (const auto &pair : rule.pairs) {
      auto lastOf = [](const ast::Range &x) {
        return x.kind == ast::Range::Kind::HalfOpen ? x.last - 1 : x.last;
      };
      for (int64_t i = pair.first.first; i <= lastOf(pair.first); ++i)
        for (int64_t j = pair.second.first; j <= lastOf(pair.second); ++j)
          r.blocks.emplace_back(i, j);
    }
    std::sort(r.blocks.begin(), r.blocks.end());
    r.blocks.erase(std::unique(r.blocks.begin(), r.blocks.end()),
                   r.blocks.end());
    explicitEntries += count;
    if (p.causal) {
      for (const auto &b : r.blocks) {
        if (b.second > b.first) {
          mlir::emitWarning(loc(rule.getLoc()),
                            "block pair (" + Twine(b.first) + ", " +
                                Twine(b.second) +
                                ") is above the diagonal of a causal pattern "
                                "and is never visible");
          break;
        }
      }
    }
    break;
  }
  }
  p.rules.push_back(std::move(r));
  return success();
}

LogicalResult Sema::countBlockItem(const ast::Range &range,
                                   int64_t &count) const {
  const int64_t maxIndex = s2::Limits::kMaxBlockIndex;
  bool halfOpen = range.kind == ast::Range::Kind::HalfOpen;
  if (range.first > maxIndex || range.last > maxIndex) {
    error(range.loc,
          "block index is out of range; expected at most " + Twine(maxIndex));
    return failure();
  }
  if (range.kind == ast::Range::Kind::Single) {
    count += 1;
    return success();
  }
  if (halfOpen ? range.last <= range.first : range.last < range.first) {
    error(range.loc, "empty block range '" + Twine(range.first) +
                         (halfOpen ? "..<" : "..") + Twine(range.last) + "'");
    return failure();
  }
  count += (halfOpen ? range.last : range.last + 1) - range.first;
  return success();
}

LogicalResult Sema::checkBlockCount(const ast::Rule &rule, int64_t count) {
  const int64_t limit = s2::Limits::kMaxExplicitBlocks;
  if (count > limit || explicitEntries + count > limit) {
    error(rule.getLoc(), "too many explicit blocks in pattern '" + decl.name +
                             "'; at most " + Twine(limit) +
                             " global blocks and block pairs are allowed");
    return failure();
  }
  return success();
}

LogicalResult Sema::resolveShifts(const ast::Rule &rule, s2::Rule &out) {
  const int64_t maxShift = s2::Limits::kMaxBlockIndex;
  out.shift.assign(size_t(p.heads), 0);
  for (int64_t h = 0; h < p.heads; ++h) {
    if (!out.heads[size_t(h)])
      continue;
    int64_t value = 0;
    if (rule.expr) {
      FailureOr<int64_t> v = evalExpr(*rule.expr, h);
      if (failed(v))
        return failure();
      value = *v;
    }
    if (value < -maxShift || value > maxShift) {
      error(rule.expr ? rule.expr->loc : rule.getLoc(),
            Twine(rule.shift == ast::Rule::Shift::Shard ? "shard offset "
                                                        : "shift ") +
                Twine(value) + " for head " + Twine(h) +
                " is out of range; expected a value in " + Twine(-maxShift) +
                ".." + Twine(maxShift));
      return failure();
    }
    if (rule.shift == ast::Rule::Shift::Shard)
      value = s2::shardShift(p, h, out.step, value);
    out.shift[size_t(h)] = value;
  }
  return success();
}

static int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    --q;
  return q;
}

static int64_t floorMod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0)))
    r += b;
  return r;
}

FailureOr<int64_t> Sema::evalExpr(const ast::Expr &e, int64_t h) const {
  auto overflow = [&]() -> FailureOr<int64_t> {
    error(e.loc,
          "shift expression overflows a 64-bit integer for head " + Twine(h));
    return failure();
  };
  switch (e.kind) {
  case ast::Expr::Kind::Integer:
    return e.value;
  case ast::Expr::Kind::Var:
    switch (e.var) {
    case ast::Expr::Var::H:
      return h;
    case ast::Expr::Var::KV:
      return p.kvHeadOf(h);
    case ast::Expr::Var::Heads:
      return p.heads;
    case ast::Expr::Var::KVHeads:
      return p.kvHeads;
    }
    return failure();
  case ast::Expr::Kind::Neg: {
    FailureOr<int64_t> v = evalExpr(*e.lhs, h);
    if (failed(v))
      return failure();
    if (*v == INT64_MIN)
      return overflow();
    return -*v;
  }
  case ast::Expr::Kind::Binary:
  case ast::Expr::Kind::Call: {
    FailureOr<int64_t> a = evalExpr(*e.lhs, h);
    if (failed(a))
      return failure();
    FailureOr<int64_t> b = evalExpr(*e.rhs, h);
    if (failed(b))
      return failure();
    int64_t x = *a, y = *b, r = 0;
    switch (e.op) {
    case ast::Expr::Op::Add:
      if (__builtin_add_overflow(x, y, &r))
        return overflow();
      return r;
    case ast::Expr::Op::Sub:
      if (__builtin_sub_overflow(x, y, &r))
        return overflow();
      return r;
    case ast::Expr::Op::Mul:
      if (__builtin_mul_overflow(x, y, &r))
        return overflow();
      return r;
    case ast::Expr::Op::Div:
    case ast::Expr::Op::Mod: {
      bool div = e.op == ast::Expr::Op::Div;
      if (y == 0) {
        error(e.loc, Twine(div ? "division" : "modulo") +
                         " by zero in shift expression for head " + Twine(h));
        return failure();
      }
      if (y == -1) {
        if (!div)
          return int64_t(0);
        if (x == INT64_MIN)
          return overflow();
        return -x;
      }
      return div ? floorDiv(x, y) : floorMod(x, y);
    }
    case ast::Expr::Op::Min:
      return std::min(x, y);
    case ast::Expr::Op::Max:
      return std::max(x, y);
    }
    return failure();
  }
  }
  return failure();
}

/// Appends "a..b" or "a" for each run of set entries, comma-separated.
static void printHeadRuns(const std::vector<uint8_t> &set,
                          llvm::raw_ostream &os, size_t maxRuns = SIZE_MAX) {
  size_t runs = 0;
  llvm::StringRef sep = "";
  for (size_t h = 0; h < set.size();) {
    if (!set[h]) {
      ++h;
      continue;
    }
    size_t end = h;
    while (end + 1 < set.size() && set[end + 1])
      ++end;
    if (runs++ == maxRuns) {
      os << ", ...";
      return;
    }
    os << sep << h;
    if (end > h)
      os << ".." << end;
    sep = ", ";
    h = end + 1;
  }
}

LogicalResult Sema::checkCoverage() const {
  std::vector<uint8_t> uncovered(size_t(p.heads), 1);
  for (const s2::Rule &r : p.rules)
    for (int64_t h = 0; h < p.heads; ++h)
      if (r.heads[size_t(h)])
        uncovered[size_t(h)] = 0;
  int64_t count = llvm::count(uncovered, 1);
  if (count == 0)
    return success();
  std::string list;
  llvm::raw_string_ostream os(list);
  printHeadRuns(uncovered, os, /*maxRuns=*/8);
  error(decl.nameLoc, Twine(count == 1 ? "head " : "heads ") + list +
                          " of pattern '" + decl.name + "' " +
                          (count == 1 ? "has" : "have") +
                          " no rule; every head needs at least one rule");
  return failure();
}

FailureOr<s2::Pattern> s2c::resolvePattern(const ast::PatternDecl &decl,
                                           const llvm::SourceMgr &sourceMgr,
                                           mlir::MLIRContext &context) {
  return Sema(decl, sourceMgr, context).run();
}

void s2c::dumpResolvedPattern(const s2::Pattern &p, llvm::raw_ostream &os) {
  os << "resolved " << p.name << ": heads " << p.heads << ", kv_heads "
     << p.kvHeads << ", block " << p.block << ", "
     << (p.causal ? "causal" : "bidirectional") << ", head_dim ";
  if (p.headDim)
    os << p.headDim;
  else
    os << "any";
  os << ", dtype " << s2::dtypeName(p.dtype) << "\n";
  for (size_t k = 0; k < p.rules.size(); ++k) {
    const s2::Rule &r = p.rules[k];
    os << "  rule " << k << " " << s2::ruleKindName(r.kind) << " @"
       << r.loc.line << ":" << r.loc.col << " heads ";
    printHeadRuns(r.heads, os);
    os << " qblocks " << r.qBegin;
    if (r.qEnd < 0)
      os << "..";
    else
      os << "..<" << r.qEnd;
    switch (r.kind) {
    case s2::RuleKind::Dense:
      break;
    case s2::RuleKind::Local:
    case s2::RuleKind::Sink:
      os << " n " << r.n;
      break;
    case s2::RuleKind::Dilated:
      os << " n " << r.n << " step " << r.step;
      break;
    case s2::RuleKind::Stride: {
      os << " step " << r.step << " shift ";
      llvm::StringRef sep = "";
      for (size_t h = 0; h < r.heads.size(); ++h)
        if (r.heads[h]) {
          os << sep << r.shift[h];
          sep = ",";
        }
      break;
    }
    case s2::RuleKind::Global: {
      os << " set ";
      llvm::StringRef sep = "";
      for (int64_t g : r.set) {
        os << sep << g;
        sep = ",";
      }
      break;
    }
    case s2::RuleKind::Blocks: {
      os << " pairs ";
      llvm::StringRef sep = "";
      for (const auto &b : r.blocks) {
        os << sep << "(" << b.first << "," << b.second << ")";
        sep = ",";
      }
      break;
    }
    }
    os << "\n";
  }
}
