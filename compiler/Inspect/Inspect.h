//===- Inspect.h - Reports and pictures of a pattern -----------*- C++ -*-===//
//
// What `s2c inspect` prints: a pattern's settings, density per head and
// overall, coverage, empty rows, KV-cache efficiency and fraction, and an
// ASCII picture of each distinct head block mask; and `--svg`, a grid of
// every head's block mask as a figure.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_COMPILER_INSPECT_INSPECT_H
#define S2C_COMPILER_INSPECT_INSPECT_H

#include "s2/Pattern.h"

#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>

namespace s2c {

struct InspectOptions {
  /// Sequence length in tokens at which statistics and pictures are made.
  int64_t seqLen = 8192;
  /// Print the ASCII block masks.
  bool ascii = true;
  /// Widest ASCII picture in columns; larger masks are downsampled.
  int64_t maxWidth = 64;
};

/// Prints the report of `p` to `os`. Fails (with a message on stderr) when
/// the pattern is invalid or the length cannot be analysed.
mlir::LogicalResult inspectPattern(const s2::Pattern &p,
                                   const InspectOptions &opts,
                                   llvm::raw_ostream &os);

/// Writes an SVG figure of every head's block mask at `seqLen` tokens: one
/// titled panel per head in a grid. Masks wider than 128 blocks are
/// downsampled: a cell is dark when all its blocks are visible, light when
/// some are. Fails
/// (with a message on stderr) like inspectPattern.
mlir::LogicalResult writeSvg(const s2::Pattern &p, int64_t seqLen,
                             llvm::raw_ostream &os);

/// Registers `--s2-test-inspect` (options seq-len, max-width, ascii, svg):
/// runs inspectPattern or writeSvg on every s2.pattern and prints to
/// stdout. For lit tests through s2-opt.
void registerInspectTestPass();

} // namespace s2c

#endif // S2C_COMPILER_INSPECT_INSPECT_H
