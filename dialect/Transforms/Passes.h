//===- Passes.h - Passes of the s2 dialect ---------------------*- C++ -*-===//
//
// Declares the s2 dialect's passes (generated from Passes.td): create
// functions, option structs and registerS2Passes().
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_TRANSFORMS_PASSES_H
#define S2C_DIALECT_TRANSFORMS_PASSES_H

#include "dialect/IR/S2Ops.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace s2c {

#define GEN_PASS_DECL
#include "dialect/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialect/Transforms/Passes.h.inc"

} // namespace s2c

#endif // S2C_DIALECT_TRANSFORMS_PASSES_H
