//===- BundleWriter.cpp - Kernels of a tiled module into one bundle -------===//
//
// Builds each kernel variant in a module of its own (kernel names carry the
// configuration, not the pattern, and lowering consumes the module), lowers
// it to PTX, optionally assembles a cubin, and fills an s2::Bundle. Each
// forward kernel is followed by the merge kernel of its (target, dtype,
// head dim), built and lowered in a module of its own too, so that its PTX
// holds only the merge entry. Each target also gets one copy kernel
// (`s2_copy`, docs/bundle.md "Copy kernel ABI"), in a module of its own.
//
//===----------------------------------------------------------------------===//

#include "codegen/BundleWriter.h"

#include "codegen/CopyKernel.h"
#include "codegen/Lowering.h"
#include "dialect/IR/PatternConversion.h"
#include "dialect/IR/S2TiledOps.h"

#include <algorithm>

using namespace mlir;

namespace s2c {

std::vector<KernelConfig> selectVariants(const s2::Pattern &pattern,
                                         const VariantOptions &options) {
  std::vector<KernelConfig::Target> targets = options.targets;
  if (targets.empty())
    targets = {KernelConfig::Target::Sm80, KernelConfig::Target::Sm90a};
  std::vector<s2::DType> dtypes = options.dtypes;
  if (dtypes.empty())
    dtypes = pattern.dtype != s2::DType::Any
                 ? std::vector<s2::DType>{pattern.dtype}
                 : std::vector<s2::DType>{s2::DType::BF16, s2::DType::F16};
  std::vector<int64_t> dims = options.headDims;
  if (dims.empty())
    dims = pattern.headDim ? std::vector<int64_t>{pattern.headDim}
                           : std::vector<int64_t>{64, 128};
  std::vector<KernelConfig> configs;
  for (KernelConfig::Target t : targets)
    for (s2::DType d : dtypes)
      for (int64_t h : dims) {
        KernelConfig c;
        c.target = t;
        c.dtype = d;
        c.headDim = h;
        configs.push_back(c);
      }
  return configs;
}

/// The single scheduled pattern of a tiled module.
static LogicalResult findScheduled(ModuleOp tiled, PatternOp &patternOp,
                                   ScheduleOp &scheduleOp) {
  SmallVector<ScheduleOp> schedules(tiled.getOps<ScheduleOp>());
  if (schedules.size() != 1)
    return tiled.emitError()
           << "a bundle holds exactly one scheduled pattern, found "
           << schedules.size() << "; choose one with '--pattern NAME'";
  scheduleOp = schedules.front();
  patternOp = scheduleOp.getPatternOp();
  return success();
}

FailureOr<s2::Bundle> buildBundle(ModuleOp tiled,
                                  const VariantOptions &options) {
  PatternOp patternOp;
  ScheduleOp scheduleOp;
  if (failed(findScheduled(tiled, patternOp, scheduleOp)))
    return failure();
  s2::Pattern pattern = patternFromOp(patternOp);
  s2::Schedule schedule = scheduleFromOp(scheduleOp);

  s2::Bundle bundle;
  s2::setBundlePattern(bundle, pattern);
  bundle.blockM = int32_t(schedule.tiles.blockM);
  bundle.blockN = int32_t(schedule.tiles.blockN);
  bundle.maxSeqLen = schedule.maxSeqLen;
  bundle.tableData = packScheduleTables(schedule);
  if (!bundle.tableData.empty())
    bundle.tables.push_back({"schedule", 0, bundle.tableData.size()});
  bundle.settings.push_back({"compiler", "s2c"});

  std::string ptxas = options.cubin ? findPtxas() : std::string();
  // Lowers the kernel `build` adds to a fresh module and appends it.
  auto addKernel = [&](const KernelConfig &config,
                       function_ref<FailureOr<KernelInfo>(ModuleOp)> build)
      -> LogicalResult {
    OwningOpRef<ModuleOp> module = ModuleOp::create(tiled.getLoc());
    FailureOr<KernelInfo> info = build(*module);
    if (failed(info))
      return failure();
    FailureOr<std::string> ptx = lowerToPTX(*module, config.target);
    if (failed(ptx))
      return failure();
    s2::BundleKernel kernel;
    kernel.kind = info->kind;
    kernel.name = info->name;
    kernel.target = targetName(config.target);
    kernel.dtype = config.dtype;
    kernel.headDim = int32_t(config.headDim);
    kernel.blockM = int32_t(info->config.blockM);
    kernel.blockN = int32_t(info->config.blockN);
    kernel.threads = int32_t(info->threads);
    kernel.sharedBytes = int32_t(info->sharedBytes);
    kernel.abiVersion = info->abiVersion;
    kernel.ptx = std::move(*ptx);
    if (!ptxas.empty()) {
      std::string error;
      FailureOr<std::vector<char>> cubin =
          assembleCubin(kernel.ptx, config.target, error);
      if (failed(cubin))
        return tiled.emitError()
               << "ptxas rejected kernel '" << kernel.name << "': " << error;
      kernel.cubin.assign(cubin->begin(), cubin->end());
    }
    bundle.kernels.push_back(std::move(kernel));
    return success();
  };
  std::vector<KernelConfig::Target> copyTargets;
  for (const KernelConfig &base : selectVariants(pattern, options)) {
    KernelConfig config = base;
    if (std::find(copyTargets.begin(), copyTargets.end(), config.target) ==
        copyTargets.end())
      copyTargets.push_back(config.target);
    applyScheduleTiles(config, schedule);
    if (config.target == KernelConfig::Target::Sm90a &&
        options.mma != MmaKind::Sync)
      config.keyTiles = options.keyTiles;
    if (failed(addKernel(config,
                         [&](ModuleOp m) {
                           return buildForwardKernelWith(m, pattern, schedule,
                                                         config, options.mma);
                         })) ||
        failed(addKernel(
            config, [&](ModuleOp m) { return buildMergeKernel(m, config); })))
      return failure();
  }
  // One copy kernel per target: it moves bytes, so no dtype or head dim.
  for (KernelConfig::Target target : copyTargets) {
    KernelConfig config;
    config.target = target;
    config.headDim = 0;
    if (failed(addKernel(
            config, [&](ModuleOp m) { return buildCopyKernel(m, target); })))
      return failure();
  }
  std::string invalid = s2::validateBundle(bundle);
  if (!invalid.empty())
    return tiled.emitError() << "internal error: invalid bundle: " << invalid;
  return bundle;
}

} // namespace s2c
