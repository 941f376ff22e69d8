// s2-merge-q errors: a schedule that is not its pattern's; bad options.
// RUN: s2-opt %s --split-input-file --s2-merge-q="remarks=false" --verify-diagnostics | FileCheck %s
// RUN: not s2-opt %s --split-input-file --s2-merge-q="seq-len=0" 2>&1 | FileCheck %s --check-prefix=LEN

// LEN: error: seq-len '0' is out of range: expected 1 to 2^20

// expected-note @below {{pattern defined here}}
s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.local heads [0] window 2
}
// The window is one tile too wide.
// expected-error @below {{schedule does not match pattern 'p': expected the spans s2-tile computes for tiles 64 x 64}}
s2.schedule for @p heads 1 tiles 64 x 64 causal {
  s2.group heads [0] {
    s2.phase tiles [0, end) {
      s2.range from t - 2 to t + 1 full
    }
  }
}

// -----

// Only the flags differ from s2-tile's spans: accepted and refined.
// CHECK-LABEL: s2.schedule for @q heads 1 tiles 64 x 64 causal merged {
// CHECK:         s2.range from t - 1 to t + 1 full
s2.pattern @q heads 1 kv_heads 1 block 64 causal {
  s2.local heads [0] window 2
}
s2.schedule for @q heads 1 tiles 64 x 64 causal {
  s2.group heads [0] {
    s2.phase tiles [0, end) {
      s2.range from t - 1 to t + 1 masked
    }
  }
}
