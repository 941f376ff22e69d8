//===- CopyKernel.h - The segment copy kernel as GPU IR ---------*- C++ -*-===//
//
// Declares the builder of docs/bundle.md's copy kernel, `s2_copy`: one
// launch copies a list of 2-D byte segments (rows of a fixed length at a
// source and a destination pitch), one CTA a segment, in 16-byte vectors.
// Sequence-parallel plans pack and unpack their key/value messages with it
// (one launch per message side instead of one copy per head and block run).
//
//===----------------------------------------------------------------------===//

#ifndef S2C_CODEGEN_COPYKERNEL_H
#define S2C_CODEGEN_COPYKERNEL_H

#include "codegen/KernelBuilder.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

namespace s2c {

/// The copy kernel's entry name (the same for every target).
constexpr const char *kCopyKernelName = "s2_copy";
/// Threads per CTA of the copy kernel.
constexpr int64_t kCopyKernelThreads = 128;
/// i64 words per segment in the `segs` array: source address, destination
/// address, rows, row bytes, source pitch, destination pitch.
constexpr int64_t kCopySegmentWords = 6;

/// Appends to `gpu.module @s2_kernels` of `module` (created when missing)
/// the copy kernel of docs/bundle.md ("Copy kernel ABI"): parameters
/// (segs: ptr, count: i64), grid.x = count, 128 threads, no shared memory.
/// Thread t of CTA s copies the 16-byte chunks t, t + 128, ... of segment
/// s's rows x (row_bytes / 16) chunks. When the module already holds it,
/// returns its info without adding a second copy. The returned info has
/// kind Copy, blockM 1 (segments per CTA), blockN 0, headDim 0, and
/// `target` as its target.
mlir::FailureOr<KernelInfo>
buildCopyKernel(mlir::ModuleOp module,
                KernelConfig::Target target = KernelConfig::Target::Sm80);

} // namespace s2c

#endif // S2C_CODEGEN_COPYKERNEL_H
