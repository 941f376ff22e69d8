//===- AST.cpp - Printing the pattern AST ---------------------------------===//
//
// The indented tree printed by `s2c compile --emit=ast`: one line per
// setting, rule and scope, values as written in the source.
//
//===----------------------------------------------------------------------===//

#include "compiler/Frontend/AST.h"

#include "llvm/Support/raw_ostream.h"

using namespace s2c;
using namespace s2c::ast;

static void printRange(const Range &r, llvm::raw_ostream &os) {
  os << r.first;
  switch (r.kind) {
  case Range::Kind::Single:
    return;
  case Range::Kind::Inclusive:
    os << ".." << r.last;
    break;
  case Range::Kind::HalfOpen:
    os << "..<" << r.last;
    break;
  case Range::Kind::OpenEnded:
    os << "..";
    break;
  }
  if (r.step != 1)
    os << " step " << r.step;
}

static const char *opSpelling(Expr::Op op) {
  switch (op) {
  case Expr::Op::Add:
    return "+";
  case Expr::Op::Sub:
    return "-";
  case Expr::Op::Mul:
    return "*";
  case Expr::Op::Div:
    return "/";
  case Expr::Op::Mod:
    return "%";
  case Expr::Op::Min:
    return "min";
  case Expr::Op::Max:
    return "max";
  }
  return "?";
}

void ast::printExpr(const Expr &e, llvm::raw_ostream &os) {
  switch (e.kind) {
  case Expr::Kind::Integer:
    os << e.value;
    return;
  case Expr::Kind::Var:
    switch (e.var) {
    case Expr::Var::H:
      os << "h";
      return;
    case Expr::Var::KV:
      os << "kv";
      return;
    case Expr::Var::Heads:
      os << "heads";
      return;
    case Expr::Var::KVHeads:
      os << "kv_heads";
      return;
    }
    return;
  case Expr::Kind::Neg:
    os << "(-";
    printExpr(*e.lhs, os);
    os << ")";
    return;
  case Expr::Kind::Binary:
    os << "(";
    printExpr(*e.lhs, os);
    os << " " << opSpelling(e.op) << " ";
    printExpr(*e.rhs, os);
    os << ")";
    return;
  case Expr::Kind::Call:
    os << opSpelling(e.op) << "(";
    printExpr(*e.lhs, os);
    os << ", ";
    printExpr(*e.rhs, os);
    os << ")";
    return;
  }
}

static const char *settingName(Setting::Kind kind) {
  switch (kind) {
  case Setting::Kind::Heads:
    return "heads";
  case Setting::Kind::KVHeads:
    return "kv_heads";
  case Setting::Kind::Block:
    return "block";
  case Setting::Kind::Causal:
    return "causal";
  case Setting::Kind::Bidirectional:
    return "bidirectional";
  case Setting::Kind::HeadDim:
    return "head_dim";
  case Setting::Kind::DType:
    return "dtype";
  }
  return "?";
}

static const char *ruleName(Rule::Kind kind) {
  switch (kind) {
  case Rule::Kind::Dense:
    return "dense";
  case Rule::Kind::Local:
    return "local";
  case Rule::Kind::Stride:
    return "stride";
  case Rule::Kind::Sink:
    return "sink";
  case Rule::Kind::Global:
    return "global";
  case Rule::Kind::Dilated:
    return "dilated";
  case Rule::Kind::Blocks:
    return "blocks";
  }
  return "?";
}

static void dumpBody(const Body &body, unsigned indent, llvm::raw_ostream &os) {
  for (const auto &node : body) {
    os.indent(indent);
    if (const auto *s = llvm::dyn_cast<Setting>(node.get())) {
      os << "setting " << settingName(s->kind);
      if (s->kind == Setting::Kind::DType)
        os << " " << s->word;
      else if (s->kind != Setting::Kind::Causal &&
               s->kind != Setting::Kind::Bidirectional)
        os << " " << s->value;
      os << "\n";
    } else if (const auto *r = llvm::dyn_cast<Rule>(node.get())) {
      os << "rule " << ruleName(r->kind);
      switch (r->kind) {
      case Rule::Kind::Dense:
        break;
      case Rule::Kind::Local:
      case Rule::Kind::Sink:
        os << " " << r->n;
        break;
      case Rule::Kind::Dilated:
        os << " " << r->n << " step " << r->step;
        break;
      case Rule::Kind::Stride:
        os << " " << r->n;
        if (r->shift == Rule::Shift::Shard) {
          os << " shard";
          if (r->expr) {
            os << " offset ";
            printExpr(*r->expr, os);
          }
        } else if (r->shift == Rule::Shift::Expr) {
          os << " shift ";
          printExpr(*r->expr, os);
        }
        break;
      case Rule::Kind::Global: {
        llvm::StringRef sep = " ";
        for (const Range &item : r->items) {
          os << sep;
          printRange(item, os);
          sep = ", ";
        }
        break;
      }
      case Rule::Kind::Blocks: {
        llvm::StringRef sep = " ";
        for (const auto &pair : r->pairs) {
          os << sep << "(";
          printRange(pair.first, os);
          os << ", ";
          printRange(pair.second, os);
          os << ")";
          sep = ", ";
        }
        break;
      }
      }
      os << "\n";
    } else if (const auto *sc = llvm::dyn_cast<Scope>(node.get())) {
      os << (sc->kind == Scope::Kind::Heads ? "heads" : "queries");
      llvm::StringRef sep = " ";
      for (const Range &item : sc->ranges) {
        os << sep;
        printRange(item, os);
        sep = ", ";
      }
      os << " {\n";
      dumpBody(sc->body, indent + 2, os);
      os.indent(indent) << "}\n";
    }
  }
}

void ast::dumpAST(const PatternDecl &decl, llvm::raw_ostream &os) {
  os << "pattern " << decl.name << " {\n";
  dumpBody(decl.body, 2, os);
  os << "}\n";
}
