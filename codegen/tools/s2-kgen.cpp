//===- s2-kgen.cpp - Build one forward kernel from a preset schedule ------===//
//
// A small test driver for the kernel builder, independent of the frontend
// and of s2-tile: builds one of the hand-made patterns/schedules of
// Presets.h, emits the kernel and prints it at the requested stop:
//   --emit=gpu   the gpu.module (nvgpu/nvvm/scf/vector ops)
//   --emit=llvm  the gpu.module lowered to the LLVM/NVVM dialects
//   --emit=ptx   PTX text (gpu-module-to-binary format=isa)
// --time prints how long building and lowering took to stderr;
// --tile-builder schedules the preset's pattern with s2::buildSchedule;
// --kernel=merge builds the merge kernel of the dtype and head dim instead,
// --kernel=copy the copy kernel (--kernel=all: all three, in one
// gpu.module).
//
//===----------------------------------------------------------------------===//

#include "codegen/CopyKernel.h"
#include "codegen/HopperKernel.h"
#include "codegen/KernelBuilder.h"
#include "codegen/Lowering.h"
#include "codegen/tools/Presets.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace cl = llvm::cl;

static cl::opt<std::string> preset("preset",
                                   cl::desc("causal|dense|s2|masked|table"),
                                   cl::init("causal"));
static cl::opt<std::string> emit("emit", cl::desc("gpu|llvm|ptx"),
                                 cl::init("gpu"));
static cl::opt<std::string> target("target", cl::desc("sm_80|sm_90a"),
                                   cl::init("sm_80"));
static cl::opt<std::string> dtype("dtype", cl::desc("bf16|f16"),
                                  cl::init("bf16"));
static cl::opt<int64_t> headDim("head-dim", cl::init(64));
static cl::opt<int64_t> heads("heads", cl::init(4));
static cl::opt<int64_t> kvHeads("kv-heads", cl::init(0),
                                cl::desc("0 = same as --heads"));
static cl::opt<int64_t> block("block", cl::init(64));
static cl::opt<int64_t> local("local", cl::init(4));
static cl::opt<int64_t> stride("stride", cl::init(4));
static cl::opt<int64_t> blockM("block-m", cl::init(64));
static cl::opt<int64_t> blockN("block-n", cl::init(64));
static cl::opt<int64_t> warps("warps", cl::init(4));
static cl::opt<int64_t> stages("stages", cl::init(2));
static cl::opt<int64_t>
    keyTiles("key-tiles", cl::init(0),
             cl::desc("key tiles a step of the wgmma kernel (0: the "
                      "builder's choice)"));
static cl::opt<bool> useTileBuilder(
    "tile-builder",
    cl::desc("schedule the preset's pattern with s2::buildSchedule instead "
             "of the hand-made schedule"));
static cl::opt<std::string>
    patternOut("pattern-out",
               cl::desc("also write the pattern (s2::serializePattern) here"),
               cl::init(""));
static cl::opt<std::string> kernelKind("kernel",
                                       cl::desc("forward|merge|copy|all"),
                                       cl::init("forward"));
static cl::opt<std::string>
    mmaKind("mma",
            cl::desc("sync|wgmma|wgmma-serial: the forward kernel's MMA "
                     "instructions (wgmma: sm_90a only)"),
            cl::init("sync"));
static cl::opt<bool> timeIt("time", cl::desc("print build/lower times"));
static cl::opt<std::string> output("o", cl::init("-"), cl::desc("output file"));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "s2c kernel builder test driver\n");

  s2c::presets::Params q;
  q.heads = heads;
  q.kvHeads = kvHeads > 0 ? int64_t(kvHeads) : int64_t(heads);
  q.block = block;
  q.local = local;
  q.stride = stride;
  q.blockM = blockM;
  q.blockN = blockN;
  s2::Pattern pattern;
  s2::Schedule schedule;
  if (!s2c::presets::build(preset, q, pattern, schedule)) {
    llvm::errs() << "error: unknown preset '" << preset
                 << "' for these sizes; expected causal, dense, s2, masked "
                    "or table\n";
    return 1;
  }

  if (!patternOut.empty()) {
    std::string err;
    auto pf = mlir::openOutputFile(patternOut, &err);
    if (!pf) {
      llvm::errs() << "error: " << err << "\n";
      return 1;
    }
    pf->os() << s2::serializePattern(pattern);
    pf->keep();
  }
  if (useTileBuilder) {
    s2::TileConfig tiles;
    tiles.blockM = blockM;
    tiles.blockN = blockN;
    std::string err;
    if (!s2::buildSchedule(pattern, tiles, schedule, err)) {
      llvm::errs() << "error: " << err << "\n";
      return 1;
    }
  }

  s2c::KernelConfig cfg;
  if (target == "sm_80")
    cfg.target = s2c::KernelConfig::Target::Sm80;
  else if (target == "sm_90a")
    cfg.target = s2c::KernelConfig::Target::Sm90a;
  else {
    llvm::errs() << "error: unknown target '" << target
                 << "'; expected sm_80 or sm_90a\n";
    return 1;
  }
  if (dtype == "bf16")
    cfg.dtype = s2::DType::BF16;
  else if (dtype == "f16")
    cfg.dtype = s2::DType::F16;
  else
    cfg.dtype = s2::DType::Any;
  cfg.headDim = headDim;
  cfg.blockM = blockM;
  cfg.blockN = blockN;
  cfg.numWarps = warps;
  cfg.keyTiles = keyTiles;
  cfg.stages = stages;

  mlir::MLIRContext ctx;
  auto t0 = std::chrono::steady_clock::now();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx));
  if (kernelKind != "forward" && kernelKind != "merge" &&
      kernelKind != "copy" && kernelKind != "all") {
    llvm::errs() << "error: unknown kernel kind '" << kernelKind
                 << "'; expected forward, merge, copy or all\n";
    return 1;
  }
  std::optional<s2c::MmaKind> mma = s2c::parseMmaKind(mmaKind);
  if (!mma) {
    llvm::errs() << "error: unknown mma kind '" << mmaKind
                 << "'; expected sync, wgmma or wgmma-serial\n";
    return 1;
  }
  mlir::FailureOr<s2c::KernelInfo> info =
      kernelKind == "merge" ? s2c::buildMergeKernel(*module, cfg)
      : kernelKind == "copy"
          ? s2c::buildCopyKernel(*module, cfg.target)
          : (*mma != s2c::MmaKind::Sync
                 ? s2c::buildWgmmaForwardKernel(*module, pattern, schedule, cfg,
                                                *mma)
                 : s2c::buildForwardKernel(*module, pattern, schedule, cfg));
  if (mlir::failed(info))
    return 1;
  if (kernelKind == "all" &&
      (mlir::failed(s2c::buildMergeKernel(*module, cfg)) ||
       mlir::failed(s2c::buildCopyKernel(*module, cfg.target))))
    return 1;
  auto t1 = std::chrono::steady_clock::now();

  std::string err;
  auto out = mlir::openOutputFile(output, &err);
  if (!out) {
    llvm::errs() << "error: " << err << "\n";
    return 1;
  }
  if (emit == "gpu") {
    module->print(out->os());
  } else if (emit == "llvm") {
    if (mlir::failed(s2c::lowerToLLVMDialect(*module, cfg.target)))
      return 1;
    module->print(out->os());
  } else if (emit == "ptx") {
    mlir::FailureOr<std::string> ptx = s2c::lowerToPTX(*module, cfg.target);
    if (mlir::failed(ptx))
      return 1;
    out->os() << *ptx;
  } else {
    llvm::errs() << "error: unknown stop '" << emit
                 << "'; expected gpu, llvm or ptx\n";
    return 1;
  }
  auto t2 = std::chrono::steady_clock::now();
  if (timeIt) {
    auto ms = [](auto a, auto b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    llvm::errs() << "kernel " << info->name << ": build " << ms(t0, t1)
                 << " ms, lower " << ms(t1, t2) << " ms, threads "
                 << info->threads << ", shared " << info->sharedBytes
                 << " bytes\n";
  }
  out->keep();
  return 0;
}
