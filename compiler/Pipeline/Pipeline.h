//===- Pipeline.h - The s2c compilation pipeline as a library ---*- C++ -*-===//
//
// Everything the s2c driver does, minus option parsing: parse and resolve a
// pattern file, then run the stages up to the requested stop and print the
// result. One function per stop (emitAst, emitMlir, ...), so a new stop is a
// few lines here. Stages that are not built yet fail with a clear error.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_COMPILER_PIPELINE_PIPELINE_H
#define S2C_COMPILER_PIPELINE_PIPELINE_H

#include "compiler/Frontend/Parser.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/LogicalResult.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class SourceMgr;
class raw_ostream;
} // namespace llvm

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace s2c {

/// Where `s2c compile` stops, in pipeline order.
enum class EmitStop { Ast, Mlir, Tiled, Gpu, Llvm, Ptx, Bundle };

/// "ast", "mlir", ... for a stop; and the reverse (nullopt if unknown).
llvm::StringRef emitStopName(EmitStop stop);
std::optional<EmitStop> parseEmitStop(llvm::StringRef name);
/// All stop names, comma-separated, for help and error texts.
std::string emitStopNames();

struct CompileOptions {
  EmitStop emit = EmitStop::Bundle;
  /// Compile only the pattern of this name (empty: all patterns).
  std::string patternName;
  /// Kernel variants: targets ("sm_80", "sm_90a"), dtypes ("bf16", "f16")
  /// and head dims. The gpu, llvm and ptx stops build one kernel, from the
  /// first entry of each list (defaults: sm_80, the pattern's dtype else
  /// bf16, the pattern's head dim else 128); a bundle holds every
  /// combination (defaults: both targets, the pattern's settings else every
  /// supported value).
  std::vector<std::string> targets;
  std::vector<std::string> dtypes;
  std::vector<int64_t> headDims;
  /// Tile sizes for s2-tile (0: the cost model's choice) and the longest key
  /// length table-backed schedules are built for (0: the default).
  int64_t blockM = 0;
  int64_t blockN = 0;
  int64_t maxSeqLen = 0;
  /// Put cubins next to the PTX in bundles when ptxas is installed.
  bool cubin = true;
  /// MMA instructions of the forward kernels: "wgmma" (Hopper warpgroup
  /// MMA, codegen/HopperKernel.h; sm_90a only), "sync" (mma.sync), or ""
  /// (the default): wgmma for sm_90a (1.3-1.5x mma.sync on an H100),
  /// mma.sync for sm_80.
  std::string mma;
  /// Schedule key tiles a step of the sm_90a wgmma kernels: 1, 2 (key-tile
  /// pairs) or 0 (the builder's choice: pairs for the warp-specialised
  /// 128 x 64 kernel at head dim 128, codegen/HopperKernel.h).
  int64_t keyTiles = 0;
};

struct InspectDriverOptions {
  /// Sequence length (tokens) for the pictures and statistics.
  int64_t seqLen = 8192;
  /// Print the tiled schedule too.
  bool schedule = false;
  /// Compile only the pattern of this name (empty: all patterns).
  std::string patternName;
  /// When set, also write the SVG picture of the (single) selected pattern
  /// here.
  llvm::raw_ostream *svgOut = nullptr;
};

/// Parses and resolves the main buffer of `sourceMgr` and keeps the patterns
/// selected by `patternName` (all when empty; an error when no pattern has
/// that name).
llvm::FailureOr<std::vector<ParsedPattern>>
loadPatterns(llvm::SourceMgr &sourceMgr, mlir::MLIRContext &context,
             llvm::StringRef patternName);

/// `s2c compile`: runs the pipeline on the main buffer of `sourceMgr` up to
/// `options.emit` and prints the result to `os`. Diagnostics go to the
/// context's handler.
llvm::LogicalResult compileBuffer(llvm::SourceMgr &sourceMgr,
                                  mlir::MLIRContext &context,
                                  const CompileOptions &options,
                                  llvm::raw_ostream &os);

/// The stops, one function each.
llvm::LogicalResult emitAst(llvm::ArrayRef<ParsedPattern> patterns,
                            llvm::raw_ostream &os);
llvm::LogicalResult emitMlir(mlir::MLIRContext &context,
                             llvm::ArrayRef<ParsedPattern> patterns,
                             llvm::StringRef fileName, llvm::raw_ostream &os);

/// `s2c inspect`: statistics and ASCII pictures of every selected pattern,
/// and the SVG picture when `options.svgOut` is set (then the file, or the
/// --pattern selection, must hold exactly one pattern).
llvm::LogicalResult inspectBuffer(llvm::SourceMgr &sourceMgr,
                                  mlir::MLIRContext &context,
                                  const InspectDriverOptions &options,
                                  llvm::raw_ostream &os);

} // namespace s2c

#endif // S2C_COMPILER_PIPELINE_PIPELINE_H
