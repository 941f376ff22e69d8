//===- Parser.h - Parser and entry point of the frontend --------*- C++ -*-===//
//
// The recursive-descent parser of .s2 files and the frontend's public entry
// point, parsePatternFile, which parses and resolves every pattern of the
// main buffer of a SourceMgr. All errors go through MLIR diagnostics at
// file:line:col locations; the caller installs the diagnostic handler.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_COMPILER_FRONTEND_PARSER_H
#define S2C_COMPILER_FRONTEND_PARSER_H

#include "compiler/Frontend/AST.h"
#include "s2/Pattern.h"

#include "llvm/Support/LogicalResult.h"

#include <memory>
#include <vector>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace s2c {

/// One pattern of a file: the tree as written and its resolved meaning.
struct ParsedPattern {
  std::unique_ptr<ast::PatternDecl> ast;
  s2::Pattern pattern;
};

/// Parses the main buffer of `sourceMgr` into ASTs only (no Sema). Fails,
/// after emitting a diagnostic, on the first syntax error.
llvm::FailureOr<std::vector<std::unique_ptr<ast::PatternDecl>>>
parsePatternAST(llvm::SourceMgr &sourceMgr, mlir::MLIRContext &context);

/// Parses and resolves every pattern of the main buffer of `sourceMgr`.
/// Fails, after emitting diagnostics, on any syntax or semantic error,
/// including a redefined pattern name.
llvm::FailureOr<std::vector<ParsedPattern>>
parsePatternFile(llvm::SourceMgr &sourceMgr, mlir::MLIRContext &context);

} // namespace s2c

#endif // S2C_COMPILER_FRONTEND_PARSER_H
