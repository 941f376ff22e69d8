//===- S2Ops.h - Operations of the s2 dialect ------------------*- C++ -*-===//
//
// Declares s2.pattern and the rule ops (generated from S2Ops.td), and the
// custom assembly helpers shared by every s2 op that prints head or block
// sets: index sets `[0, 3, 5 to 7]`, query ranges `queries [64, end)`,
// shift tables `(h / 4 * 2 + 1)` or `[3, 5]`, block pairs `[(3, 1)]`.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_IR_S2OPS_H
#define S2C_DIALECT_IR_S2OPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"

#include "dialect/IR/S2Attrs.h"
#include "dialect/IR/S2Dialect.h"

namespace s2c {

/// Parses `[` (int (`to` int)?) (`,` ...)* `]` into a flat list of indices
/// (ranges are inclusive). At most 2^20 indices.
mlir::ParseResult parseIndexSet(mlir::OpAsmParser &parser,
                                mlir::DenseI64ArrayAttr &set);
/// Prints an index list compactly: runs of three or more consecutive
/// values as `a to b`.
void printIndexSet(mlir::OpAsmPrinter &printer, mlir::Operation *op,
                   mlir::DenseI64ArrayAttr set);

/// Parses an optional `queries [begin, end)`, with the keyword `end` for
/// no end. A zero begin and a
/// missing end leave the attributes null (their defaults).
mlir::ParseResult parseQueryRange(mlir::OpAsmParser &parser,
                                  mlir::IntegerAttr &qBegin,
                                  mlir::IntegerAttr &qEnd);
void printQueryRange(mlir::OpAsmPrinter &printer, mlir::Operation *op,
                     mlir::IntegerAttr qBegin, mlir::IntegerAttr qEnd);

/// Parses a shift table for the heads in `heads`: either `[` int-list `]`
/// (one entry per head) or the closed form `(` `h` (`/` d)? (`*` a)?
/// ((`+`|`-`) b)? `)` or `(` b `)`, expanded per head as (h / d) * a + b.
mlir::ParseResult parseShiftTable(mlir::OpAsmParser &parser,
                                  mlir::DenseI64ArrayAttr &shift,
                                  mlir::DenseI64ArrayAttr heads);
/// Prints the closed form when the table is affine in h or in h / d for
/// d = the parent pattern's group size, else the list.
void printShiftTable(mlir::OpAsmPrinter &printer, mlir::Operation *op,
                     mlir::DenseI64ArrayAttr shift,
                     mlir::DenseI64ArrayAttr heads);

/// Parses `[` (`(` int `,` int `)`)* `]` into flattened pairs.
mlir::ParseResult parseBlockPairs(mlir::OpAsmParser &parser,
                                  mlir::DenseI64ArrayAttr &pairs);
void printBlockPairs(mlir::OpAsmPrinter &printer, mlir::Operation *op,
                     mlir::DenseI64ArrayAttr pairs);

/// An index set followed by an optional query range:
/// `[0 to 27] queries [64, end)`.
mlir::ParseResult parseHeadsAndQueries(mlir::OpAsmParser &parser,
                                       mlir::DenseI64ArrayAttr &heads,
                                       mlir::IntegerAttr &qBegin,
                                       mlir::IntegerAttr &qEnd);
void printHeadsAndQueries(mlir::OpAsmPrinter &printer, mlir::Operation *op,
                          mlir::DenseI64ArrayAttr heads,
                          mlir::IntegerAttr qBegin, mlir::IntegerAttr qEnd);

/// An optional `dtype bf16` / `dtype f16` / `dtype any`.
mlir::ParseResult parseOptionalDType(mlir::OpAsmParser &parser,
                                     DTypeAttr &dtype);
void printOptionalDType(mlir::OpAsmPrinter &printer, mlir::Operation *op,
                        DTypeAttr dtype);

/// `causal` or `bidirectional`, then optional `head_dim N` and `dtype T`.
mlir::ParseResult parseSettings(mlir::OpAsmParser &parser,
                                mlir::BoolAttr &causal,
                                mlir::IntegerAttr &headDim, DTypeAttr &dtype);
void printSettings(mlir::OpAsmPrinter &printer, mlir::Operation *op,
                   mlir::BoolAttr causal, mlir::IntegerAttr headDim,
                   DTypeAttr dtype);

/// `causal` or `bidirectional`.
mlir::ParseResult parseCausality(mlir::OpAsmParser &parser,
                                 mlir::BoolAttr &causal);
void printCausality(mlir::OpAsmPrinter &printer, mlir::Operation *op,
                    mlir::BoolAttr causal);

} // namespace s2c

#define GET_OP_CLASSES
#include "dialect/IR/S2Ops.h.inc"

#endif // S2C_DIALECT_IR_S2OPS_H
