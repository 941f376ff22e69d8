// Building blocks for TMA loads (issue 7, not used by the kernels yet),
// lowered with the same one-line pipeline as wgmma-blocks.mlir: a CUDA
// tensor map (CUtensorMap, 128 bytes) passed by value as a grid constant
// (an !llvm.ptr argument with llvm.byval, llvm.align 64 and
// nvvm.grid_constant, the `const __grid_constant__ CUtensorMap` idiom), so
// that the runtime passes &map in cuLaunchKernel's parameter array and no
// device copy of the map is needed, and a 3-D tile load (64 keys x 64
// columns of bf16, 8192 bytes) completed on an mbarrier.
//
// The kernel is an llvm.func inside the gpu.module: a gpu.func argument
// cannot carry nvvm.grid_constant (the verifier accepts it on kernel
// arguments only, and gpu.func is not an llvm.func), and convert-gpu-to-nvvm
// drops llvm.byval. Without nvvm.grid_constant LLVM copies the map to local
// memory, where TMA cannot read it.
//
// RUN: mlir-opt %s --gpu-lower-to-nvvm-pipeline="cubin-chip=sm_90a cubin-features=+ptx80 cubin-format=isa" | FileCheck %s

// CHECK-LABEL: gpu.binary @blocks
// CHECK-SAME: .param .align 64 .b8 tma_load_param_0[128]
// CHECK-SAME: mov.b64 \09[[P:%rd[0-9]+]], tma_load_param_0;
// CHECK-SAME: cvta.param.u64 \09[[MAP:%rd[0-9]+]], [[P]];
// CHECK-SAME: mbarrier.init.shared.b64
// CHECK-SAME: fence.mbarrier_init.release.cluster;
// CHECK-SAME: mbarrier.arrive.expect_tx.shared.b64
// CHECK-SAME: cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%rd{{[0-9]+}}], [[[MAP]], {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}], [tile_bar];
// CHECK-SAME: mbarrier.try_wait.parity.shared.b64
// CHECK-NOT: .local

module attributes {gpu.container_module} {
gpu.module @blocks {
  llvm.mlir.global internal @k_tile() {addr_space = 3 : i32, alignment = 1024 : i64} : !llvm.array<8192 x i8>
  llvm.mlir.global internal @tile_bar() {addr_space = 3 : i32, alignment = 8 : i64} : i64

  // tma_load(map, out, col, head, key): thread 0 loads the box at (col,
  // head, key) (innermost first); every thread waits on phase 0 and stores
  // one word of the tile.
  llvm.func @tma_load(%map: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
                      %out: !llvm.ptr<1>, %col: i32, %head: i32, %key: i32) attributes {nvvm.kernel} {
    %tile = llvm.mlir.addressof @k_tile : !llvm.ptr<3>
    %bar = llvm.mlir.addressof @tile_bar : !llvm.ptr<3>
    %tid = nvvm.read.ptx.sreg.tid.x : i32
    %zero = llvm.mlir.constant(0 : i32) : i32
    %one = llvm.mlir.constant(1 : i32) : i32
    %bytes = llvm.mlir.constant(8192 : i32) : i32
    %ticks = llvm.mlir.constant(10000000 : i32) : i32
    %first = llvm.icmp "eq" %tid, %zero : i32
    llvm.cond_br %first, ^init, ^ready
  ^init:
    nvvm.mbarrier.init %bar, %one : !llvm.ptr<3>, i32
    nvvm.fence.mbarrier.init
    llvm.br ^ready
  ^ready:
    nvvm.barrier0
    llvm.cond_br %first, ^issue, ^wait
  ^issue:
    nvvm.mbarrier.arrive.expect_tx %bar, %bytes : !llvm.ptr<3>, i32
    %dst = llvm.addrspacecast %tile : !llvm.ptr<3> to !llvm.ptr<7>
    nvvm.cp.async.bulk.tensor.shared.cluster.global %dst, %map, %bar, box[%col, %head, %key] : !llvm.ptr<7>, !llvm.ptr
    llvm.br ^wait
  ^wait:
    nvvm.mbarrier.try_wait.parity %bar, %zero, %ticks : !llvm.ptr<3>, i32, i32
    %i = llvm.zext %tid : i32 to i64
    %src = llvm.getelementptr %tile[%i] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i32
    %v = llvm.load %src : !llvm.ptr<3> -> i32
    %o = llvm.getelementptr %out[%i] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i32
    llvm.store %v, %o : i32, !llvm.ptr<1>
    llvm.return
  }
}
}
