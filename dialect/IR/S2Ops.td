//===- S2Ops.td - Operations of the s2 dialect -------------*- tablegen -*-===//
//
// `s2.pattern` and the rule ops it holds. Every op mirrors a field of
// s2::Pattern / s2::Rule so that a pattern round-trips Pattern -> IR ->
// Pattern exactly (see patternFromOp / buildPatternOp in S2Ops.h).
//
// Head and block sets print compactly with inclusive ranges, e.g.
// `heads [0, 3, 5 to 7]`; query-block ranges are half-open, e.g.
// `queries [0, 64)` or `queries [64, end)`. (MLIR's lexer cannot read
// `0..27`, hence `to`.)
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_IR_S2OPS_TD
#define S2C_DIALECT_IR_S2OPS_TD

include "dialect/IR/S2Dialect.td"
include "dialect/IR/S2Attrs.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"

//===----------------------------------------------------------------------===//
// s2.pattern
//===----------------------------------------------------------------------===//

def S2_PatternOp : S2_Op<"pattern", [
    Symbol, IsolatedFromAbove, NoTerminator, SingleBlock, NoRegionArguments,
    HasParent<"::mlir::ModuleOp">]> {
  let summary = "a sparse-attention pattern: settings and rules";
  let description = [{
    A pattern names its settings and holds its rules in a single-block
    region. `causal` or `bidirectional` is always printed; `head_dim` and
    `dtype` only when the user fixed them.

    ```mlir
    s2.pattern @s2_hybrid heads 32 kv_heads 8 block 64 causal head_dim 128 dtype bf16 {
      s2.local heads [0 to 27] window 16
      s2.stride heads [0 to 27] step 8 shift (h / 4)
      s2.dense heads [28 to 31]
    }
    ```
  }];
  let arguments = (ins
    SymbolNameAttr:$sym_name,
    I64Attr:$heads,
    I64Attr:$kv_heads,
    I64Attr:$block,
    BoolAttr:$causal,
    OptionalAttr<I64Attr>:$head_dim,
    OptionalAttr<S2_DTypeAttr>:$dtype
  );
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $sym_name `heads` $heads `kv_heads` $kv_heads `block` $block
    custom<Settings>($causal, $head_dim, $dtype)
    attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "::llvm::StringRef":$name, "int64_t":$heads,
                   "int64_t":$kvHeads, "int64_t":$block, "bool":$causal)>
  ];
  let extraClassDeclaration = [{
    /// The block holding the rule ops (created on demand).
    ::mlir::Block &getRuleBlock();
    /// Query heads per KV head.
    int64_t getGroupSize() {
      return getKvHeads() > 0 ? getHeads() / getKvHeads() : 1;
    }
  }];
}

//===----------------------------------------------------------------------===//
// Rule ops
//===----------------------------------------------------------------------===//

/// A rule: the query heads it applies to (`heads`, sorted, unique), an
/// optional query-block range [q_begin, q_end) (absent: 0 and no end), and
/// the rule's own parameters.
class S2_RuleOp<string mnemonic, dag params, string paramFormat,
                list<Trait> traits = []>
    : S2_Op<mnemonic, !listconcat([HasParent<"PatternOp">], traits)> {
  let arguments = !con((ins DenseI64ArrayAttr:$heads,
                            OptionalAttr<I64Attr>:$q_begin,
                            OptionalAttr<I64Attr>:$q_end), params);
  let assemblyFormat = "`heads` custom<HeadsAndQueries>($heads, $q_begin, "
                       "$q_end) " # paramFormat # " attr-dict";
  let hasVerifier = 1;
  code extraRuleDecls = [{
    /// First query block the rule applies to.
    int64_t getQueryBegin() { return getQBegin().value_or(0); }
    /// One past the last query block, or -1 for no end.
    int64_t getQueryEnd() { return getQEnd() ? int64_t(*getQEnd()) : -1; }
  }];
  let extraClassDeclaration = extraRuleDecls;
}

def S2_DenseOp : S2_RuleOp<"dense", (ins), ""> {
  let summary = "every key block is visible";
  let description = [{
    ```mlir
    s2.dense heads [28 to 31]
    ```
  }];
}

def S2_LocalOp : S2_RuleOp<"local", (ins I64Attr:$window),
                           "`window` $window"> {
  let summary = "a local window of key blocks";
  let description = [{
    Causal: key block j is visible from query block i when 0 <= i - j <
    window. Bidirectional: when |i - j| < window.

    ```mlir
    s2.local heads [0 to 27] queries [64, end) window 16
    ```
  }];
}

def S2_StrideOp : S2_RuleOp<"stride",
                            (ins I64Attr:$step, DenseI64ArrayAttr:$shift),
                            "`step` $step `shift` "
                            "custom<ShiftTable>($shift, ref($heads))"> {
  let summary = "vertical stride with a per-head shift";
  let description = [{
    Key block j is visible for head h when (j + shift(h)) mod step == 0
    (positive modulus). `shift` holds one entry per head of the head set, in
    order. It prints as a closed form `(h [/ d] [* a] [+ b])` when the table
    is affine in the head index h or in h / d (e.g. the KV head index), and
    as a list otherwise; the table is the meaning.

    ```mlir
    s2.stride heads [0 to 3] step 8 shift (h * 2 + 1)
    s2.stride heads [0, 1] step 8 shift [3, 5]
    ```
  }];
}

def S2_SinkOp : S2_RuleOp<"sink", (ins I64Attr:$count), "`count` $count"> {
  let summary = "the first key blocks (attention sinks)";
  let description = [{
    Key block j is visible when j < count.

    ```mlir
    s2.sink heads [0 to 31] count 1
    ```
  }];
}

def S2_GlobalOp : S2_RuleOp<"global", (ins DenseI64ArrayAttr:$blocks),
                            "`at` custom<IndexSet>($blocks)"> {
  let summary = "global blocks (Longformer's symmetric global tokens)";
  let description = [{
    A global block g sees every key block, and every query block sees key
    block g. The set is sorted and unique.

    ```mlir
    s2.global heads [0 to 7] at [0, 16 to 17]
    ```
  }];
}

def S2_DilatedOp : S2_RuleOp<"dilated",
                             (ins I64Attr:$window, I64Attr:$dilation),
                             "`window` $window `dilation` $dilation"> {
  let summary = "a dilated window";
  let description = [{
    Causal: 0 <= i - j < window * dilation and (i - j) mod dilation == 0.
    Bidirectional: the same with |i - j|.

    ```mlir
    s2.dilated heads [0 to 7] window 4 dilation 2
    ```
  }];
}

def S2_BlocksOp : S2_RuleOp<"blocks", (ins DenseI64ArrayAttr:$pairs),
                            "`pairs` custom<BlockPairs>($pairs)"> {
  let summary = "explicit (query block, key block) pairs";
  let description = [{
    `pairs` holds the flattened pairs i0, j0, i1, j1, ... sorted and
    unique.

    ```mlir
    s2.blocks heads [0 to 7] pairs [(3, 1), (5, 2)]
    ```
  }];
}

// Tiled-level ops (dialect/IR/S2TiledOps.td) are included below this line
// by their owner.
include "dialect/IR/S2TiledOps.td"

#endif // S2C_DIALECT_IR_S2OPS_TD
