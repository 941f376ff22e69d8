//===- HopperKernel.cpp - Forward kernels with warpgroup MMA (sm_90a) -----===//
//
// Emits the forward attention kernel of a pattern for sm_90a with Hopper's
// warpgroup MMA (see HopperKernel.h and docs/kernels.md, "Hopper path").
// The structure is buildForwardKernel's (KernelBuilder.cpp), and so is most
// of the code: this file holds a copy of that emitter (prologue, group and
// phase dispatch, span arithmetic, masks, online softmax, epilogue) in
// which only these parts differ:
//
//   shared memory  tiles in wgmma's 128-byte-swizzle layout (64-column
//                  boxes), aligned to 1024 bytes at run time
//   Q              stays in shared memory (read by wgmma through a
//                  descriptor), no ldmatrix
//   S = QK^T       D/16 nvvm.wgmma.mma_async m64nBNk16 per key tile
//   O += PV        BN/16 wgmma m64nDk16 with P in registers (inline PTX)
//   copies         cp.async as before, then fence.proxy.async before the
//                  barrier so that wgmma (async proxy) sees them
//
// One warpgroup (4 warps) owns 64 query rows; its accumulators have the
// mma.sync per-warp layout, so masks, softmax and epilogue are unchanged.
//
// TODO(dedup): the emitter is a copy of KernelBuilder.cpp's as of commit
// 9fcd03c (kernel ABI version 2), edited in the places listed above; fixes
// to one must be made to the other. Once the mma.sync emitter exposes hooks
// for the tile layout, the Q load, computeS and accumulatePV (and moves
// into an internal header), this file should keep only those.
//
//===----------------------------------------------------------------------===//

#include "codegen/HopperKernel.h"

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

using namespace mlir;

namespace s2c {

std::string hopperKernelName(const KernelConfig &c) {
  std::string name = "s2_fwd_sm90a_wgmma";
  name += c.dtype == s2::DType::F16 ? "_f16" : "_bf16";
  name += "_d" + std::to_string(c.headDim);
  name += "_m" + std::to_string(c.blockM) + "n" + std::to_string(c.blockN);
  return name;
}

int64_t hopperSharedBytes(const KernelConfig &c) {
  return (c.blockM + 2 * c.stages * c.blockN) * c.headDim * 2 + 1024;
}

namespace {

/// Positions of the kernel parameters (docs/bundle.md, ABI version 2).
enum Arg : unsigned {
  ArgQ = 0,
  ArgK,
  ArgV,
  ArgO,
  ArgLse,
  ArgSq,
  ArgSk,
  ArgQsb,
  ArgQss,
  ArgQsh,
  ArgKsb,
  ArgKss,
  ArgKsh,
  ArgVsb,
  ArgVss,
  ArgVsh,
  ArgOsb,
  ArgOss,
  ArgOsh,
  ArgLsb,
  ArgLsh,
  ArgScaleLog2,
  ArgHeadOffset,
  ArgCuQ,
  ArgCuK,
  ArgTables,
  ArgQPos,
  ArgKvLo,
  ArgKvHi,
  NumArgs
};

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

/// Accumulator state carried through the key loop: O fragments (headDim/8
/// n-blocks of four f32), then m and l for the thread's two rows.
struct Acc {
  SmallVector<Value> o;
  Value m[2], l[2];

  SmallVector<Value> flat() const {
    SmallVector<Value> v(o.begin(), o.end());
    v.append({m[0], m[1], l[0], l[1]});
    return v;
  }
  static Acc fromFlat(ValueRange v) {
    Acc a;
    size_t n = v.size();
    for (size_t i = 0; i + 4 < n; ++i)
      a.o.push_back(v[i]);
    a.m[0] = v[n - 4];
    a.m[1] = v[n - 3];
    a.l[0] = v[n - 2];
    a.l[1] = v[n - 1];
    return a;
  }
};

/// Per-span run-time values of the flattened iteration space.
struct SpanRT {
  const s2::Span *span = nullptr;
  Value start, count;
  /// Range/Progression with run 1: tile = base + local * stride.
  /// Progression with run > 1: m = local + skip, tile = base +
  /// (m / run) * stride + m mod run. Table: tile = tables[base + local].
  Value base, skip;
  int64_t stride = 1, run = 1;
};

class Emitter {
public:
  Emitter(ImplicitLocOpBuilder &ib, const s2::Pattern &p, const s2::Schedule &s,
          const KernelConfig &cfg, KernelTarget &tgt)
      : ib(ib), pat(p), sched(s), cfg(cfg), tgt(tgt) {}

  void emit(gpu::GPUFuncOp func);

private:
  // ---- small arithmetic helpers (index unless said otherwise) ----
  Value c(int64_t v) { return ib.createOrFold<arith::ConstantIndexOp>(v); }
  Value c32(int64_t v) {
    return ib.createOrFold<arith::ConstantIntOp>(ib.getI32Type(), v);
  }
  Value cf(double v) {
    return arith::ConstantOp::create(ib, ib.getF32FloatAttr(float(v)));
  }
  Value negInf() { return cf(-std::numeric_limits<double>::infinity()); }
  Value add(Value a, Value b) { return ib.createOrFold<arith::AddIOp>(a, b); }
  Value sub(Value a, Value b) { return ib.createOrFold<arith::SubIOp>(a, b); }
  Value mul(Value a, Value b) { return ib.createOrFold<arith::MulIOp>(a, b); }
  Value floorDiv(Value a, Value b) {
    return ib.createOrFold<arith::FloorDivSIOp>(a, b);
  }
  Value ceilDiv(Value a, Value b) {
    return ib.createOrFold<arith::CeilDivSIOp>(a, b);
  }
  Value remS(Value a, Value b) { return ib.createOrFold<arith::RemSIOp>(a, b); }
  Value minS(Value a, Value b) { return ib.createOrFold<arith::MinSIOp>(a, b); }
  Value maxS(Value a, Value b) { return ib.createOrFold<arith::MaxSIOp>(a, b); }
  Value cmp(arith::CmpIPredicate p, Value a, Value b) {
    return ib.createOrFold<arith::CmpIOp>(p, a, b);
  }
  Value andI(Value a, Value b) { return ib.createOrFold<arith::AndIOp>(a, b); }
  Value orI(Value a, Value b) { return ib.createOrFold<arith::OrIOp>(a, b); }
  Value xorI(Value a, Value b) { return ib.createOrFold<arith::XOrIOp>(a, b); }
  Value sel(Value c, Value a, Value b) {
    return ib.createOrFold<arith::SelectOp>(c, a, b);
  }
  Value toIndex(Value v) {
    return ib.createOrFold<arith::IndexCastOp>(ib.getIndexType(), v);
  }
  Value toI32(Value v) {
    return ib.createOrFold<arith::IndexCastOp>(ib.getI32Type(), v);
  }
  Value fadd(Value a, Value b) { return arith::AddFOp::create(ib, a, b); }
  Value fsub(Value a, Value b) { return arith::SubFOp::create(ib, a, b); }
  Value fmul(Value a, Value b) { return arith::MulFOp::create(ib, a, b); }
  /// maxnum through the LLVM intrinsic: arith.maxnumf would become a
  /// libdevice call (__nv_fmaxf) in convert-gpu-to-nvvm.
  Value fmax(Value a, Value b) {
    return LLVM::CallIntrinsicOp::create(ib, ib.getF32Type(),
                                         ib.getStringAttr("llvm.maxnum.f32"),
                                         ValueRange{a, b})
        .getResult(0);
  }
  Value exp2(Value x) {
    return LLVM::CallIntrinsicOp::create(
               ib, ib.getF32Type(),
               ib.getStringAttr("llvm.nvvm.ex2.approx.ftz.f"), ValueRange{x})
        .getResult(0);
  }
  Value log2(Value x) {
    return LLVM::CallIntrinsicOp::create(
               ib, ib.getF32Type(), ib.getStringAttr("llvm.nvvm.lg2.approx.f"),
               ValueRange{x})
        .getResult(0);
  }
  Value shuffleXor(Value v, int32_t offset) {
    return gpu::ShuffleOp::create(ib, v, offset, 32, gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }

  /// Start row and length of this CTA's sequence in the tensor of `len`:
  /// cu[b] and cu[b + 1] - cu[b] when the cu_seqlens argument `cu` is
  /// non-null (packed), else 0 and the `len` argument.
  std::pair<Value, Value> seqBounds(Arg cu, Arg len);
  /// Offsets (elements) of this CTA's query row 0 in o and in lse, and the
  /// query length, from the kernel arguments.
  struct QueryOut {
    Value oBase, lseBase, sq;
  };
  QueryOut queryOut();

  /// A memref<?xT> over a generic pointer argument (a descriptor with offset
  /// 0, unit stride and an unknown size), so that nvgpu/vector/memref ops
  /// can address global memory through the !llvm.ptr ABI parameters.
  Value asMemRef(Value ptr, Type elem);
  Value isNonNull(Value ptr);
  /// Index of element (row, 8-element chunk) of a tile of `rows` rows in
  /// wgmma's 128-byte-swizzle layout: 64-column boxes (128-byte rows, one
  /// box at head dim 64, two at 128) one after the other, and in a box the
  /// 16-byte chunk c of row r at chunk c XOR (r mod 8).
  Value swizzle(Value row, Value chunk, int64_t rows);
  /// fence.proxy.async.shared::cta: makes this thread's cp.async writes to
  /// shared memory visible to wgmma (the async proxy); before a barrier.
  void fenceProxyAsync();
  /// An empty volatile asm that takes and redefines `vals` (f32 or i32):
  /// uses of the results stay after the preceding wgmma wait, definitions of
  /// the operands before the following wgmma fence (CUTLASS's
  /// warpgroup_fence_operand).
  SmallVector<Value> fenceRegs(ArrayRef<Value> vals);
  /// An i64 wgmma descriptor: `base` (an index: the descriptor bits of a
  /// tile, start address >> 4 included) plus `bytes` (a multiple of 16) and
  /// `extra16` (16-byte units, run time).
  Value desc(Value base, int64_t bytes, Value extra16 = Value());
  /// scf.if with results; the builders return the yielded values.
  SmallVector<Value> emitIf(Value cond, TypeRange types,
                            function_ref<SmallVector<Value>()> thenFn,
                            function_ref<SmallVector<Value>()> elseFn);
  /// A per-head compile-time constant for the run-time pattern head `h`:
  /// a constant, an affine (or affine modulo `mod`) function of the head
  /// or of its KV head, or a select chain. Returns an index value.
  Value headConst(ArrayRef<int64_t> heads, function_ref<int64_t(int64_t)> value,
                  int64_t mod);
  /// i1: the pattern head is one of `heads`.
  Value headIn(ArrayRef<int64_t> heads);

  Acc initAcc();
  Acc emitGroups(size_t gi);
  Acc emitPhases(const s2::HeadGroup &g, size_t pi);
  Acc emitPhaseLoop(const s2::HeadGroup &g, const s2::Phase &ph, Acc init);
  SmallVector<SpanRT> computeSpans(const s2::HeadGroup &g, const s2::Phase &ph);

  Value tileOf(ArrayRef<SpanRT> spans, Value n);
  /// Copies the K and V rows of key tile `tile` into buffer `stage`
  /// (zero-filled rows when !valid or past the sequence end); the caller
  /// commits the group.
  void issueKV(Value tile, Value stage, Value valid);
  SmallVector<Value> computeS(Value stage);
  /// Masks S of key tile `tile`: sequence / window end, causal diagonal,
  /// the pattern predicate when `patternOn`, and the whole tile when
  /// `outside` (i1, table tiles before the window) is true.
  void applyMasks(SmallVector<Value> &s, Value tile, Value patternOn,
                  Value outside);
  Value patternVisible(Value qb, Value kb);
  void accumulatePV(Acc &acc, ArrayRef<Value> p, Value stage);
  Value packPair(Value a, Value b);
  void epilogue(const Acc &acc);

  ImplicitLocOpBuilder &ib;
  const s2::Pattern &pat;
  const s2::Schedule &sched;
  const KernelConfig &cfg;
  KernelTarget &tgt;

  Type elemTy;
  int64_t D = 0, BM = 0, BN = 0, threads = 0;
  std::vector<int64_t> tableOffsets;

  // Values live for the whole kernel.
  gpu::GPUFuncOp fn;
  Value tid, warp, lane, grp, tig;
  Value h, tensorHead, kvh;
  Value qG, kG, vG, oG, lseG, tablesG, lseOn;
  Value bz;
  Value qBase, kBase, vBase;
  Value qss, kss, vss, oss;
  /// End of the keys this CTA may read: min(sk_b, kv_hi). Replaces the
  /// sequence end in every in-loop test (copies, masks).
  Value kEnd;
  /// Key tiles of the window: closed-form spans start at kvLoT and end at
  /// nkt = ceil(kEnd / BN).
  Value kvLoT, nkt, t;
  /// Absolute position of query row 0 of this CTA's sequence (prologue).
  Value delta;
  /// The tile's first absolute position t * BM as i32 (masks), and its
  /// first row relative to the sequence, t * BM - delta (epilogue). Kept
  /// instead of t and delta: that 64-bit pair live across the key loop (or
  /// delta recomputed in the epilogue) made ptxas spill or give up 3 CTAs
  /// per SM at d64.
  Value qStart32, rowOff;
  Value scaleLog2;
  Value qS, kS, vS;
  /// Descriptor bits (index values) of this warpgroup's Q rows, of K stage
  /// 0 and of V stage 0 (start address >> 4 included).
  Value qDesc, kDesc, vDesc;
  // i32 per-thread values for the masks.
  Value rowI32, crI32, colI32;
  // Per rule: i1 "applies to this CTA's head" and the stride shift (i32).
  SmallVector<Value> ruleOn, ruleShift;
};

Value Emitter::asMemRef(Value ptr, Type elem) {
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

std::pair<Value, Value> Emitter::seqBounds(Arg cu, Arg len) {
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

Emitter::QueryOut Emitter::queryOut() {
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

Value Emitter::isNonNull(Value ptr) {
  Value null = LLVM::ZeroOp::create(ib, ptr.getType());
  return LLVM::ICmpOp::create(ib, LLVM::ICmpPredicate::ne, ptr, null);
}

Value Emitter::swizzle(Value row, Value chunk, int64_t rows) {
  Value inBox = D > 64 ? ib.createOrFold<arith::RemUIOp>(chunk, c(8)) : chunk;
  Value phys = xorI(inBox, ib.createOrFold<arith::AndIOp>(row, c(7)));
  Value idx = add(mul(row, c(64)), mul(phys, c(8)));
  if (D > 64)
    idx = add(idx,
              mul(ib.createOrFold<arith::DivUIOp>(chunk, c(8)), c(rows * 64)));
  return idx;
}

void Emitter::fenceProxyAsync() {
  MLIRContext *ctx = ib.getContext();
  NVVM::FenceProxyOp::create(
      ib, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
      NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
}

SmallVector<Value> Emitter::fenceRegs(ArrayRef<Value> vals) {
  MLIRContext *ctx = ib.getContext();
  SmallVector<Type> types;
  std::string cons;
  for (Value v : vals) {
    types.push_back(v.getType());
    cons += cons.empty() ? "" : ",";
    cons += v.getType().isF32() ? "=f" : "=r";
  }
  for (size_t i = 0; i < vals.size(); ++i)
    cons += "," + std::to_string(i);
  auto st = LLVM::LLVMStructType::getLiteral(ctx, types);
  Value r =
      LLVM::InlineAsmOp::create(
          ib, st, vals, ib.getStringAttr(""), ib.getStringAttr(cons),
          ib.getUnitAttr(), UnitAttr(), LLVM::TailCallKindAttr(),
          LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT), ArrayAttr())
          .getResult(0);
  SmallVector<Value> out;
  for (size_t i = 0; i < vals.size(); ++i)
    out.push_back(LLVM::ExtractValueOp::create(ib, r, int64_t(i)));
  return out;
}

Value Emitter::desc(Value base, int64_t bytes, Value extra16) {
  Value d = add(base, c(bytes / 16));
  if (extra16)
    d = add(d, extra16);
  return ib.createOrFold<arith::IndexCastOp>(ib.getI64Type(), d);
}

SmallVector<Value> Emitter::emitIf(Value cond, TypeRange types,
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

Value Emitter::headConst(ArrayRef<int64_t> heads,
                         function_ref<int64_t(int64_t)> value, int64_t mod) {
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

Value Emitter::headIn(ArrayRef<int64_t> heads) {
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

Acc Emitter::initAcc() {
  Acc a;
  Value zero = cf(0.0), ninf = negInf();
  for (int64_t i = 0; i < D / 8 * 4; ++i)
    a.o.push_back(zero);
  a.m[0] = a.m[1] = ninf;
  a.l[0] = a.l[1] = zero;
  return a;
}

void Emitter::emit(gpu::GPUFuncOp func) {
  fn = func;
  MLIRContext *ctx = ib.getContext();
  D = cfg.headDim;
  BM = cfg.blockM;
  BN = cfg.blockN;
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
  kvLoT = floorDiv(idxArg(ArgKvLo), c(BN));
  nkt = ceilDiv(kEnd, c(BN));

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

    // ---- Shared memory: Q | K stages | V stages.
    auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    auto i8Dyn = MemRefType::get({ShapedType::kDynamic}, ib.getI8Type(),
                                 MemRefLayoutAttrInterface(), wg);
    Value dsm = gpu::DynamicSharedMemoryOp::create(ib, i8Dyn);
    // The 128-byte swizzle is a function of address bits 4-9: tiles start
    // at multiples of 1024 bytes of the shared window. The dynamic buffer
    // is only 16-byte aligned, so the tiles start `pad` bytes into it (the
    // kernel asks for 1024 bytes more).
    Value addr = memref::ExtractAlignedPointerAsIndexOp::create(ib, dsm);
    Value pad = andI(sub(c(0), addr), c(1023));
    Value base = add(addr, pad);
    int64_t eb = 2;
    auto view = [&](int64_t byteOff, int64_t elems) -> Value {
      auto ty =
          MemRefType::get({elems}, elemTy, MemRefLayoutAttrInterface(), wg);
      return memref::ViewOp::create(ib, ty, dsm, add(pad, c(byteOff)),
                                    ValueRange{});
    };
    int64_t kOff = BM * D * eb, vOff = (BM * D + cfg.stages * BN * D) * eb;
    qS = view(0, BM * D);
    kS = view(kOff, cfg.stages * BN * D);
    vS = view(vOff, cfg.stages * BN * D);

    // ---- wgmma descriptors (PTX ISA "Matrix Descriptor Format"): start
    // address >> 4 (bits 0-13), leading byte offset >> 4 (16-29), stride
    // byte offset >> 4 (32-45), layout 1 = 128-byte swizzle (62-63).
    // Q and K are K-major (head dim contiguous): 8-row groups 1024 bytes
    // apart (SBO), LBO unused (1). V is MN-major for O += PV (B[key][d],
    // d contiguous): 8-key groups 1024 bytes apart (SBO), the second
    // 64-column box of head dim 128 BLOCK_N x 128 bytes further (LBO).
    auto bits = [](int64_t lbo, int64_t sbo) {
      return int64_t((uint64_t(1) << 62) | (uint64_t(sbo >> 4) << 32) |
                     (uint64_t(lbo >> 4) << 16));
    };
    Value start = ib.createOrFold<arith::DivUIOp>(base, c(16));
    // Warpgroup w computes query rows [64w, 64w + 64) of the tile.
    Value wgRows =
        mul(ib.createOrFold<arith::DivUIOp>(tid, c(128)), c(64 * 128 / 16));
    qDesc = add(add(start, c(bits(16, 1024))), wgRows);
    kDesc = add(start, c(bits(16, 1024) + kOff / 16));
    vDesc = add(start, c(bits(BN * 128, 1024) + vOff / 16));

    // ---- Q tile -> shared memory.
    int64_t cpr = D / 8; // 16-byte chunks per row
    Value rowOfTid = ib.createOrFold<arith::DivUIOp>(tid, c(cpr));
    Value chunkOfTid = ib.createOrFold<arith::RemUIOp>(tid, c(cpr));
    SmallVector<Value> toks;
    for (int64_t i = 0; i < BM * cpr / threads; ++i) {
      Value row = add(rowOfTid, c(i * (threads / cpr)));
      Value s = sub(add(mul(t, c(BM)), row), delta);
      Value ok = andI(cmp(arith::CmpIPredicate::sge, s, c(0)),
                      cmp(arith::CmpIPredicate::slt, s, sqb));
      Value src =
          add(add(qBase, mul(sel(ok, s, c(0)), qss)), mul(chunkOfTid, c(8)));
      toks.push_back(tgt.asyncCopy16(ib, ib.getLoc(), qS,
                                     swizzle(row, chunkOfTid, BM), qG, src,
                                     sel(ok, c(8), c(0))));
    }
    Value qTok = tgt.commitGroup(ib, ib.getLoc(), toks);
    tgt.waitGroups(ib, ib.getLoc(), qTok, 0);
    fenceProxyAsync();
    gpu::BarrierOp::create(ib);
    // Q stays in shared memory: wgmma reads it there at every key tile.

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

    // ---- Table offsets in the tables buffer.
    int64_t off = 0;
    for (const s2::TileTable &tt : sched.tables) {
      tableOffsets.push_back(off);
      off += int64_t(tt.rowPtr.size() + tt.cols.size());
    }

    Acc acc = emitGroups(0);

    // Drain every copy before the CTA may exit.
    Value drain = tgt.commitGroup(ib, ib.getLoc(), ValueRange{});
    tgt.waitGroups(ib, ib.getLoc(), drain, 0);
    epilogue(acc);
  }
  gpu::ReturnOp::create(ib);
}

Acc Emitter::emitGroups(size_t gi) {
  if (gi == sched.groups.size())
    return initAcc();
  const s2::HeadGroup &grp = sched.groups[gi];
  // The last group covering every remaining head needs no test.
  if (gi + 1 == sched.groups.size()) {
    size_t covered = 0;
    for (const s2::HeadGroup &other : sched.groups)
      covered += other.heads.size();
    if (int64_t(covered) == pat.heads)
      return emitPhases(grp, 0);
  }
  SmallVector<Type> types(D / 8 * 4 + 4, ib.getF32Type());
  SmallVector<Value> r = emitIf(
      headIn(grp.heads), types, [&]() { return emitPhases(grp, 0).flat(); },
      [&]() { return emitGroups(gi + 1).flat(); });
  return Acc::fromFlat(r);
}

Acc Emitter::emitPhases(const s2::HeadGroup &g, size_t pi) {
  if (pi == g.phases.size())
    return initAcc();
  const s2::Phase &ph = g.phases[pi];
  if (ph.tBegin <= 0 && ph.tEnd < 0 && pi + 1 == g.phases.size())
    return emitPhaseLoop(g, ph, initAcc());
  Value in = cmp(arith::CmpIPredicate::sge, t, c(ph.tBegin));
  if (ph.tEnd >= 0)
    in = andI(in, cmp(arith::CmpIPredicate::slt, t, c(ph.tEnd)));
  SmallVector<Type> types(D / 8 * 4 + 4, ib.getF32Type());
  SmallVector<Value> r = emitIf(
      in, types, [&]() { return emitPhaseLoop(g, ph, initAcc()).flat(); },
      [&]() { return emitPhases(g, pi + 1).flat(); });
  return Acc::fromFlat(r);
}

Value Emitter::tileOf(ArrayRef<SpanRT> spans, Value n) {
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

void Emitter::issueKV(Value tile, Value stage, Value valid) {
  int64_t cpr = D / 8;
  int64_t rowsPerPass = threads / cpr;
  int64_t passes = BN * cpr / threads;
  Value rowOfTid = ib.createOrFold<arith::DivUIOp>(tid, c(cpr));
  Value chunkOfTid = ib.createOrFold<arith::RemUIOp>(tid, c(cpr));
  Value stageOff = mul(stage, c(BN * D));
  Value kStart = mul(tile, c(BN));
  // Destinations: when a pass covers a multiple of 8 rows, every row of the
  // thread has the same swizzle and row i is row 0 plus a constant.
  Value dst0 = add(stageOff, swizzle(rowOfTid, chunkOfTid, BN));
  auto dstOf = [&](int64_t i) {
    if (rowsPerPass % 8 == 0)
      return add(dst0, c(i * rowsPerPass * 64));
    return add(stageOff,
               swizzle(add(rowOfTid, c(i * rowsPerPass)), chunkOfTid, BN));
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
    for (auto [mem, smem, base, ss] : {std::make_tuple(kG, kS, kBase, kss),
                                       std::make_tuple(vG, vS, vBase, vss)}) {
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
    for (auto [mem, smem, base, ss] : {std::make_tuple(kG, kS, kBase, kss),
                                       std::make_tuple(vG, vS, vBase, vss)}) {
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
  if (rowsPerPass % 8 != 0) {
    rowCopies();
    return;
  }
  Value full =
      andI(valid, cmp(arith::CmpIPredicate::sle, add(kStart, c(BN)), kEnd));
  emitIf(full, {}, fastCopies, rowCopies);
}

SmallVector<Value> Emitter::computeS(Value stage) {
  // S (64 rows of this warpgroup x BN keys) = Q K^T: D/16 wgmma
  // m64nBNk16, both operands K-major in shared memory. Within a 128-byte
  // swizzled row, k-step kk starts (kk mod 4) x 32 bytes in; head dim 128
  // continues in the second box. The first step ignores the (undefined)
  // accumulator input (scale-d = 0).
  MLIRContext *ctx = ib.getContext();
  Type f32 = ib.getF32Type();
  auto accTy =
      LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(BN / 2, f32));
  Value acc = LLVM::UndefOp::create(ib, accTy);
  Value kStage = mul(stage, c(BN * D * 2 / 16));
  auto wgType = elemTy.isF16() ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16;
  NVVM::WgmmaFenceAlignedOp::create(ib);
  for (int64_t kk = 0; kk < D / 16; ++kk) {
    int64_t box = kk / 4, within = (kk % 4) * 32;
    Value a = desc(qDesc, box * BM * 128 + within);
    Value b = desc(kDesc, box * BN * 128 + within, kStage);
    acc = NVVM::WgmmaMmaAsyncOp::create(
        ib, accTy, acc, a, b, NVVM::MMAShapeAttr::get(ctx, 64, BN, 16),
        NVVM::WGMMATypesAttr::get(ctx, wgType),
        NVVM::WGMMATypesAttr::get(ctx, wgType),
        NVVM::WGMMATypesAttr::get(ctx, NVVM::WGMMATypes::f32),
        NVVM::WGMMAScaleOutAttr::get(ctx, kk == 0 ? NVVM::WGMMAScaleOut::zero
                                                  : NVVM::WGMMAScaleOut::one),
        NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one),
        NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one),
        NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::row),
        NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::col),
        NVVM::MMAIntOverflowAttr());
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(ib);
  NVVM::WgmmaWaitGroupSyncOp::create(ib, 0);
  // The accumulator of m64nNk16 gives thread (warp w, group g, thread q)
  // rows 16w + g and 16w + g + 8, columns 8j + 2q, 8j + 2q + 1, as
  // d[4j..4j+3] = (g, 2q), (g, 2q+1), (g+8, 2q), (g+8, 2q+1): exactly the
  // mma.sync m16n8 C layout of n-block j that the masks and the softmax
  // expect.
  SmallVector<Value> s;
  for (int64_t i = 0; i < BN / 2; ++i)
    s.push_back(LLVM::ExtractValueOp::create(ib, acc, i));
  return fenceRegs(s);
}

Value Emitter::patternVisible(Value qb, Value kb) {
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

void Emitter::applyMasks(SmallVector<Value> &s, Value tile, Value patternOn,
                         Value outside) {
  Value kStart = mul(tile, c(BN));
  Value kStart32 = toI32(kStart);
  Value need = cmp(arith::CmpIPredicate::sgt, add(kStart, c(BN)), kEnd);
  if (outside)
    need = orI(need, outside);
  if (sched.causal || pat.causal)
    need = orI(need, cmp(arith::CmpIPredicate::sgt,
                         ib.createOrFold<arith::AddIOp>(kStart32, c32(BN - 1)),
                         qStart32));
  if (patternOn)
    need = orI(need, patternOn);
  SmallVector<Type> types(s.size(), ib.getF32Type());
  SmallVector<Value> in = s;
  s = emitIf(
      need, types,
      [&]() -> SmallVector<Value> {
        SmallVector<Value> out = in;
        Value ninf = negInf();
        // Columns at or past `limit` are masked: the window's end, or every
        // column of a tile outside the window.
        Value limit = toI32(sub(kEnd, kStart));
        if (outside)
          limit = sel(outside, c32(0), limit);
        Value diag = ib.createOrFold<arith::SubIOp>(qStart32, kStart32);
        bool causal = sched.causal || pat.causal;
        int64_t shift = llvm::Log2_64(uint64_t(pat.block));
        Value qb[2], qok[2];
        if (patternOn) {
          for (int64_t hr = 0; hr < 2; ++hr) {
            Value qpos = ib.createOrFold<arith::AddIOp>(
                ib.createOrFold<arith::AddIOp>(qStart32, rowI32), c32(8 * hr));
            qok[hr] = cmp(arith::CmpIPredicate::sge, qpos, c32(0));
            qb[hr] = ib.createOrFold<arith::ShRSIOp>(qpos, c32(shift));
          }
        }
        for (int64_t nb = 0; nb < BN / 8; ++nb) {
          for (int64_t e = 0; e < 2; ++e) {
            Value col = ib.createOrFold<arith::AddIOp>(colI32, c32(nb * 8 + e));
            Value colOk = cmp(arith::CmpIPredicate::slt, col, limit);
            Value kb;
            if (patternOn)
              kb = ib.createOrFold<arith::ShRSIOp>(
                  ib.createOrFold<arith::AddIOp>(kStart32, col), c32(shift));
            for (int64_t hr = 0; hr < 2; ++hr) {
              Value ok = colOk;
              if (causal) {
                Value cr = ib.createOrFold<arith::AddIOp>(
                    crI32, c32(nb * 8 + e - 8 * hr));
                ok = andI(ok, cmp(arith::CmpIPredicate::sle, cr, diag));
              }
              if (patternOn) {
                Value vis = andI(qok[hr], patternVisible(qb[hr], kb));
                Value off = ib.createOrFold<arith::XOrIOp>(
                    patternOn,
                    ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 1));
                ok = andI(ok, orI(off, vis));
              }
              Value &v = out[nb * 4 + hr * 2 + e];
              v = sel(ok, v, ninf);
            }
          }
        }
        return out;
      },
      [&]() -> SmallVector<Value> { return in; });
}

Value Emitter::packPair(Value a, Value b) {
  Value x = arith::TruncFOp::create(ib, elemTy, a);
  Value y = arith::TruncFOp::create(ib, elemTy, b);
  return vector::FromElementsOp::create(ib, VectorType::get({2}, elemTy),
                                        ValueRange{x, y});
}

void Emitter::accumulatePV(Acc &acc, ArrayRef<Value> p, Value stage) {
  // O (64 x D) += P (64 x BN, registers) V (BN x D, shared): BN/16 wgmma
  // m64nDk16 with A from registers and B transposed (V is MN-major: d
  // contiguous). The A register fragment of wgmma is mma.sync's m16n8k16
  // A fragment per warp, so P's S-layout accumulators of n-blocks 2kk and
  // 2kk+1 are the A operand of k-step kk (FlashAttention-2/3's trick).
  // nvvm.wgmma.mma_async takes A from shared memory only, so this is
  // inline PTX (what that op lowers to, with a register A).
  MLIRContext *ctx = ib.getContext();
  Type i32 = ib.getI32Type(), f32 = ib.getF32Type();
  auto v1i32 = VectorType::get({1}, i32);
  auto toI32Reg = [&](Value v) -> Value {
    Value cast = vector::BitCastOp::create(ib, v1i32, v);
    return vector::ExtractOp::create(ib, cast, ArrayRef<int64_t>{0});
  };
  SmallVector<Value> regs(acc.o.begin(), acc.o.end());
  for (int64_t kk = 0; kk < BN / 16; ++kk)
    for (int64_t x = 0; x < 4; ++x) {
      int64_t nb = 2 * kk + x / 2, e = (x % 2) * 2;
      regs.push_back(toI32Reg(packPair(p[nb * 4 + e], p[nb * 4 + e + 1])));
    }
  regs = fenceRegs(regs);
  int64_t nO = D / 2;
  auto accTy =
      LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(nO, f32));
  Value o = LLVM::UndefOp::create(ib, accTy);
  for (int64_t i = 0; i < nO; ++i)
    o = LLVM::InsertValueOp::create(ib, o, regs[i], ArrayRef<int64_t>{i});

  const char *ty = elemTy.isF16() ? "f16" : "bf16";
  std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n" +
                     std::to_string(D) + "k16.f32." + ty + "." + ty + " {";
  std::string cons;
  for (int64_t i = 0; i < nO; ++i) {
    text += (i ? ", $" : "$") + std::to_string(i);
    cons += (i ? ",=f" : "=f");
  }
  text += "}, {$" + std::to_string(2 * nO) + ", $" +
          std::to_string(2 * nO + 1) + ", $" + std::to_string(2 * nO + 2) +
          ", $" + std::to_string(2 * nO + 3) + "}, $" +
          std::to_string(2 * nO + 4) + ", p, 1, 1, 1;\n}\n";
  for (int64_t i = 0; i < nO; ++i)
    cons += "," + std::to_string(i);
  cons += ",r,r,r,r,l";

  Value vStage = mul(stage, c(BN * D * 2 / 16));
  NVVM::WgmmaFenceAlignedOp::create(ib);
  for (int64_t kk = 0; kk < BN / 16; ++kk) {
    // Keys [16kk, 16kk + 16): two 8-row groups of 1024 bytes.
    SmallVector<Value> ops;
    for (int64_t i = 0; i < nO; ++i)
      ops.push_back(LLVM::ExtractValueOp::create(ib, o, i));
    for (int64_t x = 0; x < 4; ++x)
      ops.push_back(regs[nO + kk * 4 + x]);
    ops.push_back(desc(vDesc, kk * 16 * 128, vStage));
    o = LLVM::InlineAsmOp::create(
            ib, accTy, ops, ib.getStringAttr(text), ib.getStringAttr(cons),
            ib.getUnitAttr(), UnitAttr(), LLVM::TailCallKindAttr(),
            LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT),
            ArrayAttr())
            .getResult(0);
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(ib);
  NVVM::WgmmaWaitGroupSyncOp::create(ib, 0);
  SmallVector<Value> out;
  for (int64_t i = 0; i < nO; ++i)
    out.push_back(LLVM::ExtractValueOp::create(ib, o, i));
  acc.o = fenceRegs(out);
}

SmallVector<SpanRT> Emitter::computeSpans(const s2::HeadGroup &g,
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

Acc Emitter::emitPhaseLoop(const s2::HeadGroup &g, const s2::Phase &ph,
                           Acc init) {
  SmallVector<SpanRT> spans = computeSpans(g, ph);
  if (spans.empty())
    return init;
  Value nBegin = spans.front().start;
  Value nEnd = add(spans.back().start, spans.back().count);
  bool anyMasked =
      llvm::any_of(spans, [](const SpanRT &s) { return s.span->masked; });
  // Closed-form spans are clipped to the key window in computeSpans; a
  // table's columns are not, so in a phase with a Table span a tile before
  // kv_lo is neither loaded nor attended (tiles past the window's end are
  // handled by kEnd like tiles past the sequence end). Compared in key
  // positions against the kv_lo parameter itself.
  bool anyTable = llvm::any_of(spans, [](const SpanRT &s) {
    return s.span->kind == s2::SpanKind::Table;
  });
  auto beforeWindow = [&](Value tile) -> Value {
    if (!anyTable)
      return Value();
    return cmp(arith::CmpIPredicate::slt, mul(tile, c(BN)),
               toIndex(fn.getArgument(ArgKvLo)));
  };
  auto andInWindow = [&](Value valid, Value tile) -> Value {
    Value before = beforeWindow(tile);
    if (!before)
      return valid;
    return andI(valid, xorI(before, ib.createOrFold<arith::ConstantIntOp>(
                                        ib.getI1Type(), 1)));
  };

  // ---- Prologue: K/V of the first iteration into buffer nBegin mod 2 (the
  // loop's stage of iteration n is n mod 2).
  Value tile0 = tileOf(spans, nBegin);
  issueKV(tile0, ib.createOrFold<arith::RemUIOp>(nBegin, c(2)),
          andInWindow(cmp(arith::CmpIPredicate::sgt, nEnd, nBegin), tile0));
  tgt.commitGroup(ib, ib.getLoc(), ValueRange{});

  SmallVector<Value> inits = {tile0};
  llvm::append_range(inits, init.flat());
  auto forOp = scf::ForOp::create(ib, nBegin, nEnd, c(1), inits);
  {
    OpBuilder::InsertionGuard guard(ib);
    Block *body = forOp.getBody();
    if (!body->empty())
      body->back().erase();
    ib.setInsertionPointToEnd(body);
    Value n = forOp.getInductionVar();
    Value cur = forOp.getRegionIterArgs()[0];
    Acc acc = Acc::fromFlat(forOp.getRegionIterArgs().drop_front());

    // Prefetch iteration n+1 into the other buffer, then wait for n.
    Value next = add(n, c(1));
    Value hasNext = cmp(arith::CmpIPredicate::slt, next, nEnd);
    Value nextTile = tileOf(spans, minS(next, sub(nEnd, c(1))));
    Value stage = ib.createOrFold<arith::RemUIOp>(n, c(2));
    Value nextStage = ib.createOrFold<arith::RemUIOp>(next, c(2));
    issueKV(nextTile, nextStage, andInWindow(hasNext, nextTile));
    Value tok = tgt.commitGroup(ib, ib.getLoc(), ValueRange{});
    tgt.waitGroups(ib, ib.getLoc(), tok, 1);
    fenceProxyAsync();
    gpu::BarrierOp::create(ib);

    // S = Q K^T.
    SmallVector<Value> sRaw = computeS(stage);

    // Masks: sequence end and causal diagonal by a run-time test per tile;
    // the pattern predicate only in iterations of masked spans.
    Value patternOn;
    if (anyMasked) {
      for (const SpanRT &sp : spans) {
        if (!sp.span->masked)
          continue;
        // n >= nBegin and n < nEnd hold in the loop: the first span needs
        // no lower test, the last no upper one.
        Value in = ib.createOrFold<arith::ConstantIntOp>(ib.getI1Type(), 1);
        if (&sp != &spans.front())
          in = andI(in, cmp(arith::CmpIPredicate::sge, n, sp.start));
        if (&sp != &spans.back())
          in = andI(in,
                    cmp(arith::CmpIPredicate::slt, n, add(sp.start, sp.count)));
        patternOn = patternOn ? orI(patternOn, in) : in;
      }
    }

    // Masks and online softmax for the thread's two rows. Returns P (the
    // exponentials, S's layout), then alpha, the new m and the row sums of
    // both rows. With a positive scale (every real use) the scale is folded
    // as in FlashAttention-2: masks and row max work on the raw scores,
    // m = scale_log2 * max, and p = 2^(s * scale_log2 - m) is one fma per
    // element (no separate multiply). Otherwise (scale <= 0, where the max
    // of scaled scores is not the scaled max) the scores are scaled first.
    Value curOutside = beforeWindow(cur);
    Value zero = cf(0.0), ninf = negInf();
    auto softmax = [&](bool folded) -> SmallVector<Value> {
      SmallVector<Value> s = sRaw;
      if (!folded)
        for (Value &v : s)
          v = fmul(v, scaleLog2);
      applyMasks(s, cur, patternOn, curOutside);
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
        Value isNinf = arith::CmpFOp::create(ib, arith::CmpFPredicate::OEQ,
                                             mNew[hr], ninf);
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
    SmallVector<Value> s(sm.begin(), sm.begin() + np);
    for (int64_t hr = 0; hr < 2; ++hr) {
      acc.l[hr] = fadd(fmul(acc.l[hr], sm[np + hr]), sm[np + 4 + hr]);
      acc.m[hr] = sm[np + 2 + hr];
    }
    // O *= alpha only when a row's max moved (alpha != 1): multiplying by
    // exactly 1 is the identity, and after the first few key tiles the
    // running max rarely changes, so most steps skip D/4 multiplies.
    Value one = cf(1.0);
    Value rescale = orI(
        arith::CmpFOp::create(ib, arith::CmpFPredicate::UNE, sm[np], one),
        arith::CmpFOp::create(ib, arith::CmpFPredicate::UNE, sm[np + 1], one));
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
                o = fmul(o, sm[np + hr]);
              }
          return out;
        },
        [&]() -> SmallVector<Value> { return oIn; });

    // O += P V.
    accumulatePV(acc, s, stage);
    gpu::BarrierOp::create(ib);

    SmallVector<Value> yields = {nextTile};
    llvm::append_range(yields, acc.flat());
    scf::YieldOp::create(ib, yields);
  }
  return Acc::fromFlat(forOp.getResults().drop_front());
}

void Emitter::epilogue(const Acc &accIn) {
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
    Value valid = andI(cmp(arith::CmpIPredicate::sge, s, c(0)),
                       cmp(arith::CmpIPredicate::slt, s, sqb));
    emitIf(
        valid, {},
        [&]() -> SmallVector<Value> {
          Value rowBase = add(add(oBase, mul(s, oss)), mul(tig, c(2)));
          for (int64_t nb = 0; nb < D / 8; ++nb) {
            Value v = packPair(fmul(acc.o[nb * 4 + hr * 2], inv),
                               fmul(acc.o[nb * 4 + hr * 2 + 1], inv));
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
}

} // namespace

//===----------------------------------------------------------------------===//
// Entry point
//===----------------------------------------------------------------------===//

/// Checks the configuration against what the wgmma builder supports;
/// reports the first problem at `loc`.
static LogicalResult checkHopperSupported(Location loc, const s2::Pattern &p,
                                          const s2::Schedule &s,
                                          const KernelConfig &c) {
  if (c.target != KernelConfig::Target::Sm90a)
    return emitError(loc) << "the wgmma kernel needs target 'sm_90a', not '"
                          << targetName(c.target) << "'";
  if (c.headDim != 64 && c.headDim != 128)
    return emitError(loc) << "unsupported head dimension " << c.headDim
                          << "; the wgmma kernel supports 64 and 128";
  if (c.dtype != s2::DType::BF16 && c.dtype != s2::DType::F16)
    return emitError(loc) << "unsupported element type '"
                          << s2::dtypeName(c.dtype)
                          << "'; the wgmma kernel supports bf16 and f16";
  if ((c.blockM != 64 && c.blockM != 128) || c.numWarps != c.blockM / 16)
    return emitError(loc) << "unsupported tile: block_m " << c.blockM
                          << " with " << c.numWarps
                          << " warps; the wgmma kernel supports block_m 64 "
                             "(4 warps) and 128 (8 warps)";
  if (c.blockN != 64 && c.blockN != 128)
    return emitError(loc) << "unsupported tile: block_n " << c.blockN
                          << "; the wgmma kernel supports 64 and 128";
  if (c.stages != 2)
    return emitError(loc) << "unsupported pipeline depth " << c.stages
                          << "; the wgmma kernel supports 2 stages";
  if (hopperSharedBytes(c) > 232448)
    return emitError(loc) << "kernel needs " << hopperSharedBytes(c)
                          << " bytes of shared memory; sm_90a allows at most "
                             "232448";
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

FailureOr<KernelInfo> buildHopperForwardKernel(ModuleOp module,
                                               const s2::Pattern &pattern,
                                               const s2::Schedule &schedule,
                                               const KernelConfig &config) {
  Location loc = module.getLoc();
  if (failed(checkHopperSupported(loc, pattern, schedule, config)))
    return failure();
  MLIRContext *ctx = module.getContext();
  ctx->loadDialect<arith::ArithDialect, gpu::GPUDialect, LLVM::LLVMDialect,
                   NVVM::NVVMDialect, memref::MemRefDialect,
                   nvgpu::NVGPUDialect, scf::SCFDialect,
                   vector::VectorDialect>();

  KernelInfo info;
  info.name = hopperKernelName(config);
  info.config = config;
  info.threads = config.numWarps * 32;
  info.sharedBytes = hopperSharedBytes(config);

  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  UnitAttr::get(ctx));
  OpBuilder ob(ctx);
  gpu::GPUModuleOp gpuMod;
  for (auto m : module.getOps<gpu::GPUModuleOp>())
    if (m.getName() == "s2_kernels")
      gpuMod = m;
  if (!gpuMod) {
    ob.setInsertionPointToEnd(module.getBody());
    gpuMod = gpu::GPUModuleOp::create(ob, loc, "s2_kernels");
  }
  if (SymbolTable::lookupSymbolIn(gpuMod, info.name))
    return emitError(loc) << "kernel '" << info.name
                          << "' is already defined in the gpu module";

  // The ABI (docs/bundle.md, version 2): 29 parameters.
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  Type i64 = ob.getI64Type(), i32 = ob.getI32Type(), f32 = ob.getF32Type();
  SmallVector<Type> args = {ptr, ptr, ptr, ptr, ptr, i64, i64};
  args.append(14, i64);
  args.append({f32, i32, ptr, ptr, ptr, i64, i64, i64});
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

  ImplicitLocOpBuilder ib(loc, ctx);
  ib.setInsertionPointToStart(&fn.getBody().front());
  // The cp.async / group instructions are the mma.sync target's.
  std::unique_ptr<KernelTarget> target = createMmaSyncTarget(config.dtype);
  Emitter(ib, pattern, schedule, config, *target).emit(fn);

  RewritePatternSet patterns(ctx);
  for (Dialect *d : ctx->getLoadedDialects())
    d->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName op : ctx->getRegisteredOperations())
    op.getCanonicalizationPatterns(patterns, ctx);
  (void)applyPatternsGreedily(fn, std::move(patterns));
  IRRewriter rewriter(ctx);
  DominanceInfo dom(fn);
  eliminateCommonSubExpressions(rewriter, dom, fn);
  return info;
}

std::optional<MmaKind> parseMmaKind(llvm::StringRef name) {
  if (name == "sync")
    return MmaKind::Sync;
  if (name == "wgmma")
    return MmaKind::Wgmma;
  return std::nullopt;
}

const char *mmaKindName(MmaKind kind) {
  return kind == MmaKind::Wgmma ? "wgmma" : "sync";
}

FailureOr<KernelInfo> buildForwardKernelWith(ModuleOp module,
                                             const s2::Pattern &pattern,
                                             const s2::Schedule &schedule,
                                             const KernelConfig &config,
                                             MmaKind mma) {
  if (mma == MmaKind::Wgmma && config.target == KernelConfig::Target::Sm90a)
    return buildHopperForwardKernel(module, pattern, schedule, config);
  return buildForwardKernel(module, pattern, schedule, config);
}

} // namespace s2c
