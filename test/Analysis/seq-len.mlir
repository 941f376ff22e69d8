// s2-analyze refuses sequence lengths it cannot analyse, with an error at
// the pattern and a failing exit code.
// RUN: not s2-opt %s --s2-analyze="seq-len=0" 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not s2-opt %s --s2-analyze="seq-len=1048576" 2>&1 | FileCheck %s --check-prefix=LONG
// RUN: s2-opt %s --s2-analyze="seq-len=16 stats=false" 2>&1 | FileCheck %s --check-prefix=SHORT --allow-empty

// ZERO: seq-len.mlir:[[@LINE+3]]:1: error: expected a sequence length of at least 1 token, got 0
// LONG: seq-len.mlir:[[@LINE+2]]:1: error: sequence length 1048576 is too long to analyse (65536 blocks for 8 heads); expected at most 2^31 block pairs over all heads
// SHORT-NOT: error
s2.pattern @p heads 8 kv_heads 8 block 16 causal {
  s2.dense heads [0 to 7]
}
