// Verifier and parser errors of the tiled ops.
// RUN: s2-opt %s --split-input-file --verify-diagnostics

s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
// expected-error @below {{'s2.schedule' op tile size '96' (block_m) is not supported: expected a power of two in 16..256}}
s2.schedule for @p heads 1 tiles 96 x 64 causal {
}

// -----

// expected-error @below {{'s2.schedule' op refers to unknown pattern 'nope'}}
s2.schedule for @nope heads 1 tiles 64 x 64 causal {
}

// -----

s2.pattern @p heads 2 kv_heads 2 block 64 causal {
  s2.dense heads [0, 1]
}
// expected-error @below {{'s2.schedule' op does not match pattern 'p': expected 2 heads, causal}}
s2.schedule for @p heads 2 tiles 64 x 64 bidirectional {
}

// -----

s2.pattern @p heads 2 kv_heads 2 block 64 causal {
  s2.dense heads [0, 1]
}
s2.schedule for @p heads 2 tiles 64 x 64 causal {
  s2.group heads [0, 1] {
  }
  // expected-error @below {{'s2.group' op head '1' belongs to more than one group}}
  s2.group heads [1] {
  }
}

// -----

s2.pattern @p heads 2 kv_heads 2 block 64 causal {
  s2.dense heads [0, 1]
}
s2.schedule for @p heads 2 tiles 64 x 64 causal {
  s2.group heads [0, 1] {
    s2.phase tiles [0, end) {
      // expected-error @below {{'s2.progression' op has 1 residue(s), expected one per head of the group (2)}}
      s2.progression step 4 run 1 residues [0] from begin to t full
    }
  }
}

// -----

s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
s2.schedule for @p heads 1 tiles 64 x 64 causal {
  s2.group heads [0] {
    s2.phase tiles [0, end) {
      // expected-error @below {{'s2.progression' op run '4' must be in 1..3}}
      s2.progression step 4 run 4 residues [0] from begin to t full
    }
  }
}

// -----

s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
s2.schedule for @p heads 1 tiles 64 x 64 causal {
  s2.group heads [0] {
    s2.phase tiles [0, end) {
      // expected-error @below {{'s2.range' op bound divisor '0' in 'hi' must be positive}}
      s2.range from begin to (t) floordiv 0 full
    }
  }
}

// -----

s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
s2.schedule for @p heads 1 tiles 64 x 64 causal {
  s2.group heads [0] {
    s2.phase tiles [0, 4) {
    }
    // expected-error @below {{'s2.phase' op query tiles starting at '2' overlap the previous phase}}
    s2.phase tiles [2, end) {
    }
  }
}

// -----

s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
s2.schedule for @p heads 1 tiles 64 x 64 causal {
  s2.group heads [0] {
    // expected-error @below {{'s2.phase' op query tile range [3, 3) is empty}}
    s2.phase tiles [3, 3) {
    }
  }
}

// -----

s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
s2.schedule for @p heads 1 tiles 64 x 64 causal max_seq_len 128 {
  s2.group heads [0] {
    s2.phase tiles [0, 2) {
      // expected-error @below {{'s2.table' op table index '1' is out of range: the schedule has 1 table(s)}}
      s2.table 1 full
    }
  }
  s2.tile_table 0 row_ptr [0, 0, 0] cols []
}

// -----

s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
// expected-error @below {{'s2.schedule' op uses tables but has no 'max_seq_len'}}
s2.schedule for @p heads 1 tiles 64 x 64 causal {
  s2.group heads [0] {
    s2.phase tiles [0, 2) {
      s2.table 0 full
    }
  }
  s2.tile_table 0 row_ptr [0, 0, 0] cols []
}

// -----

s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
s2.schedule for @p heads 1 tiles 64 x 64 causal max_seq_len 128 {
  // expected-error @below {{'s2.tile_table' op row_ptr ends at '1', expected the column count 2}}
  s2.tile_table 0 row_ptr [0, 1] cols [0, 1]
}

// -----

s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
s2.schedule for @p heads 1 tiles 64 x 64 causal {
  s2.group heads [0] {
    s2.phase tiles [0, end) {
      // expected-error @below {{expected a bound: an integer, 'a * t + b' or '(a * t + b) floordiv c * m + d'}}
      s2.range from begin to u full
    }
  }
}

// -----

s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.dense heads [0]
}
s2.schedule for @p heads 1 tiles 64 x 64 causal {
  s2.group heads [0] {
    s2.phase tiles [0, end) {
      // expected-error @below {{expected 'full' or 'masked'}}
      s2.range from begin to t + 1 partial
    }
  }
}
