// The `--svg` figure (compiler/Inspect writeSvg), through s2-opt's test pass.
// RUN: s2-opt %s --s2-test-inspect="seq-len=256 svg=true" -o /dev/null | FileCheck %s
// RUN: s2-opt %s --s2-test-inspect="seq-len=65536 svg=true" -o /dev/null | FileCheck %s --check-prefix=BIG

// Two heads with different masks (columns 0 mod 2 and 1 mod 2) and one
// that equals head 0: three panels, two distinct shapes.
s2.pattern @shards heads 3 kv_heads 3 block 64 causal {
  s2.local heads [0 to 2] window 1
  s2.stride heads [0 to 2] step 2 shift [0, 1, 0]
}

// CHECK:       <svg xmlns="http://www.w3.org/2000/svg"
// CHECK-SAME:    width="464" height="240"
// CHECK:       >shards</text>
// CHECK:       3 heads, 3 KV heads, block 64, causal</text>
// CHECK:       256 tokens, 4 blocks, density
// CHECK-NOT:   one cell
// 4 blocks: the causal staircase, then each distinct mask as row runs
// merged down while equal. Head 0 sees rows [0,1), [0,2), [0,1)+[2,3),
// [0,1)+[2,4); head 1 rows [0,1), [1,2), [1,3), [1,2)+[3,4).
// CHECK:       <path id="allowed" d="M0 0h1v1h1v1h1v1h1v1H0z"/>
// CHECK-NEXT:  <g id="m0"><path fill="#1f4e9c" d="M0 0h1v1h-1zM0 1h2v1h-2zM2 2h1v1h-1zM0 2h1v2h-1zM2 3h2v1h-2z"/></g>
// CHECK-NEXT:  <g id="m1"><path fill="#1f4e9c" d="M0 0h1v1h-1zM1 1h1v1h-1zM1 2h2v1h-2zM1 3h1v1h-1zM3 3h1v1h-1z"/></g>
// CHECK-NOT:   id="m2"
// CHECK:       >head 0 · {{[0-9]+}}%</text>
// CHECK:       <use xlink:href="#m0"/>
// CHECK:       >head 1 · {{[0-9]+}}%</text>
// CHECK:       <use xlink:href="#m1"/>
// CHECK:       >head 2 · {{[0-9]+}}%</text>
// CHECK:       <use xlink:href="#m0"/>
// CHECK:       </svg>

// 1024 blocks are drawn as 128 x 128 cells of 8 x 8 blocks, in two tones.
// BIG:         65536 tokens, 1024 blocks, density
// BIG:         one cell = 8×8 blocks: dark = all visible, light = some</text>
// BIG:         <path fill="#8fa9d8"
// BIG:         scale(1)
// BIG:         </svg>
