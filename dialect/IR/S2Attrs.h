//===- S2Attrs.h - Attributes of the s2 dialect ----------------*- C++ -*-===//
//
// The s2 dialect's attributes: the dtype enum (s2c::DType, #s2.dtype<...>).
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_IR_S2ATTRS_H
#define S2C_DIALECT_IR_S2ATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "dialect/IR/S2Dialect.h"
#include "dialect/IR/S2OpsEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/IR/S2OpsAttrs.h.inc"

#endif // S2C_DIALECT_IR_S2ATTRS_H
