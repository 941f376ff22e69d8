//===- S2Dialect.h - The s2 dialect ----------------------------*- C++ -*-===//
//
// Declares the s2 dialect (s2c::S2Dialect), the MLIR form of a
// sparse-attention pattern. Ops are in S2Ops.h, attributes in S2Attrs.h.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_IR_S2DIALECT_H
#define S2C_DIALECT_IR_S2DIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialect/IR/S2OpsDialect.h.inc"

#endif // S2C_DIALECT_IR_S2DIALECT_H
