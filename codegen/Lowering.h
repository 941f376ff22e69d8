//===- Lowering.h - From GPU/NVGPU/NVVM IR to LLVM dialect, PTX and cubin -===//
//
// The upstream half of code generation: attaches an NVVM target to every
// gpu.module, lowers the kernels' nvgpu/vector/scf/gpu ops to the LLVM and
// NVVM dialects, and serialises the modules to PTX with LLVM's NVPTX back
// end (gpu-module-to-binary format=isa). Cubin comes from ptxas when it is
// installed. Pipelines are built programmatically, so the tools need no
// pass registration.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_CODEGEN_LOWERING_H
#define S2C_CODEGEN_LOWERING_H

#include "codegen/KernelBuilder.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace s2c {

/// Function attribute of a kernel (array of i64): the positions of its
/// CUtensorMap parameters, declared as !llvm.ptr and made by-value grid
/// constants by s2-tensor-map-args after convert-gpu-to-nvvm (Passes.td).
constexpr const char kTensorMapArgsAttr[] = "s2.tensor_map_args";

/// Registers what lowering needs in a context's registry: the NVVM target
/// attribute interface, LLVM IR translations and the convert-to-LLVM
/// interfaces of the dialects the kernels use. Call it (or let the lowering
/// functions call it) before running the pipelines.
void registerCodegenDialects(mlir::DialectRegistry &registry);

/// The chip and PTX features of a target ("sm_80", "+ptx70";
/// "sm_90a", "+ptx80").
const char *targetChip(KernelConfig::Target target);
const char *targetFeatures(KernelConfig::Target target);

/// Attaches #nvvm.target to every gpu.module and lowers their bodies to the
/// LLVM dialect (the `--emit=llvm` stop). Diagnostics go to the context.
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module,
                                       KernelConfig::Target target);

/// Runs lowerToLLVMDialect and gpu-module-to-binary{format=isa}; returns the
/// PTX of the (single, or first) gpu.module. The module is left holding the
/// gpu.binary.
mlir::FailureOr<std::string> lowerToPTX(mlir::ModuleOp module,
                                        KernelConfig::Target target);

/// Path of ptxas (PATH, then $CUDA_HOME/bin, then /usr/local/cuda/bin);
/// empty when it is not installed.
std::string findPtxas();

/// Assembles `ptx` with ptxas for `target` and returns the cubin. Fails with
/// `error` set when ptxas is missing or rejects the input.
mlir::FailureOr<std::vector<char>> assembleCubin(llvm::StringRef ptx,
                                                 KernelConfig::Target target,
                                                 std::string &error);

} // namespace s2c

#endif // S2C_CODEGEN_LOWERING_H
