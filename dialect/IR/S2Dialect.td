//===- S2Dialect.td - The s2 dialect definition ------------*- tablegen -*-===//
//
// The s2 dialect describes a sparse-attention pattern: its settings (heads,
// KV heads, block size, causality, kernel settings) and the rules that say,
// per head and per query-block range, which key blocks are visible. It
// mirrors s2::Pattern (runtime/include/s2/Pattern.h) exactly.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_IR_S2DIALECT_TD
#define S2C_DIALECT_IR_S2DIALECT_TD

include "mlir/IR/OpBase.td"

def S2_Dialect : Dialect {
  let name = "s2";
  let summary = "sparse-attention patterns";
  let description = [{
    The s2 dialect holds sparse-attention patterns after the S2-Attention
    paper. An `s2.pattern` op carries the global settings; its single-block
    region holds rule ops (`s2.dense`, `s2.local`, `s2.stride`, `s2.sink`,
    `s2.global`, `s2.dilated`, `s2.blocks`), each applying to a set of query
    heads and optionally to a range of query blocks. A key block is visible
    from a query block for a head when any rule in scope allows it (and, for
    causal patterns, the key block is not after the query block).
  }];
  let cppNamespace = "::s2c";
  let useDefaultAttributePrinterParser = 1;
}

class S2_Op<string mnemonic, list<Trait> traits = []>
    : Op<S2_Dialect, mnemonic, traits>;

#endif // S2C_DIALECT_IR_S2DIALECT_TD
