
// Building blocks for warp specialisation (issue 7, FlashAttention-3's
// producer/consumer split; not used by the kernels yet, docs/kernels.md
// "Toward warp specialisation"): one kernel of 256 threads = 2 warpgroups, written directly in the LLVM and
// NVVM dialects (an llvm.func inside the gpu.module, as in
// tma-grid-constant.mlir, so the CUtensorMap can be a grid constant).
//
//  - warpgroup 1 (threads 128-255) is the producer: setmaxnreg.dec 24, then
//    one elect.sync-elected lane of warp 4 streams n key tiles (4-D TMA box,
//    64 cols x 1 head x 128 keys x 1 batch of bf16 = 16 KiB) through a ring of
//    3 stages: wait empty[s] (parity ^ 1), arrive.expect_tx full[s], TMA load.
//  - warpgroup 0 (threads 0-127) is the consumer: setmaxnreg.inc 232, then per
//    tile: wait full[s] (parity), 2 x 4 wgmma m64n128k16 (bf16 -> f32, 128-byte
//    swizzle descriptors) into two loop-carried 64-f32 accumulators (128 live
//    f32 per thread), commit + wait 0, then one arrival on empty[s] per warp
//    (bar.warp.sync + elect.sync; empty[s] initialised with count 4).
//  - after the loop the consumers exchange a value through shared memory with
//    the named barrier `bar.sync 1, 128` (warpgroup 0 only; bar.sync 0 would
//    also wait for the producer warpgroup, which has exited).
//  - nvvm.maxntid 256 + nvvm.minctasm 2 fix the register count at entry to
//    128 (65536 / (2 * 256)); 24 + 232 = 2 * 128 keeps the CTA's pool balanced.
//    Not checked here (this test checks the PTX), seen by hand with ptxas
//    13.0 on 2026-11-26: ptxas -v: "Used 128 registers, used 2 barriers, 49712 bytes smem",
//    0 bytes spill; the consumer region uses R0-R151 (nvdisasm). Without
//    minctasm ptxas prints C7508 "'setmaxnreg' ignored; unable to determine
//    register count at entry."
//
// RUN: mlir-opt %s --gpu-lower-to-nvvm-pipeline="cubin-chip=sm_90a cubin-features=+ptx80 cubin-format=isa" | FileCheck %s

// CHECK-LABEL: gpu.binary @blocks
// CHECK-SAME: .param .align 64 .b8 ws_kernel_param_0[128]
// CHECK-SAME: .maxntid 256, 1, 1
// CHECK-SAME: .minnctapersm 2
// CHECK-SAME: mbarrier.init.shared.b64 \09[full_bar], [[ONE:%r[0-9]+]];
// CHECK-SAME: mbarrier.init.shared.b64 \09[empty_bar], [[FOUR:%r[0-9]+]];
// CHECK-SAME: fence.mbarrier_init.release.cluster;
// CHECK-SAME: bar.sync \090;
// CHECK-SAME: setmaxnreg.inc.sync.aligned.u32 \09232;
// CHECK-SAME: mbarrier.try_wait.parity.shared.b64 P1, [%r{{[0-9]+}}], %r{{[0-9]+}}, 10000000;
// CHECK-SAME: wgmma.fence.sync.aligned;
// CHECK-COUNT-8: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-SAME: wgmma.commit_group.sync.aligned;
// CHECK-SAME: wgmma.wait_group.sync.aligned \090;
// CHECK-SAME: bar.warp.sync \09-1;
// CHECK-SAME: elect.sync \09%r{{[0-9]+}}|%p{{[0-9]+}}, -1;
// CHECK-SAME: mbarrier.arrive.shared.b64 \09%rd{{[0-9]+}}, [%rd{{[0-9]+}}];
// CHECK-SAME: setmaxnreg.dec.sync.aligned.u32 \0924;
// CHECK-SAME: elect.sync
// CHECK-SAME: mbarrier.try_wait.parity.shared.b64
// CHECK-SAME: mbarrier.arrive.expect_tx.shared.b64 %rd{{[0-9]+}}, [%rd{{[0-9]+}}], %r{{[0-9]+}};
// CHECK-SAME: cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%rd{{[0-9]+}}], [%rd{{[0-9]+}}, {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}], [%rd{{[0-9]+}}];
// CHECK-SAME: bar.sync \091, 128;
// CHECK-NOT: .local
!acc = !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
module attributes {gpu.container_module} {
gpu.module @blocks {
  // Ring of 3 stages, each one TMA box of 128 keys x 64 bf16 columns (16 KiB, 128-byte swizzle).
  llvm.mlir.global internal @ring() {addr_space = 3 : i32, alignment = 1024 : i64} : !llvm.array<49152 x i8>
  llvm.mlir.global internal @full_bar() {addr_space = 3 : i32, alignment = 8 : i64} : !llvm.array<3 x i64>
  llvm.mlir.global internal @empty_bar() {addr_space = 3 : i32, alignment = 8 : i64} : !llvm.array<3 x i64>
  llvm.mlir.global internal @xchg() {addr_space = 3 : i32, alignment = 4 : i64} : !llvm.array<128 x f32>

  // ws_kernel(map, out, n, head, batch): 256 threads. Warpgroup 1 (threads 128-255)
  // produces: one elected thread of warp 4 streams n key tiles through the ring
  // with TMA. Warpgroup 0 consumes: per tile, waits full[s], runs wgmma
  // m64n128k16 x 4 k-steps into each accumulator, drains, and releases empty[s].
  llvm.func @ws_kernel(%map: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
                       %out: !llvm.ptr<1>, %n: i32, %head: i32, %batch: i32) attributes {nvvm.kernel, nvvm.maxntid = array<i32: 256, 1, 1>, nvvm.minctasm = 2 : i32} {
    %tid = nvvm.read.ptx.sreg.tid.x : i32
    %c0 = llvm.mlir.constant(0 : i32) : i32
    %c1 = llvm.mlir.constant(1 : i32) : i32
    %c3 = llvm.mlir.constant(3 : i32) : i32
    %c4 = llvm.mlir.constant(4 : i32) : i32
    %c5 = llvm.mlir.constant(5 : i32) : i32
    %c7 = llvm.mlir.constant(7 : i32) : i32
    %c128 = llvm.mlir.constant(128 : i32) : i32
    %c127 = llvm.mlir.constant(127 : i32) : i32
    %cempty = llvm.mlir.constant(4 : i32) : i32
    %stage_bytes = llvm.mlir.constant(16384 : i32) : i32
    %ticks = llvm.mlir.constant(10000000 : i32) : i32
    %cm1 = llvm.mlir.constant(-1 : i32) : i32
    %ring = llvm.mlir.addressof @ring : !llvm.ptr<3>
    %full = llvm.mlir.addressof @full_bar : !llvm.ptr<3>
    %empty = llvm.mlir.addressof @empty_bar : !llvm.ptr<3>
    %xchg = llvm.mlir.addressof @xchg : !llvm.ptr<3>
    %first = llvm.icmp "eq" %tid, %c0 : i32
    llvm.cond_br %first, ^init, ^ready
  ^init:
    // full[s]: 1 arrival (the producer's arrive.expect_tx) + the TMA bytes.
    // empty[s]: 4 arrivals (one elected lane per consumer warp).
    %f0 = llvm.getelementptr %full[0] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
    nvvm.mbarrier.init %f0, %c1 : !llvm.ptr<3>, i32
    %e0 = llvm.getelementptr %empty[0] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
    nvvm.mbarrier.init %e0, %cempty : !llvm.ptr<3>, i32
    %f1 = llvm.getelementptr %full[1] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
    nvvm.mbarrier.init %f1, %c1 : !llvm.ptr<3>, i32
    %e1 = llvm.getelementptr %empty[1] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
    nvvm.mbarrier.init %e1, %cempty : !llvm.ptr<3>, i32
    %f2 = llvm.getelementptr %full[2] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
    nvvm.mbarrier.init %f2, %c1 : !llvm.ptr<3>, i32
    %e2 = llvm.getelementptr %empty[2] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
    nvvm.mbarrier.init %e2, %cempty : !llvm.ptr<3>, i32
    nvvm.fence.mbarrier.init
    llvm.br ^ready
  ^ready:
    // Last CTA-wide barrier (bar.sync 0): every thread sees initialised mbarriers.
    nvvm.barrier0
    %wg = llvm.lshr %tid, %c7 : i32
    %cpwg = llvm.mlir.constant(1 : i32) : i32
    %is_producer = llvm.icmp "eq" %wg, %cpwg : i32
    llvm.cond_br %is_producer, ^producer, ^consumer

  ^producer:
    nvvm.setmaxregister decrease 24
    %warp = llvm.lshr %tid, %c5 : i32
    %pw = llvm.mlir.constant(4 : i32) : i32
    %is_w4 = llvm.icmp "eq" %warp, %pw : i32
    llvm.cond_br %is_w4, ^p_warp, ^p_done
  ^p_warp:
    %leader = nvvm.elect.sync -> i1
    llvm.cond_br %leader, ^p_loop(%c0 : i32), ^p_done
  ^p_loop(%i: i32):
    %p_more = llvm.icmp "slt" %i, %n : i32
    llvm.cond_br %p_more, ^p_body, ^p_done
  ^p_body:
    %s = llvm.urem %i, %c3 : i32
    %round = llvm.udiv %i, %c3 : i32
    %par = llvm.and %round, %c1 : i32
    // Producer waits on the opposite parity: the first pass over a fresh
    // empty barrier (phase 0 in progress) returns at once.
    %epar = llvm.xor %par, %c1 : i32
    %eb = llvm.getelementptr %empty[%s] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i64
    nvvm.mbarrier.try_wait.parity %eb, %epar, %ticks : !llvm.ptr<3>, i32, i32
    %fb = llvm.getelementptr %full[%s] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i64
    nvvm.mbarrier.arrive.expect_tx %fb, %stage_bytes : !llvm.ptr<3>, i32
    %off = llvm.mul %s, %stage_bytes : i32
    %dst = llvm.getelementptr %ring[%off] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8
    %dst7 = llvm.addrspacecast %dst : !llvm.ptr<3> to !llvm.ptr<7>
    %key = llvm.mul %i, %c128 : i32
    // 4-D box (col, head, key, batch), innermost first: 64 x 1 x 128 x 1 bf16.
    nvvm.cp.async.bulk.tensor.shared.cluster.global %dst7, %map, %fb, box[%c0, %head, %key, %batch] : !llvm.ptr<7>, !llvm.ptr
    %i_next = llvm.add %i, %c1 : i32
    llvm.br ^p_loop(%i_next : i32)
  ^p_done:
    llvm.return

  ^consumer:
    nvvm.setmaxregister increase 232
    %z = llvm.mlir.zero : !acc
    llvm.br ^c_loop(%c0, %z, %z : i32, !acc, !acc)
  ^c_loop(%j: i32, %a0: !acc, %a1: !acc):
    %c_more = llvm.icmp "slt" %j, %n : i32
    llvm.cond_br %c_more, ^c_body, ^c_exit
  ^c_body:
    %cs = llvm.urem %j, %c3 : i32
    %cround = llvm.udiv %j, %c3 : i32
    %cpar = llvm.and %cround, %c1 : i32
    %cfb = llvm.getelementptr %full[%cs] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i64
    nvvm.mbarrier.try_wait.parity %cfb, %cpar, %ticks : !llvm.ptr<3>, i32, i32
    // K-major 128B-swizzle descriptor of stage cs: start = addr >> 4,
    // LBO 16 B, SBO 1024 B, layout bit 62 (as in wgmma-blocks.mlir).
    %coff = llvm.mul %cs, %stage_bytes : i32
    %tile = llvm.getelementptr %ring[%coff] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8
    %taddr = llvm.ptrtoint %tile : !llvm.ptr<3> to i32
    %taddr64 = llvm.zext %taddr : i32 to i64
    %c4_64 = llvm.mlir.constant(4 : i64) : i64
    %tstart = llvm.lshr %taddr64, %c4_64 : i64
    %kbits = llvm.mlir.constant(4611686293305360384 : i64) : i64
    %db = llvm.or %tstart, %kbits : i64
    // Consumer warpgroup w reads A rows shifted by 64w (only w = 0 with one consumer warpgroup).
    %wg64 = llvm.zext %wg : i32 to i64
    %c512_64 = llvm.mlir.constant(512 : i64) : i64
    %wgoff = llvm.mul %wg64, %c512_64 : i64
    // A of accumulator k: rows 64k..64k+63 of the tile (8 KiB = 512 units further).
    %aoff0 = llvm.mlir.constant(0 : i64) : i64
    %da0_ = llvm.add %db, %aoff0 : i64
    %da0 = llvm.add %da0_, %wgoff : i64
    %aoff1 = llvm.mlir.constant(512 : i64) : i64
    %da1_ = llvm.add %db, %aoff1 : i64
    %da1 = llvm.add %da1_, %wgoff : i64
    nvvm.wgmma.fence.aligned
    %ko0 = llvm.mlir.constant(0 : i64) : i64
    %dbk0 = llvm.add %db, %ko0 : i64
    %dak0_0 = llvm.add %da0, %ko0 : i64
    %acc0_0 = nvvm.wgmma.mma_async %dak0_0, %dbk0, %a0, #nvvm.shape<m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !acc -> !acc
    %dak1_0 = llvm.add %da1, %ko0 : i64
    %acc1_0 = nvvm.wgmma.mma_async %dak1_0, %dbk0, %a1, #nvvm.shape<m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !acc -> !acc
    %ko1 = llvm.mlir.constant(2 : i64) : i64
    %dbk1 = llvm.add %db, %ko1 : i64
    %dak0_1 = llvm.add %da0, %ko1 : i64
    %acc0_1 = nvvm.wgmma.mma_async %dak0_1, %dbk1, %acc0_0, #nvvm.shape<m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !acc -> !acc
    %dak1_1 = llvm.add %da1, %ko1 : i64
    %acc1_1 = nvvm.wgmma.mma_async %dak1_1, %dbk1, %acc1_0, #nvvm.shape<m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !acc -> !acc
    %ko2 = llvm.mlir.constant(4 : i64) : i64
    %dbk2 = llvm.add %db, %ko2 : i64
    %dak0_2 = llvm.add %da0, %ko2 : i64
    %acc0_2 = nvvm.wgmma.mma_async %dak0_2, %dbk2, %acc0_1, #nvvm.shape<m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !acc -> !acc
    %dak1_2 = llvm.add %da1, %ko2 : i64
    %acc1_2 = nvvm.wgmma.mma_async %dak1_2, %dbk2, %acc1_1, #nvvm.shape<m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !acc -> !acc
    %ko3 = llvm.mlir.constant(6 : i64) : i64
    %dbk3 = llvm.add %db, %ko3 : i64
    %dak0_3 = llvm.add %da0, %ko3 : i64
    %acc0_3 = nvvm.wgmma.mma_async %dak0_3, %dbk3, %acc0_2, #nvvm.shape<m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !acc -> !acc
    %dak1_3 = llvm.add %da1, %ko3 : i64
    %acc1_3 = nvvm.wgmma.mma_async %dak1_3, %dbk3, %acc1_2, #nvvm.shape<m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !acc -> !acc
    nvvm.wgmma.commit.group.sync.aligned
    nvvm.wgmma.wait.group.sync.aligned 0
    %ceb = llvm.getelementptr %empty[%cs] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i64
    // One arrival per consumer warp, by an elected lane (empty[s] count 4).
    nvvm.bar.warp.sync %cm1 : i32
    %lane0 = nvvm.elect.sync -> i1
    llvm.cond_br %lane0, ^c_release, ^c_next
  ^c_release:
    nvvm.mbarrier.arrive %ceb : !llvm.ptr<3>
    llvm.br ^c_next
  ^c_next:
    %j_next = llvm.add %j, %c1 : i32
    llvm.br ^c_loop(%j_next, %acc0_3, %acc1_3 : i32, !acc, !acc)
  ^c_exit:
    // Keep every accumulator live: sum all 64*accs values per thread.
    %v0_0 = llvm.extractvalue %a0[0] : !acc
    %v0_1 = llvm.extractvalue %a0[1] : !acc
    %v0_2 = llvm.extractvalue %a0[2] : !acc
    %v0_3 = llvm.extractvalue %a0[3] : !acc
    %v0_4 = llvm.extractvalue %a0[4] : !acc
    %v0_5 = llvm.extractvalue %a0[5] : !acc
    %v0_6 = llvm.extractvalue %a0[6] : !acc
    %v0_7 = llvm.extractvalue %a0[7] : !acc
    %v0_8 = llvm.extractvalue %a0[8] : !acc
    %v0_9 = llvm.extractvalue %a0[9] : !acc
    %v0_10 = llvm.extractvalue %a0[10] : !acc
    %v0_11 = llvm.extractvalue %a0[11] : !acc
    %v0_12 = llvm.extractvalue %a0[12] : !acc
    %v0_13 = llvm.extractvalue %a0[13] : !acc
    %v0_14 = llvm.extractvalue %a0[14] : !acc
    %v0_15 = llvm.extractvalue %a0[15] : !acc
    %v0_16 = llvm.extractvalue %a0[16] : !acc
    %v0_17 = llvm.extractvalue %a0[17] : !acc
    %v0_18 = llvm.extractvalue %a0[18] : !acc
    %v0_19 = llvm.extractvalue %a0[19] : !acc
    %v0_20 = llvm.extractvalue %a0[20] : !acc
    %v0_21 = llvm.extractvalue %a0[21] : !acc
    %v0_22 = llvm.extractvalue %a0[22] : !acc
    %v0_23 = llvm.extractvalue %a0[23] : !acc
    %v0_24 = llvm.extractvalue %a0[24] : !acc
    %v0_25 = llvm.extractvalue %a0[25] : !acc
    %v0_26 = llvm.extractvalue %a0[26] : !acc
    %v0_27 = llvm.extractvalue %a0[27] : !acc
    %v0_28 = llvm.extractvalue %a0[28] : !acc
    %v0_29 = llvm.extractvalue %a0[29] : !acc
    %v0_30 = llvm.extractvalue %a0[30] : !acc
    %v0_31 = llvm.extractvalue %a0[31] : !acc
    %v0_32 = llvm.extractvalue %a0[32] : !acc
    %v0_33 = llvm.extractvalue %a0[33] : !acc
    %v0_34 = llvm.extractvalue %a0[34] : !acc
    %v0_35 = llvm.extractvalue %a0[35] : !acc
    %v0_36 = llvm.extractvalue %a0[36] : !acc
    %v0_37 = llvm.extractvalue %a0[37] : !acc
    %v0_38 = llvm.extractvalue %a0[38] : !acc
    %v0_39 = llvm.extractvalue %a0[39] : !acc
    %v0_40 = llvm.extractvalue %a0[40] : !acc
    %v0_41 = llvm.extractvalue %a0[41] : !acc
    %v0_42 = llvm.extractvalue %a0[42] : !acc
    %v0_43 = llvm.extractvalue %a0[43] : !acc
    %v0_44 = llvm.extractvalue %a0[44] : !acc
    %v0_45 = llvm.extractvalue %a0[45] : !acc
    %v0_46 = llvm.extractvalue %a0[46] : !acc
    %v0_47 = llvm.extractvalue %a0[47] : !acc
    %v0_48 = llvm.extractvalue %a0[48] : !acc
    %v0_49 = llvm.extractvalue %a0[49] : !acc
    %v0_50 = llvm.extractvalue %a0[50] : !acc
    %v0_51 = llvm.extractvalue %a0[51] : !acc
    %v0_52 = llvm.extractvalue %a0[52] : !acc
    %v0_53 = llvm.extractvalue %a0[53] : !acc
    %v0_54 = llvm.extractvalue %a0[54] : !acc
    %v0_55 = llvm.extractvalue %a0[55] : !acc
    %v0_56 = llvm.extractvalue %a0[56] : !acc
    %v0_57 = llvm.extractvalue %a0[57] : !acc
    %v0_58 = llvm.extractvalue %a0[58] : !acc
    %v0_59 = llvm.extractvalue %a0[59] : !acc
    %v0_60 = llvm.extractvalue %a0[60] : !acc
    %v0_61 = llvm.extractvalue %a0[61] : !acc
    %v0_62 = llvm.extractvalue %a0[62] : !acc
    %v0_63 = llvm.extractvalue %a0[63] : !acc
    %v1_0 = llvm.extractvalue %a1[0] : !acc
    %v1_1 = llvm.extractvalue %a1[1] : !acc
    %v1_2 = llvm.extractvalue %a1[2] : !acc
    %v1_3 = llvm.extractvalue %a1[3] : !acc
    %v1_4 = llvm.extractvalue %a1[4] : !acc
    %v1_5 = llvm.extractvalue %a1[5] : !acc
    %v1_6 = llvm.extractvalue %a1[6] : !acc
    %v1_7 = llvm.extractvalue %a1[7] : !acc
    %v1_8 = llvm.extractvalue %a1[8] : !acc
    %v1_9 = llvm.extractvalue %a1[9] : !acc
    %v1_10 = llvm.extractvalue %a1[10] : !acc
    %v1_11 = llvm.extractvalue %a1[11] : !acc
    %v1_12 = llvm.extractvalue %a1[12] : !acc
    %v1_13 = llvm.extractvalue %a1[13] : !acc
    %v1_14 = llvm.extractvalue %a1[14] : !acc
    %v1_15 = llvm.extractvalue %a1[15] : !acc
    %v1_16 = llvm.extractvalue %a1[16] : !acc
    %v1_17 = llvm.extractvalue %a1[17] : !acc
    %v1_18 = llvm.extractvalue %a1[18] : !acc
    %v1_19 = llvm.extractvalue %a1[19] : !acc
    %v1_20 = llvm.extractvalue %a1[20] : !acc
    %v1_21 = llvm.extractvalue %a1[21] : !acc
    %v1_22 = llvm.extractvalue %a1[22] : !acc
    %v1_23 = llvm.extractvalue %a1[23] : !acc
    %v1_24 = llvm.extractvalue %a1[24] : !acc
    %v1_25 = llvm.extractvalue %a1[25] : !acc
    %v1_26 = llvm.extractvalue %a1[26] : !acc
    %v1_27 = llvm.extractvalue %a1[27] : !acc
    %v1_28 = llvm.extractvalue %a1[28] : !acc
    %v1_29 = llvm.extractvalue %a1[29] : !acc
    %v1_30 = llvm.extractvalue %a1[30] : !acc
    %v1_31 = llvm.extractvalue %a1[31] : !acc
    %v1_32 = llvm.extractvalue %a1[32] : !acc
    %v1_33 = llvm.extractvalue %a1[33] : !acc
    %v1_34 = llvm.extractvalue %a1[34] : !acc
    %v1_35 = llvm.extractvalue %a1[35] : !acc
    %v1_36 = llvm.extractvalue %a1[36] : !acc
    %v1_37 = llvm.extractvalue %a1[37] : !acc
    %v1_38 = llvm.extractvalue %a1[38] : !acc
    %v1_39 = llvm.extractvalue %a1[39] : !acc
    %v1_40 = llvm.extractvalue %a1[40] : !acc
    %v1_41 = llvm.extractvalue %a1[41] : !acc
    %v1_42 = llvm.extractvalue %a1[42] : !acc
    %v1_43 = llvm.extractvalue %a1[43] : !acc
    %v1_44 = llvm.extractvalue %a1[44] : !acc
    %v1_45 = llvm.extractvalue %a1[45] : !acc
    %v1_46 = llvm.extractvalue %a1[46] : !acc
    %v1_47 = llvm.extractvalue %a1[47] : !acc
    %v1_48 = llvm.extractvalue %a1[48] : !acc
    %v1_49 = llvm.extractvalue %a1[49] : !acc
    %v1_50 = llvm.extractvalue %a1[50] : !acc
    %v1_51 = llvm.extractvalue %a1[51] : !acc
    %v1_52 = llvm.extractvalue %a1[52] : !acc
    %v1_53 = llvm.extractvalue %a1[53] : !acc
    %v1_54 = llvm.extractvalue %a1[54] : !acc
    %v1_55 = llvm.extractvalue %a1[55] : !acc
    %v1_56 = llvm.extractvalue %a1[56] : !acc
    %v1_57 = llvm.extractvalue %a1[57] : !acc
    %v1_58 = llvm.extractvalue %a1[58] : !acc
    %v1_59 = llvm.extractvalue %a1[59] : !acc
    %v1_60 = llvm.extractvalue %a1[60] : !acc
    %v1_61 = llvm.extractvalue %a1[61] : !acc
    %v1_62 = llvm.extractvalue %a1[62] : !acc
    %v1_63 = llvm.extractvalue %a1[63] : !acc
    %t0 = llvm.fadd %v0_0, %v0_1 : f32
    %t1 = llvm.fadd %v0_2, %v0_3 : f32
    %t2 = llvm.fadd %v0_4, %v0_5 : f32
    %t3 = llvm.fadd %v0_6, %v0_7 : f32
    %t4 = llvm.fadd %v0_8, %v0_9 : f32
    %t5 = llvm.fadd %v0_10, %v0_11 : f32
    %t6 = llvm.fadd %v0_12, %v0_13 : f32
    %t7 = llvm.fadd %v0_14, %v0_15 : f32
    %t8 = llvm.fadd %v0_16, %v0_17 : f32
    %t9 = llvm.fadd %v0_18, %v0_19 : f32
    %t10 = llvm.fadd %v0_20, %v0_21 : f32
    %t11 = llvm.fadd %v0_22, %v0_23 : f32
    %t12 = llvm.fadd %v0_24, %v0_25 : f32
    %t13 = llvm.fadd %v0_26, %v0_27 : f32
    %t14 = llvm.fadd %v0_28, %v0_29 : f32
    %t15 = llvm.fadd %v0_30, %v0_31 : f32
    %t16 = llvm.fadd %v0_32, %v0_33 : f32
    %t17 = llvm.fadd %v0_34, %v0_35 : f32
    %t18 = llvm.fadd %v0_36, %v0_37 : f32
    %t19 = llvm.fadd %v0_38, %v0_39 : f32
    %t20 = llvm.fadd %v0_40, %v0_41 : f32
    %t21 = llvm.fadd %v0_42, %v0_43 : f32
    %t22 = llvm.fadd %v0_44, %v0_45 : f32
    %t23 = llvm.fadd %v0_46, %v0_47 : f32
    %t24 = llvm.fadd %v0_48, %v0_49 : f32
    %t25 = llvm.fadd %v0_50, %v0_51 : f32
    %t26 = llvm.fadd %v0_52, %v0_53 : f32
    %t27 = llvm.fadd %v0_54, %v0_55 : f32
    %t28 = llvm.fadd %v0_56, %v0_57 : f32
    %t29 = llvm.fadd %v0_58, %v0_59 : f32
    %t30 = llvm.fadd %v0_60, %v0_61 : f32
    %t31 = llvm.fadd %v0_62, %v0_63 : f32
    %t32 = llvm.fadd %v1_0, %v1_1 : f32
    %t33 = llvm.fadd %v1_2, %v1_3 : f32
    %t34 = llvm.fadd %v1_4, %v1_5 : f32
    %t35 = llvm.fadd %v1_6, %v1_7 : f32
    %t36 = llvm.fadd %v1_8, %v1_9 : f32
    %t37 = llvm.fadd %v1_10, %v1_11 : f32
    %t38 = llvm.fadd %v1_12, %v1_13 : f32
    %t39 = llvm.fadd %v1_14, %v1_15 : f32
    %t40 = llvm.fadd %v1_16, %v1_17 : f32
    %t41 = llvm.fadd %v1_18, %v1_19 : f32
    %t42 = llvm.fadd %v1_20, %v1_21 : f32
    %t43 = llvm.fadd %v1_22, %v1_23 : f32
    %t44 = llvm.fadd %v1_24, %v1_25 : f32
    %t45 = llvm.fadd %v1_26, %v1_27 : f32
    %t46 = llvm.fadd %v1_28, %v1_29 : f32
    %t47 = llvm.fadd %v1_30, %v1_31 : f32
    %t48 = llvm.fadd %v1_32, %v1_33 : f32
    %t49 = llvm.fadd %v1_34, %v1_35 : f32
    %t50 = llvm.fadd %v1_36, %v1_37 : f32
    %t51 = llvm.fadd %v1_38, %v1_39 : f32
    %t52 = llvm.fadd %v1_40, %v1_41 : f32
    %t53 = llvm.fadd %v1_42, %v1_43 : f32
    %t54 = llvm.fadd %v1_44, %v1_45 : f32
    %t55 = llvm.fadd %v1_46, %v1_47 : f32
    %t56 = llvm.fadd %v1_48, %v1_49 : f32
    %t57 = llvm.fadd %v1_50, %v1_51 : f32
    %t58 = llvm.fadd %v1_52, %v1_53 : f32
    %t59 = llvm.fadd %v1_54, %v1_55 : f32
    %t60 = llvm.fadd %v1_56, %v1_57 : f32
    %t61 = llvm.fadd %v1_58, %v1_59 : f32
    %t62 = llvm.fadd %v1_60, %v1_61 : f32
    %t63 = llvm.fadd %v1_62, %v1_63 : f32
    %t64 = llvm.fadd %t0, %t1 : f32
    %t65 = llvm.fadd %t2, %t3 : f32
    %t66 = llvm.fadd %t4, %t5 : f32
    %t67 = llvm.fadd %t6, %t7 : f32
    %t68 = llvm.fadd %t8, %t9 : f32
    %t69 = llvm.fadd %t10, %t11 : f32
    %t70 = llvm.fadd %t12, %t13 : f32
    %t71 = llvm.fadd %t14, %t15 : f32
    %t72 = llvm.fadd %t16, %t17 : f32
    %t73 = llvm.fadd %t18, %t19 : f32
    %t74 = llvm.fadd %t20, %t21 : f32
    %t75 = llvm.fadd %t22, %t23 : f32
    %t76 = llvm.fadd %t24, %t25 : f32
    %t77 = llvm.fadd %t26, %t27 : f32
    %t78 = llvm.fadd %t28, %t29 : f32
    %t79 = llvm.fadd %t30, %t31 : f32
    %t80 = llvm.fadd %t32, %t33 : f32
    %t81 = llvm.fadd %t34, %t35 : f32
    %t82 = llvm.fadd %t36, %t37 : f32
    %t83 = llvm.fadd %t38, %t39 : f32
    %t84 = llvm.fadd %t40, %t41 : f32
    %t85 = llvm.fadd %t42, %t43 : f32
    %t86 = llvm.fadd %t44, %t45 : f32
    %t87 = llvm.fadd %t46, %t47 : f32
    %t88 = llvm.fadd %t48, %t49 : f32
    %t89 = llvm.fadd %t50, %t51 : f32
    %t90 = llvm.fadd %t52, %t53 : f32
    %t91 = llvm.fadd %t54, %t55 : f32
    %t92 = llvm.fadd %t56, %t57 : f32
    %t93 = llvm.fadd %t58, %t59 : f32
    %t94 = llvm.fadd %t60, %t61 : f32
    %t95 = llvm.fadd %t62, %t63 : f32
    %t96 = llvm.fadd %t64, %t65 : f32
    %t97 = llvm.fadd %t66, %t67 : f32
    %t98 = llvm.fadd %t68, %t69 : f32
    %t99 = llvm.fadd %t70, %t71 : f32
    %t100 = llvm.fadd %t72, %t73 : f32
    %t101 = llvm.fadd %t74, %t75 : f32
    %t102 = llvm.fadd %t76, %t77 : f32
    %t103 = llvm.fadd %t78, %t79 : f32
    %t104 = llvm.fadd %t80, %t81 : f32
    %t105 = llvm.fadd %t82, %t83 : f32
    %t106 = llvm.fadd %t84, %t85 : f32
    %t107 = llvm.fadd %t86, %t87 : f32
    %t108 = llvm.fadd %t88, %t89 : f32
    %t109 = llvm.fadd %t90, %t91 : f32
    %t110 = llvm.fadd %t92, %t93 : f32
    %t111 = llvm.fadd %t94, %t95 : f32
    %t112 = llvm.fadd %t96, %t97 : f32
    %t113 = llvm.fadd %t98, %t99 : f32
    %t114 = llvm.fadd %t100, %t101 : f32
    %t115 = llvm.fadd %t102, %t103 : f32
    %t116 = llvm.fadd %t104, %t105 : f32
    %t117 = llvm.fadd %t106, %t107 : f32
    %t118 = llvm.fadd %t108, %t109 : f32
    %t119 = llvm.fadd %t110, %t111 : f32
    %t120 = llvm.fadd %t112, %t113 : f32
    %t121 = llvm.fadd %t114, %t115 : f32
    %t122 = llvm.fadd %t116, %t117 : f32
    %t123 = llvm.fadd %t118, %t119 : f32
    %t124 = llvm.fadd %t120, %t121 : f32
    %t125 = llvm.fadd %t122, %t123 : f32
    %t126 = llvm.fadd %t124, %t125 : f32
    // Exchange through shared memory with a named barrier over the consumer
    // warpgroup only (bar.sync 1, 128): bar.sync 0 would wait for the producer.
    %tid_in_wg = llvm.and %tid, %c127 : i32
    %xs = llvm.getelementptr %xchg[%tid] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, f32
    llvm.store %t126, %xs : f32, !llvm.ptr<3>
    // Barrier id 1 + consumer warpgroup index, 128 threads.
    %bar_id = llvm.add %wg, %c1 : i32
    nvvm.barrier id = %bar_id number_of_threads = %c128
    %nb = llvm.add %tid, %c1 : i32
    %nbl = llvm.and %nb, %c127 : i32
    %wgbase = llvm.sub %tid, %tid_in_wg : i32
    %nbm = llvm.add %wgbase, %nbl : i32
    %xr = llvm.getelementptr %xchg[%nbm] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, f32
    %y = llvm.load %xr : !llvm.ptr<3> -> f32
    %o = llvm.getelementptr %out[%tid] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, f32
    llvm.store %y, %o : f32, !llvm.ptr<1>
    llvm.return
  }
}
}
