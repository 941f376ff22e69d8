//===- Passes.h - Passes of the code generator -----------------*- C++ -*-===//
//
// Declares convert-s2-to-gpu (generated from Passes.td): its create function,
// option struct and registerS2CodegenPasses().
//
//===----------------------------------------------------------------------===//

#ifndef S2C_CODEGEN_PASSES_H
#define S2C_CODEGEN_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>
#include <string>

namespace s2c {

#define GEN_PASS_DECL
#include "codegen/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/Passes.h.inc"

} // namespace s2c

#endif // S2C_CODEGEN_PASSES_H
