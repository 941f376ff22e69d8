// s2-analyze statistics: density, coverage and KV-cache remarks with numbers
// worked out by hand at 64 tokens (4 blocks of 16).
// RUN: s2-opt %s --split-input-file --verify-diagnostics --s2-analyze="seq-len=64"

// Per head: 4 diagonal blocks of 16*17/2 = 136 pairs and 3 full blocks of
// 256 below them: 1312 of 64*65/2 = 2080 causal pairs = 0.6308. No head sees
// (2, 0), (3, 0), (3, 1). The last query block (3) and later ones still see
// key blocks 2 and 3: 2 of 4.
// expected-remark @+3 {{pattern 'window' does not cover every causally visible block at 64 tokens (4 blocks): 3 block pairs seen by no head, first (query block, key block) (2, 0), (3, 0), (3, 1)}}
// expected-remark @+2 {{pattern 'window' at 64 tokens (4 blocks): density 0.6308 overall; per head 0.6308 for heads 0, 1}}
// expected-remark @+1 {{pattern 'window' is KV-cache efficient; KV-cache fraction a decoder keeps after 64 tokens (4 blocks): 0.5000 (2 of 4 blocks) for heads 0, 1}}
s2.pattern @window heads 2 kv_heads 2 block 16 causal {
  s2.local heads [0, 1] window 2
}

// -----

// Global query block 3 sees every key block, so key block 0 is used at
// query block 0, dropped at 1 and used again at 3: not KV-cache efficient,
// and a decoder must keep every block (block 3 is global).
// expected-remark @+3 {{does not cover every causally visible block at 64 tokens (4 blocks): 3 block pairs seen by no head, first (query block, key block) (1, 0), (2, 0), (2, 1)}}
// expected-remark @+2 {{density 0.6308 overall; per head 0.6308 for head 0}}
// expected-remark @+1 {{pattern 'global' is not KV-cache efficient: head 0 drops key block 0 at query block 1 but uses it again at query block 3; KV-cache fraction a decoder keeps after 64 tokens (4 blocks): 1.0000 (4 of 4 blocks) for head 0}}
s2.pattern @global heads 1 kv_heads 1 block 16 causal {
  s2.local heads [0] window 1
  s2.global heads [0] at [3]
}

// -----

// The S2 shard: heads 0, 1 take columns 0 mod 2, heads 2, 3 columns 1 mod 2
// (shift (h / 2)), each with the diagonal: together they cover everything.
// Head 0 at 64 tokens: blocks (0,0) (1,1) (2,2) (3,3) on the diagonal,
// (1,0) (2,0) (3,0) (3,2) below: 4*136 + 4*256 = 1568 -> 0.7538; heads 2,
// 3: diagonal, (2,1), (3,1): 4*136 + 2*256 = 1056 -> 0.5077. Overall
// (2*1568 + 2*1056) / (4*2080) = 0.6308. Kept after block 3: head 0
// columns 0, 2 and the diagonal 3 (3 blocks); heads 2, 3: columns 1, 3.
// expected-remark @+2 {{pattern 'shards' at 64 tokens (4 blocks): density 0.6308 overall; per head 0.7538 for heads 0, 1; 0.5077 for heads 2, 3}}
// expected-remark @+1 {{pattern 'shards' is KV-cache efficient; KV-cache fraction a decoder keeps after 64 tokens (4 blocks): 0.7500 (3 of 4 blocks) for heads 0, 1; 0.5000 (2 of 4 blocks) for heads 2, 3}}
s2.pattern @shards heads 4 kv_heads 2 block 16 causal {
  s2.local heads [0 to 3] window 1
  s2.stride heads [0 to 3] step 2 shift (h / 2)
}

// -----

// Bidirectional: density over all 64*64 pairs, no KV-cache statistics.
// Window 1 sees the 4 diagonal blocks: 4*256 / 4096 = 0.25.
// expected-remark @+2 {{pattern 'encoder' does not cover every block at 64 tokens (4 blocks): 12 block pairs seen by no head}}
// expected-remark @+1 {{pattern 'encoder' at 64 tokens (4 blocks): density 0.2500 overall}}
s2.pattern @encoder heads 1 kv_heads 1 block 16 bidirectional {
  s2.local heads [0] window 1
}
