//===- Lowering.cpp - From GPU/NVGPU/NVVM IR to LLVM dialect, PTX, cubin --===//
//
// The pass pipeline is the one recorded in /work/shared/TOOLCHAIN.md:
// nvvm-attach-target, then inside each gpu.module convert-nvgpu-to-nvvm,
// convert-vector-to-scf, convert-scf-to-cf, convert-nvvm-to-llvm,
// expand-strided-metadata, lower-affine, convert-gpu-to-nvvm,
// s2-tensor-map-args (ours: tensor-map parameters by value), canonicalize,
// cse, reconcile-unrealized-casts; then gpu-module-to-binary{format=isa}.
//
//===----------------------------------------------------------------------===//

#include "codegen/Lowering.h"

#include "codegen/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;

namespace s2c {

void registerCodegenDialects(DialectRegistry &registry) {
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
}

const char *targetChip(KernelConfig::Target target) {
  return target == KernelConfig::Target::Sm90a ? "sm_90a" : "sm_80";
}

const char *targetFeatures(KernelConfig::Target target) {
  return target == KernelConfig::Target::Sm90a ? "+ptx80" : "+ptx70";
}

static void prepareContext(ModuleOp module) {
  DialectRegistry registry;
  registerCodegenDialects(registry);
  module.getContext()->appendDialectRegistry(registry);
}

static void addLLVMLowering(PassManager &pm, KernelConfig::Target target) {
  GpuNVVMAttachTargetOptions attach;
  attach.chip = targetChip(target);
  attach.features = targetFeatures(target);
  attach.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(attach));
  OpPassManager &gm = pm.nest<gpu::GPUModuleOp>();
  gm.addPass(createConvertNVGPUToNVVMPass());
  gm.addPass(createConvertVectorToSCFPass());
  gm.addPass(createSCFToControlFlowPass());
  gm.addPass(createConvertNVVMToLLVMPass());
  gm.addPass(memref::createExpandStridedMetadataPass());
  gm.addPass(createLowerAffinePass());
  gm.addPass(createConvertGpuOpsToNVVMOps());
  gm.addPass(createTensorMapArgs());
  gm.addPass(createCanonicalizerPass());
  gm.addPass(createCSEPass());
  gm.addPass(createReconcileUnrealizedCastsPass());
}

LogicalResult lowerToLLVMDialect(ModuleOp module, KernelConfig::Target target) {
  prepareContext(module);
  PassManager pm(module.getContext());
  addLLVMLowering(pm, target);
  return pm.run(module);
}

FailureOr<std::string> lowerToPTX(ModuleOp module,
                                  KernelConfig::Target target) {
  prepareContext(module);
  PassManager pm(module.getContext());
  addLLVMLowering(pm, target);
  GpuModuleToBinaryPassOptions toBinary;
  toBinary.compilationTarget = "isa";
  pm.addPass(createGpuModuleToBinaryPass(toBinary));
  if (failed(pm.run(module)))
    return failure();
  for (auto bin : module.getOps<gpu::BinaryOp>()) {
    for (Attribute a : bin.getObjects())
      if (auto obj = dyn_cast<gpu::ObjectAttr>(a))
        return obj.getObject().getValue().str();
  }
  return emitError(module.getLoc())
         << "no gpu.binary after serialisation; expected one gpu.module";
}

std::string findPtxas() {
  if (auto p = llvm::sys::findProgramByName("ptxas"))
    return *p;
  SmallVector<StringRef, 2> dirs;
  std::string cudaBin;
  if (const char *home = std::getenv("CUDA_HOME")) {
    cudaBin = std::string(home) + "/bin";
    dirs.push_back(cudaBin);
  }
  dirs.push_back("/usr/local/cuda/bin");
  if (auto p = llvm::sys::findProgramByName("ptxas", dirs))
    return *p;
  return "";
}

FailureOr<std::vector<char>>
assembleCubin(StringRef ptx, KernelConfig::Target target, std::string &error) {
  std::string ptxas = findPtxas();
  if (ptxas.empty()) {
    error = "ptxas not found in PATH, $CUDA_HOME/bin or /usr/local/cuda/bin";
    return failure();
  }
  SmallString<128> in, out;
  if (llvm::sys::fs::createTemporaryFile("s2c", "ptx", in) ||
      llvm::sys::fs::createTemporaryFile("s2c", "cubin", out)) {
    error = "cannot create temporary files for ptxas";
    return failure();
  }
  auto cleanup = [&]() {
    llvm::sys::fs::remove(in);
    llvm::sys::fs::remove(out);
  };
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(in, ec);
    if (ec) {
      error = "cannot write '" + in.str().str() + "': " + ec.message();
      cleanup();
      return failure();
    }
    os << ptx;
  }
  std::string arch = std::string("-arch=") + targetChip(target);
  SmallVector<StringRef, 6> argv = {ptxas, arch, "-O3", in, "-o", out};
  std::string msg;
  int rc = llvm::sys::ExecuteAndWait(ptxas, argv, std::nullopt, {}, 0, 0, &msg);
  if (rc != 0) {
    error = "ptxas failed (exit " + std::to_string(rc) + ")" +
            (msg.empty() ? "" : ": " + msg);
    cleanup();
    return failure();
  }
  auto buf = llvm::MemoryBuffer::getFile(out);
  if (!buf) {
    error = "cannot read the cubin ptxas wrote";
    cleanup();
    return failure();
  }
  std::vector<char> bytes((*buf)->getBufferStart(), (*buf)->getBufferEnd());
  cleanup();
  return bytes;
}

} // namespace s2c
