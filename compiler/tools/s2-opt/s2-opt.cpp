//===- s2-opt.cpp - The s2c optimizer driver for lit tests -----*- C++ -*-===//
//
// mlir-opt with the s2 dialect and its passes added: parses, verifies,
// transforms and prints s2 IR. Upstream dialects, extensions and passes are
// registered too so that pipelines mixing s2 and upstream IR can be tested.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "compiler/Inspect/Inspect.h"
#include "dialect/IR/S2Dialect.h"
#include "dialect/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  s2c::registerS2Passes();
  s2c::registerS2CodegenPasses();
  s2c::registerInspectTestPass();

  mlir::DialectRegistry registry;
  registry.insert<s2c::S2Dialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "s2c optimizer driver\n", registry));
}
