//===- Passes.td - Passes of the code generator ------------*- tablegen -*-===//
//
// convert-s2-to-gpu: the tiled s2 IR (s2.pattern + s2.schedule) to a
// gpu.module with the forward kernel and the merge kernel.
// s2-tensor-map-args: after convert-gpu-to-nvvm, the tensor-map parameters
// of the kernels become by-value grid constants.
// `registerS2CodegenPasses()` registers both.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_CODEGEN_PASSES_TD
#define S2C_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertS2ToGPU : Pass<"convert-s2-to-gpu", "::mlir::ModuleOp"> {
  let summary = "emit the forward attention kernel of each scheduled pattern "
                "and the merge kernel";
  let description = [{
    For every `s2.schedule` (written by s2-tile, optionally refined by
    s2-merge-q), reads the schedule (s2c::scheduleFromOp) and its pattern
    (s2c::patternFromOp) and appends to `gpu.module @s2_kernels` one
    `gpu.func` implementing docs/bundle.md's kernel ABI (version 2) with the
    FlashAttention-2 algorithm on mma.sync tensor cores (see
    docs/kernels.md), followed by the merge kernel of its dtype and head dim
    (docs/bundle.md, "Merge kernel ABI"; one per dtype and head dim however
    many schedules use it). Tile sizes come from the schedule (BLOCK_M / 16
    warps); nothing about tiling is chosen here. The s2 ops stay: the bundle
    writer needs the pattern. Unsupported settings (head dim other than 64
    or 128, dtype other than bf16 or f16) are errors.

    ```mlir
    s2.pattern @c heads 1 kv_heads 1 block 64 causal {
      s2.dense heads [0]
    }
    s2.schedule for @c heads 1 tiles 64 x 64 causal {
      s2.group heads [0] {
        s2.phase tiles [0, end) {
          s2.range from begin to t + 1 full
        }
      }
    }
    // convert-s2-to-gpu{dtype=bf16 head-dim=64} adds:
    gpu.module @s2_kernels {
      gpu.func @s2_fwd_sm80_bf16_d64_m64n64(%q: !llvm.ptr, ... 29 args)
          kernel attributes {known_block_size = array<i32: 128, 1, 1>} {
        ... scf.for over the flattened spans: cp.async K/V prefetch,
        ... 32 + 32 nvvm.mma.sync per step, online softmax ...
      }
      gpu.func @s2_merge_bf16_d64(%o: !llvm.ptr, ... 15 args)
          kernel attributes {known_block_size = array<i32: 128, 1, 1>} {
        ... one row chunk of 8 elements a thread: log-sum-exp merge ...
      }
    }
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::memref::MemRefDialect", "::mlir::nvgpu::NVGPUDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"sm_80\"",
           "sm_80 or sm_90a (both use mma.sync in this version)">,
    Option<"dtype", "dtype", "std::string", /*default=*/"\"\"",
           "bf16 or f16 (empty: the pattern's dtype, else bf16)">,
    Option<"mma", "mma", "std::string", /*default=*/"\"sync\"",
           "sync (mma.sync), wgmma (Hopper warpgroup MMA with P V "
           "overlapped, codegen/HopperKernel.h; target sm_90a only) or "
           "wgmma-serial (wgmma without the overlap)">,
    Option<"headDim", "head-dim", "int64_t", /*default=*/"0",
           "64 or 128 (0: the pattern's head_dim, else 128)">,
    Option<"keyTiles", "key-tiles", "int64_t", /*default=*/"0",
           "schedule key tiles a step of the wgmma kernel: 1, 2 (key-tile "
           "pairs, the warp-specialised 128x64 kernel at head dim 128) or "
           "0 (the builder's choice, codegen/HopperKernel.h)">,
  ];
}

def TensorMapArgs : Pass<"s2-tensor-map-args", "::mlir::gpu::GPUModuleOp"> {
  let summary = "make the tensor-map parameters of lowered kernels by-value "
                "grid constants";
  let description = [{
    A kernel that loads with the tensor memory accelerator takes its
    CUtensorMaps by value, as `const __grid_constant__ CUtensorMap`
    parameters: the runtime passes a pointer to the 128 host bytes in
    cuLaunchKernel's parameter array and no device copy is needed (launches
    stay capturable in CUDA graphs). A `gpu.func` cannot say so: its
    arguments cannot carry `nvvm.grid_constant`, and convert-gpu-to-nvvm
    drops `llvm.byval`. The kernel builders therefore declare such a
    parameter as `!llvm.ptr` and list its position in the function attribute
    `s2.tensor_map_args` (an array of i64); this pass, run on the lowered
    `llvm.func`s, gives each listed argument `llvm.byval =
    !llvm.array<128 x i8>`, `llvm.align = 64` and `nvvm.grid_constant`, and
    removes the marker. The NVPTX back end then declares a `.param .align 64
    .b8 [128]` parameter and addresses it with `cvta.param` (without the
    grid-constant mark LLVM copies a by-value argument to local memory,
    where TMA cannot read it). A listed position that is not a `!llvm.ptr`
    argument of a kernel is an error; a `gpu.func` still carrying the marker
    (the pass ran too early) is one too.

    ```mlir
    llvm.func @k(%q: !llvm.ptr, %map: !llvm.ptr) attributes
        {nvvm.kernel, s2.tensor_map_args = array<i64: 1>}
    // becomes
    llvm.func @k(%q: !llvm.ptr, %map: !llvm.ptr {llvm.align = 64 : i64,
        llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant})
        attributes {nvvm.kernel}
    ```
  }];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect", "::mlir::NVVM::NVVMDialect"
  ];
}

#endif // S2C_CODEGEN_PASSES_TD
