// s2-analyze: query blocks that provably see no key block are errors, at
// the first rule of the affected heads or at the pattern.
// RUN: s2-opt %s --split-input-file --verify-diagnostics --s2-analyze="stats=false coverage=false"

// Head 0's columns are j = 2 mod 4: query blocks 0 and 1 see nothing.
// Head 1's columns start at 0.
// expected-note @+1 {{in pattern 'late_columns'}}
s2.pattern @late_columns heads 2 kv_heads 1 block 16 causal {
  // expected-error @+1 {{query blocks [0, 2) of head 0 see no key block}}
  s2.stride heads [0, 1] step 4 shift [-2, 0]
}

// -----

// expected-error @+1 {{no rule applies to heads 2, 3; expected every head to see some key block}}
s2.pattern @missing_heads heads 4 kv_heads 1 block 16 causal {
  s2.dense heads [0, 1]
}

// -----

// A rule scoped to later query blocks leaves the first ones empty; a rule
// scoped to a prefix leaves everything after it empty.
// expected-note @+1 {{in pattern 'scoped'}}
s2.pattern @scoped heads 3 kv_heads 3 block 64 causal {
  // expected-error @+1 {{query blocks [0, 4) of heads 0, 1 see no key block}}
  s2.local heads [0 to 2] queries [4, end) window 2
  s2.dense heads [2] queries [0, 4)
}

// -----

// expected-note @+1 {{in pattern 'prefix_only'}}
s2.pattern @prefix_only heads 1 kv_heads 1 block 64 causal {
  // expected-error @+1 {{query blocks [8, end) of head 0 see no key block}}
  s2.dense heads [0] queries [0, 8)
}

// -----

// Explicit pairs above the diagonal give nothing to a causal row; the global
// block's row sees everything, rows after it see the global column.
// expected-note @+1 {{in pattern 'irregular'}}
s2.pattern @irregular heads 1 kv_heads 1 block 16 causal {
  // expected-error @+1 {{query blocks [0, 2), [3, 5) of head 0 see no key block}}
  s2.blocks heads [0] pairs [(0, 1), (2, 1)]
  s2.global heads [0] at [5]
}

// -----

// Every row sees something: no diagnostics.
s2.pattern @fine heads 2 kv_heads 1 block 16 causal {
  s2.sink heads [0] count 1
  s2.dilated heads [1] window 4 dilation 3
}
