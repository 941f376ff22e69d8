//===- Pipeline.cpp - The s2c compilation pipeline ------------------------===//
//
// The stops of `s2c compile` and the body of `s2c inspect`. Later stages are
// linked in when their libraries exist in the build (S2C_HAVE_MLIRGEN,
// S2C_HAVE_INSPECT, set by CMake); otherwise their stops fail with a clear
// "not available in this build" error instead of crashing.
//
//===----------------------------------------------------------------------===//

#include "compiler/Pipeline/Pipeline.h"
#include "compiler/Frontend/Lexer.h"
#include "compiler/Frontend/Sema.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#ifdef S2C_HAVE_MLIRGEN
#include "compiler/MLIRGen/MLIRGen.h"
#endif
#ifdef S2C_HAVE_INSPECT
#include "compiler/Inspect/Inspect.h"
#include "compiler/Inspect/SchedulePrinter.h"
#include "s2/Schedule.h"
#endif

using namespace s2c;
using llvm::failure;
using llvm::LogicalResult;
using llvm::success;

static const EmitStop kAllStops[] = {
    EmitStop::Ast,  EmitStop::Mlir, EmitStop::Tiled, EmitStop::Gpu,
    EmitStop::Llvm, EmitStop::Ptx,  EmitStop::Bundle};

llvm::StringRef s2c::emitStopName(EmitStop stop) {
  switch (stop) {
  case EmitStop::Ast:
    return "ast";
  case EmitStop::Mlir:
    return "mlir";
  case EmitStop::Tiled:
    return "tiled";
  case EmitStop::Gpu:
    return "gpu";
  case EmitStop::Llvm:
    return "llvm";
  case EmitStop::Ptx:
    return "ptx";
  case EmitStop::Bundle:
    return "bundle";
  }
  return "?";
}

std::optional<EmitStop> s2c::parseEmitStop(llvm::StringRef name) {
  for (EmitStop stop : kAllStops)
    if (emitStopName(stop) == name)
      return stop;
  return std::nullopt;
}

std::string s2c::emitStopNames() {
  std::string names;
  for (EmitStop stop : kAllStops) {
    if (!names.empty())
      names += ", ";
    names += emitStopName(stop).str();
  }
  return names;
}

/// A location naming the whole file, for errors that have no better place.
static mlir::Location fileLoc(llvm::SourceMgr &sourceMgr,
                              mlir::MLIRContext &context) {
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  return translateLocation(
      sourceMgr, &context,
      llvm::SMLoc::getFromPointer(buffer->getBufferStart()));
}

llvm::FailureOr<std::vector<ParsedPattern>>
s2c::loadPatterns(llvm::SourceMgr &sourceMgr, mlir::MLIRContext &context,
                  llvm::StringRef patternName) {
  auto parsed = parsePatternFile(sourceMgr, context);
  if (failed(parsed))
    return failure();
  if (patternName.empty())
    return parsed;
  std::vector<ParsedPattern> selected;
  std::string available;
  for (ParsedPattern &pp : *parsed) {
    if (!available.empty())
      available += ", ";
    available += "'" + pp.pattern.name + "'";
    if (pp.pattern.name == patternName)
      selected.push_back(std::move(pp));
  }
  if (selected.empty()) {
    mlir::emitError(fileLoc(sourceMgr, context),
                    "no pattern named '" + patternName + "' in this file")
            .attachNote()
        << (available.empty() ? std::string("the file defines no pattern")
                              : "available patterns: " + available);
    return failure();
  }
  return selected;
}

LogicalResult s2c::emitAst(llvm::ArrayRef<ParsedPattern> patterns,
                           llvm::raw_ostream &os) {
  for (const ParsedPattern &pp : patterns) {
    ast::dumpAST(*pp.ast, os);
    dumpResolvedPattern(pp.pattern, os);
  }
  return success();
}

LogicalResult s2c::emitMlir(mlir::MLIRContext &context,
                            llvm::ArrayRef<ParsedPattern> patterns,
                            llvm::StringRef fileName, llvm::raw_ostream &os) {
#ifdef S2C_HAVE_MLIRGEN
  std::vector<s2::Pattern> resolved;
  for (const ParsedPattern &pp : patterns)
    resolved.push_back(pp.pattern);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlirGen(context, resolved, fileName);
  if (!module)
    return failure();
  module->print(os);
  os << "\n";
  return success();
#else
  (void)patterns;
  (void)os;
  mlir::emitError(mlir::FileLineColLoc::get(&context, fileName, 0, 0),
                  "'--emit=mlir' is not available in this build (the s2 "
                  "dialect's MLIRGen, compiler/MLIRGen, is not built)");
  return failure();
#endif
}

/// The stops after mlir are not built yet.
static LogicalResult unavailableStop(mlir::Location loc, EmitStop stop) {
#ifdef S2C_HAVE_MLIRGEN
  const char *available = "ast, mlir";
#else
  const char *available = "ast";
#endif
  mlir::emitError(loc, "'--emit=" + emitStopName(stop) +
                           "' is not available in this build yet; available "
                           "stops: " +
                           available);
  return failure();
}

LogicalResult s2c::compileBuffer(llvm::SourceMgr &sourceMgr,
                                 mlir::MLIRContext &context,
                                 const CompileOptions &options,
                                 llvm::raw_ostream &os) {
  auto patterns = loadPatterns(sourceMgr, context, options.patternName);
  if (failed(patterns))
    return failure();
  llvm::StringRef fileName =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())
          ->getBufferIdentifier();
  switch (options.emit) {
  case EmitStop::Ast:
    return emitAst(*patterns, os);
  case EmitStop::Mlir:
    return emitMlir(context, *patterns, fileName, os);
  case EmitStop::Tiled:
  case EmitStop::Gpu:
  case EmitStop::Llvm:
  case EmitStop::Ptx:
  case EmitStop::Bundle:
    return unavailableStop(fileLoc(sourceMgr, context), options.emit);
  }
  return failure();
}

bool s2c::hasInspector() {
#ifdef S2C_HAVE_INSPECT
  return true;
#else
  return false;
#endif
}

LogicalResult s2c::inspectBuffer(llvm::SourceMgr &sourceMgr,
                                 mlir::MLIRContext &context,
                                 const InspectDriverOptions &options,
                                 llvm::raw_ostream &os) {
  auto patterns = loadPatterns(sourceMgr, context, options.patternName);
  if (failed(patterns))
    return failure();
  if (options.seqLen < 1 || options.seqLen > (int64_t(1) << 24)) {
    mlir::emitError(fileLoc(sourceMgr, context),
                    "'--seq-len' must be in 1..16777216, got " +
                        llvm::Twine(options.seqLen));
    return failure();
  }
  if (options.svgOut && patterns->size() != 1) {
    mlir::emitError(fileLoc(sourceMgr, context),
                    "'--svg' draws one pattern but this file has " +
                        llvm::Twine(patterns->size()) +
                        "; choose one with '--pattern NAME'");
    return failure();
  }
#ifdef S2C_HAVE_INSPECT
  InspectOptions inspectOptions;
  inspectOptions.seqLen = options.seqLen;
  bool ok = true;
  for (const ParsedPattern &pp : *patterns) {
    if (failed(inspectPattern(pp.pattern, inspectOptions, os)))
      ok = false;
    if (!options.schedule)
      continue;
    // The schedule for the tiles the cost model picks for this pattern.
    s2::TileConfig tiles = s2::chooseTiles(pp.pattern, pp.pattern.headDim);
    s2::Schedule schedule;
    std::string error;
    if (!s2::buildSchedule(pp.pattern, tiles, schedule, error)) {
      mlir::emitError(translateLocation(sourceMgr, &context, pp.ast->loc),
                      "cannot build the schedule of pattern '" +
                          pp.pattern.name + "': " + error);
      ok = false;
      continue;
    }
    printSchedule(pp.pattern, schedule, os);
  }
  if (ok && options.svgOut &&
      failed(
          writeSvg(patterns->front().pattern, options.seqLen, *options.svgOut)))
    ok = false;
  return success(ok);
#else
  (void)os;
  mlir::emitError(fileLoc(sourceMgr, context),
                  "'s2c inspect' is not available in this build (the "
                  "inspector, compiler/Inspect, is not built)");
  return failure();
#endif
}
