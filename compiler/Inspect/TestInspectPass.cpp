//===- TestInspectPass.cpp - lit hook for the inspect report ---*- C++ -*-===//
//
// A test pass, registered by s2-opt, that runs inspectPattern (or writeSvg)
// on every s2.pattern of a module and prints to stdout, so that lit can test
// the rendering without the s2c driver.
//
//===----------------------------------------------------------------------===//

#include "compiler/Inspect/Inspect.h"
#include "dialect/IR/PatternConversion.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

namespace {
struct TestInspectPass
    : public PassWrapper<TestInspectPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestInspectPass)

  TestInspectPass() = default;
  TestInspectPass(const TestInspectPass &other) : PassWrapper(other) {}

  StringRef getArgument() const final { return "s2-test-inspect"; }
  StringRef getDescription() const final {
    return "print the inspect report (or SVG) of every s2.pattern to stdout";
  }

  Option<int64_t> seqLen{*this, "seq-len", llvm::cl::desc("tokens"),
                         llvm::cl::init(8192)};
  Option<int64_t> maxWidth{*this, "max-width",
                           llvm::cl::desc("widest ASCII picture"),
                           llvm::cl::init(64)};
  Option<bool> ascii{*this, "ascii", llvm::cl::desc("print ASCII masks"),
                     llvm::cl::init(true)};
  Option<bool> svg{*this, "svg", llvm::cl::desc("print the SVG instead"),
                   llvm::cl::init(false)};

  void runOnOperation() override {
    getOperation().walk([&](s2c::PatternOp op) {
      s2::Pattern p = s2c::patternFromOp(op);
      LogicalResult r = success();
      if (svg) {
        r = s2c::writeSvg(p, seqLen, llvm::outs());
      } else {
        s2c::InspectOptions opts;
        opts.seqLen = seqLen;
        opts.maxWidth = maxWidth;
        opts.ascii = ascii;
        r = s2c::inspectPattern(p, opts, llvm::outs());
      }
      if (failed(r)) {
        op.emitError("cannot inspect pattern '") << p.name << "'";
        signalPassFailure();
      }
    });
    llvm::outs().flush();
  }
};
} // namespace

void s2c::registerInspectTestPass() { PassRegistration<TestInspectPass>(); }
