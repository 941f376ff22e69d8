// convert-s2-to-gpu: the tiled IR to one forward kernel per schedule, with
// tile sizes from s2.schedule and target/dtype/head dim from the options or
// the pattern, followed by the merge kernel of that dtype and head dim, and
// the copy kernel once.
// RUN: s2-opt %s --split-input-file --s2-tile="block-m=64 block-n=64" --convert-s2-to-gpu="dtype=bf16 head-dim=64" | FileCheck %s
// RUN: s2-opt %s --split-input-file --s2-tile="block-m=128 block-n=64" --convert-s2-to-gpu="target=sm_90a dtype=f16 head-dim=128" | FileCheck %s --check-prefix=M128
// RUN: not s2-opt %s --split-input-file --s2-tile="block-m=64 block-n=64" --convert-s2-to-gpu="head-dim=96" 2>&1 | FileCheck %s --check-prefix=ERR
// RUN: not s2-opt %s --split-input-file --convert-s2-to-gpu 2>&1 | FileCheck %s --check-prefix=NOSCHED

// S2 heads 0..3 over 2 KV heads: the s2 ops stay, the kernel follows.
// CHECK-LABEL: s2.pattern @s2
// CHECK: s2.schedule for @s2 heads 4 tiles 64 x 64 causal
// CHECK: gpu.module @s2_kernels {
// CHECK: gpu.func @s2_fwd_sm80_bf16_d64_m64n64(
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// KV head = h / 2 - head_offset / 2.
// CHECK: arith.floordivsi %{{.*}}, %c2 : index
// The two spans (progression below the window, then the window) feed one loop.
// CHECK: arith.ceildivsi %{{.*}}, %c4 : index
// CHECK: scf.for
// CHECK-COUNT-64: nvvm.mma.sync
// CHECK-NOT: scf.for
// CHECK: gpu.return
// The merge kernel of the same dtype and head dim, in the same gpu.module.
// CHECK: gpu.func @s2_merge_bf16_d64(
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK: gpu.func @s2_copy(
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK-NOT: gpu.func

// M128: s2.schedule for @s2 heads 4 tiles 128 x 64 causal
// M128: gpu.func @s2_fwd_sm90a_f16_d128_m128n64(
// M128-SAME: known_block_size = array<i32: 256, 1, 1>
// Before s2-merge-q every span is masked: the pattern predicate is emitted.
// M128: scf.for
// M128: arith.shrsi
// M128: gpu.return
// M128: gpu.func @s2_merge_f16_d128(
// M128: gpu.func @s2_copy(

// ERR: error: unsupported head dimension 96; the kernel builder supports 64 and 128
// NOSCHED: error: no 's2.schedule' in the module; run s2-tile before convert-s2-to-gpu
s2.pattern @s2 heads 4 kv_heads 2 block 64 causal {
  s2.local heads [0 to 3] window 3
  s2.stride heads [0 to 3] step 4 shift (h / 2)
}
