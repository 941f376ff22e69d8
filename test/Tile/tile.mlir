// s2-tile: patterns to schedules. Exactness over random patterns is the job
// of test/unit/ScheduleTest.cpp; here, the IR of typical shapes.
// RUN: s2-opt %s --split-input-file --s2-tile="block-m=64 block-n=64 max-seq-len=512" | FileCheck %s
// RUN: s2-opt %s --split-input-file --s2-tile="block-m=128 block-n=64" | FileCheck %s --check-prefix=M128
// RUN: s2-opt %s --split-input-file --s2-tile | FileCheck %s --check-prefix=AUTO

// S2 (window + rotating stride): a progression below the window and the
// window range, both full, no table. The pattern op stays.
// CHECK-LABEL: s2.pattern @s2
// CHECK:       s2.schedule for @s2 heads 4 tiles 64 x 64 causal {
// CHECK-NEXT:    s2.group heads [0 to 3] {
// CHECK-NEXT:      s2.phase tiles [0, end) {
// CHECK-NEXT:        s2.progression step 4 run 1 residues [0, 0, 3, 3] from begin to t - 2 full
// CHECK-NEXT:        s2.range from t - 2 to t + 1 full
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:  }
// CHECK-NOT:   s2.tile_table
// With 128-row query tiles two pattern blocks share a tile: the window's
// first key tile gets its own span, and every span stays masked until
// s2-merge-q (see merge-q.mlir).
// M128-LABEL: s2.schedule for @s2 heads 4 tiles 128 x 64 causal {
// M128:         s2.progression step 4 run 1 residues [0, 0, 3, 3] from begin to 2 * t - 2 masked
// M128-NEXT:    s2.range from 2 * t - 2 to 2 * t - 1 masked
// M128-NEXT:    s2.range from 2 * t - 1 to 2 * t + 2 masked
// The cost model picks the tiles when none are given.
// AUTO-LABEL: s2.schedule for @s2 heads 4 tiles {{(64|128) x (64|128)}} causal {
s2.pattern @s2 heads 4 kv_heads 2 block 64 causal {
  s2.local heads [0 to 3] window 3
  s2.stride heads [0 to 3] step 4 shift (h / 2)
}

// -----

// Bidirectional: progressions on both sides of the window.
// CHECK-LABEL: s2.schedule for @bidir heads 2 tiles 64 x 64 bidirectional {
// CHECK:         s2.progression step 4 run 1 residues [0, 3] from begin to t - 1 full
// CHECK-NEXT:    s2.range from t - 1 to t + 2 full
// CHECK-NEXT:    s2.progression step 4 run 1 residues [0, 3] from t + 2 to end full
s2.pattern @bidir heads 2 kv_heads 2 block 64 bidirectional {
  s2.local heads [0, 1] window 2
  s2.stride heads [0, 1] step 4 shift (h)
}

// -----

// Query-range scopes give phases.
// CHECK-LABEL: s2.schedule for @scoped heads 1 tiles 64 x 64 causal {
// CHECK:         s2.phase tiles [0, 4) {
// CHECK-NEXT:      s2.range from begin to t + 1 full
// CHECK-NEXT:    }
// CHECK-NEXT:    s2.phase tiles [4, end) {
// CHECK-NEXT:      s2.range from t - 1 to t + 1 full
// CHECK-NEXT:    }
s2.pattern @scoped heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0] queries [0, 4)
  s2.local heads [0] queries [4, end) window 2
}

// -----

// A global block: a dense phase for its query tile, then its key column.
// CHECK-LABEL: s2.schedule for @longformer heads 1 tiles 64 x 64 causal {
// CHECK:         s2.phase tiles [0, 5) {
// CHECK-NEXT:      s2.range from t - 1 to t + 1 full
// CHECK:         s2.phase tiles [5, 6) {
// CHECK-NEXT:      s2.range from begin to 6 full
// CHECK:         s2.phase tiles [6, 7) {
// CHECK-NEXT:      s2.range from 5 to t + 1 full
// CHECK:         s2.phase tiles [7, end) {
// CHECK-NEXT:      s2.range from 5 to 6 full
// CHECK-NEXT:      s2.range from t - 1 to t + 1 full
s2.pattern @longformer heads 1 kv_heads 1 block 64 causal {
  s2.local heads [0] window 2
  s2.global heads [0] at [5]
}

// -----

// Explicit blocks: a table, built up to max-seq-len tokens.
// CHECK-LABEL: s2.schedule for @explicit heads 2 tiles 64 x 64 causal max_seq_len 512 {
// CHECK:         s2.group heads [0] {
// CHECK-NEXT:      s2.phase tiles [0, 8) {
// CHECK-NEXT:        s2.table 0 full
// CHECK:         s2.group heads [1] {
// CHECK-NEXT:      s2.phase tiles [0, end) {
// CHECK-NEXT:        s2.range from t - 1 to t + 1 full
// CHECK:         s2.tile_table 0 row_ptr [0, 0, 1, 1, 2, 2, 2, 2, 2] cols [0, 1]
s2.pattern @explicit heads 2 kv_heads 2 block 64 causal {
  s2.blocks heads [0] pairs [(1, 0), (3, 1)]
  s2.local heads [1] window 2
}

// -----

// Blocks larger than the key tile: the stride visits runs of tiles.
// CHECK-LABEL: s2.schedule for @big heads 2 tiles 64 x 64 causal {
// CHECK:         s2.progression step 8 run 2 residues [0, 6] from begin to (t) floordiv 2 * 2 full
// CHECK-NEXT:    s2.range from (t) floordiv 2 * 2 to t + 1 full
s2.pattern @big heads 2 kv_heads 2 block 128 causal {
  s2.local heads [0, 1] window 1
  s2.stride heads [0, 1] step 4 shift (h)
}

// -----

// Blocks smaller than the tiles: each query tile visits the union of its
// blocks' key tiles, left masked until s2-merge-q.
// CHECK-LABEL: s2.schedule for @small heads 1 tiles 64 x 64 causal {
// CHECK:         s2.phase tiles [0, 2) {
// CHECK-NEXT:      s2.range from begin to t + 1 masked
// CHECK:         s2.phase tiles [2, end) {
// CHECK-NEXT:      s2.range from begin to 1 masked
// CHECK-NEXT:      s2.range from t - 1 to t + 1 masked
s2.pattern @small heads 1 kv_heads 1 block 16 causal {
  s2.local heads [0] window 2
  s2.sink heads [0] count 1
}

// -----

// A pattern that already has a schedule is left alone.
// CHECK-LABEL: s2.pattern @done
// CHECK:       s2.schedule for @done heads 1 tiles 128 x 128 causal {
// CHECK-NOT:   s2.schedule
s2.pattern @done heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
s2.schedule for @done heads 1 tiles 128 x 128 causal {
  s2.group heads [0] {
    s2.phase tiles [0, end) {
      s2.range from begin to t + 1 full
    }
  }
}
