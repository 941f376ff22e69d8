//===- SchedulePrinter.h - Readable text of a tiled schedule ---*- C++ -*-===//
//
// What `s2c inspect --schedule` prints: for each head group of a pattern's
// schedule (s2/Schedule.h), its heads, phases and spans in words, and a
// picture of the key tiles the first head's query tiles visit.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_COMPILER_INSPECT_SCHEDULEPRINTER_H
#define S2C_COMPILER_INSPECT_SCHEDULEPRINTER_H

#include "s2/Pattern.h"
#include "s2/Schedule.h"

#include "llvm/Support/raw_ostream.h"

namespace s2c {

/// Prints schedule `s` of pattern `p` readably to `os`. Picture: rows are
/// query tiles from 0, columns key tiles from 0; `#` a full tile, `+` a
/// masked one (per-element pattern check), `.` a skipped one.
void printSchedule(const s2::Pattern &p, const s2::Schedule &s,
                   llvm::raw_ostream &os);

} // namespace s2c

#endif // S2C_COMPILER_INSPECT_SCHEDULEPRINTER_H
