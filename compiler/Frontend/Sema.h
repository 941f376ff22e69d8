//===- Sema.h - Resolve a pattern AST into an s2::Pattern -------*- C++ -*-===//
//
// Sema checks the settings (ranges, duplicates, the missing `heads`),
// flattens head and query scopes into per-rule head sets and query block
// ranges, evaluates stride shift expressions per head, expands global and
// explicit block lists, and checks that every head has a rule. The result is
// checked once more by s2::validatePattern as a safety net.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_COMPILER_FRONTEND_SEMA_H
#define S2C_COMPILER_FRONTEND_SEMA_H

#include "compiler/Frontend/AST.h"
#include "s2/Pattern.h"

#include "llvm/Support/LogicalResult.h"

namespace llvm {
class SourceMgr;
class raw_ostream;
} // namespace llvm

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace s2c {

/// Resolves one pattern declaration. Emits diagnostics and fails on any
/// semantic error.
llvm::FailureOr<s2::Pattern> resolvePattern(const ast::PatternDecl &decl,
                                            const llvm::SourceMgr &sourceMgr,
                                            mlir::MLIRContext &context);

/// Prints a resolved pattern (settings, then one line per rule with its head
/// set, query block range, parameters, shifts and source position).
void dumpResolvedPattern(const s2::Pattern &pattern, llvm::raw_ostream &os);

} // namespace s2c

#endif // S2C_COMPILER_FRONTEND_SEMA_H
