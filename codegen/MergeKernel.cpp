//===- MergeKernel.cpp - The log-sum-exp merge kernel as GPU IR -----------===//
//
// Emits docs/bundle.md's merge kernel, `s2_merge_<dtype>_d<D>`: it folds a
// partial attention result (o_in, lse_in) into (o, lse) in place,
//   L = log(exp(lse) + exp(lse_in)),  o = o e^(lse-L) + o_in e^(lse_in-L),
// in f32 and rounded once. 128 threads a CTA, one (row, 16-byte chunk) each:
// the row's two log-sum-exps are read first (all threads, then a barrier, so
// that the chunk-0 thread's store of the new lse cannot overtake a read of
// the old one), then the two 8-element chunks move with 16-byte vector
// loads and stores. Exponentials and logarithms use the same NVVM
// intrinsics as the forward kernel (no libdevice).
//
//===----------------------------------------------------------------------===//

#include "codegen/EmitterCommon.h"
#include "codegen/KernelBuilder.h"

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

#include <limits>

using namespace mlir;

namespace s2c {

namespace {

/// Positions of the merge kernel's parameters (docs/bundle.md, "Merge
/// kernel ABI", version 2).
enum MergeArg : unsigned {
  MArgO = 0,
  MArgLse,
  MArgOIn,
  MArgLseIn,
  MArgRows,
  MArgOsb,
  MArgOss,
  MArgOsh,
  MArgLsb,
  MArgLsh,
  MArgIsb,
  MArgIss,
  MArgIsh,
  MArgILsb,
  MArgILsh,
  NumMergeArgs
};

constexpr int64_t kMergeThreads = 128;

Value callF32(OpBuilder &b, Location loc, StringRef name, ValueRange args) {
  return LLVM::CallIntrinsicOp::create(b, loc, b.getF32Type(),
                                       b.getStringAttr(name), args)
      .getResult(0);
}

Value asMemRef(ImplicitLocOpBuilder &ib, Value ptr, Type elem) {
  return detail::memrefOverPointer(ib, ptr, elem);
}

} // namespace

std::string mergeKernelName(const KernelConfig &c) {
  std::string name = "s2_merge_";
  name += c.dtype == s2::DType::F16 ? "f16" : "bf16";
  name += "_d" + std::to_string(c.headDim);
  return name;
}

MergeMath emitMergeMath(OpBuilder &b, Location loc, Value lse, Value lseIn,
                        Value o, Value oIn) {
  auto cf = [&](double v) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(v)));
  };
  Value ninf = cf(-std::numeric_limits<double>::infinity());
  Value aInf =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, lse, ninf);
  Value bInf =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, lseIn, ninf);
  Value aFinite = arith::XOrIOp::create(
      b, loc, aInf, arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
  MergeMath r;
  r.keep = arith::AndIOp::create(b, loc, bInf, aFinite);

  // Both finite (the other cases are selected below): with m the larger,
  // e = 2^((x - m) log2 e) in (0, 1], one of them 1, and s = ea + eb in
  // [1, 2].
  Value m = callF32(b, loc, "llvm.maxnum.f32", {lse, lseIn});
  Value log2e = cf(1.4426950408889634074);
  auto ex2 = [&](Value x) {
    Value d = arith::SubFOp::create(b, loc, x, m);
    return callF32(b, loc, "llvm.nvvm.ex2.approx.ftz.f",
                   {arith::MulFOp::create(b, loc, d, log2e)});
  };
  Value ea = ex2(lse), eb = ex2(lseIn);
  Value s = arith::AddFOp::create(b, loc, ea, eb);
  Value inv = arith::DivFOp::create(b, loc, cf(1.0), s);
  Value wa = arith::MulFOp::create(b, loc, ea, inv);
  Value wb = arith::MulFOp::create(b, loc, eb, inv);
  Value lg = callF32(b, loc, "llvm.nvvm.lg2.approx.f", {s});
  Value merged = arith::AddFOp::create(
      b, loc, m, arith::MulFOp::create(b, loc, lg, cf(0.69314718055994530942)));
  // lse = -inf: the partial result replaces it (both -inf: stays -inf).
  // lse_in = -inf: nothing to fold in.
  r.lse = arith::SelectOp::create(
      b, loc, bInf, lse, arith::SelectOp::create(b, loc, aInf, lseIn, merged));

  Value vwa = wa, vwb = wb, zero = cf(0.0);
  if (auto vt = dyn_cast<VectorType>(o.getType())) {
    vwa = vector::BroadcastOp::create(b, loc, vt, wa);
    vwb = vector::BroadcastOp::create(b, loc, vt, wb);
    zero = arith::ConstantOp::create(b, loc, vt, b.getZeroAttr(vt));
  }
  Value mix =
      arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, o, vwa),
                            arith::MulFOp::create(b, loc, oIn, vwb));
  // Exact in the one-sided cases; both -inf: o = 0.
  r.o = arith::SelectOp::create(
      b, loc, aInf, arith::SelectOp::create(b, loc, bInf, zero, oIn),
      arith::SelectOp::create(b, loc, bInf, o, mix));
  return r;
}

FailureOr<KernelInfo> buildMergeKernel(ModuleOp module,
                                       const KernelConfig &config) {
  Location loc = module.getLoc();
  if (failed(detail::checkHeadDimAndDType(loc, config, "the merge kernel")))
    return failure();
  MLIRContext *ctx = module.getContext();
  ctx->loadDialect<arith::ArithDialect, gpu::GPUDialect, LLVM::LLVMDialect,
                   memref::MemRefDialect, scf::SCFDialect,
                   vector::VectorDialect>();

  const int64_t D = config.headDim, cpr = D / 8;
  const int64_t rowsPerCta = kMergeThreads / cpr;
  KernelInfo info;
  info.kind = s2::KernelKind::Merge;
  info.name = mergeKernelName(config);
  info.config = config;
  info.config.blockM = rowsPerCta;
  info.config.blockN = 0;
  info.config.numWarps = kMergeThreads / 32;
  info.threads = kMergeThreads;
  info.sharedBytes = 0;

  OpBuilder ob(ctx);
  gpu::GPUModuleOp gpuMod = detail::kernelModule(module, loc);
  if (SymbolTable::lookupSymbolIn(gpuMod, info.name))
    return info;

  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Type i64 = ob.getI64Type(), f32 = ob.getF32Type();
  SmallVector<Type> args = {ptr, ptr, ptr, ptr};
  args.append(11, i64);
  auto fnTy = FunctionType::get(ctx, args, {});
  ob.setInsertionPointToEnd(gpuMod.getBody());
  auto fn = gpu::GPUFuncOp::create(ob, loc, info.name, fnTy);
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
  fn.setKnownBlockSizeAttr(
      DenseI32ArrayAttr::get(ctx, {int32_t(kMergeThreads), 1, 1}));
  static const char *const argNames[] = {
      "o",   "lse", "o_in", "lse_in", "rows", "osb",  "oss", "osh",
      "lsb", "lsh", "isb",  "iss",    "ish",  "ilsb", "ilsh"};
  static_assert(sizeof(argNames) / sizeof(argNames[0]) == NumMergeArgs,
                "one name per ABI parameter");
  for (unsigned i = 0; i < NumMergeArgs; ++i)
    fn.setArgAttr(i, "s2.arg", ob.getStringAttr(argNames[i]));

  ImplicitLocOpBuilder ib(loc, ctx);
  ib.setInsertionPointToStart(&fn.getBody().front());
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, v);
  };
  auto idx = [&](MergeArg a) -> Value {
    return arith::IndexCastOp::create(ib, ib.getIndexType(), fn.getArgument(a));
  };
  auto add = [&](Value a, Value b) -> Value {
    return arith::AddIOp::create(ib, a, b);
  };
  auto mul = [&](Value a, Value b) -> Value {
    return arith::MulIOp::create(ib, a, b);
  };
  Type elemTy = config.dtype == s2::DType::F16 ? Type(ib.getF16Type())
                                               : Type(ib.getBF16Type());

  // ---- This thread's (row, chunk); grid = (row blocks, heads, batch).
  Value tid = gpu::ThreadIdOp::create(ib, gpu::Dimension::x);
  Value bx = gpu::BlockIdOp::create(ib, gpu::Dimension::x);
  Value head = gpu::BlockIdOp::create(ib, gpu::Dimension::y);
  Value batch = gpu::BlockIdOp::create(ib, gpu::Dimension::z);
  Value row =
      add(mul(bx, c(rowsPerCta)), arith::DivUIOp::create(ib, tid, c(cpr)));
  Value chunk = arith::RemUIOp::create(ib, tid, c(cpr));
  Value rows = idx(MArgRows);

  // ---- Both log-sum-exps of the row (clamped into [0, rows) so that every
  // thread reads before the barrier), then the barrier: the chunk-0 thread
  // of a row overwrites lse, the row's other threads must have read it.
  Value inRange =
      arith::CmpIOp::create(ib, arith::CmpIPredicate::slt, row, rows);
  Value rowC = arith::SelectOp::create(ib, inRange, row, c(0));
  Value lseM = asMemRef(ib, fn.getArgument(MArgLse), f32);
  Value lseInM = asMemRef(ib, fn.getArgument(MArgLseIn), f32);
  Value lseIdx =
      add(add(mul(batch, idx(MArgLsb)), mul(head, idx(MArgLsh))), rowC);
  Value lseInIdx =
      add(add(mul(batch, idx(MArgILsb)), mul(head, idx(MArgILsh))), rowC);
  Value la = memref::LoadOp::create(ib, lseM, ValueRange{lseIdx});
  Value lb = memref::LoadOp::create(ib, lseInM, ValueRange{lseInIdx});
  gpu::BarrierOp::create(ib);

  // ---- Rows whose partial result is empty (lse_in = -inf, lse finite) are
  // left alone; the others fold, 8 elements a thread.
  Value ninf = arith::ConstantOp::create(
      ib, ib.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  Value bInf = arith::CmpFOp::create(ib, arith::CmpFPredicate::OEQ, lb, ninf);
  Value aFinite =
      arith::CmpFOp::create(ib, arith::CmpFPredicate::UNE, la, ninf);
  Value keep = arith::AndIOp::create(ib, bInf, aFinite);
  Value notKeep = arith::XOrIOp::create(
      ib, keep, arith::ConstantIntOp::create(ib, ib.getI1Type(), 1));
  Value work = arith::AndIOp::create(ib, inRange, notKeep);
  auto ifOp = scf::IfOp::create(ib, TypeRange{}, work, false);
  {
    OpBuilder::InsertionGuard guard(ib);
    ib.setInsertionPoint(ifOp.getThenRegion().front().getTerminator());
    Value oM = asMemRef(ib, fn.getArgument(MArgO), elemTy);
    Value oInM = asMemRef(ib, fn.getArgument(MArgOIn), elemTy);
    Value col = mul(chunk, c(8));
    Value oIdx = add(add(add(mul(batch, idx(MArgOsb)), mul(row, idx(MArgOss))),
                         mul(head, idx(MArgOsh))),
                     col);
    Value oInIdx =
        add(add(add(mul(batch, idx(MArgIsb)), mul(row, idx(MArgIss))),
                mul(head, idx(MArgIsh))),
            col);
    auto vElem = VectorType::get({8}, elemTy);
    auto vF32 = VectorType::get({8}, f32);
    Value oV =
        vector::LoadOp::create(ib, vElem, oM, ValueRange{oIdx},
                               /*nontemporal=*/false, llvm::MaybeAlign(16));
    Value oInV =
        vector::LoadOp::create(ib, vElem, oInM, ValueRange{oInIdx},
                               /*nontemporal=*/false, llvm::MaybeAlign(16));
    MergeMath mm =
        emitMergeMath(ib, loc, la, lb, arith::ExtFOp::create(ib, vF32, oV),
                      arith::ExtFOp::create(ib, vF32, oInV));
    Value out = arith::TruncFOp::create(ib, vElem, mm.o);
    vector::StoreOp::create(ib, out, oM, ValueRange{oIdx},
                            /*nontemporal=*/false, llvm::MaybeAlign(16));
    Value first =
        arith::CmpIOp::create(ib, arith::CmpIPredicate::eq, chunk, c(0));
    auto lseIf = scf::IfOp::create(ib, TypeRange{}, first, false);
    OpBuilder::InsertionGuard guard2(ib);
    ib.setInsertionPoint(lseIf.getThenRegion().front().getTerminator());
    memref::StoreOp::create(ib, mm.lse, lseM, ValueRange{lseIdx});
  }
  gpu::ReturnOp::create(ib);

  detail::canonicalizeAndCSE(fn);
  return info;
}

} // namespace s2c
