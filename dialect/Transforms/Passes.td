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
    s2.pattern @w heads 2 kv_heads 2 block 64 causal {
      s2.local heads [0, 1] window 4
    }
    // remark: pattern 'w' at 8192 tokens: density 0.0307 overall ...
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

#endif // S2C_DIALECT_TRANSFORMS_PASSES_TD
