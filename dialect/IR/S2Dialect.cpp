//===- S2Dialect.cpp - The s2 dialect --------------------------*- C++ -*-===//
//
// Registers the s2 dialect's ops and attributes.
//
//===----------------------------------------------------------------------===//

#include "dialect/IR/S2Dialect.h"
#include "dialect/IR/S2Attrs.h"
#include "dialect/IR/S2Ops.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace s2c;

#include "dialect/IR/S2OpsDialect.cpp.inc"
#include "dialect/IR/S2OpsEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/IR/S2OpsAttrs.cpp.inc"

void S2Dialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/IR/S2Ops.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/IR/S2OpsAttrs.cpp.inc"
      >();
}
