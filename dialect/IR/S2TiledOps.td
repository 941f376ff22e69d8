//===- S2TiledOps.td - The tiled level of the s2 dialect ---*- tablegen -*-===//
//
// The kernel schedule of a pattern (s2::Schedule, runtime/include/s2/
// Schedule.h) as IR: `s2.schedule` holds the tile sizes; per head group
// (`s2.group`) and run of query tiles (`s2.phase`) it lists the key tiles a
// query tile t visits as disjoint span ops (`s2.range`, `s2.progression`,
// `s2.table`) whose bounds are closed forms in t, plus the CSR tables
// (`s2.tile_table`) of heads that need one. Produced by s2-tile, refined by
// s2-merge-q, read back with scheduleFromOp (dialect/IR/S2TiledOps.h).
//
// A bound prints as an integer, as `a * t + b`, or as
// `(a * t + b) floordiv c * m + d`; a list of lower bounds as `max(...)`
// (empty: `begin`, i.e. 0), of upper bounds as `min(...)` (empty: `end`,
// i.e. the number of key tiles).
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_IR_S2TILEDOPS_TD
#define S2C_DIALECT_IR_S2TILEDOPS_TD

include "dialect/IR/S2Dialect.td"
include "mlir/IR/OpBase.td"

def S2_ScheduleOp : S2_Op<"schedule", [
    IsolatedFromAbove, NoTerminator, SingleBlock, NoRegionArguments,
    HasParent<"::mlir::ModuleOp">]> {
  let summary = "the tiled key-tile schedule of a pattern";
  let description = [{
    Tile sizes (`tiles BLOCK_M x BLOCK_N`) are attributes that later passes
    read. Query tile t covers absolute positions [t*BLOCK_M, (t+1)*BLOCK_M),
    key tile k [k*BLOCK_N, (k+1)*BLOCK_N). `max_seq_len` is present when
    tables were built (for keys up to that length). `merged` says s2-merge-q
    ran: span flags are then exact (before, small pattern blocks leave every
    span masked, which is correct but slower).

    ```mlir
    s2.schedule for @s2 heads 2 tiles 64 x 64 causal {
      s2.group heads [0, 1] {
        s2.phase tiles [3, end) {
          s2.progression step 4 run 1 residues [0, 3] from begin to t - 2 full
          s2.range from t - 2 to t + 1 full
        }
      }
    }
    ```
  }];
  let arguments = (ins
    FlatSymbolRefAttr:$pattern,
    I64Attr:$heads,
    I64Attr:$block_m,
    I64Attr:$block_n,
    BoolAttr:$causal,
    OptionalAttr<I64Attr>:$max_seq_len,
    UnitAttr:$merged
  );
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `for` $pattern `heads` $heads `tiles` $block_m `x` $block_n
    custom<Causality>($causal) (`max_seq_len` $max_seq_len^)?
    (`merged` $merged^)? attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The block holding the groups and tables (created on demand).
    ::mlir::Block &getScheduleBlock();
    /// The s2.pattern this schedule belongs to (the verifier guarantees it
    /// exists).
    PatternOp getPatternOp();
  }];
}

def S2_GroupOp : S2_Op<"group", [
    NoTerminator, SingleBlock, NoRegionArguments, HasParent<"ScheduleOp">]> {
  let summary = "heads sharing one schedule up to per-head residues";
  let arguments = (ins DenseI64ArrayAttr:$heads);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `heads` custom<IndexSet>($heads) attr-dict-with-keyword $body
  }];
  let hasRegionVerifier = 1;
}

def S2_PhaseOp : S2_Op<"phase", [
    NoTerminator, SingleBlock, NoRegionArguments, HasParent<"GroupOp">]> {
  let summary = "a run of query tiles sharing one span list";
  let description = [{
    `tiles [b, e)` or `tiles [b, end)`. The spans in the body are disjoint
    and listed in visit order.
  }];
  let arguments = (ins I64Attr:$t_begin, OptionalAttr<I64Attr>:$t_end);
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

class S2_SpanOp<string mnemonic, dag args>
    : S2_Op<mnemonic, [HasParent<"PhaseOp">]> {
  let arguments = args;
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

def S2_RangeOp : S2_SpanOp<"range", (ins DenseI64ArrayAttr:$lo,
                                         DenseI64ArrayAttr:$hi,
                                         UnitAttr:$masked)> {
  let summary = "every key tile in [lo(t), hi(t))";
  let description = [{
    `lo` and `hi` hold flattened bounds (a, b, c, m, d), each meaning
    floorDiv(a*t + b, c) * m + d; lo is their maximum (and 0), hi their
    minimum (and the number of key tiles). `full` tiles show every causally
    allowed element; `masked` ones need the per-element pattern check.

    ```mlir
    s2.range from max(0, 2 * t - 3) to min(2 * t + 2, 9) masked
    ```
  }];
}

def S2_ProgressionOp : S2_SpanOp<"progression", (ins I64Attr:$step,
                                                     I64Attr:$run,
                                                     DenseI64ArrayAttr:$residues,
                                                     DenseI64ArrayAttr:$lo,
                                                     DenseI64ArrayAttr:$hi,
                                                     UnitAttr:$masked)> {
  let summary = "key tiles k in [lo(t), hi(t)) with (k - r(h)) mod step < run";
  let description = [{
    `residues` holds one residue per head of the parent group, in order.

    ```mlir
    s2.progression step 8 run 2 residues [0, 6] from begin to 2 * t - 1 full
    ```
  }];
}

def S2_TableOp : S2_SpanOp<"table", (ins I64Attr:$index, UnitAttr:$masked)> {
  let summary = "the key tiles listed in row t of a tile table";
  let description = [{
    ```mlir
    s2.table 0 masked
    ```
  }];
}

def S2_TileTableOp : S2_Op<"tile_table", [HasParent<"ScheduleOp">]> {
  let summary = "CSR rows of key tiles, one row per query tile";
  let arguments = (ins I64Attr:$index, DenseI64ArrayAttr:$row_ptr,
                       DenseI64ArrayAttr:$cols);
  let assemblyFormat = [{
    $index `row_ptr` $row_ptr `cols` $cols attr-dict
  }];
  let hasVerifier = 1;
}

#endif // S2C_DIALECT_IR_S2TILEDOPS_TD
