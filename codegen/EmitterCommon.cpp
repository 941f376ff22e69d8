//===- EmitterCommon.cpp - Shared forward-kernel emitter ------------------===//
//
// The forward attention kernel's structure, shared by the mma.sync and the
// warpgroup-MMA builders: prologue, head-group and phase dispatch, span
// arithmetic, the cp.async K/V pipeline, masks, online softmax, epilogue,
// and the kernel function's creation (see EmitterCommon.h).
//
//===----------------------------------------------------------------------===//

#include "codegen/EmitterCommon.h"

#include "codegen/Lowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <functional>
#include <limits>
#include <tuple>

using namespace mlir;

namespace s2c {
namespace detail {

namespace {

/// Maximal runs [first, last] of consecutive heads.
SmallVector<std::pair<int64_t, int64_t>> headRuns(ArrayRef<int64_t> heads) {
  SmallVector<int64_t> sorted(heads.begin(), heads.end());
  llvm::sort(sorted);
  SmallVector<std::pair<int64_t, int64_t>> runs;
  for (int64_t h : sorted) {
    if (!runs.empty() && runs.back().second + 1 == h)
      runs.back().second = h;
    else if (runs.empty() || runs.back().second != h)
      runs.push_back({h, h});
  }
  return runs;
}

int64_t posMod(int64_t a, int64_t m) {
  int64_t r = a % m;
  return r < 0 ? r + m : r;
}

} // namespace

EmitterBase::~EmitterBase() = default;

Value memrefOverPointer(ImplicitLocOpBuilder &ib, Value ptr, Type elem) {
  MLIRContext *ctx = ib.getContext();
  auto ptrTy = LLVM::LLVMPointerType::get(ctx);
  Type i64 = ib.getI64Type();
  auto arr = LLVM::LLVMArrayType::get(i64, 1);
  auto descTy =
      LLVM::LLVMStructType::getLiteral(ctx, {ptrTy, ptrTy, i64, arr, arr});
  Value d = LLVM::UndefOp::create(ib, descTy);
  d = LLVM::InsertValueOp::create(ib, d, ptr, ArrayRef<int64_t>{0});
  d = LLVM::InsertValueOp::create(ib, d, ptr, ArrayRef<int64_t>{1});
  Value zero = LLVM::ConstantOp::create(ib, i64, ib.getI64IntegerAttr(0));
  Value big = LLVM::ConstantOp::create(
      ib, i64, ib.getI64IntegerAttr(std::numeric_limits<int64_t>::max()));
  Value one = LLVM::ConstantOp::create(ib, i64, ib.getI64IntegerAttr(1));
  d = LLVM::InsertValueOp::create(ib, d, zero, ArrayRef<int64_t>{2});
  d = LLVM::InsertValueOp::create(ib, d, big, ArrayRef<int64_t>{3, 0});
  d = LLVM::InsertValueOp::create(ib, d, one, ArrayRef<int64_t>{4, 0});
  auto memTy = MemRefType::get({ShapedType::kDynamic}, elem);
  return UnrealizedConversionCastOp::create(ib, TypeRange{memTy}, ValueRange{d})
      .getResult(0);
}

Value EmitterBase::asMemRef(Value ptr, Type elem) {
  return memrefOverPointer(ib, ptr, elem);
}

gpu::GPUModuleOp kernelModule(ModuleOp module, Location loc) {
  MLIRContext *ctx = module.getContext();
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  UnitAttr::get(ctx));
  for (auto m : module.getOps<gpu::GPUModuleOp>())
    if (m.getName() == "s2_kernels")
      return m;
  OpBuilder ob(ctx);
  ob.setInsertionPointToEnd(module.getBody());
  return gpu::GPUModuleOp::create(ob, loc, "s2_kernels");
}

void canonicalizeAndCSE(gpu::GPUFuncOp fn) {
  MLIRContext *ctx = fn.getContext();
  RewritePatternSet patterns(ctx);
  for (Dialect *d : ctx->getLoadedDialects())
    d->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName op : ctx->getRegisteredOperations())
    op.getCanonicalizationPatterns(patterns, ctx);
  (void)applyPatternsGreedily(fn, std::move(patterns));
  IRRewriter rewriter(ctx);
  DominanceInfo dom(fn);
  eliminateCommonSubExpressions(rewriter, dom, fn);
}

std::pair<Value, Value> EmitterBase::seqBounds(Arg cu, Arg len) {
  Type idxTy = ib.getIndexType();
  Value packed = isNonNull(fn.getArgument(cu));
  SmallVector<Value> r = emitIf(
      packed, {idxTy, idxTy},
      [&]() -> SmallVector<Value> {
        Value m = asMemRef(fn.getArgument(cu), ib.getI32Type());
        Value s0 = toIndex(memref::LoadOp::create(ib, m, ValueRange{bz}));
        Value s1 =
            toIndex(memref::LoadOp::create(ib, m, ValueRange{add(bz, c(1))}));
        return {s0, sub(s1, s0)};
      },
      [&]() -> SmallVector<Value> {
        return {c(0), toIndex(fn.getArgument(len))};
      });
  return {r[0], r[1]};
}

EmitterBase::QueryOut EmitterBase::queryOut() {
  auto idxArg = [&](Arg a) { return toIndex(fn.getArgument(a)); };
  auto [qRow0, sq] = seqBounds(ArgCuQ, ArgSq);
  Value qBatch = sel(isNonNull(fn.getArgument(ArgCuQ)), c(0), bz);
  QueryOut out;
  out.oBase = add(add(mul(qBatch, idxArg(ArgOsb)), mul(qRow0, oss)),
                  mul(tensorHead, idxArg(ArgOsh)));
  out.lseBase = add(
      add(mul(qBatch, idxArg(ArgLsb)), mul(tensorHead, idxArg(ArgLsh))), qRow0);
  out.sq = sq;
  return out;
}

Value EmitterBase::isNonNull(Value ptr) {
  Value null = LLVM::ZeroOp::create(ib, ptr.getType());
  return LLVM::ICmpOp::create(ib, LLVM::ICmpPredicate::ne, ptr, null);
}

SmallVector<Value>
EmitterBase::emitIf(Value cond, TypeRange types,
                    function_ref<SmallVector<Value>()> thenFn,
                    function_ref<SmallVector<Value>()> elseFn) {
  auto ifOp = scf::IfOp::create(ib, types, cond, /*withElseRegion=*/true);
  auto fill = [&](Region &r, function_ref<SmallVector<Value>()> fn) {
    Block &blk = r.front();
    if (!blk.empty())
      blk.back().erase();
    OpBuilder::InsertionGuard guard(ib);
    ib.setInsertionPointToEnd(&blk);
    SmallVector<Value> vals = fn ? fn() : SmallVector<Value>{};
    scf::YieldOp::create(ib, vals);
  };
  fill(ifOp.getThenRegion(), thenFn);
  fill(ifOp.getElseRegion(), elseFn);
  return SmallVector<Value>(ifOp.getResults());
}

Value EmitterBase::headConst(ArrayRef<int64_t> heads,
                             function_ref<int64_t(int64_t)> value,
                             int64_t mod) {
  SmallVector<int64_t> hs(heads.begin(), heads.end());
  if (hs.empty())
    return c(0);
  int64_t g = pat.groupSize();
  auto norm = [&](int64_t v) { return mod > 0 ? posMod(v, mod) : v; };
  int64_t v0 = norm(value(hs[0]));
  if (llvm::all_of(hs, [&](int64_t x) { return norm(value(x)) == v0; }))
    return c(v0);
  // Affine in x = h or x = h / G: v = a * x + b (mod `mod` when set).
  for (int64_t div : {int64_t(1), g}) {
    auto xOf = [&](int64_t hh) { return hh / div; };
    SmallVector<int64_t> as;
    if (mod > 0) {
      for (int64_t a = 0; a < mod && a < 4096; ++a)
        as.push_back(a);
    } else {
      // Exact: derive a from the first two heads with distinct x.
      for (int64_t hh : hs)
        if (xOf(hh) != xOf(hs[0])) {
          int64_t dx = xOf(hh) - xOf(hs[0]);
          int64_t dv = value(hh) - value(hs[0]);
          if (dv % dx == 0)
            as.push_back(dv / dx);
          break;
        }
    }
    for (int64_t a : as) {
      int64_t b = norm(v0 - a * xOf(hs[0]));
      if (!llvm::all_of(hs, [&](int64_t x) {
            return norm(a * xOf(x) + b) == norm(value(x));
          }))
        continue;
      Value x = div == 1 ? h : floorDiv(h, c(div));
      Value r = add(mul(x, c(a)), c(b));
      if (mod > 0)
        r = remS(r, c(mod)); // a, b >= 0 and x >= 0: no sign fix-up.
      return r;
    }
  }
  // A small constant table as a select chain.
  Value r = c(norm(value(hs.back())));
  for (int64_t x : llvm::reverse(ArrayRef<int64_t>(hs).drop_back()))
    r = sel(cmp(arith::CmpIPredicate::eq, h, c(x)), c(norm(value(x))), r);
  return r;
}

Value EmitterBase::headIn(ArrayRef<int64_t> heads) {
  Value any;
  for (auto [a, b] : headRuns(heads)) {
    // h = head_offset + blockIdx.y >= 0: a run from head 0 needs one test.
    Value in = a == b   ? cmp(arith::CmpIPredicate::eq, h, c(a))
               : a == 0 ? cmp(arith::CmpIPredicate::sle, h, c(b))
                        : andI(cmp(arith::CmpIPredicate::sge, h, c(a)),
                               cmp(arith::CmpIPredicate::sle, h, c(b)));
    any = any ? orI(any, in) : in;
  }
  return any ? any : ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 0);
}

Acc EmitterBase::initAcc() {
  Acc a;
  Value zero = cf(0.0), ninf = negInf();
  for (int64_t i = 0; i < D / 8 * 4; ++i)
    a.o.push_back(zero);
  a.m[0] = a.m[1] = ninf;
  a.l[0] = a.l[1] = zero;
  return a;
}

void EmitterBase::emit(gpu::GPUFuncOp func) {
  fn = func;
  MLIRContext *ctx = ib.getContext();
  D = cfg.headDim;
  BM = cfg.blockM;
  TN = cfg.blockN;
  KT = std::max<int64_t>(cfg.keyTiles, 1);
  BN = TN * KT;
  threads = cfg.numWarps * 32;
  elemTy = cfg.dtype == s2::DType::F16 ? Type(ib.getF16Type())
                                       : Type(ib.getBF16Type());
  auto arg = [&](Arg a) { return func.getArgument(a); };
  auto idxArg = [&](Arg a) { return toIndex(arg(a)); };

  // ---- Thread geometry.
  tid = gpu::ThreadIdOp::create(ib, gpu::Dimension::x);
  warp = ib.createOrFold<arith::DivUIOp>(tid, c(32));
  lane = ib.createOrFold<arith::RemUIOp>(tid, c(32));
  grp = ib.createOrFold<arith::DivUIOp>(lane, c(4));
  tig = ib.createOrFold<arith::RemUIOp>(lane, c(4));
  Value bx = gpu::BlockIdOp::create(ib, gpu::Dimension::x);
  Value by = gpu::BlockIdOp::create(ib, gpu::Dimension::y);
  bz = gpu::BlockIdOp::create(ib, gpu::Dimension::z);

  // ---- Heads: pattern head h, tensor head, KV tensor head.
  Value headOffset = idxArg(ArgHeadOffset);
  tensorHead = by;
  h = add(headOffset, by);
  int64_t g = pat.groupSize();
  kvh = sub(floorDiv(h, c(g)), floorDiv(headOffset, c(g)));

  // ---- Sequences (packed when cu_seqlens is non-null).
  auto [qRow0, sqb] = seqBounds(ArgCuQ, ArgSq);
  auto [kRow0, skb] = seqBounds(ArgCuK, ArgSk);
  Value qBatch = sel(isNonNull(arg(ArgCuQ)), c(0), bz);
  Value kBatch = sel(isNonNull(arg(ArgCuK)), c(0), bz);
  qss = idxArg(ArgQss);
  kss = idxArg(ArgKss);
  vss = idxArg(ArgVss);
  oss = idxArg(ArgOss);
  qBase = add(add(mul(qBatch, idxArg(ArgQsb)), mul(qRow0, qss)),
              mul(tensorHead, idxArg(ArgQsh)));
  kBase = add(add(mul(kBatch, idxArg(ArgKsb)), mul(kRow0, kss)),
              mul(kvh, idxArg(ArgKsh)));
  vBase = add(add(mul(kBatch, idxArg(ArgVsb)), mul(kRow0, vss)),
              mul(kvh, idxArg(ArgVsh)));
  scaleLog2 = arg(ArgScaleLog2);

  // ---- Key window: keys [kv_lo, min(sk_b, kv_hi)). A packed launch passes
  // the defaults (0, sk >= sk_b), so the window is its whole sequence.
  kEnd = minS(skb, idxArg(ArgKvHi));
  kvLoT = floorDiv(idxArg(ArgKvLo), c(TN));
  nkt = ceilDiv(kEnd, c(TN));

  // ---- Query tile (aligned to absolute positions, heaviest first): row 0
  // is at delta = q_pos. Written as sk_b - sq_b + (q_pos - (sk - sq)):
  // that is q_pos when not packed (sk_b = sk, sq_b = sq), and sk_b - sq_b
  // when packed (which passes q_pos = sk - sq), with no select on the
  // packing. (This form also kept the d64 kernels at 168 registers where a
  // select on cu_seqlens_q pushed ptxas over.)
  delta = add(sub(skb, sqb),
              sub(idxArg(ArgQPos), sub(idxArg(ArgSk), idxArg(ArgSq))));
  Value tEnd = ceilDiv(add(delta, sqb), c(BM));
  Value tBegin = floorDiv(delta, c(BM));
  t = sub(sub(tEnd, c(1)), bx);
  Value active = cmp(arith::CmpIPredicate::sge, t, tBegin);
  qStart32 = toI32(mul(t, c(BM)));
  rowOff = sub(mul(t, c(BM)), delta);

  auto ifOp = scf::IfOp::create(ib, TypeRange{}, active, false);
  {
    OpBuilder::InsertionGuard guard(ib);
    ib.setInsertionPoint(ifOp.getThenRegion().front().getTerminator());

    qG = asMemRef(arg(ArgQ), elemTy);
    kG = asMemRef(arg(ArgK), elemTy);
    vG = asMemRef(arg(ArgV), elemTy);
    oG = asMemRef(arg(ArgO), elemTy);
    lseG = asMemRef(arg(ArgLse), ib.getF32Type());
    lseOn = isNonNull(arg(ArgLse));
    if (!sched.tables.empty())
      tablesG = asMemRef(arg(ArgTables), ib.getI32Type());
    if (tensorMaps()) {
      kMap = arg(ArgKMap);
      vMap = arg(ArgVMap);
      Value set = cmp(arith::CmpIPredicate::ne, arg(ArgTma), c32(0));
      tmaOn = andI(
          set, xorI(isNonNull(arg(ArgCuK)),
                    ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 1)));
    }

    // ---- Shared memory: Q | K stages | V stages.
    auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    auto i8Dyn = MemRefType::get({ShapedType::kDynamic}, ib.getI8Type(),
                                 MemRefLayoutAttrInterface(), wg);
    Value dsm = gpu::DynamicSharedMemoryOp::create(ib, i8Dyn);
    createSharedTiles(dsm, wg);

    // ---- Q tile -> shared memory (by the consumer threads when a producer
    // warpgroup follows them).
    bool ws = ringStages() > 0;
    int64_t cpr = D / 8; // 16-byte chunks per row
    auto loadQ = [&]() -> SmallVector<Value> {
      Value rowOfTid = ib.createOrFold<arith::DivUIOp>(tid, c(cpr));
      Value chunkOfTid = ib.createOrFold<arith::RemUIOp>(tid, c(cpr));
      for (int64_t i = 0; i < BM * cpr / threads; ++i) {
        Value row = add(rowOfTid, c(i * (threads / cpr)));
        Value s = sub(add(mul(t, c(BM)), row), delta);
        Value ok = inSequence(s, sqb);
        Value src =
            add(add(qBase, mul(sel(ok, s, c(0)), qss)), mul(chunkOfTid, c(8)));
        tgt.asyncCopy16(ib, ib.getLoc(), qS, tileIndex(row, chunkOfTid, BM), qG,
                        src, sel(ok, c(8), c(0)));
      }
      return {};
    };
    Value isConsumer =
        ws ? cmp(arith::CmpIPredicate::ult, tid, c(threads)) : Value();
    if (ws)
      emitIf(isConsumer, {}, loadQ);
    else
      loadQ();
    Value qTok = tgt.commitGroup(ib, ib.getLoc(), ValueRange{});
    if (tensorMaps())
      initTmaBarriers();
    if (ws)
      // The V ring and its zero buffer start as zeros: a V tile that is not
      // loaded meets P = 0 and must hold finite values.
      emitIf(isConsumer, {}, [&]() -> SmallVector<Value> {
        zeroVTiles(ringStages() + 1);
        return {};
      });
    tgt.waitGroups(ib, ib.getLoc(), qTok, 0);
    fenceCopies();
    gpu::BarrierOp::create(ib);
    afterQLoaded();

    // ---- Table offsets in the tables buffer.
    int64_t off = 0;
    for (const s2::TileTable &tt : sched.tables) {
      tableOffsets.push_back(off);
      off += int64_t(tt.rowPtr.size() + tt.cols.size());
    }

    auto consumer = [&]() -> SmallVector<Value> {
      if (ws)
        enterRole(false);
      // ---- Per-thread mask geometry (i32): row of c0 and col - row.
      rowI32 = toI32(add(mul(warp, c(16)), grp));
      colI32 = toI32(mul(tig, c(2)));
      crI32 = ib.createOrFold<arith::SubIOp>(colI32, rowI32);

      // ---- Per-rule constants of this CTA's head.
      for (const s2::Rule &r : pat.rules) {
        SmallVector<int64_t> hs;
        for (int64_t x = 0; x < int64_t(r.heads.size()); ++x)
          if (r.heads[x])
            hs.push_back(x);
        ruleOn.push_back(headIn(hs));
        if (r.kind == s2::RuleKind::Stride && r.step > 0)
          ruleShift.push_back(toI32(headConst(
              hs, [&](int64_t x) { return r.shift[x]; }, r.step)));
        else
          ruleShift.push_back(Value());
      }

      SmallVector<Type> accTypes(D / 8 * 4 + 4, ib.getF32Type());
      Acc acc = Acc::fromFlat(walkGroups(
          0, accTypes,
          [&](const s2::HeadGroup *g,
              const s2::Phase *ph) -> SmallVector<Value> {
            return (ph ? emitPhaseLoop(*g, *ph, initAcc()) : initAcc()).flat();
          }));

      // Drain every copy before the CTA may exit.
      Value drain = tgt.commitGroup(ib, ib.getLoc(), ValueRange{});
      tgt.waitGroups(ib, ib.getLoc(), drain, 0);
      epilogue(acc);
      return {};
    };
    if (ws)
      emitIf(isConsumer, {}, consumer, [&]() -> SmallVector<Value> {
        emitProducer();
        return {};
      });
    else
      consumer();
  }
  gpu::ReturnOp::create(ib);
}

SmallVector<Value> EmitterBase::walkGroups(size_t gi, TypeRange types,
                                           PhaseBody body) {
  if (gi == sched.groups.size())
    return body(nullptr, nullptr);
  const s2::HeadGroup &grp = sched.groups[gi];
  // The last group covering every remaining head needs no test.
  if (gi + 1 == sched.groups.size()) {
    size_t covered = 0;
    for (const s2::HeadGroup &other : sched.groups)
      covered += other.heads.size();
    if (int64_t(covered) == pat.heads)
      return walkPhases(grp, 0, types, body);
  }
  return emitIf(
      headIn(grp.heads), types,
      [&]() { return walkPhases(grp, 0, types, body); },
      [&]() { return walkGroups(gi + 1, types, body); });
}

SmallVector<Value> EmitterBase::walkPhases(const s2::HeadGroup &g, size_t pi,
                                           TypeRange types, PhaseBody body) {
  if (pi == g.phases.size())
    return body(nullptr, nullptr);
  const s2::Phase &ph = g.phases[pi];
  if (ph.tBegin <= 0 && ph.tEnd < 0 && pi + 1 == g.phases.size())
    return body(&g, &ph);
  Value in = cmp(arith::CmpIPredicate::sge, t, c(ph.tBegin));
  if (ph.tEnd >= 0)
    in = andI(in, cmp(arith::CmpIPredicate::slt, t, c(ph.tEnd)));
  return emitIf(
      in, types, [&]() { return body(&g, &ph); },
      [&]() { return walkPhases(g, pi + 1, types, body); });
}

Value EmitterBase::tileOf(ArrayRef<SpanRT> spans, Value n) {
  auto tileIn = [&](const SpanRT &s) -> Value {
    Value local = sub(n, s.start);
    if (s.span->kind == s2::SpanKind::Table) {
      Value last = maxS(sub(s.count, c(1)), c(0));
      local = minS(maxS(local, c(0)), last);
      return toIndex(
          memref::LoadOp::create(ib, tablesG, ValueRange{add(s.base, local)}));
    }
    if (s.run > 1) {
      Value m = add(local, s.skip);
      return add(add(s.base, mul(ib.createOrFold<arith::DivSIOp>(m, c(s.run)),
                                 c(s.stride))),
                 remS(m, c(s.run)));
    }
    return add(s.base, mul(local, c(s.stride)));
  };
  Value tile = tileIn(spans.back());
  for (size_t i = spans.size() - 1; i-- > 0;) {
    Value end = add(spans[i].start, spans[i].count);
    tile = sel(cmp(arith::CmpIPredicate::slt, n, end), tileIn(spans[i]), tile);
  }
  return tile;
}

void EmitterBase::issueRows(bool k, bool v, Value tile, Value stage,
                            Value valid, bool perRow, Value copier,
                            int64_t copiers, int64_t firstRow) {
  SmallVector<std::tuple<Value, Value, Value, Value>, 2> tensors;
  if (k)
    tensors.push_back(std::make_tuple(kG, kS, kBase, kss));
  if (v)
    tensors.push_back(std::make_tuple(vG, vS, vBase, vss));
  int64_t cpr = D / 8;
  Value me = copier ? copier : tid;
  int64_t n = copiers ? copiers : threads;
  int64_t rowsPerPass = n / cpr;
  int64_t passes = TN * cpr / n;
  Value rowOfTid = ib.createOrFold<arith::DivUIOp>(me, c(cpr));
  Value chunkOfTid = ib.createOrFold<arith::RemUIOp>(me, c(cpr));
  Value stageOff = mul(stage, c(BN * D));
  Value kStart = mul(tile, c(TN));
  // Destinations: when a pass covers a multiple of 8 rows, every row of the
  // thread has the same swizzle and row i is row 0 plus a constant.
  Value dst0 =
      add(stageOff, tileIndex(add(rowOfTid, c(firstRow)), chunkOfTid, BN));
  auto dstOf = [&](int64_t i) {
    if (rowsPerPass % 8 == 0)
      return add(dst0, c(i * rowsPerPass * tileRowPitch()));
    return add(stageOff, tileIndex(add(rowOfTid, c(firstRow + i * rowsPerPass)),
                                   chunkOfTid, BN));
  };
  // A full tile (valid and entirely before the sequence end, the usual
  // case) copies without any per-row test: row i's source is row i-1's plus
  // rowsPerPass rows, one 64-bit add (a chain, so that no per-row multiple
  // stays live across the loop), and the copy size is the constant 16
  // bytes. Otherwise each row is tested and rows past the end read key 0
  // with size 0 (zero fill). The copies are emitted in both arms (not as
  // one copy with merged operands) so that the size stays a select of
  // constants, which ptxas turns into a predicate.
  auto fastCopies = [&]() -> SmallVector<Value> {
    for (auto [mem, smem, base, ss] : tensors) {
      Value step = mul(ss, c(rowsPerPass));
      Value src =
          add(add(base, mul(add(kStart, rowOfTid), ss)), mul(chunkOfTid, c(8)));
      for (int64_t i = 0; i < passes; ++i) {
        if (i > 0)
          src = add(src, step);
        tgt.asyncCopy16(ib, ib.getLoc(), smem, dstOf(i), mem, src, c(8));
      }
    }
    return {};
  };
  auto rowCopies = [&]() -> SmallVector<Value> {
    for (auto [mem, smem, base, ss] : tensors) {
      for (int64_t i = 0; i < passes; ++i) {
        Value key = add(kStart, add(rowOfTid, c(i * rowsPerPass)));
        Value ok = andI(valid, cmp(arith::CmpIPredicate::slt, key, kEnd));
        Value src =
            add(add(base, mul(sel(ok, key, c(0)), ss)), mul(chunkOfTid, c(8)));
        tgt.asyncCopy16(ib, ib.getLoc(), smem, dstOf(i), mem, src,
                        sel(ok, c(8), c(0)));
      }
    }
    return {};
  };
  // Fewer than 8 rows a pass (1-2 warps) would need a swizzle per row in
  // the fast arm too; those small CTAs keep the per-row copies only (the
  // fast arm cost them registers and spills).
  if (rowsPerPass % 8 != 0 || perRow) {
    rowCopies();
    return;
  }
  Value full =
      andI(valid, cmp(arith::CmpIPredicate::sle, add(kStart, c(TN)), kEnd));
  emitIf(full, {}, fastCopies, rowCopies);
}

void EmitterBase::initTmaBarriers() {
  Value first = cmp(arith::CmpIPredicate::eq, tid, c(0));
  emitIf(first, {}, [&]() -> SmallVector<Value> {
    Value one = c32(1);
    int64_t ring = ringStages();
    // A ring's "full" barriers expect the TMA thread's arrival (with the
    // bytes), or every producer thread's under cp.async; its "empty" ones
    // one arrival per consumer warp.
    Value full =
        ring ? ib.createOrFold<arith::SelectOp>(tmaOn, one, c32(128)) : one;
    for (bool v : {false, true})
      for (int64_t s = 0; s < (ring ? ring : 2); ++s) {
        NVVM::MBarrierInitOp::create(ib, tmaBarrier(v, c(s)), full, Value());
        if (ring)
          NVVM::MBarrierInitOp::create(ib, emptyBarrier(v, c(s)),
                                       c32(cfg.numWarps), Value());
      }
    NVVM::FenceMbarrierInitOp::create(ib);
    return {};
  });
}

void EmitterBase::copyRows(bool k, bool v, Value tile, Value stage,
                           Value valid) {
  if (!tensorMaps()) {
    issueRows(k, v, tile, stage, valid);
    return;
  }
  // TMA: thread 0 announces the tile's bytes on the buffer's barrier and
  // issues one 128-byte-swizzled box of 64 columns x BN keys per 64 head
  // columns, at (column, key, KV head, batch). Keys past sk in a partial
  // tile land as zeros (the map's extent); a partial tile cannot end inside
  // [kEnd, sk), since kv_hi is a multiple of BLOCK_N or sk. A tile that is
  // not to be loaded (past the loop, outside the window) or that starts at
  // or after kEnd is not fetched at all: a box wholly out of bounds still
  // faults when its origin (the end of the buffer, say) is not mapped
  // (seen on an H100 with exact-size allocations). Thread 0 completes the
  // barrier's phase with a plain arrival instead, and the buffer keeps what
  // it holds: such a K tile is never read or wholly masked (a select, so
  // even NaN goes), and such a V tile meets P = 0, over the finite values of
  // an earlier tile or the zeros of zeroVBuffers.
  auto tma = [&]() -> SmallVector<Value> {
    Value first = cmp(arith::CmpIPredicate::eq, tid, c(0));
    emitIf(first, {}, [&]() -> SmallVector<Value> {
      for (bool isV : {false, true})
        if (isV ? v : k)
          tmaLoad(isV, {tile}, stage, {valid}, tmaBarrier(isV, stage));
      return {};
    });
    return {};
  };
  emitIf(tmaOn, {}, tma, [&]() -> SmallVector<Value> {
    issueRows(k, v, tile, stage, valid);
    return {};
  });
}

void EmitterBase::tmaLoad(bool v, ArrayRef<Value> tiles, Value slot,
                          ArrayRef<Value> valids, Value bar) {
  // A tile is loaded when valid and starting before kEnd; the barrier
  // expects the bytes of the loaded tiles (with key-tile pairs, one or
  // both of the step's).
  SmallVector<Value> kStart, ok;
  Value any;
  for (auto [tile, valid] : llvm::zip_equal(tiles, valids)) {
    kStart.push_back(mul(tile, c(TN)));
    ok.push_back(
        andI(valid, cmp(arith::CmpIPredicate::slt, kStart.back(), kEnd)));
    any = any ? orI(any, ok.back()) : ok.back();
  }
  int64_t tileBytes = TN * D * 2;
  auto load = [&]() -> SmallVector<Value> {
    SmallVector<Value> rows;
    for (Value k : kStart)
      rows.push_back(toI32(k));
    Value head = toI32(kvh), batch = toI32(bz);
    auto sharedCluster = LLVM::LLVMPointerType::get(ib.getContext(), 7);
    Value bytes = c32(tileBytes);
    if (ok.size() > 1) {
      bytes = c32(0);
      for (Value o : ok)
        bytes = add(bytes, sel(o, c32(tileBytes), c32(0)));
    }
    NVVM::MBarrierArriveExpectTxOp::create(
        ib, Type(), bar, bytes, NVVM::MemScopeKind::CTA, false, Value());
    for (size_t j = 0; j < ok.size(); ++j) {
      auto issue = [&]() -> SmallVector<Value> {
        for (int64_t box = 0; box < D / 64; ++box) {
          Value dst = LLVM::AddrSpaceCastOp::create(
              ib, sharedCluster, tmaBoxAddr(v, slot, box, int64_t(j) * TN));
          NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp::create(
              ib, dst, v ? vMap : kMap,
              ValueRange{c32(64 * box), rows[j], head, batch}, bar,
              ValueRange{}, Value(), Value(), NVVM::TMALoadMode::TILE, false,
              NVVM::CTAGroupKindAttr(), Value());
        }
        return {};
      };
      if (ok.size() == 1)
        issue();
      else
        emitIf(ok[j], {}, issue);
    }
    return {};
  };
  emitIf(any, {}, load, [&]() -> SmallVector<Value> {
    NVVM::MBarrierArriveOp::create(ib, Type(), bar, Value());
    return {};
  });
}

void EmitterBase::zeroVTiles(int64_t tiles) {
  auto vecTy = mlir::VectorType::get({8}, elemTy);
  Value zero = arith::ConstantOp::create(
      ib, vecTy, mlir::DenseElementsAttr::get(vecTy, ib.getZeroAttr(elemTy)));
  int64_t chunks = tiles * BN * D / 8;
  assert(chunks % threads == 0 && "whole passes of the threads");
  for (int64_t i = 0; i < chunks / threads; ++i)
    vector::StoreOp::create(ib, zero, vS,
                            ValueRange{mul(add(tid, c(i * threads)), c(8))});
}

void EmitterBase::zeroVBuffers() {
  if (!tensorMaps())
    return;
  emitIf(tmaOn, {}, [&]() -> SmallVector<Value> {
    zeroVTiles(2);
    fenceCopies();
    gpu::BarrierOp::create(ib);
    return {};
  });
}

void EmitterBase::waitRows(bool v, Value stage, Value n, Value nBegin) {
  if (!tensorMaps())
    return;
  emitIf(tmaOn, {}, [&]() -> SmallVector<Value> {
    Value parity = toI32(
        andI(ib.createOrFold<arith::ShRUIOp>(sub(n, nBegin), c(1)), c(1)));
    NVVM::MBarrierTryWaitParityOp::create(ib, tmaBarrier(v, stage), parity,
                                          c32(10000000));
    return {};
  });
}

std::pair<Value, Value> EmitterBase::ringSlot(Value i) {
  int64_t ring = ringStages();
  return {ib.createOrFold<arith::RemUIOp>(i, c(ring)),
          toI32(andI(ib.createOrFold<arith::DivUIOp>(i, c(ring)), c(1)))};
}

void EmitterBase::waitParity(Value bar, Value parity) {
  NVVM::MBarrierTryWaitParityOp::create(ib, bar, parity, c32(10000000));
}

void EmitterBase::releaseSlot(bool v, Value slot) {
  // After the wgmma wait that ends the warp's reads of the buffer; the
  // warp is converged there (wait_group is .sync.aligned).
  emitIf(cmp(arith::CmpIPredicate::eq, lane, c(0)), {},
         [&]() -> SmallVector<Value> {
           NVVM::MBarrierArriveOp::create(ib, Type(), emptyBarrier(v, slot),
                                          Value());
           return {};
         });
}

void EmitterBase::emitProducer() {
  enterRole(true);
  walkGroups(
      0, {},
      [&](const s2::HeadGroup *g, const s2::Phase *ph) -> SmallVector<Value> {
        if (ph) {
          SmallVector<SpanRT> spans = computeSpans(*g, *ph);
          if (!spans.empty())
            emitProducerLoop(spans);
        }
        return {};
      });
}

void EmitterBase::emitProducerLoop(ArrayRef<SpanRT> spans) {
  // Ring use i (the step of iteration n, useIndex) goes to buffer i mod S
  // once the consumers have released its use i - S: the "empty" phase of
  // parity ((i / S) + 1) mod 2 (a fresh barrier counts as having completed
  // the phase before its first, so the first S uses pass at once).
  Value nBegin = spans.front().start;
  Value nEnd = add(spans.back().start, spans.back().count);
  struct Use {
    Value slot, freeParity;
    SmallVector<Value> tiles, valids;
  };
  auto useOf = [&](Value n) {
    Use u;
    std::pair<Value, Value> ring = ringSlot(useIndex(n, nBegin));
    u.slot = ring.first;
    u.freeParity = xorI(ring.second, c32(1));
    stepTiles(spans, n, nEnd, u.tiles, u.valids);
    return u;
  };

  // TMA: one thread issues every load; the other producer threads are done.
  auto byTma = [&]() -> SmallVector<Value> {
    Value first = cmp(arith::CmpIPredicate::eq, tid, c(threads));
    emitIf(first, {}, [&]() -> SmallVector<Value> {
      scf::ForOp loop = keyLoop(nBegin, nEnd, ValueRange{});
      OpBuilder::InsertionGuard guard(ib);
      ib.setInsertionPointToEnd(loop.getBody());
      Use u = useOf(loop.getInductionVar());
      for (bool v : {false, true}) {
        waitParity(emptyBarrier(v, u.slot), u.freeParity);
        tmaLoad(v, u.tiles, u.slot, u.valids, tmaBarrier(v, u.slot));
      }
      scf::YieldOp::create(ib, ValueRange{});
      return {};
    });
    return {};
  };

  // cp.async: the 128 producer threads copy tile n's K and V rows (zeros
  // where not to be loaded), then complete tile n - 1: wait for its group,
  // make it visible to the async proxy (wgmma), arrive on its "full"
  // barriers. With two stages they complete tile n itself: one tile behind,
  // the wait for buffer n - 2 to be released (at the end of consumer
  // iteration n - 1, which needs K(n - 1)) would come before K(n - 1) is
  // complete.
  bool lag = ringStages() >= 3;
  auto byCpAsync = [&]() -> SmallVector<Value> {
    Value ptid = sub(tid, c(threads));
    auto complete = [&](Value slot) {
      fenceCopies();
      for (bool v : {false, true})
        NVVM::MBarrierArriveOp::create(ib, Type(), tmaBarrier(v, slot),
                                       Value());
    };
    scf::ForOp loop = keyLoop(nBegin, nEnd, ValueRange{});
    {
      OpBuilder::InsertionGuard guard(ib);
      ib.setInsertionPointToEnd(loop.getBody());
      Value n = loop.getInductionVar();
      Use u = useOf(n);
      for (bool v : {false, true}) {
        waitParity(emptyBarrier(v, u.slot), u.freeParity);
        for (int64_t j = 0; j < KT; ++j)
          issueRows(!v, v, u.tiles[j], u.slot, u.valids[j], /*perRow=*/true,
                    ptid, 128, j * TN);
      }
      Value tok = tgt.commitGroup(ib, ib.getLoc(), ValueRange{});
      if (!lag) {
        tgt.waitGroups(ib, ib.getLoc(), tok, 0);
        complete(u.slot);
      } else {
        emitIf(cmp(arith::CmpIPredicate::sgt, n, nBegin), {},
               [&]() -> SmallVector<Value> {
                 tgt.waitGroups(ib, ib.getLoc(), tok, 1);
                 complete(ringSlot(sub(useIndex(n, nBegin), c(1))).first);
                 return {};
               });
      }
      scf::YieldOp::create(ib, ValueRange{});
    }
    if (lag)
      emitIf(cmp(arith::CmpIPredicate::sgt, nEnd, nBegin), {},
             [&]() -> SmallVector<Value> {
               Value tok = tgt.commitGroup(ib, ib.getLoc(), ValueRange{});
               tgt.waitGroups(ib, ib.getLoc(), tok, 0);
               complete(ringSlot(sub(useIndex(nEnd, nBegin), c(1))).first);
               return {};
             });
    return {};
  };
  emitIf(tmaOn, {}, byTma, byCpAsync);
}

Acc EmitterBase::emitConsumerLoop(ArrayRef<SpanRT> spans, Acc init) {
  // emitDeferredLoop's schedule without copies or CTA barriers: the step
  // at iteration n (ring use i = useIndex(n); its KT key tiles share one
  // buffer) waits for K(n) and V(n-1) on their "full" barriers, issues
  // S(n) and P(n-1) V(n-1), releases K(n) once S is back, runs the softmax
  // of n while P V runs, and releases V(n-1) once P V is back (n - 1: the
  // step before). The first step's P V (P = 0) reads the zero buffer S of
  // the V ring instead of waiting for a tile.
  Value nBegin = spans.front().start;
  Value nEnd = add(spans.back().start, spans.back().count);
  Value zeroV = c(ringStages());
  SmallVector<Value> pZero(BN / 2, cf(0.0));
  DeferredCarry first{tileOf(spans, nBegin), init, packP(pZero)};
  // V(n-1)'s buffer, once waited for (n > nBegin), or the zero buffer.
  struct PrevV {
    Value loaded, slot, buffer;
  };
  auto prevV = [&](Value n) {
    Value has = cmp(arith::CmpIPredicate::sgt, n, nBegin);
    // (i - 1) mod S and its parity, with i + S - 1 >= 0 for i = 0.
    Value i = useIndex(n, nBegin);
    Value j = add(i, c(ringStages() - 1));
    Value slot = ib.createOrFold<arith::RemUIOp>(j, c(ringStages()));
    Value parity = toI32(andI(
        add(ib.createOrFold<arith::DivUIOp>(j, c(ringStages())), c(1)), c(1)));
    emitIf(has, {}, [&]() -> SmallVector<Value> {
      waitParity(tmaBarrier(true, slot), parity);
      return {};
    });
    return PrevV{has, slot, sel(has, slot, zeroV)};
  };

  DeferredCarry out = overlappedLoop(
      nBegin, nEnd, first, [&](Value n, const DeferredCarry &in) {
        std::pair<Value, Value> k = ringSlot(useIndex(n, nBegin));
        waitParity(tmaBarrier(false, k.first), k.second);
        PrevV v = prevV(n);
        Step st = stepOf(spans, n, nEnd);
        return overlappedStep(
            spans, n, in, k.first, v.buffer, st.nextTile,
            [&]() { releaseSlot(false, k.first); },
            [&]() {
              emitIf(v.loaded, {}, [&]() -> SmallVector<Value> {
                releaseSlot(true, v.slot);
                return {};
              });
            });
      });
  // ---- Drain: P V of the last tile (the zero buffer when the loop is
  // empty).
  drainPV(out.acc, out.p, prevV(nEnd).buffer);
  return out.acc;
}

DeferredCarry EmitterBase::overlappedLoop(
    Value nBegin, Value nEnd, const DeferredCarry &first,
    function_ref<DeferredCarry(Value n, const DeferredCarry &in)> body) {
  size_t nAcc = first.acc.flat().size();
  scf::ForOp forOp = keyLoop(nBegin, nEnd, first.flat());
  {
    OpBuilder::InsertionGuard guard(ib);
    ib.setInsertionPointToEnd(forOp.getBody());
    DeferredCarry next =
        body(forOp.getInductionVar(),
             DeferredCarry::fromFlat(forOp.getRegionIterArgs(), nAcc));
    scf::YieldOp::create(ib, next.flat());
  }
  return DeferredCarry::fromFlat(forOp.getResults(), nAcc);
}

DeferredCarry EmitterBase::overlappedStep(ArrayRef<SpanRT> spans, Value n,
                                          const DeferredCarry &in, Value kStage,
                                          Value vStage, Value next,
                                          function_ref<void()> afterS,
                                          function_ref<void()> afterPV) {
  Acc acc = in.acc;
  PendingPV pv;
  SmallVector<Value> sRaw = computeSWithPV(kStage, acc.o, in.p, vStage, pv);
  if (afterS)
    afterS();
  Value alpha[2];
  SmallVector<Value> p = softmaxStep(spans, n, in.tile, sRaw, acc, alpha);
  acc.o = finishPV(pv);
  if (afterPV)
    afterPV();
  rescaleO(acc, alpha);
  return DeferredCarry{next, acc, packP(p)};
}

Value EmitterBase::patternVisible(Value qb, Value kb) {
  // qb, kb: i32 block indices; qb >= 0 is checked by the caller.
  Value any;
  auto i32c = [&](int64_t v) { return c32(v); };
  auto cmpI = [&](arith::CmpIPredicate p, Value a, Value b) {
    return cmp(p, a, b);
  };
  Value d = ib.createOrFold<arith::SubIOp>(qb, kb);
  for (auto [ri, r] : llvm::enumerate(pat.rules)) {
    Value ok;
    switch (r.kind) {
    case s2::RuleKind::Dense:
      ok = ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 1);
      break;
    case s2::RuleKind::Local:
      ok = pat.causal ? andI(cmpI(arith::CmpIPredicate::sge, d, i32c(0)),
                             cmpI(arith::CmpIPredicate::slt, d, i32c(r.n)))
                      : andI(cmpI(arith::CmpIPredicate::sgt, d, i32c(-r.n)),
                             cmpI(arith::CmpIPredicate::slt, d, i32c(r.n)));
      break;
    case s2::RuleKind::Stride: {
      Value x = ib.createOrFold<arith::AddIOp>(kb, ruleShift[ri]);
      ok = cmpI(arith::CmpIPredicate::eq,
                ib.createOrFold<arith::RemSIOp>(x, i32c(r.step)), i32c(0));
      break;
    }
    case s2::RuleKind::Sink:
      ok = cmpI(arith::CmpIPredicate::slt, kb, i32c(r.n));
      break;
    case s2::RuleKind::Global:
      for (int64_t gb : r.set) {
        Value e = orI(cmpI(arith::CmpIPredicate::eq, qb, i32c(gb)),
                      cmpI(arith::CmpIPredicate::eq, kb, i32c(gb)));
        ok = ok ? orI(ok, e) : e;
      }
      break;
    case s2::RuleKind::Dilated: {
      Value ad = d;
      if (!pat.causal)
        ad = sel(cmpI(arith::CmpIPredicate::slt, d, i32c(0)),
                 ib.createOrFold<arith::SubIOp>(i32c(0), d), d);
      ok = andI(andI(cmpI(arith::CmpIPredicate::sge, ad, i32c(0)),
                     cmpI(arith::CmpIPredicate::slt, ad, i32c(r.n * r.step))),
                cmpI(arith::CmpIPredicate::eq,
                     ib.createOrFold<arith::RemSIOp>(ad, i32c(r.step)),
                     i32c(0)));
      break;
    }
    case s2::RuleKind::Blocks:
      for (auto [a, b] : r.blocks) {
        Value e = andI(cmpI(arith::CmpIPredicate::eq, qb, i32c(a)),
                       cmpI(arith::CmpIPredicate::eq, kb, i32c(b)));
        ok = ok ? orI(ok, e) : e;
      }
      break;
    }
    if (!ok)
      continue;
    Value applies = ruleOn[ri];
    applies =
        andI(applies, cmpI(arith::CmpIPredicate::sge, qb, i32c(r.qBegin)));
    if (r.qEnd >= 0)
      applies =
          andI(applies, cmpI(arith::CmpIPredicate::slt, qb, i32c(r.qEnd)));
    Value term = andI(applies, ok);
    any = any ? orI(any, term) : term;
  }
  if (!any)
    any = ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 0);
  if (pat.causal)
    any = andI(any, cmpI(arith::CmpIPredicate::sle, kb, qb));
  return any;
}

void EmitterBase::applyMasks(SmallVector<Value> &s, ArrayRef<MaskPart> parts) {
  // Part j holds columns [j TN, (j + 1) TN) (all BN columns when KT = 1);
  // column 0 would be key kBase_j = tile_j TN - j TN. One branch for the
  // step: some part needs a mask.
  bool causal = sched.causal || pat.causal;
  SmallVector<Value> kBase, kStart32;
  Value need;
  for (auto [j, part] : llvm::enumerate(parts)) {
    int64_t colLo = int64_t(j) * TN, colHi = colLo + TN;
    kBase.push_back(sub(mul(part.tile, c(TN)), c(colLo)));
    kStart32.push_back(toI32(kBase.back()));
    Value pn =
        cmp(arith::CmpIPredicate::sgt, add(kBase.back(), c(colHi)), kEnd);
    if (part.outside)
      pn = orI(pn, part.outside);
    if (causal)
      pn = orI(pn, cmp(arith::CmpIPredicate::sgt,
                       ib.createOrFold<arith::AddIOp>(kStart32.back(),
                                                      c32(colHi - 1)),
                       qStart32));
    if (part.patternOn)
      pn = orI(pn, part.patternOn);
    need = need ? orI(need, pn) : pn;
  }
  bool anyPattern =
      llvm::any_of(parts, [](const MaskPart &p) { return bool(p.patternOn); });
  SmallVector<Type> types(s.size(), ib.getF32Type());
  SmallVector<Value> in = s;
  s = emitIf(
      need, types,
      [&]() -> SmallVector<Value> {
        SmallVector<Value> out = in;
        Value ninf = negInf();
        int64_t shift = llvm::Log2_64(uint64_t(pat.block));
        Value qb[2], qok[2];
        if (anyPattern) {
          for (int64_t hr = 0; hr < 2; ++hr) {
            Value qpos = ib.createOrFold<arith::AddIOp>(
                ib.createOrFold<arith::AddIOp>(qStart32, rowI32), c32(8 * hr));
            qok[hr] = cmp(arith::CmpIPredicate::sge, qpos, c32(0));
            qb[hr] = ib.createOrFold<arith::ShRSIOp>(qpos, c32(shift));
          }
        }
        for (auto [j, part] : llvm::enumerate(parts)) {
          // Columns at or past `limit` are masked: the window's end, or
          // every column of a tile outside the window.
          Value limit = toI32(sub(kEnd, kBase[j]));
          if (part.outside)
            limit = sel(part.outside, c32(0), limit);
          Value diag = ib.createOrFold<arith::SubIOp>(qStart32, kStart32[j]);
          Value patternOff;
          if (part.patternOn)
            patternOff = ib.createOrFold<arith::XOrIOp>(
                part.patternOn,
                ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 1));
          for (int64_t nb = int64_t(j) * TN / 8; nb < int64_t(j + 1) * TN / 8;
               ++nb) {
            for (int64_t e = 0; e < 2; ++e) {
              Value col =
                  ib.createOrFold<arith::AddIOp>(colI32, c32(nb * 8 + e));
              Value colOk = cmp(arith::CmpIPredicate::slt, col, limit);
              Value kb;
              if (part.patternOn)
                kb = ib.createOrFold<arith::ShRSIOp>(
                    ib.createOrFold<arith::AddIOp>(kStart32[j], col),
                    c32(shift));
              for (int64_t hr = 0; hr < 2; ++hr) {
                Value ok = colOk;
                if (causal) {
                  Value cr = ib.createOrFold<arith::AddIOp>(
                      crI32, c32(nb * 8 + e - 8 * hr));
                  ok = andI(ok, cmp(arith::CmpIPredicate::sle, cr, diag));
                }
                if (part.patternOn) {
                  Value vis = andI(qok[hr], patternVisible(qb[hr], kb));
                  ok = andI(ok, orI(patternOff, vis));
                }
                Value &v = out[nb * 4 + hr * 2 + e];
                v = sel(ok, v, ninf);
              }
            }
          }
        }
        return out;
      },
      [&]() -> SmallVector<Value> { return in; });
}

Value EmitterBase::packPair(Value a, Value b) {
  Value x = arith::TruncFOp::create(ib, elemTy, a);
  Value y = arith::TruncFOp::create(ib, elemTy, b);
  return vector::FromElementsOp::create(ib, VectorType::get({2}, elemTy),
                                        ValueRange{x, y});
}

SmallVector<SpanRT> EmitterBase::computeSpans(const s2::HeadGroup &g,
                                              const s2::Phase &ph) {
  // The spans of this phase, flattened: span i covers iterations
  // [start_i, start_i + count_i). The iterations start at 0, or at the
  // first tile when the first span is a Range, whose tile is then the
  // iteration itself (no base kept live across the loop).
  SmallVector<SpanRT> spans;
  Value start = c(0);
  auto bound = [&](const s2::AffineBound &bd) {
    return add(mul(floorDiv(add(mul(t, c(bd.a)), c(bd.b)), c(bd.c)), c(bd.mul)),
               c(bd.add));
  };
  for (const s2::Span &sp : ph.spans) {
    SpanRT rt;
    rt.span = &sp;
    rt.start = start;
    if (sp.kind == s2::SpanKind::Table) {
      const s2::TileTable &tt = sched.tables[size_t(sp.table)];
      if (tt.cols.empty())
        continue;
      int64_t rows = int64_t(tt.rowPtr.size()) - 1;
      Value in = andI(cmp(arith::CmpIPredicate::sge, t, c(0)),
                      cmp(arith::CmpIPredicate::slt, t, c(rows)));
      Value tc = minS(maxS(t, c(0)), c(rows - 1));
      Value off = c(tableOffsets[size_t(sp.table)]);
      Value rp0 = toIndex(
          memref::LoadOp::create(ib, tablesG, ValueRange{add(off, tc)}));
      Value rp1 = toIndex(memref::LoadOp::create(
          ib, tablesG, ValueRange{add(add(off, tc), c(1))}));
      rt.count = sel(in, sub(rp1, rp0), c(0));
      rt.base = add(add(off, c(rows + 1)), rp0);
    } else {
      Value lo = kvLoT, hi = nkt;
      for (const s2::AffineBound &bd : sp.lo)
        lo = maxS(lo, bound(bd));
      for (const s2::AffineBound &bd : sp.hi)
        hi = minS(hi, bound(bd));
      if (sp.kind == s2::SpanKind::Range) {
        rt.base = lo;
        rt.count = maxS(sub(hi, lo), c(0));
        if (spans.empty())
          rt.start = start = lo;
      } else {
        int64_t step = sp.step;
        Value r = headConst(
            g.heads,
            [&](int64_t x) {
              return x < int64_t(sp.residue.size()) ? sp.residue[x] : 0;
            },
            step);
        rt.stride = step;
        if (sp.run <= 1) {
          Value first =
              add(lo, remS(add(sub(r, remS(lo, c(step))), c(step)), c(step)));
          rt.base = first;
          rt.count = maxS(ceilDiv(sub(hi, first), c(step)), c(0));
        } else {
          // Runs of `run` tiles starting at residue r every `step` tiles:
          // base is the start of the period holding lo; f(x) counts the
          // span's tiles in [base, x).
          int64_t run = sp.run;
          Value base = sub(lo, remS(add(sub(lo, r), c(step)), c(step)));
          auto f = [&](Value x) {
            Value d = sub(x, base);
            return add(mul(ib.createOrFold<arith::DivSIOp>(d, c(step)), c(run)),
                       minS(remS(d, c(step)), c(run)));
          };
          Value skip = f(lo);
          rt.base = base;
          rt.run = run;
          rt.skip = skip;
          rt.count = maxS(sub(f(maxS(hi, lo)), skip), c(0));
        }
      }
    }
    start = add(start, rt.count);
    spans.push_back(rt);
  }
  return spans;
}

Value EmitterBase::beforeWindow(ArrayRef<SpanRT> spans, Value tile) {
  // Closed-form spans are clipped to the key window in computeSpans; a
  // table's columns are not, so in a phase with a Table span a tile before
  // kv_lo is neither loaded nor attended (tiles past the window's end are
  // handled by kEnd like tiles past the sequence end). Compared in key
  // positions against the kv_lo parameter itself.
  bool anyTable = llvm::any_of(spans, [](const SpanRT &s) {
    return s.span->kind == s2::SpanKind::Table;
  });
  if (!anyTable)
    return Value();
  return cmp(arith::CmpIPredicate::slt, mul(tile, c(TN)),
             toIndex(fn.getArgument(ArgKvLo)));
}

Value EmitterBase::andInWindow(ArrayRef<SpanRT> spans, Value valid,
                               Value tile) {
  Value before = beforeWindow(spans, tile);
  if (!before)
    return valid;
  return andI(valid, xorI(before, ib.createOrFold<arith::ConstantIntOp>(
                                      ib.getI1Type(), 1)));
}

scf::ForOp EmitterBase::keyLoop(Value nBegin, Value nEnd, ValueRange inits) {
  auto forOp = scf::ForOp::create(ib, nBegin, nEnd, c(KT), inits);
  Block *body = forOp.getBody();
  if (!body->empty())
    body->back().erase();
  return forOp;
}

EmitterBase::Step EmitterBase::stepOf(ArrayRef<SpanRT> spans, Value n,
                                      Value nEnd) {
  Step st;
  Value next = add(n, c(KT));
  Value hasNext = cmp(arith::CmpIPredicate::slt, next, nEnd);
  st.nextTile = tileOf(spans, minS(next, sub(nEnd, c(1))));
  st.stage = ib.createOrFold<arith::RemUIOp>(n, c(2));
  st.nextStage = ib.createOrFold<arith::RemUIOp>(next, c(2));
  st.nextValid = andInWindow(spans, hasNext, st.nextTile);
  return st;
}

void EmitterBase::stepTiles(ArrayRef<SpanRT> spans, Value n, Value nEnd,
                            SmallVector<Value> &tiles,
                            SmallVector<Value> &valids) {
  Value one = ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 1);
  for (int64_t j = 0; j < KT; ++j) {
    // Iteration n itself is in the loop; a pair's second one may not be.
    Value nj = add(n, c(j));
    Value in = j ? cmp(arith::CmpIPredicate::slt, nj, nEnd) : one;
    tiles.push_back(tileOf(spans, j ? minS(nj, sub(nEnd, c(1))) : n));
    valids.push_back(andInWindow(spans, in, tiles.back()));
  }
}

Value EmitterBase::useIndex(Value n, Value nBegin) {
  Value i = sub(n, nBegin);
  if (KT == 1)
    return i;
  return ib.createOrFold<arith::DivUIOp>(add(i, c(KT - 1)), c(KT));
}

Acc EmitterBase::emitPhaseLoop(const s2::HeadGroup &g, const s2::Phase &ph,
                               Acc init) {
  SmallVector<SpanRT> spans = computeSpans(g, ph);
  if (spans.empty())
    return init;
  if (ringStages() > 0)
    return emitConsumerLoop(spans, init);
  if (deferPV())
    return emitDeferredLoop(spans, init);
  Value nBegin = spans.front().start;
  Value nEnd = add(spans.back().start, spans.back().count);
  zeroVBuffers();

  // ---- Prologue: K/V of the first iteration into buffer nBegin mod 2 (the
  // loop's stage of iteration n is n mod 2).
  Value tile0 = tileOf(spans, nBegin);
  copyRows(
      true, true, tile0, ib.createOrFold<arith::RemUIOp>(nBegin, c(2)),
      andInWindow(spans, cmp(arith::CmpIPredicate::sgt, nEnd, nBegin), tile0));
  tgt.commitGroup(ib, ib.getLoc(), ValueRange{});

  SmallVector<Value> inits = {tile0};
  llvm::append_range(inits, init.flat());
  scf::ForOp forOp = keyLoop(nBegin, nEnd, inits);
  {
    OpBuilder::InsertionGuard guard(ib);
    ib.setInsertionPointToEnd(forOp.getBody());
    Value n = forOp.getInductionVar();
    Value cur = forOp.getRegionIterArgs()[0];
    Acc acc = Acc::fromFlat(forOp.getRegionIterArgs().drop_front());

    // Prefetch iteration n+1 into the other buffer, then wait for n.
    Step st = stepOf(spans, n, nEnd);
    Value stage = st.stage, nextTile = st.nextTile;
    copyRows(true, true, nextTile, st.nextStage, st.nextValid);
    Value tok = tgt.commitGroup(ib, ib.getLoc(), ValueRange{});
    tgt.waitGroups(ib, ib.getLoc(), tok, 1);
    fenceCopies();
    gpu::BarrierOp::create(ib);
    waitRows(false, stage, n, nBegin);
    waitRows(true, stage, n, nBegin);

    // S = Q K^T, P and O *= alpha, O += P V.
    SmallVector<Value> sRaw = computeS(stage);
    Value alpha[2];
    SmallVector<Value> p = softmaxStep(spans, n, cur, sRaw, acc, alpha);
    rescaleO(acc, alpha);
    accumulatePV(acc, p, stage);
    gpu::BarrierOp::create(ib);

    SmallVector<Value> yields = {nextTile};
    llvm::append_range(yields, acc.flat());
    scf::YieldOp::create(ib, yields);
  }
  // The last iteration's prefetch (never to be read: zeros by cp.async, a
  // bare arrival under TMA) completes before the CTA exits.
  Value endStage = ib.createOrFold<arith::RemUIOp>(nEnd, c(2));
  waitRows(false, endStage, nEnd, nBegin);
  waitRows(true, endStage, nEnd, nBegin);
  return Acc::fromFlat(forOp.getResults().drop_front());
}

Acc EmitterBase::emitDeferredLoop(ArrayRef<SpanRT> spans, Acc init) {
  // Iteration n: K of tile n + 1 and V of tile n are copied (K runs one
  // tile ahead), S(n) = Q K(n)^T and O += P(n-1) V(n-1) are issued
  // together, S is waited for, the softmax of n runs while P V is still on
  // the tensor cores, then O is waited for and rescaled. P(n) is carried to
  // the next iteration; the last one is drained after the loop. Buffers:
  // K(n) and V(n) in stage n mod 2. One barrier an iteration: it publishes
  // the copies that landed (K(n), V(n-1)) and is passed only once every
  // warp has finished iteration n-1, so the copies issued after it may
  // write K stage n+1 (read by S(n-1)) and V stage n (read by P V(n-2)),
  // while S(n) reads K stage n and P V(n-1) V stage n-1.
  Value nBegin = spans.front().start;
  Value nEnd = add(spans.back().start, spans.back().count);
  // Waits for every copy this thread issued, makes them visible to the MMA
  // and the CTA. The wait takes a token: an empty group's, which completes
  // after all groups before it.
  auto publishAllCopies = [&]() {
    Value last = tgt.commitGroup(ib, ib.getLoc(), ValueRange{});
    tgt.waitGroups(ib, ib.getLoc(), last, 0);
    fenceCopies();
    gpu::BarrierOp::create(ib);
  };
  Value one = ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 1);
  Value no = ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 0);
  zeroVBuffers();

  // ---- Prologue: K of the first tile, and V stage nBegin - 1 zero-filled
  // (by cp.async; under TMA zeroVBuffers did it and the copy only
  // arrives), so that the first iteration's P V (P = 0, V = 0) adds
  // exactly 0.
  Value tile0 = tileOf(spans, nBegin);
  copyRows(
      true, false, tile0, ib.createOrFold<arith::RemUIOp>(nBegin, c(2)),
      andInWindow(spans, cmp(arith::CmpIPredicate::sgt, nEnd, nBegin), tile0));
  copyRows(false, true, tile0,
           ib.createOrFold<arith::RemUIOp>(add(nBegin, c(1)), c(2)), no);
  tgt.commitGroup(ib, ib.getLoc(), ValueRange{});

  SmallVector<Value> pZero(BN / 2, cf(0.0));
  DeferredCarry first{tile0, init, packP(pZero)};
  DeferredCarry out = overlappedLoop(
      nBegin, nEnd, first, [&](Value n, const DeferredCarry &in) {
        // The last group (issued one iteration ago) holds K(n) and V(n-1).
        publishAllCopies();
        Step st = stepOf(spans, n, nEnd);
        copyRows(true, false, st.nextTile, st.nextStage, st.nextValid);
        copyRows(false, true, in.tile, st.stage,
                 andInWindow(spans, one, in.tile));
        tgt.commitGroup(ib, ib.getLoc(), ValueRange{});
        // Under TMA the barrier above only frees the buffers; K(n) and
        // V(n-1) are waited for on their mbarriers (V(n-1) was loaded by
        // iteration n-1, the prologue's by "iteration nBegin - 1": the
        // same parity).
        waitRows(false, st.stage, n, nBegin);
        waitRows(true, st.nextStage, n, nBegin);
        return overlappedStep(spans, n, in, st.stage, st.nextStage,
                              st.nextTile);
      });
  Acc acc = out.acc;
  SmallVector<Value> pLast = out.p;
  // ---- Drain: P V of the last tile (V stage nEnd - 1, the last group).
  // With an empty loop this is the prologue's P = 0 on zeros.
  publishAllCopies();
  Value lastV = ib.createOrFold<arith::RemUIOp>(add(nEnd, c(1)), c(2));
  waitRows(true, lastV, nEnd, nBegin);
  // K of "tile nEnd" (the last iteration's prefetch, never read) as well,
  // before the CTA may exit.
  waitRows(false, ib.createOrFold<arith::RemUIOp>(nEnd, c(2)), nEnd, nBegin);
  drainPV(acc, pLast, lastV);
  // The next phase's prologue writes the buffers P V just read.
  gpu::BarrierOp::create(ib);
  return acc;
}

SmallVector<Value> EmitterBase::softmaxStep(ArrayRef<SpanRT> spans, Value n,
                                            Value cur, ArrayRef<Value> sRaw,
                                            Acc &acc, Value (&alpha)[2]) {
  // Masks: sequence end and causal diagonal by a run-time test per tile;
  // the pattern predicate only in iterations of masked spans.
  auto maskedAt = [&](Value m) {
    Value on;
    for (const SpanRT &sp : spans) {
      if (!sp.span->masked)
        continue;
      // m >= nBegin, and m < nEnd or the tile is masked whole: the first
      // span needs no lower test, the last no upper one.
      Value in = ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 1);
      if (&sp != &spans.front())
        in = andI(in, cmp(arith::CmpIPredicate::sge, m, sp.start));
      if (&sp != &spans.back())
        in = andI(in,
                  cmp(arith::CmpIPredicate::slt, m, add(sp.start, sp.count)));
      on = on ? orI(on, in) : in;
    }
    return on;
  };
  Value patternOn = maskedAt(n);

  // Masks and online softmax for the thread's two rows. Returns P (the
  // exponentials, S's layout), then alpha, the new m and the row sums of
  // both rows. With a positive scale (every real use) the scale is folded
  // as in FlashAttention-2: masks and row max work on the raw scores,
  // m = scale_log2 * max, and p = 2^(s * scale_log2 - m) is one fma per
  // element (no separate multiply). Otherwise (scale <= 0, where the max
  // of scaled scores is not the scaled max) the scores are scaled first.
  // The step's key tiles: `cur` (iteration n), and with KT > 1 those of
  // iterations n + 1 on (columns [j TN, (j + 1) TN)); one past the phase's
  // end is masked whole.
  SmallVector<MaskPart> parts = {{cur, patternOn, beforeWindow(spans, cur)}};
  if (KT > 1) {
    Value nEnd = add(spans.back().start, spans.back().count);
    for (int64_t j = 1; j < KT; ++j) {
      Value nj = add(n, c(j));
      Value tile = tileOf(spans, minS(nj, sub(nEnd, c(1))));
      Value past = cmp(arith::CmpIPredicate::sge, nj, nEnd);
      Value before = beforeWindow(spans, tile);
      parts.push_back({tile, maskedAt(nj), before ? orI(before, past) : past});
    }
  }
  Value zero = cf(0.0), ninf = negInf();
  auto softmax = [&](bool folded) -> SmallVector<Value> {
    SmallVector<Value> s(sRaw.begin(), sRaw.end());
    if (!folded)
      for (Value &v : s)
        v = fmul(v, scaleLog2);
    applyMasks(s, parts);
    Value alpha[2], mNew[2], sum[2];
    for (int64_t hr = 0; hr < 2; ++hr) {
      Value mx = ninf;
      for (int64_t nb = 0; nb < BN / 8; ++nb)
        for (int64_t e = 0; e < 2; ++e)
          mx = fmax(mx, s[nb * 4 + hr * 2 + e]);
      mx = fmax(mx, shuffleXor(mx, 1));
      mx = fmax(mx, shuffleXor(mx, 2));
      if (folded)
        mx = fmul(mx, scaleLog2);
      mNew[hr] = fmax(acc.m[hr], mx);
      Value isNinf =
          arith::CmpFOp::create(ib, arith::CmpFPredicate::OEQ, mNew[hr], ninf);
      Value mUse = sel(isNinf, zero, mNew[hr]);
      alpha[hr] = exp2(fsub(acc.m[hr], mUse));
      Value negM = arith::NegFOp::create(ib, mUse);
      sum[hr] = zero;
      for (int64_t nb = 0; nb < BN / 8; ++nb)
        for (int64_t e = 0; e < 2; ++e) {
          Value &v = s[nb * 4 + hr * 2 + e];
          v = folded ? exp2(LLVM::FMAOp::create(ib, v, scaleLog2, negM))
                     : exp2(fsub(v, mUse));
          sum[hr] = fadd(sum[hr], v);
        }
    }
    s.append({alpha[0], alpha[1], mNew[0], mNew[1], sum[0], sum[1]});
    return s;
  };
  Value scaleNotPos =
      arith::CmpFOp::create(ib, arith::CmpFPredicate::ULE, scaleLog2, zero);
  SmallVector<Type> smTypes(sRaw.size() + 6, ib.getF32Type());
  SmallVector<Value> sm = emitIf(
      scaleNotPos, smTypes, [&]() { return softmax(false); },
      [&]() { return softmax(true); });
  size_t np = sRaw.size();
  for (int64_t hr = 0; hr < 2; ++hr) {
    acc.l[hr] = fadd(fmul(acc.l[hr], sm[np + hr]), sm[np + 4 + hr]);
    acc.m[hr] = sm[np + 2 + hr];
    alpha[hr] = sm[np + hr];
  }
  return SmallVector<Value>(sm.begin(), sm.begin() + np);
}

void EmitterBase::rescaleO(Acc &acc, const Value (&alpha)[2]) {
  // O *= alpha only when a row's max moved (alpha != 1): multiplying by
  // exactly 1 is the identity, and after the first few key tiles the
  // running max rarely changes, so most steps skip D/4 multiplies.
  Value one = cf(1.0);
  Value rescale =
      orI(arith::CmpFOp::create(ib, arith::CmpFPredicate::UNE, alpha[0], one),
          arith::CmpFOp::create(ib, arith::CmpFPredicate::UNE, alpha[1], one));
  SmallVector<Type> oTypes(acc.o.size(), ib.getF32Type());
  SmallVector<Value> oIn = acc.o;
  acc.o = emitIf(
      rescale, oTypes,
      [&]() -> SmallVector<Value> {
        SmallVector<Value> out = oIn;
        for (int64_t hr = 0; hr < 2; ++hr)
          for (int64_t nb = 0; nb < D / 8; ++nb)
            for (int64_t e = 0; e < 2; ++e) {
              Value &o = out[nb * 4 + hr * 2 + e];
              o = fmul(o, alpha[hr]);
            }
        return out;
      },
      [&]() -> SmallVector<Value> { return oIn; });
}

void EmitterBase::epilogue(const Acc &accIn) {
  Acc acc = accIn;
  // The output offsets are recomputed from the arguments here instead of
  // being kept from the prologue: 64-bit values live across the key loop
  // made ptxas spill them (sm_90a, bigbird example).
  QueryOut q = queryOut();
  Value oBase = q.oBase, lseBase = q.lseBase, sqb = q.sq;
  Value zero = cf(0.0), ninf = negInf();
  Value ln2 = cf(0.69314718055994530942);
  for (int64_t hr = 0; hr < 2; ++hr) {
    Value l = acc.l[hr];
    l = fadd(l, shuffleXor(l, 1));
    l = fadd(l, shuffleXor(l, 2));
    Value has = arith::CmpFOp::create(ib, arith::CmpFPredicate::OGT, l, zero);
    Value inv = sel(has, arith::DivFOp::create(ib, cf(1.0), l), zero);
    Value row = add(add(mul(warp, c(16)), grp), c(8 * hr));
    Value s = add(rowOff, row);
    Value valid = inSequence(s, sqb);
    // The thread's two elements of the row in n-block nb, normalised.
    auto pairOf = [&](int64_t nb) {
      return packPair(fmul(acc.o[nb * 4 + hr * 2], inv),
                      fmul(acc.o[nb * 4 + hr * 2 + 1], inv));
    };
    if (stagedEpilogue())
      // The row's O into its rows of the Q tile, which only this warp's
      // warpgroup read (its S wgmmas are complete): chunk nb, elements
      // 2 tig and 2 tig + 1 of the row.
      for (int64_t nb = 0; nb < D / 8; ++nb)
        vector::StoreOp::create(
            ib, pairOf(nb), qS,
            ValueRange{add(tileIndex(row, c(nb), BM), mul(tig, c(2)))});
    emitIf(
        valid, {},
        [&]() -> SmallVector<Value> {
          Value rowBase = add(add(oBase, mul(s, oss)), mul(tig, c(2)));
          for (int64_t nb = 0; !stagedEpilogue() && nb < D / 8; ++nb) {
            Value v = pairOf(nb);
            vector::StoreOp::create(ib, v, oG,
                                    ValueRange{add(rowBase, c(nb * 8))},
                                    /*nontemporal=*/false, llvm::MaybeAlign(4));
          }
          Value writeLse =
              andI(lseOn, cmp(arith::CmpIPredicate::eq, tig, c(0)));
          emitIf(
              writeLse, {},
              [&]() -> SmallVector<Value> {
                Value lse = fmul(fadd(acc.m[hr], log2(l)), ln2);
                lse = sel(has, lse, ninf);
                memref::StoreOp::create(ib, lse, lseG,
                                        ValueRange{add(lseBase, s)});
                return {};
              },
              nullptr);
          return {};
        },
        nullptr);
  }
  if (stagedEpilogue())
    storeStagedO(oBase, sqb);
}

void EmitterBase::storeStagedO(Value oBase, Value sqb) {
  // The warp's 16 rows, D/8 16-byte chunks each, back from shared memory
  // (written by the warp's own lanes: a warp barrier orders them), a
  // chunk a lane per store: 32 lanes cover 512 contiguous bytes of two
  // rows at head dim 128. 16-byte stores when o and its strides allow
  // them (o 16-byte aligned, strides multiples of 8 elements), else the
  // chunk as four 4-byte stores (o's ABI contract: 4-byte aligned, even
  // strides).
  NVVM::SyncWarpOp::create(ib, c32(-1));
  int64_t cpr = D / 8;
  auto i64 = ib.getI64Type();
  Value oAddr = LLVM::PtrToIntOp::create(ib, i64, fn.getArgument(ArgO));
  Value aligned16 = cmp(
      arith::CmpIPredicate::eq,
      arith::AndIOp::create(
          ib, oAddr, arith::ConstantOp::create(ib, ib.getI64IntegerAttr(15))),
      arith::ConstantOp::create(ib, ib.getI64IntegerAttr(0)));
  Value vec = andI(aligned16,
                   andI(cmp(arith::CmpIPredicate::eq, remS(oBase, c(8)), c(0)),
                        cmp(arith::CmpIPredicate::eq, remS(oss, c(8)), c(0))));
  auto chunkTy = VectorType::get({8}, elemTy);
  for (int64_t i = 0; i < 16 * cpr / 32; ++i) {
    Value idx = add(lane, c(i * 32));
    Value row =
        add(mul(warp, c(16)), ib.createOrFold<arith::DivUIOp>(idx, c(cpr)));
    Value chunk = ib.createOrFold<arith::RemUIOp>(idx, c(cpr));
    Value src = tileIndex(row, chunk, BM);
    Value s = add(rowOff, row);
    Value valid = inSequence(s, sqb);
    Value dst = add(add(oBase, mul(s, oss)), mul(chunk, c(8)));
    emitIf(valid, {}, [&]() -> SmallVector<Value> {
      emitIf(
          vec, {},
          [&]() -> SmallVector<Value> {
            Value v = vector::LoadOp::create(ib, chunkTy, qS, ValueRange{src});
            vector::StoreOp::create(ib, v, oG, ValueRange{dst},
                                    /*nontemporal=*/false,
                                    llvm::MaybeAlign(16));
            return {};
          },
          [&]() -> SmallVector<Value> {
            auto pairTy = VectorType::get({2}, elemTy);
            for (int64_t e = 0; e < 8; e += 2) {
              Value pair = vector::LoadOp::create(ib, pairTy, qS,
                                                  ValueRange{add(src, c(e))});
              vector::StoreOp::create(ib, pair, oG, ValueRange{add(dst, c(e))},
                                      /*nontemporal=*/false,
                                      llvm::MaybeAlign(4));
            }
            return {};
          });
      return {};
    });
  }
}

FailureOr<std::vector<int64_t>>
EmitterBase::foldTiles(int64_t head, int64_t tile, int64_t numKeyTiles,
                       int64_t windowBegin, int64_t windowEnd) {
  D = cfg.headDim;
  BM = cfg.blockM;
  TN = BN = cfg.blockN;
  h = c(head);
  t = c(tile);
  // As in emit(): nkt = ceil(min(sk, kv_hi) / TN), kvLoT = kv_lo / TN.
  nkt = c(windowEnd < 0 ? numKeyTiles : std::min(numKeyTiles, windowEnd));
  kvLoT = c(windowBegin);
  auto constOf = [](Value v) -> std::optional<int64_t> {
    if (auto cst = v.getDefiningOp<arith::ConstantIndexOp>())
      return cst.value();
    return std::nullopt;
  };
  std::vector<int64_t> out;
  int64_t gi = s2::groupOf(sched, head);
  if (gi < 0)
    return out;
  const s2::HeadGroup &g = sched.groups[size_t(gi)];
  const s2::Phase *ph = nullptr;
  for (const s2::Phase &p : g.phases)
    if (tile >= p.tBegin && (p.tEnd < 0 || tile < p.tEnd)) {
      ph = &p;
      break;
    }
  if (!ph)
    return out;
  if (llvm::any_of(ph->spans, [](const s2::Span &sp) {
        return sp.kind == s2::SpanKind::Table;
      }))
    return failure();
  SmallVector<SpanRT> spans = computeSpans(g, *ph);
  if (spans.empty())
    return out;
  std::optional<int64_t> nBegin = constOf(spans.front().start);
  std::optional<int64_t> nEnd =
      constOf(add(spans.back().start, spans.back().count));
  if (!nBegin || !nEnd)
    return failure();
  for (int64_t n = *nBegin; n < *nEnd; ++n) {
    std::optional<int64_t> k = constOf(tileOf(spans, c(n)));
    if (!k)
      return failure();
    out.push_back(*k);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Kernel function
//===----------------------------------------------------------------------===//

LogicalResult checkHeadDimAndDType(Location loc, const KernelConfig &c,
                                   llvm::StringRef kernel) {
  if (c.headDim != 64 && c.headDim != 128)
    return emitError(loc) << "unsupported head dimension " << c.headDim << "; "
                          << kernel << " supports 64 and 128";
  if (c.dtype != s2::DType::BF16 && c.dtype != s2::DType::F16)
    return emitError(loc) << "unsupported element type '"
                          << s2::dtypeName(c.dtype) << "'; " << kernel
                          << " supports bf16 and f16";
  return success();
}

LogicalResult checkPatternAndSchedule(Location loc, const s2::Pattern &p,
                                      const s2::Schedule &s,
                                      const KernelConfig &c) {
  if (s.tiles.blockM != c.blockM || s.tiles.blockN != c.blockN)
    return emitError(loc) << "schedule tiles " << s.tiles.blockM << "x"
                          << s.tiles.blockN << " do not match kernel tiles "
                          << c.blockM << "x" << c.blockN;
  if (p.heads < 1 || p.kvHeads < 1 || p.heads % p.kvHeads != 0)
    return emitError(loc) << "pattern '" << p.name
                          << "' has an invalid head count";
  if (p.headDim != 0 && p.headDim != c.headDim)
    return emitError(loc) << "pattern '" << p.name << "' fixes head_dim "
                          << p.headDim << " but the kernel is built for "
                          << c.headDim;
  if (p.dtype != s2::DType::Any && p.dtype != c.dtype)
    return emitError(loc) << "pattern '" << p.name << "' fixes dtype '"
                          << s2::dtypeName(p.dtype)
                          << "' but the kernel is built for '"
                          << s2::dtypeName(c.dtype) << "'";
  // Explicit block lists are compared element by element, and only in
  // masked spans.
  bool anyMasked = false;
  for (const s2::HeadGroup &g : s.groups)
    for (const s2::Phase &ph : g.phases)
      for (const s2::Span &sp : ph.spans)
        anyMasked |= sp.masked;
  for (const s2::Rule &r : p.rules) {
    if (anyMasked &&
        ((r.kind == s2::RuleKind::Blocks && r.blocks.size() > 64) ||
         (r.kind == s2::RuleKind::Global && r.set.size() > 64)))
      return emitError(loc)
             << "rule at " << r.loc.line << ":" << r.loc.col
             << " lists more than 64 blocks; per-element masks support at "
                "most 64 explicit blocks per rule";
    if ((r.kind == s2::RuleKind::Stride || r.kind == s2::RuleKind::Dilated) &&
        r.step < 1)
      return emitError(loc) << "rule at " << r.loc.line << ":" << r.loc.col
                            << " has a non-positive step";
    if (r.kind == s2::RuleKind::Stride && int64_t(r.shift.size()) != p.heads)
      return emitError(loc) << "stride rule at " << r.loc.line << ":"
                            << r.loc.col << " has no shift per head";
    if (int64_t(r.heads.size()) != p.heads)
      return emitError(loc) << "rule at " << r.loc.line << ":" << r.loc.col
                            << " has a head set of the wrong size";
  }
  for (const s2::HeadGroup &g : s.groups) {
    for (int64_t x : g.heads)
      if (x < 0 || x >= p.heads)
        return emitError(loc) << "schedule group names head " << x
                              << " outside 0.." << p.heads - 1;
    for (const s2::Phase &ph : g.phases)
      for (const s2::Span &sp : ph.spans) {
        if (sp.kind == s2::SpanKind::Table &&
            (sp.table < 0 || size_t(sp.table) >= s.tables.size() ||
             s.tables[size_t(sp.table)].rowPtr.empty()))
          return emitError(loc) << "schedule span names table " << sp.table
                                << " which does not exist";
        if (sp.kind == s2::SpanKind::Progression &&
            (sp.step < 1 || sp.run < 1 || sp.run > sp.step))
          return emitError(loc)
                 << "schedule progression has step " << sp.step << " and run "
                 << sp.run << "; expected 1 <= run <= step";
        for (const s2::AffineBound &b :
             llvm::concat<const s2::AffineBound>(sp.lo, sp.hi))
          if (b.c < 1)
            return emitError(loc) << "schedule bound has divisor " << b.c
                                  << "; expected a positive divisor";
      }
  }
  return success();
}

FailureOr<KernelInfo> buildForwardFunc(
    ModuleOp module, const KernelInfo &info,
    function_ref<void(ImplicitLocOpBuilder &, gpu::GPUFuncOp)> emitBody) {
  Location loc = module.getLoc();
  MLIRContext *ctx = module.getContext();
  ctx->loadDialect<arith::ArithDialect, gpu::GPUDialect, LLVM::LLVMDialect,
                   NVVM::NVVMDialect, memref::MemRefDialect,
                   nvgpu::NVGPUDialect, scf::SCFDialect,
                   vector::VectorDialect>();

  OpBuilder ob(ctx);
  gpu::GPUModuleOp gpuMod = kernelModule(module, loc);
  if (SymbolTable::lookupSymbolIn(gpuMod, info.name))
    return emitError(loc) << "kernel '" << info.name
                          << "' is already defined in the gpu module";

  // The ABI (docs/bundle.md, version 2): 29 parameters; version 3 adds the
  // TMA flag and the two tensor maps, which s2-tensor-map-args turns into
  // by-value grid constants once the kernel is an llvm.func.
  bool maps = info.abiVersion == s2::kKernelAbiTensorMaps;
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Type i64 = ob.getI64Type(), i32 = ob.getI32Type(), f32 = ob.getF32Type();
  SmallVector<Type> args = {ptr, ptr, ptr, ptr, ptr, i64, i64};
  args.append(14, i64);
  args.append({f32, i32, ptr, ptr, ptr, i64, i64, i64});
  if (maps)
    args.append({i32, ptr, ptr});
  auto fnTy = FunctionType::get(ctx, args, {});
  ob.setInsertionPointToEnd(gpuMod.getBody());
  auto fn = gpu::GPUFuncOp::create(ob, loc, info.name, fnTy);
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
  fn.setKnownBlockSizeAttr(
      DenseI32ArrayAttr::get(ctx, {int32_t(info.threads), 1, 1}));
  static const char *const argNames[] = {"q",
                                         "k",
                                         "v",
                                         "o",
                                         "lse",
                                         "sq",
                                         "sk",
                                         "qsb",
                                         "qss",
                                         "qsh",
                                         "ksb",
                                         "kss",
                                         "ksh",
                                         "vsb",
                                         "vss",
                                         "vsh",
                                         "osb",
                                         "oss",
                                         "osh",
                                         "lsb",
                                         "lsh",
                                         "scale_log2",
                                         "head_offset",
                                         "cu_seqlens_q",
                                         "cu_seqlens_k",
                                         "tables",
                                         "q_pos",
                                         "kv_lo",
                                         "kv_hi"};
  static_assert(sizeof(argNames) / sizeof(argNames[0]) == NumArgs,
                "one name per ABI parameter");
  for (unsigned i = 0; i < NumArgs; ++i)
    fn.setArgAttr(i, "s2.arg", ob.getStringAttr(argNames[i]));
  if (maps) {
    fn.setArgAttr(ArgTma, "s2.arg", ob.getStringAttr("tma"));
    fn.setArgAttr(ArgKMap, "s2.arg", ob.getStringAttr("k_map"));
    fn.setArgAttr(ArgVMap, "s2.arg", ob.getStringAttr("v_map"));
    fn->setAttr(kTensorMapArgsAttr,
                DenseI64ArrayAttr::get(ctx, {ArgKMap, ArgVMap}));
  }

  ImplicitLocOpBuilder ib(loc, ctx);
  ib.setInsertionPointToStart(&fn.getBody().front());
  emitBody(ib, fn);

  canonicalizeAndCSE(fn);
  return info;
}

} // namespace detail
} // namespace s2c
