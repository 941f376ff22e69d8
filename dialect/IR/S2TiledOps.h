//===- S2TiledOps.h - The tiled level of the s2 dialect --------*- C++ -*-===//
//
// Conversions between the MLIR-free s2::Schedule (runtime/include/s2/
// Schedule.h) and the s2.schedule op with its groups, phases and spans (the
// ops themselves are generated into S2Ops.h from S2TiledOps.td), and the
// text form of one closed-form bound.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_DIALECT_IR_S2TILEDOPS_H
#define S2C_DIALECT_IR_S2TILEDOPS_H

#include "dialect/IR/S2Ops.h"
#include "s2/Schedule.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/raw_ostream.h"

namespace s2c {

/// Reads a verified s2.schedule op back into an s2::Schedule (residues are
/// indexed by pattern head; tables by their tile_table index).
s2::Schedule scheduleFromOp(ScheduleOp op);

/// Builds an s2.schedule op for `s` (the schedule of pattern `pattern`) at
/// the builder's insertion point. The op is not verified here.
ScheduleOp buildScheduleOp(mlir::OpBuilder &builder, mlir::Location loc,
                           llvm::StringRef pattern, const s2::Schedule &s);

/// Prints one bound: `5`, `2 * t - 3`, `(2 * t + 1) floordiv 4 * 2 + 1`.
void printBound(llvm::raw_ostream &os, const s2::AffineBound &e);

/// Prints a lower (isLo) or upper bound list: `begin`/`end`, one bound, or
/// `max(...)`/`min(...)`.
void printBoundList(llvm::raw_ostream &os,
                    const std::vector<s2::AffineBound> &list, bool isLo);

} // namespace s2c

#endif // S2C_DIALECT_IR_S2TILEDOPS_H
