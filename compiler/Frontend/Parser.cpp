//===- Parser.cpp - Recursive-descent parser for .s2 pattern files --------===//
//
// One parseX method per grammar production, its grammar in the `///` comment
// above it (as in the MLIR Toy tutorial). The parser stops at the first
// syntax error; every error goes through mlir::emitError at the location of
// the offending token (Lexer::translateLocation). Recursion depth is bounded
// so that deeply nested input gets an error, not a stack overflow.
//
//===----------------------------------------------------------------------===//

#include "compiler/Frontend/Parser.h"
#include "compiler/Frontend/Lexer.h"
#include "compiler/Frontend/Sema.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SourceMgr.h"

using namespace s2c;
using llvm::failure;
using llvm::ParseResult;
using llvm::SMLoc;
using llvm::success;

namespace {

/// Nesting limit for scopes and expressions together.
constexpr unsigned kMaxNestingDepth = 128;
/// Most operators and operands in one expression (long chains such as
/// `h + h + ...` nest as deeply as parentheses do).
constexpr unsigned kMaxExprNodes = 1024;

class Parser {
public:
  Parser(Lexer &lexer) : lexer(lexer) {}

  ParseResult parseFile(std::vector<std::unique_ptr<ast::PatternDecl>> &out);

private:
  //===--------------------------------------------------------------------===//
  // Helpers
  //===--------------------------------------------------------------------===//

  const Token &getToken() const { return lexer.getToken(); }
  void consumeToken() { lexer.lexToken(); }
  bool consumeIf(Token::Kind kind) {
    if (getToken().isNot(kind))
      return false;
    consumeToken();
    return true;
  }

  /// Emits an error at `loc`, unless the current token is a lexer error
  /// (which has already been reported).
  ParseResult emitError(SMLoc loc, const llvm::Twine &message) {
    if (getToken().is(Token::error))
      return failure();
    mlir::emitError(lexer.translateLocation(loc), message);
    return failure();
  }
  ParseResult emitError(const llvm::Twine &message) {
    return emitError(getToken().getLoc(), message);
  }

  /// How the current token is named in "got ..." parts of messages.
  std::string describeToken() const {
    const Token &tok = getToken();
    if (tok.is(Token::eof))
      return "end of file";
    return ("'" + tok.getSpelling() + "'").str();
  }

  /// Consumes a token of kind `kind` or reports "expected X <context>".
  ParseResult parseToken(Token::Kind kind, const llvm::Twine &context) {
    if (consumeIf(kind))
      return success();
    return emitError("expected " + Token::getKindName(kind) + " " + context +
                     ", got " + describeToken());
  }

  /// integer ::= INT   (a non-negative decimal literal that fits int64)
  ParseResult parseInteger(int64_t &value, SMLoc &loc,
                           const llvm::Twine &what) {
    loc = getToken().getLoc();
    if (getToken().isNot(Token::integer))
      return emitError("expected integer for " + what + ", got " +
                       describeToken());
    std::optional<int64_t> v = getToken().getIntegerValue();
    if (!v)
      return emitError("integer '" + getToken().getSpelling() +
                       "' is too large; expected at most 9223372036854775807");
    value = *v;
    consumeToken();
    return success();
  }
  ParseResult parseInteger(int64_t &value, const llvm::Twine &what) {
    SMLoc loc;
    return parseInteger(value, loc, what);
  }

  /// RAII depth guard for recursive productions.
  struct DepthGuard {
    Parser &p;
    explicit DepthGuard(Parser &p) : p(p) { ++p.depth; }
    ~DepthGuard() { --p.depth; }
  };
  ParseResult checkDepth() {
    if (depth > kMaxNestingDepth)
      return emitError("nesting is too deep; at most " +
                       llvm::Twine(kMaxNestingDepth) +
                       " nested scopes and parentheses are allowed");
    return success();
  }

  //===--------------------------------------------------------------------===//
  // Productions
  //===--------------------------------------------------------------------===//

  ParseResult parsePattern(std::unique_ptr<ast::PatternDecl> &out);
  ParseResult parseBody(ast::Body &body, bool topLevel);
  ParseResult parseItem(ast::Body &body, bool topLevel);
  ParseResult parseSetting(ast::Body &body, bool topLevel);
  ParseResult parseHeads(ast::Body &body, bool topLevel);
  ParseResult parseQueries(ast::Body &body);
  ParseResult parseRule(ast::Body &body);
  ParseResult parseHeadItem(ast::Range &range);
  ParseResult parseBlockItem(ast::Range &range, const char *what);
  ParseResult parseExpr(std::unique_ptr<ast::Expr> &out);
  ParseResult parseTerm(std::unique_ptr<ast::Expr> &out);
  ParseResult parseUnary(std::unique_ptr<ast::Expr> &out);
  ParseResult parsePrimary(std::unique_ptr<ast::Expr> &out);

  /// Counts a new expression node; fails past kMaxExprNodes.
  ParseResult countExprNode() {
    if (++exprNodes <= kMaxExprNodes)
      return success();
    return emitError("expression is too long; at most " +
                     llvm::Twine(kMaxExprNodes) +
                     " operators and operands are allowed");
  }
  /// Parses a whole shift or offset expression.
  ParseResult parseTopExpr(std::unique_ptr<ast::Expr> &out) {
    exprNodes = 0;
    return parseExpr(out);
  }

  Lexer &lexer;
  unsigned depth = 0;
  unsigned exprNodes = 0;
};

} // namespace

/// file ::= pattern-decl*
ParseResult
Parser::parseFile(std::vector<std::unique_ptr<ast::PatternDecl>> &out) {
  while (getToken().isNot(Token::eof)) {
    if (getToken().is(Token::error))
      return failure();
    std::unique_ptr<ast::PatternDecl> decl;
    if (parsePattern(decl))
      return failure();
    out.push_back(std::move(decl));
  }
  return success();
}

/// pattern-decl ::= 'pattern' name '{' item* '}'
/// name         ::= identifier | keyword
ParseResult Parser::parsePattern(std::unique_ptr<ast::PatternDecl> &out) {
  if (getToken().isNot(Token::kw_pattern))
    return emitError("expected 'pattern', got " + describeToken());
  auto decl = std::make_unique<ast::PatternDecl>();
  decl->loc = getToken().getLoc();
  consumeToken();
  if (!getToken().isWord())
    return emitError("expected pattern name after 'pattern', got " +
                     describeToken());
  decl->name = getToken().getSpelling().str();
  decl->nameLoc = getToken().getLoc();
  consumeToken();
  if (parseToken(Token::l_brace, "after the pattern name") ||
      parseBody(decl->body, /*topLevel=*/true))
    return failure();
  out = std::move(decl);
  return success();
}

/// body ::= item* '}'
ParseResult Parser::parseBody(ast::Body &body, bool topLevel) {
  while (!consumeIf(Token::r_brace)) {
    if (getToken().is(Token::eof))
      return emitError("expected '}' to close the " +
                       llvm::Twine(topLevel ? "pattern" : "scope") +
                       ", got end of file");
    if (parseItem(body, topLevel))
      return failure();
  }
  return success();
}

/// item ::= setting | rule | scope
ParseResult Parser::parseItem(ast::Body &body, bool topLevel) {
  switch (getToken().getKind()) {
  case Token::kw_heads:
    return parseHeads(body, topLevel);
  case Token::kw_kv_heads:
  case Token::kw_block:
  case Token::kw_causal:
  case Token::kw_bidirectional:
  case Token::kw_head_dim:
  case Token::kw_dtype:
    return parseSetting(body, topLevel);
  case Token::kw_queries:
    return parseQueries(body);
  case Token::kw_dense:
  case Token::kw_local:
  case Token::kw_stride:
  case Token::kw_sink:
  case Token::kw_global:
  case Token::kw_dilated:
  case Token::kw_blocks:
    return parseRule(body);
  case Token::error:
    return failure();
  default:
    if (getToken().isWord())
      return emitError("unknown setting or rule '" + getToken().getSpelling() +
                       "'");
    return emitError("expected a setting, rule or scope, got " +
                     describeToken());
  }
}

/// setting ::= 'kv_heads' INT ';' | 'block' INT ';' | 'causal' ';'
///           | 'bidirectional' ';' | 'head_dim' INT ';' | 'dtype' name ';'
/// (`heads INT ;` is parsed by parseHeads.)
ParseResult Parser::parseSetting(ast::Body &body, bool topLevel) {
  llvm::StringRef keyword = getToken().getSpelling();
  SMLoc loc = getToken().getLoc();
  if (!topLevel)
    return emitError("setting '" + keyword +
                     "' must be at the top level of the pattern, not inside a "
                     "scope");
  ast::Setting::Kind kind;
  switch (getToken().getKind()) {
  case Token::kw_kv_heads:
    kind = ast::Setting::Kind::KVHeads;
    break;
  case Token::kw_block:
    kind = ast::Setting::Kind::Block;
    break;
  case Token::kw_causal:
    kind = ast::Setting::Kind::Causal;
    break;
  case Token::kw_bidirectional:
    kind = ast::Setting::Kind::Bidirectional;
    break;
  case Token::kw_head_dim:
    kind = ast::Setting::Kind::HeadDim;
    break;
  default:
    kind = ast::Setting::Kind::DType;
    break;
  }
  consumeToken();
  auto setting = std::make_unique<ast::Setting>(kind, loc);
  switch (kind) {
  case ast::Setting::Kind::Causal:
  case ast::Setting::Kind::Bidirectional:
    break;
  case ast::Setting::Kind::DType:
    setting->valueLoc = getToken().getLoc();
    if (!getToken().isWord())
      return emitError("expected a dtype name ('bf16' or 'f16') after "
                       "'dtype', got " +
                       describeToken());
    setting->word = getToken().getSpelling().str();
    consumeToken();
    break;
  default:
    if (parseInteger(setting->value, setting->valueLoc, "'" + keyword + "'"))
      return failure();
    break;
  }
  if (parseToken(Token::semi, "after setting '" + keyword + "'"))
    return failure();
  body.push_back(std::move(setting));
  return success();
}

/// heads-setting ::= 'heads' INT ';'
/// heads-scope   ::= 'heads' head-item (',' head-item)* '{' body
ParseResult Parser::parseHeads(ast::Body &body, bool topLevel) {
  SMLoc loc = getToken().getLoc();
  consumeToken();
  std::vector<ast::Range> items;
  do {
    ast::Range range;
    if (parseHeadItem(range))
      return failure();
    items.push_back(range);
  } while (consumeIf(Token::comma));

  if (getToken().is(Token::semi)) {
    if (items.size() != 1 || items[0].kind != ast::Range::Kind::Single)
      return emitError("expected '{' after the head list of a 'heads' scope, "
                       "got ';'");
    if (!topLevel)
      return emitError(loc, "setting 'heads' must be at the top level of the "
                            "pattern, not inside a scope");
    consumeToken();
    auto setting =
        std::make_unique<ast::Setting>(ast::Setting::Kind::Heads, loc);
    setting->value = items[0].first;
    setting->valueLoc = items[0].loc;
    body.push_back(std::move(setting));
    return success();
  }
  if (getToken().isNot(Token::l_brace))
    return emitError("expected '{' or ';' after 'heads " +
                     llvm::Twine(items.size() == 1 ? "N" : "LIST") + "', got " +
                     describeToken());
  consumeToken();
  DepthGuard guard(*this);
  if (checkDepth())
    return failure();
  auto scope = std::make_unique<ast::Scope>(ast::Scope::Kind::Heads, loc);
  scope->ranges = std::move(items);
  if (parseBody(scope->body, /*topLevel=*/false))
    return failure();
  body.push_back(std::move(scope));
  return success();
}

/// head-item ::= INT | INT '..' INT ('step' INT)? | INT '..<' INT ('step' INT)?
ParseResult Parser::parseHeadItem(ast::Range &range) {
  if (parseInteger(range.first, range.loc, "a head index"))
    return failure();
  range.last = range.first;
  if (consumeIf(Token::dotdot))
    range.kind = ast::Range::Kind::Inclusive;
  else if (consumeIf(Token::dotdot_less))
    range.kind = ast::Range::Kind::HalfOpen;
  else
    return success();
  if (parseInteger(range.last, "the end of the head range"))
    return failure();
  if (consumeIf(Token::kw_step))
    return parseInteger(range.step, range.stepLoc, "'step'");
  return success();
}

/// queries-scope ::= 'queries' token-range '{' body
/// token-range   ::= INT '..' INT? | INT '..<' INT
ParseResult Parser::parseQueries(ast::Body &body) {
  SMLoc loc = getToken().getLoc();
  consumeToken();
  ast::Range range;
  if (parseInteger(range.first, range.loc, "the first query token"))
    return failure();
  if (consumeIf(Token::dotdot)) {
    if (getToken().is(Token::integer)) {
      range.kind = ast::Range::Kind::Inclusive;
      if (parseInteger(range.last, "the last query token"))
        return failure();
    } else {
      range.kind = ast::Range::Kind::OpenEnded;
    }
  } else if (consumeIf(Token::dotdot_less)) {
    range.kind = ast::Range::Kind::HalfOpen;
    if (parseInteger(range.last, "the end of the query range"))
      return failure();
  } else {
    return emitError("expected '..' or '..<' after the first query token "
                     "(a query scope is a token range), got " +
                     describeToken());
  }
  if (parseToken(Token::l_brace, "after the query range"))
    return failure();
  DepthGuard guard(*this);
  if (checkDepth())
    return failure();
  auto scope = std::make_unique<ast::Scope>(ast::Scope::Kind::Queries, loc);
  scope->ranges.push_back(range);
  if (parseBody(scope->body, /*topLevel=*/false))
    return failure();
  body.push_back(std::move(scope));
  return success();
}

/// block-item ::= INT | INT '..' INT | INT '..<' INT
ParseResult Parser::parseBlockItem(ast::Range &range, const char *what) {
  if (parseInteger(range.first, range.loc, what))
    return failure();
  range.last = range.first;
  if (consumeIf(Token::dotdot))
    range.kind = ast::Range::Kind::Inclusive;
  else if (consumeIf(Token::dotdot_less))
    range.kind = ast::Range::Kind::HalfOpen;
  else
    return success();
  return parseInteger(range.last, "the end of the block range");
}

/// rule ::= 'dense' ';'
///        | 'local' INT ';'
///        | 'stride' INT ('shard' ('offset' expr)? | 'shift' expr)? ';'
///        | 'sink' INT ';'
///        | 'global' block-item (',' block-item)* ';'
///        | 'dilated' INT 'step' INT ';'
///        | 'blocks' pair (',' pair)* ';'
/// pair ::= '(' block-item ',' block-item ')'
ParseResult Parser::parseRule(ast::Body &body) {
  llvm::StringRef keyword = getToken().getSpelling();
  SMLoc loc = getToken().getLoc();
  ast::Rule::Kind kind;
  switch (getToken().getKind()) {
  case Token::kw_dense:
    kind = ast::Rule::Kind::Dense;
    break;
  case Token::kw_local:
    kind = ast::Rule::Kind::Local;
    break;
  case Token::kw_stride:
    kind = ast::Rule::Kind::Stride;
    break;
  case Token::kw_sink:
    kind = ast::Rule::Kind::Sink;
    break;
  case Token::kw_global:
    kind = ast::Rule::Kind::Global;
    break;
  case Token::kw_dilated:
    kind = ast::Rule::Kind::Dilated;
    break;
  default:
    kind = ast::Rule::Kind::Blocks;
    break;
  }
  consumeToken();
  auto rule = std::make_unique<ast::Rule>(kind, loc);
  switch (kind) {
  case ast::Rule::Kind::Dense:
    break;
  case ast::Rule::Kind::Local:
    if (parseInteger(rule->n, rule->nLoc, "the 'local' window in blocks"))
      return failure();
    break;
  case ast::Rule::Kind::Sink:
    if (parseInteger(rule->n, rule->nLoc, "the number of 'sink' blocks"))
      return failure();
    break;
  case ast::Rule::Kind::Stride:
    if (parseInteger(rule->n, rule->nLoc, "the 'stride' in blocks"))
      return failure();
    if (consumeIf(Token::kw_shard)) {
      rule->shift = ast::Rule::Shift::Shard;
      if (consumeIf(Token::kw_offset) && parseTopExpr(rule->expr))
        return failure();
    } else if (consumeIf(Token::kw_shift)) {
      rule->shift = ast::Rule::Shift::Expr;
      if (parseTopExpr(rule->expr))
        return failure();
    }
    break;
  case ast::Rule::Kind::Dilated:
    if (parseInteger(rule->n, rule->nLoc, "the 'dilated' window count") ||
        parseToken(Token::kw_step, "after the 'dilated' window count") ||
        parseInteger(rule->step, rule->stepLoc, "the dilation 'step'"))
      return failure();
    break;
  case ast::Rule::Kind::Global:
    do {
      ast::Range range;
      if (parseBlockItem(range, "a 'global' block index"))
        return failure();
      rule->items.push_back(range);
    } while (consumeIf(Token::comma));
    break;
  case ast::Rule::Kind::Blocks:
    do {
      ast::Range q, k;
      if (parseToken(Token::l_paren,
                     "to start a '(query block, key block)' pair") ||
          parseBlockItem(q, "a query block index") ||
          parseToken(Token::comma, "between the query and key blocks") ||
          parseBlockItem(k, "a key block index") ||
          parseToken(Token::r_paren, "to close the block pair"))
        return failure();
      rule->pairs.emplace_back(q, k);
    } while (consumeIf(Token::comma));
    break;
  }
  if (parseToken(Token::semi, "after rule '" + keyword + "'"))
    return failure();
  body.push_back(std::move(rule));
  return success();
}

/// expr ::= term (('+' | '-') term)*
ParseResult Parser::parseExpr(std::unique_ptr<ast::Expr> &out) {
  DepthGuard guard(*this);
  if (checkDepth() || parseTerm(out))
    return failure();
  while (getToken().is(Token::plus) || getToken().is(Token::minus)) {
    auto bin = std::make_unique<ast::Expr>();
    bin->kind = ast::Expr::Kind::Binary;
    bin->op =
        getToken().is(Token::plus) ? ast::Expr::Op::Add : ast::Expr::Op::Sub;
    bin->loc = getToken().getLoc();
    if (countExprNode())
      return failure();
    consumeToken();
    bin->lhs = std::move(out);
    if (parseTerm(bin->rhs))
      return failure();
    out = std::move(bin);
  }
  return success();
}

/// term ::= unary (('*' | '/' | '%') unary)*
ParseResult Parser::parseTerm(std::unique_ptr<ast::Expr> &out) {
  if (parseUnary(out))
    return failure();
  while (getToken().is(Token::star) || getToken().is(Token::slash) ||
         getToken().is(Token::percent)) {
    auto bin = std::make_unique<ast::Expr>();
    bin->kind = ast::Expr::Kind::Binary;
    bin->op = getToken().is(Token::star)    ? ast::Expr::Op::Mul
              : getToken().is(Token::slash) ? ast::Expr::Op::Div
                                            : ast::Expr::Op::Mod;
    bin->loc = getToken().getLoc();
    if (countExprNode())
      return failure();
    consumeToken();
    bin->lhs = std::move(out);
    if (parseUnary(bin->rhs))
      return failure();
    out = std::move(bin);
  }
  return success();
}

/// unary ::= '-' unary | primary
ParseResult Parser::parseUnary(std::unique_ptr<ast::Expr> &out) {
  if (getToken().isNot(Token::minus))
    return parsePrimary(out);
  DepthGuard guard(*this);
  if (checkDepth())
    return failure();
  auto neg = std::make_unique<ast::Expr>();
  neg->kind = ast::Expr::Kind::Neg;
  neg->loc = getToken().getLoc();
  consumeToken();
  if (parseUnary(neg->lhs))
    return failure();
  out = std::move(neg);
  return success();
}

/// primary ::= INT | 'h' | 'kv' | 'heads' | 'kv_heads'
///           | ('min' | 'max') '(' expr ',' expr ')' | '(' expr ')'
ParseResult Parser::parsePrimary(std::unique_ptr<ast::Expr> &out) {
  if (countExprNode())
    return failure();
  auto e = std::make_unique<ast::Expr>();
  e->loc = getToken().getLoc();
  switch (getToken().getKind()) {
  case Token::integer: {
    e->kind = ast::Expr::Kind::Integer;
    SMLoc loc;
    if (parseInteger(e->value, loc, "an expression"))
      return failure();
    break;
  }
  case Token::kw_h:
  case Token::kw_kv:
  case Token::kw_heads:
  case Token::kw_kv_heads:
    e->kind = ast::Expr::Kind::Var;
    e->var = getToken().is(Token::kw_h)       ? ast::Expr::Var::H
             : getToken().is(Token::kw_kv)    ? ast::Expr::Var::KV
             : getToken().is(Token::kw_heads) ? ast::Expr::Var::Heads
                                              : ast::Expr::Var::KVHeads;
    consumeToken();
    break;
  case Token::kw_min:
  case Token::kw_max: {
    e->kind = ast::Expr::Kind::Call;
    e->op =
        getToken().is(Token::kw_min) ? ast::Expr::Op::Min : ast::Expr::Op::Max;
    llvm::StringRef name = getToken().getSpelling();
    consumeToken();
    if (parseToken(Token::l_paren, "after '" + name + "'") ||
        parseExpr(e->lhs) ||
        parseToken(Token::comma, "between the arguments of '" + name + "'") ||
        parseExpr(e->rhs) ||
        parseToken(Token::r_paren, "to close the call of '" + name + "'"))
      return failure();
    break;
  }
  case Token::l_paren: {
    consumeToken();
    std::unique_ptr<ast::Expr> inner;
    if (parseExpr(inner) || parseToken(Token::r_paren, "to close '('"))
      return failure();
    out = std::move(inner);
    return success();
  }
  case Token::error:
    return failure();
  default:
    if (getToken().isWord())
      return emitError("unknown name '" + getToken().getSpelling() +
                       "' in expression; expected 'h', 'kv', 'heads', "
                       "'kv_heads', 'min' or 'max'");
    return emitError("expected an expression, got " + describeToken());
  }
  out = std::move(e);
  return success();
}

//===----------------------------------------------------------------------===//
// Public entry points
//===----------------------------------------------------------------------===//

llvm::FailureOr<std::vector<std::unique_ptr<ast::PatternDecl>>>
s2c::parsePatternAST(llvm::SourceMgr &sourceMgr, mlir::MLIRContext &context) {
  Lexer lexer(sourceMgr, sourceMgr.getMainFileID(), &context);
  Parser parser(lexer);
  std::vector<std::unique_ptr<ast::PatternDecl>> decls;
  if (parser.parseFile(decls))
    return failure();
  return decls;
}

llvm::FailureOr<std::vector<ParsedPattern>>
s2c::parsePatternFile(llvm::SourceMgr &sourceMgr, mlir::MLIRContext &context) {
  auto decls = parsePatternAST(sourceMgr, context);
  if (failed(decls))
    return failure();
  bool ok = true;
  llvm::StringMap<SMLoc> seen;
  std::vector<ParsedPattern> result;
  for (auto &decl : *decls) {
    auto [it, inserted] = seen.try_emplace(decl->name, decl->nameLoc);
    if (!inserted) {
      mlir::emitError(translateLocation(sourceMgr, &context, decl->nameLoc),
                      "redefinition of pattern '" + decl->name + "'")
              .attachNote(translateLocation(sourceMgr, &context, it->second))
          << "previous definition here";
      ok = false;
      continue;
    }
    auto pattern = resolvePattern(*decl, sourceMgr, context);
    if (failed(pattern)) {
      ok = false;
      continue;
    }
    result.push_back({std::move(decl), std::move(*pattern)});
  }
  if (!ok)
    return failure();
  return result;
}
