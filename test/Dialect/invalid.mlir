// Verifier and parser errors of the s2 dialect, one per split.
// RUN: s2-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{'s2.pattern' op expected 'heads' in 1..1024, got 0}}
s2.pattern @p heads 0 kv_heads 1 block 64 causal {
}

// -----

// expected-error @+1 {{'s2.pattern' op expected 'heads' in 1..1024, got 1000000}}
s2.pattern @p heads 1000000 kv_heads 1 block 64 causal {
}

// -----

// expected-error @+1 {{'s2.pattern' op expected 'kv_heads' to divide 'heads' (32), got 5}}
s2.pattern @p heads 32 kv_heads 5 block 64 causal {
}

// -----

// expected-error @+1 {{'s2.pattern' op expected 'kv_heads' to divide 'heads' (4), got 8}}
s2.pattern @p heads 4 kv_heads 8 block 64 causal {
}

// -----

// expected-error @+1 {{'s2.pattern' op expected 'block' to be a power of two in 16..256, got 48}}
s2.pattern @p heads 4 kv_heads 4 block 48 causal {
}

// -----

// expected-error @+1 {{'s2.pattern' op expected 'block' to be a power of two in 16..256, got 512}}
s2.pattern @p heads 4 kv_heads 4 block 512 causal {
}

// -----

// expected-error @+1 {{'s2.pattern' op expected 'block' to be a power of two in 16..256, got 0}}
s2.pattern @p heads 4 kv_heads 4 block 0 causal {
}

// -----

// expected-error @+1 {{'s2.pattern' op expected 'head_dim' 64 or 128, got 96}}
s2.pattern @p heads 4 kv_heads 4 block 64 causal head_dim 96 {
}

// -----

// expected-error @+1 {{expected 'causal' or 'bidirectional', got 'sideways'}}
s2.pattern @p heads 4 kv_heads 4 block 64 sideways {
}

// -----

// expected-error @+1 {{expected 'bf16', 'f16' or 'any', got 'fp8'}}
s2.pattern @p heads 4 kv_heads 4 block 64 causal dtype fp8 {
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.dense' op expected heads in 0..3, got 4}}
  s2.dense heads [0 to 4]
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.dense' op expected heads sorted and unique, got 1 after 2}}
  s2.dense heads [0, 2, 1]
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.dense' op expected heads sorted and unique, got 2 after 2}}
  s2.dense heads [2, 2]
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{expected an ascending range, got '3 to 1'}}
  s2.dense heads [3 to 1]
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{index set too large (at most 1048576 indices)}}
  s2.dense heads [0 to 100000000000]
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.local' op expected the query range end in 9..16777216, got 8}}
  s2.local heads [0] queries [8, 8) window 2
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.local' op expected the first query block in 0..16777216, got -1}}
  s2.local heads [0] queries [-1, end) window 2
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.local' op expected 'window' in 1..16777216, got 0}}
  s2.local heads [0] window 0
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.sink' op expected 'count' in 1..16777216, got 100000000}}
  s2.sink heads [0] count 100000000
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.stride' op expected 'step' in 1..16777216, got 0}}
  s2.stride heads [0] step 0 shift [0]
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.stride' op expected one shift per head (2), got 3}}
  s2.stride heads [0, 1] step 8 shift [0, 1, 2]
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.stride' op expected shifts in -16777216..16777216, got 20000000}}
  s2.stride heads [0, 1] step 8 shift [0, 20000000]
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{expected a divisor in 1..1024, got 0}}
  s2.stride heads [0, 1] step 8 shift (h / 0)
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{shift coefficient out of range (at most 16777216 in magnitude)}}
  s2.stride heads [0, 1] step 8 shift (h * 100000000)
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.global' op expected at least one global block}}
  s2.global heads [0] at []
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.global' op expected global blocks sorted and unique, got 1 after 5}}
  s2.global heads [0] at [5, 1]
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.dilated' op expected 'dilation' in 1..16777216, got 0}}
  s2.dilated heads [0] window 4 dilation 0
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.dilated' op expected 'window' * 'dilation' at most 16777216, got 100000000}}
  s2.dilated heads [0] window 10000 dilation 10000
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.blocks' op expected a non-empty list of block pairs}}
  s2.blocks heads [0] pairs []
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.blocks' op expected block pairs sorted and unique, got (1, 0) after (1, 2)}}
  s2.blocks heads [0] pairs [(1, 2), (1, 0)]
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'s2.blocks' op expected block indices in 0..16777216, got (-1, 0)}}
  s2.blocks heads [0] pairs [(-1, 0)]
}

// -----

// expected-error @+1 {{'s2.dense' op expects parent op 's2.pattern'}}
s2.dense heads [0]

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{'arith.constant' op is not allowed in 's2.pattern'; expected s2 rule ops}}
  %c = arith.constant 0 : i32
}

// -----

// expected-note @+1 {{see existing symbol definition here}}
s2.pattern @twice heads 1 kv_heads 1 block 16 causal {
}
// expected-error @+1 {{redefinition of symbol named 'twice'}}
s2.pattern @twice heads 1 kv_heads 1 block 16 causal {
}

// -----

s2.pattern @p heads 4 kv_heads 4 block 64 causal {
  // expected-error @+1 {{expected ')'}}
  s2.local heads [0] queries [0, 4] window 2
}
