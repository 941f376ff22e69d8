//===- s2c.cpp - The s2c driver -------------------------------------------===//
//
// A thin command-line front over the S2Pipeline library: option parsing
// (CLI11), input and output files, --split-input-file and
// --verify-diagnostics. Everything else lives in compiler/Pipeline.
//
//   s2c compile FILE [-o OUT] [--emit=STOP] [--pattern NAME]
//   s2c inspect FILE [--seq-len N] [--svg OUT.svg] [--schedule]
//
//===----------------------------------------------------------------------===//

#include "compiler/Pipeline/Pipeline.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/ToolUtilities.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <string>

#ifndef S2C_VERSION
#define S2C_VERSION "unknown"
#endif

namespace {

/// Options shared by both subcommands.
struct CommonOptions {
  std::string input;
  std::string output; // empty: stdout
  std::string patternName;
  bool splitInputFile = false;
  bool verifyDiagnostics = false;
};

void addCommonOptions(CLI::App &cmd, CommonOptions &opts) {
  cmd.add_option("file", opts.input, "Pattern file (.s2); '-' reads stdin")
      ->required();
  cmd.add_option("-o,--output", opts.output,
                 "Output file; '-' writes to stdout (the default, except for "
                 "bundles: NAME.s2m)");
  cmd.add_option("--pattern", opts.patternName,
                 "Only the pattern of this name (default: all)");
  cmd.add_flag("--split-input-file", opts.splitInputFile,
               "Process each '// -----' chunk of the input separately");
  cmd.add_flag("--verify-diagnostics", opts.verifyDiagnostics,
               "Check diagnostics against expected-* comments in the input");
}

void printError(const std::string &message) {
  fmt::print(stderr, "s2c: error: {}\n", message);
}

/// Reads the input, splits it if asked, and runs `body` on each chunk with
/// a fresh SourceMgr, MLIRContext and diagnostic handler (plain or
/// verifying). Returns the process exit code.
template <typename Body> int runChunks(const CommonOptions &opts, Body body) {
  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(opts.input, &errorMessage);
  if (!input) {
    printError(errorMessage);
    return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> output = mlir::openOutputFile(
      opts.output.empty() ? "-" : opts.output, &errorMessage);
  if (!output) {
    printError(fmt::format("cannot open output file '{}': {}", opts.output,
                           errorMessage));
    return 1;
  }

  auto processChunk = [&](std::unique_ptr<llvm::MemoryBuffer> chunk,
                          const llvm::MemoryBufferRef &,
                          llvm::raw_ostream &os) -> llvm::LogicalResult {
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(std::move(chunk), llvm::SMLoc());
    mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
    if (opts.verifyDiagnostics) {
      mlir::SourceMgrDiagnosticVerifierHandler handler(sourceMgr, &context);
      (void)body(sourceMgr, context, os);
      return handler.verify();
    }
    mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    return body(sourceMgr, context, os);
  };
  llvm::StringRef marker =
      opts.splitInputFile ? mlir::kDefaultSplitMarker : llvm::StringRef();
  if (failed(mlir::splitAndProcessBuffer(std::move(input), processChunk,
                                         output->os(), marker, marker)))
    return 1;
  output->keep();
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"s2c: an ahead-of-time compiler for sparse-attention patterns"};
  app.name("s2c");
  app.set_version_flag("--version",
                       fmt::format("s2c version {} (LLVM/MLIR {})", S2C_VERSION,
                                   LLVM_VERSION_STRING));
  app.require_subcommand(1);

  CommonOptions compileOpts;
  std::string emit = "bundle";
  CLI::App *compile =
      app.add_subcommand("compile", "Compile a pattern file up to a stop");
  addCommonOptions(*compile, compileOpts);
  compile->add_option("--emit", emit,
                      "Where to stop: " + s2c::emitStopNames() +
                          " (default: bundle)");
  s2c::CompileOptions options;
  bool noCubin = false;
  compile
      ->add_option("--target", options.targets,
                   "Kernel targets: sm_80, sm_90a (comma-separated; default: "
                   "both in a bundle, sm_80 for gpu/llvm/ptx)")
      ->delimiter(',');
  compile
      ->add_option("--dtype", options.dtypes,
                   "Element types: bf16, f16 (default: the pattern's, else "
                   "both in a bundle)")
      ->delimiter(',');
  compile
      ->add_option("--head-dim", options.headDims,
                   "Head dims: 64, 128 (default: the pattern's, else both in "
                   "a bundle)")
      ->delimiter(',');
  compile->add_option("--block-m", options.blockM,
                      "Query rows per kernel tile (default: cost model)");
  compile->add_option("--block-n", options.blockN,
                      "Keys per kernel step (default: cost model)");
  compile->add_option("--max-seq-len", options.maxSeqLen,
                      "Longest key length table-backed schedules support");
  compile->add_option("--mma", options.mma,
                      "Forward kernel MMA: wgmma (Hopper warpgroup MMA, "
                      "P V overlapped with the softmax; sm_90a only), "
                      "wgmma-serial (the same without the overlap) or sync "
                      "(mma.sync); default: wgmma for sm_90a, sync for "
                      "sm_80");
  compile->add_option("--key-tiles", options.keyTiles,
                      "Key tiles a step of the sm_90a wgmma kernels: 1, or "
                      "2 (key-tile pairs: two key tiles in one 128-key "
                      "buffer; the warp-specialised 128x64 kernel at head "
                      "dim 128); default: the compiler's choice");
  compile->add_flag("--no-cubin", noCubin,
                    "Bundle PTX only, even when ptxas is installed");

  CommonOptions inspectOpts;
  s2c::InspectDriverOptions inspect;
  std::string svgPath;
  CLI::App *inspectCmd = app.add_subcommand(
      "inspect", "Print statistics and pictures of a pattern's block masks");
  addCommonOptions(*inspectCmd, inspectOpts);
  inspectCmd->add_option("--seq-len", inspect.seqLen,
                         "Sequence length in tokens (default: 8192)");
  inspectCmd->add_option("--svg", svgPath,
                         "Also write an SVG picture of every head's mask");
  inspectCmd->add_flag("--schedule", inspect.schedule,
                       "Also print the tiled schedule");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    // --help and --version end here with exit code 0.
    if (e.get_exit_code() == 0)
      return app.exit(e);
    printError(std::string(e.what()) + "; run 's2c --help' for usage");
    return 2;
  }

  if (compile->parsed()) {
    std::optional<s2c::EmitStop> stop = s2c::parseEmitStop(emit);
    if (!stop) {
      printError(fmt::format("unknown stop '--emit={}'; expected one of {}",
                             emit, s2c::emitStopNames()));
      return 1;
    }
    options.emit = *stop;
    options.patternName = compileOpts.patternName;
    options.cubin = !noCubin;
    // A bundle is binary: without -o it goes to NAME.s2m, never a terminal.
    if (options.emit == s2c::EmitStop::Bundle && compileOpts.output.empty()) {
      if (compileOpts.input == "-") {
        printError("a bundle read from stdin needs '-o FILE' ('-o -' writes "
                   "it to stdout)");
        return 1;
      }
      compileOpts.output =
          llvm::sys::path::stem(compileOpts.input).str() + ".s2m";
    }
    return runChunks(compileOpts, [&](llvm::SourceMgr &sourceMgr,
                                      mlir::MLIRContext &context,
                                      llvm::raw_ostream &os) {
      return s2c::compileBuffer(sourceMgr, context, options, os);
    });
  }

  inspect.patternName = inspectOpts.patternName;
  std::unique_ptr<llvm::ToolOutputFile> svgFile;
  if (!svgPath.empty()) {
    std::string errorMessage;
    svgFile = mlir::openOutputFile(svgPath, &errorMessage);
    if (!svgFile) {
      printError(fmt::format("cannot open SVG output file '{}': {}", svgPath,
                             errorMessage));
      return 1;
    }
    inspect.svgOut = &svgFile->os();
  }
  int rc = runChunks(inspectOpts, [&](llvm::SourceMgr &sourceMgr,
                                      mlir::MLIRContext &context,
                                      llvm::raw_ostream &os) {
    return s2c::inspectBuffer(sourceMgr, context, inspect, os);
  });
  if (rc == 0 && svgFile)
    svgFile->keep();
  return rc;
}
