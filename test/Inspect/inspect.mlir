// The `s2c inspect` report (compiler/Inspect), through s2-opt's test pass.
// RUN: s2-opt %s --s2-test-inspect="seq-len=512 max-width=16" -o /dev/null | FileCheck %s
// RUN: s2-opt %s --s2-test-inspect="seq-len=512 ascii=false" -o /dev/null | FileCheck %s --check-prefix=NOASCII

// CHECK-LABEL: pattern 'shards'
// CHECK-NEXT:    heads 5, kv_heads 5 (1 query head per KV head), block 64, causal
// CHECK-NEXT:    head_dim 128, dtype bf16, 3 rules
// CHECK-NEXT:  at 512 tokens (8 blocks of 64):
// Head 0: 8 diagonal blocks of 64*65/2 pairs and 16 full blocks in even
// columns, (8*2080 + 16*4096) / (512*513/2) = 0.6257.
// CHECK-NEXT:  density: 0.6507 overall (visible pairs / causal pairs)
// CHECK-NEXT:    heads 0, 1: 0.6257
// CHECK-NEXT:    heads 2, 3: 0.5010
// CHECK-NEXT:    head 4: 1.0000
// CHECK-NEXT:  coverage: complete (every causally visible block is seen by some head)
// CHECK-NEXT:  empty rows: none (every query block sees a key block, at any length)
// CHECK-NEXT:  kv-cache: efficient (every key block is used by a run of query blocks starting at its own, so a decoder drops it once unused)
// CHECK-NEXT:  kv fraction a decoder keeps after 512 tokens:
// CHECK-NEXT:    heads 0, 1: 0.6250 (5 of 8 key blocks)
// CHECK-NEXT:    heads 2, 3: 0.5000 (4 of 8 key blocks)
// CHECK-NEXT:    head 4: 1.0000 (8 of 8 key blocks)
// CHECK-NEXT:  block masks: 3 distinct, 8 x 8 blocks (query blocks down, key blocks across): '#' visible, '.' hidden
// CHECK-NEXT:  heads 0, 1:
// CHECK-NEXT:    #{{$}}
// CHECK-NEXT:    ##{{$}}
// CHECK-NEXT:    #.#{{$}}
// CHECK-NEXT:    #.##{{$}}
// CHECK-NEXT:    #.#.#{{$}}
// CHECK-NEXT:    #.#.##{{$}}
// CHECK-NEXT:    #.#.#.#{{$}}
// CHECK-NEXT:    #.#.#.##{{$}}
// CHECK-NEXT:  heads 2, 3:
// CHECK-NEXT:    #{{$}}
// CHECK-NEXT:    .#{{$}}
// CHECK-NEXT:    .##{{$}}
// CHECK-NEXT:    .#.#{{$}}
// CHECK:       head 4:
// CHECK-NEXT:    #{{$}}
// CHECK-NEXT:    ##{{$}}
// CHECK-NEXT:    ###{{$}}

// CHECK-LABEL: pattern 'gaps'
// CHECK:       at 512 tokens (32 blocks of 16):
// CHECK:       coverage: incomplete: 330 block pairs seen by no head, first (query block, key block) (3, 0), (4, 0), (4, 1), (5, 0), (5, 1), (6, 0), (6, 1), (6, 3)
// CHECK-NEXT:  empty rows: query blocks that see no key block
// CHECK-NEXT:    head 1: [0, 2)
// CHECK-NEXT:  kv-cache: not efficient
// CHECK-NEXT:    heads 0, 1: efficient
// CHECK-NEXT:    head 2: drops key block 0 at query block 1, uses it again at query block 2
// CHECK-NEXT:  kv fraction a decoder keeps after 512 tokens:
// CHECK-NEXT:    head 0: 0.0625 (2 of 32 key blocks)
// CHECK-NEXT:    head 1: 0.2500 (8 of 32 key blocks)
// CHECK-NEXT:    head 2: 0.0938 (3 of 32 key blocks)
// CHECK-NEXT:  block masks: 3 distinct, 32 x 32 blocks (query blocks down, key blocks across), downsampled to 16 x 16: one cell is 2 x 2 blocks, '#' all visible, '+' some, '.' none
// CHECK-NEXT:  head 0:
// CHECK-NEXT:    #{{$}}
// CHECK-NEXT:    +#{{$}}
// CHECK-NEXT:    .+#{{$}}
// CHECK:       head 1:
// CHECK-NEXT:    .{{$}}
// CHECK-NEXT:    .+{{$}}
// CHECK-NEXT:    .+.{{$}}
// CHECK-NEXT:    .+.+{{$}}

// CHECK-LABEL: pattern 'encoder'
// CHECK:       density: 0.0918 overall (visible pairs / all pairs)
// CHECK:       kv-cache: not applicable (bidirectional)
// CHECK-NOT:   kv fraction
// CHECK:       head 0:
// CHECK-NEXT:    #+..............{{$}}
// CHECK-NEXT:    +#+.............{{$}}

// NOASCII-LABEL: pattern 'shards'
// NOASCII:       kv fraction
// NOASCII-NOT:   block masks

// Heads 0, 1 take even columns, 2, 3 odd ones, with the diagonal; 4 dense.
s2.pattern @shards heads 5 kv_heads 5 block 64 causal head_dim 128 dtype bf16 {
  s2.local heads [0 to 4] window 1
  s2.stride heads [0 to 3] step 2 shift (h / 2)
  s2.dense heads [4]
}

// Window 2 leaves blocks uncovered; a stride with a late first column
// leaves rows empty; the dilated head is not KV-cache efficient.
s2.pattern @gaps heads 3 kv_heads 1 block 16 causal {
  s2.local heads [0] window 2
  s2.stride heads [1] step 4 shift [-2]
  s2.dilated heads [2] window 2 dilation 2
}

s2.pattern @encoder heads 1 kv_heads 1 block 16 bidirectional {
  s2.local heads [0] window 2
}
