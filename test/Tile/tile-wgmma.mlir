// s2-tile's tile choice for bundles of sm_90a warpgroup-MMA kernels alone
// (wgmma-only): at head dim 128 (head-dim, or the pattern's head_dim) the
// cost model takes 128 x 128 where the pattern fills its tiles (dense,
// 128-token blocks) and 128 x 64 (whose kernel pairs key tiles) where
// 64-token strided blocks would leave 128-key tiles half masked, but keeps
// the portable choice for a sliding window (too few key tiles a query
// tile); at head dim 64, or without wgmma-only, every pattern keeps the
// portable choice.
// RUN: s2-opt %s --split-input-file --s2-tile="wgmma-only=true head-dim=128" | FileCheck %s --check-prefix=D128
// RUN: s2-opt %s --split-input-file --s2-tile="wgmma-only=true head-dim=64" | FileCheck %s --check-prefix=PORTABLE
// RUN: s2-opt %s --split-input-file --s2-tile="head-dim=128" | FileCheck %s --check-prefix=PORTABLE
// RUN: s2-opt %s --split-input-file --s2-tile="wgmma-only=true" | FileCheck %s --check-prefix=OPEN

// D128: s2.schedule for @dense heads 2 tiles 128 x 128 causal
// PORTABLE: s2.schedule for @dense heads 2 tiles 64 x 64 causal
// OPEN: s2.schedule for @dense heads 2 tiles 64 x 64 causal
s2.pattern @dense heads 2 kv_heads 2 block 64 causal {
  s2.dense heads [0, 1]
}

// -----

// D128: s2.schedule for @blocks128 heads 4 tiles 128 x 128 causal
// PORTABLE: s2.schedule for @blocks128 heads 4 tiles 64 x 64 causal
// The pattern's own head_dim counts when head-dim is not given.
// OPEN: s2.schedule for @blocks128 heads 4 tiles 128 x 128 causal
s2.pattern @blocks128 heads 4 kv_heads 4 block 128 causal head_dim 128 {
  s2.local heads [0 to 3] window 4
  s2.stride heads [0 to 3] step 8 shift (h)
}

// -----

// D128: s2.schedule for @strided64 heads 4 tiles 128 x 64 causal
// PORTABLE: s2.schedule for @strided64 heads 4 tiles 64 x 64 causal
// OPEN: s2.schedule for @strided64 heads 4 tiles 64 x 64 causal
s2.pattern @strided64 heads 4 kv_heads 4 block 64 causal {
  s2.local heads [0 to 3] window 16
  s2.stride heads [0 to 3] step 16 shift (h)
}

// -----

// D128: s2.schedule for @window64 heads 4 tiles 64 x 64 causal
// PORTABLE: s2.schedule for @window64 heads 4 tiles 64 x 64 causal
// OPEN: s2.schedule for @window64 heads 4 tiles 64 x 64 causal
s2.pattern @window64 heads 4 kv_heads 4 block 64 causal {
  s2.local heads [0 to 3] window 16
}
