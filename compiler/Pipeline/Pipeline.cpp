//===- Pipeline.cpp - The s2c compilation pipeline ------------------------===//
//
// The stops of `s2c compile` and the body of `s2c inspect`: the frontend,
// MLIRGen, the s2 passes (s2-analyze, s2-tile, s2-merge-q), convert-s2-to-gpu,
// the lowering to LLVM/PTX and the bundle writer, strung together.
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

#include "codegen/BundleWriter.h"
#include "codegen/Lowering.h"
#include "codegen/Passes.h"
#include "compiler/Inspect/Inspect.h"
#include "compiler/Inspect/SchedulePrinter.h"
#include "compiler/MLIRGen/MLIRGen.h"
#include "dialect/Transforms/Passes.h"
#include "s2/Bundle.h"
#include "s2/Schedule.h"

#include "mlir/Pass/PassManager.h"

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

/// The s2 dialect module of the selected patterns.
static mlir::OwningOpRef<mlir::ModuleOp>
buildModule(mlir::MLIRContext &context, llvm::ArrayRef<ParsedPattern> patterns,
            llvm::StringRef fileName) {
  std::vector<s2::Pattern> resolved;
  for (const ParsedPattern &pp : patterns)
    resolved.push_back(pp.pattern);
  return mlirGen(context, resolved, fileName);
}

LogicalResult s2c::emitMlir(mlir::MLIRContext &context,
                            llvm::ArrayRef<ParsedPattern> patterns,
                            llvm::StringRef fileName, llvm::raw_ostream &os) {
  mlir::OwningOpRef<mlir::ModuleOp> module =
      buildModule(context, patterns, fileName);
  if (!module)
    return failure();
  module->print(os);
  os << "\n";
  return success();
}

/// The sm_90a kernels' MMA: the requested one, else warpgroup MMA (sm_80
/// keeps mma.sync whatever is asked). The options are checked first.
static MmaKind sm90aMma(const CompileOptions &opts) {
  return opts.mma.empty() ? MmaKind::Wgmma : *parseMmaKind(opts.mma);
}

/// Runs the analyses (errors only: empty rows), s2-tile and s2-merge-q.
static LogicalResult tile(mlir::ModuleOp module, const CompileOptions &opts) {
  mlir::PassManager pm(module.getContext());
  S2AnalyzeOptions analyze;
  analyze.emitStats = false;
  analyze.emitCoverage = false;
  pm.addPass(createS2Analyze(analyze));
  S2TileOptions tileOptions;
  tileOptions.blockM = opts.blockM;
  tileOptions.blockN = opts.blockN;
  tileOptions.maxSeqLen = opts.maxSeqLen;
  // Tiles for the sm_90a warpgroup-MMA kernels alone when those are all the
  // bundle (or the one kernel) holds.
  tileOptions.wgmmaOnly =
      !opts.targets.empty() &&
      llvm::all_of(opts.targets,
                   [](const std::string &t) {
                     return parseTargetName(t) == KernelConfig::Target::Sm90a;
                   }) &&
      sm90aMma(opts) == MmaKind::Wgmma;
  if (opts.headDims.size() == 1 ||
      (opts.emit != EmitStop::Bundle && !opts.headDims.empty()))
    tileOptions.headDim = opts.headDims.front();
  pm.addPass(createS2Tile(tileOptions));
  S2MergeQOptions mergeQ;
  mergeQ.emitRemarks = false;
  pm.addPass(createS2MergeQ(mergeQ));
  return pm.run(module);
}

/// Checks the variant options, naming what is supported.
static LogicalResult checkVariants(mlir::Location loc,
                                   const CompileOptions &opts) {
  for (const std::string &t : opts.targets)
    if (!parseTargetName(t))
      return mlir::emitError(loc, "unknown target '" + t +
                                      "'; supported targets: sm_80, sm_90a");
  for (const std::string &d : opts.dtypes)
    if (!parseDTypeName(d))
      return mlir::emitError(loc, "unsupported dtype '" + d +
                                      "'; supported: bf16, f16");
  if (!opts.mma.empty() && !parseMmaKind(opts.mma))
    return mlir::emitError(loc, "unknown mma kind '" + opts.mma +
                                    "'; supported: sync, wgmma, wgmma-serial");
  for (int64_t h : opts.headDims)
    if (h != 64 && h != 128)
      return mlir::emitError(loc, "unsupported head dim " + llvm::Twine(h) +
                                      "; supported: 64, 128");
  if (opts.keyTiles < 0 || opts.keyTiles > 2)
    return mlir::emitError(loc, "unsupported key tiles " +
                                    llvm::Twine(opts.keyTiles) +
                                    "; supported: 0 (default), 1, 2");
  return success();
}

/// convert-s2-to-gpu for the first requested variant.
static LogicalResult toGpu(mlir::ModuleOp module, const CompileOptions &opts,
                           KernelConfig::Target &target) {
  ConvertS2ToGPUOptions gpu;
  if (!opts.targets.empty())
    gpu.target = opts.targets.front();
  if (!opts.dtypes.empty())
    gpu.dtype = opts.dtypes.front();
  if (!opts.headDims.empty())
    gpu.headDim = opts.headDims.front();
  target = *parseTargetName(gpu.target);
  gpu.mma = !opts.mma.empty()                       ? opts.mma
            : target == KernelConfig::Target::Sm90a ? "wgmma"
                                                    : "sync";
  gpu.keyTiles = opts.keyTiles;
  mlir::PassManager pm(module.getContext());
  pm.addPass(createConvertS2ToGPU(gpu));
  return pm.run(module);
}

static LogicalResult emitBundle(mlir::ModuleOp module,
                                const CompileOptions &opts,
                                llvm::raw_ostream &os) {
  VariantOptions variants;
  for (const std::string &t : opts.targets)
    variants.targets.push_back(*parseTargetName(t));
  for (const std::string &d : opts.dtypes)
    variants.dtypes.push_back(*parseDTypeName(d));
  variants.headDims = opts.headDims;
  variants.cubin = opts.cubin;
  // wgmma applies to the sm_90a kernels only; sm_80 keeps mma.sync.
  variants.mma = sm90aMma(opts);
  variants.keyTiles = opts.keyTiles;
  mlir::FailureOr<s2::Bundle> bundle = buildBundle(module, variants);
  if (failed(bundle))
    return failure();
  os << s2::writeBundle(*bundle);
  return success();
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
  if (options.emit == EmitStop::Ast)
    return emitAst(*patterns, os);
  if (options.emit == EmitStop::Mlir)
    return emitMlir(context, *patterns, fileName, os);

  if (failed(checkVariants(fileLoc(sourceMgr, context), options)))
    return failure();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      buildModule(context, *patterns, fileName);
  if (!module || failed(tile(*module, options)))
    return failure();
  if (options.emit == EmitStop::Tiled) {
    module->print(os);
    os << "\n";
    return success();
  }
  if (options.emit == EmitStop::Bundle)
    return emitBundle(*module, options, os);

  KernelConfig::Target target;
  if (failed(toGpu(*module, options, target)))
    return failure();
  switch (options.emit) {
  case EmitStop::Gpu:
    module->print(os);
    os << "\n";
    return success();
  case EmitStop::Llvm:
    if (failed(lowerToLLVMDialect(*module, target)))
      return failure();
    module->print(os);
    os << "\n";
    return success();
  case EmitStop::Ptx: {
    mlir::FailureOr<std::string> ptx = lowerToPTX(*module, target);
    if (failed(ptx))
      return failure();
    os << *ptx;
    return success();
  }
  default:
    return failure();
  }
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
}
