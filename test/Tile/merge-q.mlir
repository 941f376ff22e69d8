// s2-merge-q: exact full/masked flags for tiles that merge pattern blocks,
// and the wasted tensor-core work as a remark.
// RUN: s2-opt %s --split-input-file --s2-tile="block-m=128 block-n=64" --s2-merge-q="remarks=false" | FileCheck %s
// RUN: s2-opt %s --split-input-file --s2-tile="block-m=128 block-n=64" --s2-merge-q --verify-diagnostics --mlir-print-op-on-diagnostic=false > /dev/null
// RUN: s2-opt %s --split-input-file --s2-tile="block-m=128 block-n=64" --s2-merge-q="seq-len=1024" --mlir-print-op-on-diagnostic=false 2>&1 >/dev/null | FileCheck %s --check-prefix=LEN

// Before (tile.mlir, M128): every span masked. After: only the window's
// first key tile, whose upper query block sees it and lower one does not.
// CHECK-LABEL: s2.schedule for @s2 heads 4 tiles 128 x 64 causal merged {
// CHECK:         s2.progression step 4 run 1 residues [0, 0, 3, 3] from begin to 2 * t - 2 full
// CHECK-NEXT:    s2.range from 2 * t - 2 to 2 * t - 1 masked
// CHECK-NEXT:    s2.range from 2 * t - 1 to 2 * t + 2 full
// LEN: remark: pattern 's2' tiled 128 x 64: 2 of 3 spans full; {{0\.[0-9]+}} of the tensor-core work at 1024 tokens is on hidden elements
// expected-remark @below {{pattern 's2' tiled 128 x 64: 2 of 3 spans full; 0.0634 of the tensor-core work at 8192 tokens is on hidden elements}}
s2.pattern @s2 heads 4 kv_heads 2 block 64 causal {
  s2.local heads [0 to 3] window 3
  s2.stride heads [0 to 3] step 4 shift (h / 2)
}

// -----

// 16-token blocks under 128 x 64 tiles: sink and window tiles are only
// partly visible, so they stay masked; the waste is large.
// CHECK-LABEL: s2.schedule for @small heads 1 tiles 128 x 64 causal merged {
// CHECK-NOT:     full
// CHECK:       }
// expected-remark @below {{pattern 'small' tiled 128 x 64: 0 of 3 spans full; 0.8409 of the tensor-core work at 8192 tokens is on hidden elements}}
s2.pattern @small heads 1 kv_heads 1 block 16 causal {
  s2.local heads [0] window 2
  s2.sink heads [0] count 1
}

// -----

// Dense: every tile full, only the causal diagonal wasted.
// CHECK-LABEL: s2.schedule for @dense heads 2 tiles 128 x 64 causal merged {
// CHECK:         s2.range from begin to 2 * t + 2 full
// expected-remark @below {{pattern 'dense' tiled 128 x 64: 1 of 1 spans full; 0.0153 of the tensor-core work at 8192 tokens is on hidden elements}}
s2.pattern @dense heads 2 kv_heads 1 block 16 causal {
  s2.dense heads [0, 1]
}
