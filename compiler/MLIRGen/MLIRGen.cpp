//===- MLIRGen.cpp - s2::Pattern to the s2 dialect -------------*- C++ -*-===//
//
// A thin layer over buildPatternOp (dialect/IR/PatternConversion.h): one
// s2.pattern per pattern in a module located at the file, then the verifier.
//
//===----------------------------------------------------------------------===//

#include "compiler/MLIRGen/MLIRGen.h"
#include "dialect/IR/PatternConversion.h"
#include "dialect/IR/S2Dialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;

OwningOpRef<ModuleOp> s2c::mlirGen(MLIRContext &ctx,
                                   llvm::ArrayRef<s2::Pattern> patterns,
                                   llvm::StringRef fileName) {
  ctx.getOrLoadDialect<S2Dialect>();
  OpBuilder builder(&ctx);
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(FileLineColLoc::get(&ctx, fileName, 1, 1));
  builder.setInsertionPointToEnd(module->getBody());
  for (const s2::Pattern &p : patterns)
    buildPatternOp(builder, p, fileName);
  if (failed(verify(*module)))
    return nullptr;
  return module;
}
