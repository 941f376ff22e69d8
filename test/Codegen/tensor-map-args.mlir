// s2-tensor-map-args (codegen/Passes.td): after convert-gpu-to-nvvm, the
// arguments a kernel lists in s2.tensor_map_args become by-value grid
// constants (CUtensorMap, 128 bytes, 64-byte aligned); the marker goes.
// Misuse is an error (tensor-map-args-errors.mlir).
//
// RUN: s2-opt %s --pass-pipeline='builtin.module(gpu.module(s2-tensor-map-args))' | FileCheck %s

// CHECK-LABEL: llvm.func @kernel(
// CHECK-SAME: %{{.*}}: !llvm.ptr, %{{.*}}: i32,
// CHECK-SAME: %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant},
// CHECK-SAME: %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant})
// CHECK-SAME: attributes {nvvm.kernel}
// CHECK-NOT: s2.tensor_map_args
// CHECK-LABEL: llvm.func @untouched(
// CHECK-SAME: %{{.*}}: !llvm.ptr)
// CHECK-SAME: attributes {nvvm.kernel}
module attributes {gpu.container_module} {
gpu.module @m {
  llvm.func @kernel(%q: !llvm.ptr, %tma: i32, %k: !llvm.ptr, %v: !llvm.ptr)
      attributes {nvvm.kernel, s2.tensor_map_args = array<i64: 2, 3>} {
    llvm.return
  }
  llvm.func @untouched(%q: !llvm.ptr) attributes {nvvm.kernel} {
    llvm.return
  }
}
}
