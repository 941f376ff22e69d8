//===- MLIRGen.h - s2::Pattern to the s2 dialect ---------------*- C++ -*-===//
//
// Turns the frontend's resolved patterns into a module of s2.pattern ops,
// with a FileLineColLoc in the source file on every op.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_COMPILER_MLIRGEN_MLIRGEN_H
#define S2C_COMPILER_MLIRGEN_MLIRGEN_H

#include "s2/Pattern.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

namespace s2c {

/// Builds a module holding one s2.pattern per pattern, in order, and
/// verifies it. Loads the s2 dialect into `ctx`. Returns null (after the
/// verifier's diagnostics) when the module does not verify.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &ctx,
                                          llvm::ArrayRef<s2::Pattern> patterns,
                                          llvm::StringRef fileName);

} // namespace s2c

#endif // S2C_COMPILER_MLIRGEN_MLIRGEN_H
