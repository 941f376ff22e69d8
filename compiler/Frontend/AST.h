//===- AST.h - Abstract syntax tree of .s2 pattern files --------*- C++ -*-===//
//
// The AST mirrors the source as written: settings, rules and nested head /
// query scopes, each with the SMLoc of the token that starts it. Nothing is
// resolved here (head sets, token ranges and shift expressions are kept as
// written); Sema turns a PatternDecl into an s2::Pattern. dumpAST prints the
// tree for `s2c compile --emit=ast`.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_COMPILER_FRONTEND_AST_H
#define S2C_COMPILER_FRONTEND_AST_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Casting.h"
#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace s2c {
namespace ast {

/// An integer expression over the head being resolved (stride shifts).
struct Expr {
  enum class Kind { Integer, Var, Neg, Binary, Call };
  enum class Var { H, KV, Heads, KVHeads };
  enum class Op { Add, Sub, Mul, Div, Mod, Min, Max };

  Kind kind = Kind::Integer;
  /// The first token of the expression (the operator for Binary).
  llvm::SMLoc loc;
  int64_t value = 0;
  Var var = Var::H;
  Op op = Op::Add;
  /// Neg: lhs. Binary and Call: lhs, rhs.
  std::unique_ptr<Expr> lhs, rhs;
};

/// `a`, `a..b` (inclusive), `a..<b` (half-open) or `a..` (open-ended,
/// query ranges only), with an optional `step k` (head lists only).
struct Range {
  enum class Kind { Single, Inclusive, HalfOpen, OpenEnded };
  Kind kind = Kind::Single;
  llvm::SMLoc loc;
  int64_t first = 0;
  int64_t last = 0;
  int64_t step = 1;
  llvm::SMLoc stepLoc;
};

/// Base of the items of a pattern body: settings, rules and scopes.
class Node {
public:
  enum class Kind { Setting, Rule, Scope };
  Node(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Node() = default;
  Kind getKind() const { return kind; }
  llvm::SMLoc getLoc() const { return loc; }

private:
  Kind kind;
  llvm::SMLoc loc;
};

using Body = std::vector<std::unique_ptr<Node>>;

/// `heads N;`, `kv_heads N;`, `block N;`, `causal;`, `bidirectional;`,
/// `head_dim N;`, `dtype NAME;`.
class Setting : public Node {
public:
  enum class Kind {
    Heads,
    KVHeads,
    Block,
    Causal,
    Bidirectional,
    HeadDim,
    DType
  };
  Setting(Kind kind, llvm::SMLoc loc)
      : Node(Node::Kind::Setting, loc), kind(kind) {}
  static bool classof(const Node *n) {
    return n->getKind() == Node::Kind::Setting;
  }

  Kind kind;
  /// The integer value (Heads, KVHeads, Block, HeadDim).
  int64_t value = 0;
  /// The dtype name as written (DType).
  std::string word;
  /// Where the value was written.
  llvm::SMLoc valueLoc;
};

/// One rule: `dense;`, `local N;`, `stride V [shard [offset E] | shift E];`,
/// `sink N;`, `global LIST;`, `dilated N step D;`, `blocks PAIRS;`.
class Rule : public Node {
public:
  enum class Kind { Dense, Local, Stride, Sink, Global, Dilated, Blocks };
  enum class Shift { None, Shard, Expr };
  Rule(Kind kind, llvm::SMLoc loc) : Node(Node::Kind::Rule, loc), kind(kind) {}
  static bool classof(const Node *n) {
    return n->getKind() == Node::Kind::Rule;
  }

  Kind kind;
  /// Local/Sink: block count. Dilated: window count. Stride: the stride V.
  int64_t n = 0;
  llvm::SMLoc nLoc;
  /// Dilated: the dilation.
  int64_t step = 0;
  llvm::SMLoc stepLoc;
  /// Stride: how the per-head shift is given; `expr` is the shift
  /// expression or the shard offset (may be null for `shard`).
  Shift shift = Shift::None;
  std::unique_ptr<Expr> expr;
  /// Global: block items.
  std::vector<Range> items;
  /// Blocks: (query blocks, key blocks) pairs.
  std::vector<std::pair<Range, Range>> pairs;
};

/// `heads LIST { ... }` or `queries RANGE { ... }`.
class Scope : public Node {
public:
  enum class Kind { Heads, Queries };
  Scope(Kind kind, llvm::SMLoc loc)
      : Node(Node::Kind::Scope, loc), kind(kind) {}
  static bool classof(const Node *n) {
    return n->getKind() == Node::Kind::Scope;
  }

  Kind kind;
  /// Heads: the listed items. Queries: one token range.
  std::vector<Range> ranges;
  Body body;
};

/// `pattern NAME { ... }`.
struct PatternDecl {
  /// The `pattern` keyword.
  llvm::SMLoc loc;
  std::string name;
  llvm::SMLoc nameLoc;
  Body body;
};

/// Prints the tree in an indented, line-per-node form.
void dumpAST(const PatternDecl &decl, llvm::raw_ostream &os);
/// Prints an expression in fully parenthesised form.
void printExpr(const Expr &expr, llvm::raw_ostream &os);

} // namespace ast
} // namespace s2c

#endif // S2C_COMPILER_FRONTEND_AST_H
