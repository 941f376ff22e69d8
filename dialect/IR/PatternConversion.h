//===- PatternConversion.h - s2::Pattern <-> s2.pattern --------*- C++ -*-===//
//
// Conversions between the MLIR-free s2::Pattern (the resolved meaning, see
// runtime/include/s2/Pattern.h) and the s2.pattern op. They are exact
// inverses: patternFromOp(buildPatternOp(p)) == p for every valid pattern
// whose unused rule fields are zero (as the frontend produces them), with
// source positions carried by FileLineColLoc.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_IR_PATTERNCONVERSION_H
#define S2C_DIALECT_IR_PATTERNCONVERSION_H

#include "dialect/IR/S2Ops.h"
#include "s2/Pattern.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringRef.h"

namespace s2c {

/// Reads a (verified) s2.pattern op back into an s2::Pattern. Rule and
/// pattern positions come from the ops' FileLineColLocs (0:0 when none).
/// Ops in the body that are not rule ops are ignored.
s2::Pattern patternFromOp(PatternOp op);

/// Builds an s2.pattern op for `p` at the builder's insertion point, with a
/// FileLineColLoc in `fileName` on the pattern and on every rule op. The op
/// is not verified here.
PatternOp buildPatternOp(mlir::OpBuilder &builder, const s2::Pattern &p,
                         llvm::StringRef fileName);

/// The location of a source position in `fileName`.
mlir::Location locationOf(mlir::MLIRContext *ctx, llvm::StringRef fileName,
                          s2::SourcePos pos);

} // namespace s2c

#endif // S2C_DIALECT_IR_PATTERNCONVERSION_H
