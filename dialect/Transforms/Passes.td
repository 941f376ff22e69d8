//===- Passes.td - Passes of the s2 dialect ----------------*- tablegen -*-===//
//
// Every pass of the s2 dialect: the analyses (s2-analyze) and the tiling
// passes (s2-tile, s2-merge-q, appended by their owner). `registerS2Passes()`
// registers them all.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_TRANSFORMS_PASSES_TD
#define S2C_DIALECT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def S2Analyze : Pass<"s2-analyze", "::mlir::ModuleOp"> {
  let summary = "report density, coverage, empty rows and KV-cache behaviour";
  let description = [{
    Analyses every `s2.pattern` in the module and reports as diagnostics:

    - an error at the rule (or pattern) for every query block that provably
      sees no key block for some head (exact for every query block, not only
      up to `seq-len`);
    - a remark with the density per head and overall at `seq-len` tokens
      (visible query-key pairs over causal pairs, or all pairs when
      bidirectional);
    - a remark when the union of heads leaves a causally visible block
      uncovered at `seq-len`, naming the first such blocks;
    - a remark with KV-cache efficiency (causal only: every key block is
      used by a contiguous run of query blocks starting at its own, so a
      decoder may drop it once unused) and the fraction of key blocks a
      decoder must keep per head after `seq-len` tokens.

    The IR is not changed. Example:

    ```mlir
    // s2-opt --s2-analyze="seq-len=64"
    s2.pattern @w heads 2 kv_heads 2 block 16 causal {
      s2.local heads [0, 1] window 2
    }
    // remark: pattern 'w' does not cover every causally visible block at
    //   64 tokens (4 blocks): 3 block pairs seen by no head, first (query
    //   block, key block) (2, 0), (3, 0), (3, 1)
    // remark: pattern 'w' at 64 tokens (4 blocks): density 0.6308 overall;
    //   per head 0.6308 for heads 0, 1
    // remark: pattern 'w' is KV-cache efficient; KV-cache fraction a
    //   decoder keeps after 64 tokens (4 blocks): 0.5000 (2 of 4 blocks)
    //   for heads 0, 1
    ```
  }];
  let options = [
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"8192",
           "sequence length in tokens at which to compute the statistics">,
    Option<"emitStats", "stats", "bool", /*default=*/"true",
           "emit the density and KV-cache remarks">,
    Option<"emitCoverage", "coverage", "bool", /*default=*/"true",
           "emit the remark for incomplete coverage">,
  ];
}

def S2Tile : Pass<"s2-tile", "::mlir::ModuleOp"> {
  let summary = "lower each s2.pattern to its kernel schedule (s2.schedule)";
  let description = [{
    For every `s2.pattern` without a schedule, computes with
    s2::buildSchedule (runtime/include/s2/Schedule.h) which key tiles each
    query tile of each head visits, and inserts an `s2.schedule` after the
    pattern (the pattern stays: code generation needs its rules for the
    element masks). Heads with equal schedules up to per-head residues
    share an `s2.group`; query-range scopes and global rows give phases;
    spans are closed forms in the query tile t, with tables only for
    explicit `blocks` rules or unions that have no disjoint closed form.

    Tile sizes come from `block-m` / `block-n` (64 or 128); left at 0 they
    are chosen by the cost model s2::chooseTiles, for every target or, with
    `wgmma-only` and head dim 128 (`head-dim` or the pattern's), for the
    sm_90a warpgroup-MMA kernels. When the pattern block is
    smaller than a tile, every span is left `masked` (correct, slower):
    s2-merge-q then marks the full ones.

    ```mlir
    s2.pattern @w heads 1 kv_heads 1 block 64 causal {
      s2.local heads [0] window 2
    }
    // s2-tile{block-m=64 block-n=64} adds:
    s2.schedule for @w heads 1 tiles 64 x 64 causal {
      s2.group heads [0] {
        s2.phase tiles [0, end) {
          s2.range from t - 1 to t + 1 full
        }
      }
    }
    ```
  }];
  let options = [
    Option<"blockM", "block-m", "int64_t", /*default=*/"0",
           "query rows per tile: 64 or 128 (0: chosen by the cost model)">,
    Option<"blockN", "block-n", "int64_t", /*default=*/"0",
           "keys per tile step: 64 or 128 (0: chosen by the cost model)">,
    Option<"maxSeqLen", "max-seq-len", "int64_t", /*default=*/"0",
           "longest key length (tokens) tables are built for (0: 32768)">,
    Option<"wgmmaOnly", "wgmma-only", "bool", /*default=*/"false",
           "every kernel built from the schedules is an sm_90a warpgroup-MMA "
           "kernel: at head dim 128 the cost model also weighs 128 x 128">,
    Option<"headDim", "head-dim", "int64_t", /*default=*/"0",
           "the one head dim the kernels are built for (0: the pattern's, "
           "every supported one when it has none)">,
  ];
}

def S2MergeQ : Pass<"s2-merge-q", "::mlir::ModuleOp"> {
  let summary = "exact masks for tiles that merge several pattern blocks";
  let description = [{
    When the pattern block is smaller than BLOCK_M (several query blocks per
    tile) or BLOCK_N, a tile visits the union of its blocks' key tiles and
    the kernel evaluates the pattern per element in `masked` spans. This
    pass recomputes every `s2.schedule` from its pattern, checks that the
    spans are the ones s2-tile produced, marks every span whose tiles show
    all causally allowed elements `full`, sets `merged`, and reports the
    fraction of tensor-core work spent on hidden elements as a remark.

    ```mlir
    // s2-tile{block-m=128 block-n=64} on 64-token blocks, window 3:
    s2.range from 2 * t - 2 to 2 * t - 1 masked
    s2.range from 2 * t - 1 to 2 * t + 2 masked
    // after s2-merge-q: the window's first key tile is seen only by the
    // tile's upper query block; the others are seen by every row.
    s2.range from 2 * t - 2 to 2 * t - 1 masked
    s2.range from 2 * t - 1 to 2 * t + 2 full
    ```
  }];
  let options = [
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"8192",
           "sequence length (tokens) at which the waste is reported">,
    Option<"emitRemarks", "remarks", "bool", /*default=*/"true",
           "report the waste as a remark">,
  ];
}

#endif // S2C_DIALECT_TRANSFORMS_PASSES_TD
