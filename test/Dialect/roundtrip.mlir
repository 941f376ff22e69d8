// Round trip of every s2 op and every printed form: parse, print, parse
// again, and through the generic form.
// RUN: s2-opt %s | FileCheck %s
// RUN: s2-opt %s | s2-opt | FileCheck %s
// RUN: s2-opt %s --mlir-print-op-generic | s2-opt | FileCheck %s

// CHECK-LABEL: s2.pattern @s2_hybrid heads 32 kv_heads 8 block 64 causal head_dim 128 dtype bf16 {
// CHECK-NEXT:    s2.local heads [0 to 27] window 16
// CHECK-NEXT:    s2.stride heads [0 to 27] step 8 shift (h / 4)
// CHECK-NEXT:    s2.dense heads [28 to 31]
// CHECK-NEXT:  }
s2.pattern @s2_hybrid heads 32 kv_heads 8 block 64 causal head_dim 128 dtype bf16 {
  s2.local heads [0 to 27] window 16
  // The table 0,0,0,0,1,1,1,1,... is affine in the KV head h / 4.
  s2.stride heads [0 to 27] step 8 shift [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6]
  s2.dense heads [28 to 31]
}

// CHECK-LABEL: s2.pattern @every_rule heads 4 kv_heads 1 block 16 bidirectional {
// CHECK-NEXT:    s2.dense heads [0] queries [0, 4)
// CHECK-NEXT:    s2.local heads [0, 1] queries [4, end) window 2
// CHECK-NEXT:    s2.stride heads [0, 2, 3] step 5 shift [3, 1, 4]
// CHECK-NEXT:    s2.stride heads [0 to 3] step 8 shift (h * 2 - 1)
// CHECK-NEXT:    s2.stride heads [0 to 3] step 8 shift (7)
// CHECK-NEXT:    s2.stride heads [1, 3] step 8 shift (h * 3 + 2)
// CHECK-NEXT:    s2.sink heads [1 to 3] count 1
// CHECK-NEXT:    s2.global heads [2] at [0, 5 to 7]
// CHECK-NEXT:    s2.dilated heads [3] queries [2, 9) window 4 dilation 2
// CHECK-NEXT:    s2.blocks heads [3] pairs [(0, 1), (3, 2)]
// CHECK-NEXT:  }
s2.pattern @every_rule heads 4 kv_heads 1 block 16 bidirectional {
  s2.dense heads [0] queries [0, 4)
  s2.local heads [0, 1] queries [4, end) window 2
  s2.stride heads [0, 2, 3] step 5 shift [3, 1, 4]
  s2.stride heads [0 to 3] step 8 shift (h * 2 - 1)
  s2.stride heads [0 to 3] step 8 shift [7, 7, 7, 7]
  s2.stride heads [1, 3] step 8 shift [5, 11]
  s2.sink heads [1, 2, 3] count 1
  s2.global heads [2] queries [0, end) at [0, 5, 6, 7]
  s2.dilated heads [3] queries [2, 9) window 4 dilation 2
  s2.blocks heads [3] pairs [(0, 1), (3, 2)]
}

// A pattern without rules and the defaults of the optional settings.
// CHECK-LABEL: s2.pattern @empty heads 1 kv_heads 1 block 256 causal {
s2.pattern @empty heads 1 kv_heads 1 block 256 causal {
}

// CHECK-LABEL: s2.pattern @kernel_settings heads 2 kv_heads 1 block 16 causal head_dim 64 dtype f16 {
// CHECK-NEXT:    s2.stride heads [0, 1] step 4 shift (h * 3)
s2.pattern @kernel_settings heads 2 kv_heads 1 block 16 causal head_dim 64 dtype f16 {
  s2.stride heads [0, 1] step 4 shift (h * 3)
}
