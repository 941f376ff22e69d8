// Round trip of the tiled ops and every bound form: parse, print, parse
// again, and through the generic form.
// RUN: s2-opt %s | FileCheck %s
// RUN: s2-opt %s | s2-opt | FileCheck %s
// RUN: s2-opt %s --mlir-print-op-generic | s2-opt | FileCheck %s

// CHECK-LABEL: s2.schedule for @p heads 3 tiles 128 x 64 causal max_seq_len 1024 merged {
// CHECK-NEXT:    s2.group heads [0, 1] {
// CHECK-NEXT:      s2.phase tiles [0, 2) {
// CHECK-NEXT:        s2.range from begin to 2 * t + 2 full
// CHECK-NEXT:      }
// CHECK-NEXT:      s2.phase tiles [2, end) {
// CHECK-NEXT:        s2.progression step 8 run 2 residues [0, 6] from begin to (t) floordiv 2 * 2 full
// CHECK-NEXT:        s2.range from max(t - 3, 4) to min((3 * t + 5) floordiv 4 * 2 - 1, 9) masked {note = "kept"}
// CHECK-NEXT:        s2.range from -2 to t masked
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    s2.group heads [2] {
// CHECK-NEXT:      s2.phase tiles [0, 3) attributes {why = "blocks"} {
// CHECK-NEXT:        s2.table 0 full
// CHECK-NEXT:        s2.table 1 masked
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    s2.tile_table 0 row_ptr [0, 1, 1, 2] cols [0, 1]
// CHECK-NEXT:    s2.tile_table 1 row_ptr [0, 0, 0, 0] cols []
// CHECK-NEXT:  }
s2.pattern @p heads 3 kv_heads 3 block 128 causal {
  s2.local heads [0 to 2] window 1
}
s2.schedule for @p heads 3 tiles 128 x 64 causal max_seq_len 1024 merged {
  s2.group heads [0, 1] {
    s2.phase tiles [0, 2) {
      s2.range from begin to 2 * t + 2 full
    }
    s2.phase tiles [2, end) {
      s2.progression step 8 run 2 residues [0, 6] from begin to (1 * t + 0) floordiv 2 * 2 full
      s2.range from max(t - 3, 4) to min((3 * t + 5) floordiv 4 * 2 - 1, 9) masked {note = "kept"}
      s2.range from -2 to t + 0 masked
    }
  }
  s2.group heads [2] {
    s2.phase tiles [0, 3) attributes {why = "blocks"} {
      s2.table 0 full
      s2.table 1 masked
    }
  }
  s2.tile_table 0 row_ptr [0, 1, 1, 2] cols [0, 1]
  s2.tile_table 1 row_ptr [0, 0, 0, 0] cols []
}
