// s2-tile option errors.
// RUN: not s2-opt %s --s2-tile="block-m=96" 2>&1 | FileCheck %s --check-prefix=M96
// RUN: not s2-opt %s --s2-tile="block-m=64 block-n=256" 2>&1 | FileCheck %s --check-prefix=N256
// RUN: not s2-opt %s --s2-tile="max-seq-len=-1" 2>&1 | FileCheck %s --check-prefix=LEN

// M96: error: unsupported tile size '96' for block-m: expected 64 or 128
// N256: error: unsupported tile size '256' for block-n: expected 64 or 128
// LEN: error: max-seq-len '-1' is out of range: expected 0 to 2^28
s2.pattern @p heads 1 kv_heads 1 block 64 causal {
  s2.local heads [0] window 2
}
