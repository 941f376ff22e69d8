//===- CopyKernel.cpp - The segment copy kernel as GPU IR -----------------===//
//
// Emits docs/bundle.md's copy kernel, `s2_copy(segs, count)`: CTA s reads
// segment s's six i64 words (source and destination address, rows, row
// bytes, source and destination pitch) and its 128 threads copy the
// segment's rows x (row_bytes / 16) 16-byte chunks, thread t the flattened
// chunks t, t + 128, t + 256, ... Each thread divides once, for its first
// chunk's (row, column) and for the (rows, columns) a step of 128 chunks
// advances, and then walks its chunks with additions and one compare a
// step, loading and storing each chunk as a vector<4xi32> with 16-byte
// alignment (the ABI's preconditions).
//
//===----------------------------------------------------------------------===//

#include "codegen/CopyKernel.h"
#include "codegen/EmitterCommon.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace s2c {

namespace {

/// Positions of the copy kernel's parameters (docs/bundle.md, "Copy kernel
/// ABI", version 2).
enum CopyArg : unsigned { CArgSegs = 0, CArgCount, NumCopyArgs };

/// The words of one segment, in order.
enum SegWord : int64_t {
  SegSrc = 0,
  SegDst,
  SegRows,
  SegRowBytes,
  SegSrcPitch,
  SegDstPitch
};

} // namespace

FailureOr<KernelInfo> buildCopyKernel(ModuleOp module,
                                      KernelConfig::Target target) {
  Location loc = module.getLoc();
  MLIRContext *ctx = module.getContext();
  ctx->loadDialect<arith::ArithDialect, gpu::GPUDialect, LLVM::LLVMDialect,
                   memref::MemRefDialect, scf::SCFDialect,
                   vector::VectorDialect>();

  KernelInfo info;
  info.kind = s2::KernelKind::Copy;
  info.name = kCopyKernelName;
  info.config.target = target;
  info.config.dtype = s2::DType::BF16;
  info.config.headDim = 0;
  info.config.blockM = 1;
  info.config.blockN = 0;
  info.config.numWarps = kCopyKernelThreads / 32;
  info.config.stages = 1;
  info.threads = kCopyKernelThreads;
  info.sharedBytes = 0;

  OpBuilder ob(ctx);
  gpu::GPUModuleOp gpuMod = detail::kernelModule(module, loc);
  if (SymbolTable::lookupSymbolIn(gpuMod, info.name))
    return info;

  auto ptrTy = LLVM::LLVMPointerType::get(ctx);
  Type i64 = ob.getI64Type();
  auto fnTy = FunctionType::get(ctx, {ptrTy, i64}, {});
  ob.setInsertionPointToEnd(gpuMod.getBody());
  auto fn = gpu::GPUFuncOp::create(ob, loc, info.name, fnTy);
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
  fn.setKnownBlockSizeAttr(
      DenseI32ArrayAttr::get(ctx, {int32_t(kCopyKernelThreads), 1, 1}));
  fn.setArgAttr(CArgSegs, "s2.arg", ob.getStringAttr("segs"));
  fn.setArgAttr(CArgCount, "s2.arg", ob.getStringAttr("count"));

  ImplicitLocOpBuilder ib(loc, ctx);
  ib.setInsertionPointToStart(&fn.getBody().front());
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(ib, i64, v);
  };
  auto add = [&](Value a, Value b) -> Value {
    return arith::AddIOp::create(ib, a, b);
  };
  auto mul = [&](Value a, Value b) -> Value {
    return arith::MulIOp::create(ib, a, b);
  };
  auto toI64 = [&](Value index) -> Value {
    return arith::IndexCastUIOp::create(ib, i64, index);
  };

  // ---- Segment blockIdx.x: its six words (read by every thread; the same
  // 48 bytes, one broadcast).
  Value seg = toI64(gpu::BlockIdOp::create(ib, gpu::Dimension::x));
  Value tid = toI64(gpu::ThreadIdOp::create(ib, gpu::Dimension::x));
  Value segsBase =
      LLVM::PtrToIntOp::create(ib, i64, fn.getArgument(CArgSegs)).getResult();
  Value segBase = add(segsBase, mul(seg, c(kCopySegmentWords * 8)));
  auto word = [&](SegWord w) -> Value {
    Value addr = LLVM::IntToPtrOp::create(ib, ptrTy, add(segBase, c(w * 8)));
    return LLVM::LoadOp::create(ib, i64, addr, /*alignment=*/8);
  };
  Value src = word(SegSrc), dst = word(SegDst), rows = word(SegRows);
  Value rowBytes = word(SegRowBytes);
  Value srcPitch = word(SegSrcPitch), dstPitch = word(SegDstPitch);

  // ---- Chunks per row; nothing to do for an empty segment (which also
  // keeps the divisions below away from 0).
  Value cpr = arith::ShRSIOp::create(ib, rowBytes, c(4));
  Value total = mul(rows, cpr);
  Value nonEmpty =
      arith::CmpIOp::create(ib, arith::CmpIPredicate::sgt, cpr, c(0));
  auto ifOp = scf::IfOp::create(ib, TypeRange{}, nonEmpty, false);
  {
    OpBuilder::InsertionGuard guard(ib);
    ib.setInsertionPoint(ifOp.getThenRegion().front().getTerminator());
    // First chunk (row r0, column c0) and the step of kCopyKernelThreads
    // chunks in rows and columns.
    Value r0 = arith::DivUIOp::create(ib, tid, cpr);
    Value c0 = arith::RemUIOp::create(ib, tid, cpr);
    Value dr = arith::DivUIOp::create(ib, c(kCopyKernelThreads), cpr);
    Value dc = arith::RemUIOp::create(ib, c(kCopyKernelThreads), cpr);
    auto loop = scf::ForOp::create(ib, tid, total, c(kCopyKernelThreads),
                                   ValueRange{r0, c0});
    {
      OpBuilder::InsertionGuard guard2(ib);
      ib.setInsertionPointToStart(loop.getBody());
      Value r = loop.getRegionIterArg(0), col = loop.getRegionIterArg(1);
      Value colBytes = arith::ShLIOp::create(ib, col, c(4));
      Value from = add(add(src, mul(r, srcPitch)), colBytes);
      Value to = add(add(dst, mul(r, dstPitch)), colBytes);
      auto vecTy = VectorType::get({4}, ib.getI32Type());
      Value v = LLVM::LoadOp::create(
          ib, vecTy, LLVM::IntToPtrOp::create(ib, ptrTy, from), 16);
      LLVM::StoreOp::create(ib, v, LLVM::IntToPtrOp::create(ib, ptrTy, to), 16);
      // Advance by kCopyKernelThreads chunks: dc < cpr, so at most one
      // carry into the row.
      Value nc = add(col, dc);
      Value wrap =
          arith::CmpIOp::create(ib, arith::CmpIPredicate::uge, nc, cpr);
      Value ncW = arith::SelectOp::create(
          ib, wrap, arith::SubIOp::create(ib, nc, cpr), nc);
      Value nr =
          add(add(r, dr), arith::ExtUIOp::create(ib, i64, wrap).getResult());
      scf::YieldOp::create(ib, ValueRange{nr, ncW});
    }
  }
  gpu::ReturnOp::create(ib);

  detail::canonicalizeAndCSE(fn);
  return info;
}

} // namespace s2c
