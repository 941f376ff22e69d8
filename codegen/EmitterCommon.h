//===- EmitterCommon.h - Shared forward-kernel emitter (internal) ---------===//
//
// The target-independent part of the forward attention kernel, shared by the
// mma.sync builder (KernelBuilder.cpp) and the sm_90a warpgroup-MMA builder
// (HopperKernel.cpp): the ABI parameters, the prologue, head-group and phase
// dispatch, span arithmetic, the K/V pipeline, masks, online softmax and
// epilogue (EmitterBase), and the kernel function's creation and clean-up.
// The MMA flavours derive from EmitterBase and supply the shared-memory tile
// layout and S = QK^T / O += PV. Internal to codegen/: not installed, not
// part of the library's interface.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_CODEGEN_EMITTERCOMMON_H
#define S2C_CODEGEN_EMITTERCOMMON_H

#include "codegen/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include "llvm/Support/ErrorHandling.h"

#include <limits>
#include <vector>

namespace s2c {
namespace detail {

using mlir::ArrayRef;
using mlir::FailureOr;
using mlir::function_ref;
using mlir::ImplicitLocOpBuilder;
using mlir::Location;
using mlir::LogicalResult;
using mlir::ModuleOp;
using mlir::SmallVector;
using mlir::Type;
using mlir::TypeRange;
using mlir::Value;
using mlir::ValueRange;
namespace arith = mlir::arith;
namespace gpu = mlir::gpu;
namespace LLVM = mlir::LLVM;

/// Positions of the kernel parameters (docs/bundle.md, ABI version 2; the
/// last three only in version 3, kernels with K/V tensor maps).
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
  NumArgs,
  /// ABI version 3: i32, 1 when the tensor maps are valid (TMA copies).
  ArgTma = NumArgs,
  /// ABI version 3: the K and V CUtensorMaps, by value (grid constants).
  ArgKMap,
  ArgVMap
};

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

/// What the overlapped key loops carry: the key tile of the iteration, the
/// accumulators and the packed P of the previous tile (its P V still to
/// run).
struct DeferredCarry {
  Value tile;
  Acc acc;
  SmallVector<Value> p;

  SmallVector<Value> flat() const {
    SmallVector<Value> v = {tile};
    llvm::append_range(v, acc.flat());
    llvm::append_range(v, p);
    return v;
  }
  /// `v` as flat() laid it out, with `nAcc` accumulator values.
  static DeferredCarry fromFlat(ValueRange v, size_t nAcc) {
    DeferredCarry c;
    c.tile = v[0];
    c.acc = Acc::fromFlat(v.slice(1, nAcc));
    c.p.assign(v.begin() + 1 + nAcc, v.end());
    return c;
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

/// The forward kernel emitter. emit() builds the whole kernel; the virtual
/// hooks are the only places where the MMA flavours differ.
class EmitterBase {
public:
  EmitterBase(ImplicitLocOpBuilder &ib, const s2::Pattern &p,
              const s2::Schedule &s, const KernelConfig &cfg, KernelTarget &tgt)
      : ib(ib), pat(p), sched(s), cfg(cfg), tgt(tgt) {}
  virtual ~EmitterBase();

  /// Emits the whole kernel body into `func` (the ABI's parameters).
  void emit(gpu::GPUFuncOp func);

  /// Test hook (see foldKeyTiles): the key tiles of (h, t) computed by the
  /// kernel's own span arithmetic on constants, folded as it is built.
  FailureOr<std::vector<int64_t>> foldTiles(int64_t head, int64_t tile,
                                            int64_t numKeyTiles,
                                            int64_t windowBegin,
                                            int64_t windowEnd);

protected:
  // ---- the MMA-specific steps ----
  /// Creates the Q, K-stage and V-stage tiles (qS, kS, vS) in the dynamic
  /// shared memory `dsm` (plus whatever the MMA flavour derives from their
  /// addresses).
  virtual void createSharedTiles(Value dsm, gpu::AddressSpaceAttr wg) = 0;
  /// Index of element (row, 8-element chunk) of a shared tile of `rows`
  /// rows in the flavour's (swizzled) layout.
  virtual Value tileIndex(Value row, Value chunk, int64_t rows) = 0;
  /// Elements from row r to row r + 1 of a shared tile at the same chunk,
  /// for rows the swizzle maps alike (the K/V copies step 8k rows with it).
  virtual int64_t tileRowPitch() = 0;
  /// Runs after this thread's cp.async copies have landed, before the
  /// barrier that publishes them to the CTA.
  virtual void fenceCopies() {}
  /// Runs once the Q tile is in shared memory (after the barrier).
  virtual void afterQLoaded() {}
  /// S = Q K^T of the K tile in buffer `stage`: BN/8 n-blocks of four f32
  /// in the mma.sync m16n8 C layout.
  virtual SmallVector<Value> computeS(Value stage) = 0;
  /// O += P V of the V tile in buffer `stage` (P in the layout of S).
  virtual void accumulatePV(Acc &acc, ArrayRef<Value> p, Value stage) = 0;

  // ---- deferred O += PV (asynchronous MMA only) ----
  // When deferPV() holds, key tile n's P V is issued in iteration n + 1
  // together with S = Q K^T of tile n + 1, and the softmax of n + 1 runs
  // while the tensor cores still work on it (FlashAttention-3's
  // intra-warpgroup overlap). V then travels one tile behind K (issueRows).
  // The hooks below are called only when deferPV() holds.
  virtual bool deferPV() { return false; }
  /// P (the layout of S) as the registers the deferred P V reads; carried
  /// through the loop.
  virtual SmallVector<Value> packP(ArrayRef<Value> p) {
    (void)p;
    llvm_unreachable("packP needs deferPV()");
  }
  /// A P V still running: the MMA's O result and the P registers it reads
  /// (both must stay untouched until finishPV).
  struct PendingPV {
    Value o;
    SmallVector<Value> p;
  };
  /// Issues S = Q K^T of K buffer `kStage`, then O += P V of the packed P
  /// `pPrev` and V buffer `vStage` (returned in `pv`); waits for S only and
  /// returns it. The O registers `o` belong to the MMA until finishPV(pv).
  virtual SmallVector<Value> computeSWithPV(Value kStage, ArrayRef<Value> o,
                                            ArrayRef<Value> pPrev, Value vStage,
                                            PendingPV &pv) {
    (void)kStage, (void)o, (void)pPrev, (void)vStage, (void)pv;
    llvm_unreachable("computeSWithPV needs deferPV()");
  }
  /// Waits for the P V `pv` of computeSWithPV and returns O.
  virtual SmallVector<Value> finishPV(const PendingPV &pv) {
    (void)pv;
    llvm_unreachable("finishPV needs deferPV()");
  }
  /// O += P V of the packed P `pPrev` and V buffer `vStage`, waited for.
  virtual void drainPV(Acc &acc, ArrayRef<Value> pPrev, Value vStage) {
    (void)acc, (void)pPrev, (void)vStage;
    llvm_unreachable("drainPV needs deferPV()");
  }

  // ---- TMA (kernels of ABI version 3, sm_90a) ----
  // When tensorMaps() holds, the kernel takes the K/V tensor maps, and K/V
  // tiles are loaded by the tensor memory accelerator when the `tma`
  // argument is set and the launch is not packed (tmaOn): one thread issues
  // each tile's box loads, completed on the mbarrier of its tensor and
  // buffer, and every thread waits for that barrier's phase. Otherwise the
  // same kernel copies with cp.async (issueRows), as in ABI version 2.
  virtual bool tensorMaps() { return false; }
  /// Shared address (!llvm.ptr<3>) where 64-column box `box` of the K (or
  /// V, when `v`) tile of buffer `stage` lands, from buffer row `row` on
  /// (a multiple of 8; key-tile pairs load their second tile at row TN);
  /// the flavour's tile layout must be TMA's 128-byte swizzle.
  virtual Value tmaBoxAddr(bool v, Value stage, int64_t box, int64_t row) {
    (void)v, (void)stage, (void)box, (void)row;
    llvm_unreachable("tmaBoxAddr needs tensorMaps()");
  }
  /// Shared address (!llvm.ptr<3>) of the mbarrier of the K (or V) tile of
  /// buffer `stage`.
  virtual Value tmaBarrier(bool v, Value stage) {
    (void)v, (void)stage;
    llvm_unreachable("tmaBarrier needs tensorMaps()");
  }
  /// Thread 0 initialises the mbarriers: one per tensor and buffer (arrival
  /// count 1), or with ringStages() a full and an empty one per tensor and
  /// ring buffer (counts in "warp specialisation" below); the caller
  /// publishes them with a CTA barrier.
  void initTmaBarriers();
  /// Copies the K rows, the V rows or both of key tile `tile` into buffer
  /// `stage` (zeros when !valid or past the keys this CTA may read): by TMA
  /// when tmaOn, else issueRows. The caller commits the cp.async group
  /// either way.
  void copyRows(bool k, bool v, Value tile, Value stage, Value valid);
  /// Under tmaOn, zeroes both V buffers (generic stores, then the proxy
  /// fence and a CTA barrier, before any TMA writes them): a V tile that is
  /// not loaded (copyRows) must hold finite values for P = 0 to add 0, and
  /// a buffer's first contents are whatever shared memory held.
  void zeroVBuffers();
  /// Generic stores of zeros over the first `tiles` V buffers, by the
  /// `threads` threads of the loops (no fence, no barrier).
  void zeroVTiles(int64_t tiles);
  /// Under tmaOn, waits until the K (or V) tile of buffer `stage` that the
  /// loop loaded for iteration `n` (counting from nBegin) has landed: the
  /// buffer's barrier completes once every second iteration, so the phase
  /// parity is ((n - nBegin) / 2) mod 2. Nothing without tensor maps.
  void waitRows(bool v, Value stage, Value n, Value nBegin);

  // ---- warp specialisation (sm_90a, deferred P V, tensor maps) ----
  // When ringStages() > 0, a producer warpgroup (threads [threads,
  // threads + 128), after the consumers) streams the K and V tiles of the
  // key loop through a ring of ringStages() buffers per tensor, each with a
  // "full" mbarrier (tile landed) and an "empty" one (every consumer warp
  // is done reading it); the consumers (the warps of numWarps, whose thread
  // ids, masks and epilogue are those of the other kernels) only wait and
  // release, with no CTA barrier after the roles split. The producer loads
  // by TMA (one thread) under tmaOn, else by cp.async (all 128 threads,
  // one tile behind: wait, proxy fence, arrival). Ring buffer ringStages()
  // of V holds zeros: the first iteration's P V (P = 0) reads it.
  virtual int64_t ringStages() { return 0; }
  /// Shared address (!llvm.ptr<3>) of the "empty" mbarrier of ring buffer
  /// `slot` of K (or V); the "full" one is tmaBarrier(v, slot).
  virtual Value emptyBarrier(bool v, Value slot) {
    (void)v, (void)slot;
    llvm_unreachable("emptyBarrier needs ringStages()");
  }
  /// Runs first in each role's branch (the flavour's register split).
  virtual void enterRole(bool producer) { (void)producer; }
  /// The producer warpgroup's whole program.
  void emitProducer();
  /// The producer's loop over the key tiles of one phase.
  void emitProducerLoop(ArrayRef<SpanRT> spans);
  /// The consumers' key loop of one phase (emitDeferredLoop's MMA and
  /// softmax schedule on the ring).
  Acc emitConsumerLoop(ArrayRef<SpanRT> spans, Acc init);
  /// Buffer and phase parity of ring use `i` (iteration n - nBegin):
  /// i mod S and (i / S) mod 2 (as i32).
  std::pair<Value, Value> ringSlot(Value i);
  /// Waits for phase parity `parity` (i32) of the mbarrier `bar`.
  void waitParity(Value bar, Value parity);
  /// One arrival per consumer warp (lane 0) on the "empty" barrier of ring
  /// buffer `slot` of K (or V).
  void releaseSlot(bool v, Value slot);
  /// The TMA loads of the K (or V) rows of the key tiles `tiles` of a step
  /// (KT of them; tile j to buffer rows [j TN, (j + 1) TN)) into ring
  /// buffer (or stage) `slot`, completed on `bar`; tile j only where
  /// valids[j], and a bare arrival when none is to be loaded. Called by one
  /// thread.
  void tmaLoad(bool v, ArrayRef<Value> tiles, Value slot,
               ArrayRef<Value> valids, Value bar);
  /// The key tiles of the step at iteration n (KT of them: iterations n to
  /// n + KT - 1, each past nEnd replaced by the last iteration's tile) and
  /// whether each is to be loaded (before nEnd and in the key window).
  void stepTiles(ArrayRef<SpanRT> spans, Value n, Value nEnd,
                 SmallVector<Value> &tiles, SmallVector<Value> &valids);
  /// Ring use of the step at iteration n: ceil((n - nBegin) / KT) (the
  /// steps before it; at n = nEnd, all steps).
  Value useIndex(Value n, Value nBegin);

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
  /// i1: 0 <= s < n (a row of the sequence, of length n).
  Value inSequence(Value s, Value n) {
    return andI(cmp(arith::CmpIPredicate::sge, s, c(0)),
                cmp(arith::CmpIPredicate::slt, s, n));
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
  /// scf.if with results; the builders return the yielded values.
  SmallVector<Value>
  emitIf(Value cond, TypeRange types, function_ref<SmallVector<Value>()> thenFn,
         function_ref<SmallVector<Value>()> elseFn = nullptr);
  /// A per-head compile-time constant for the run-time pattern head `h`:
  /// a constant, an affine (or affine modulo `mod`) function of the head
  /// or of its KV head, or a select chain. Returns an index value.
  Value headConst(ArrayRef<int64_t> heads, function_ref<int64_t(int64_t)> value,
                  int64_t mod);
  /// i1: the pattern head is one of `heads`.
  Value headIn(ArrayRef<int64_t> heads);

  Acc initAcc();
  /// The head-group and phase dispatch: calls `body` with the group and
  /// phase of this CTA (its head and query tile) and yields its results of
  /// `types`, or body(nullptr, nullptr) where no phase applies.
  using PhaseBody = function_ref<SmallVector<Value>(const s2::HeadGroup *,
                                                    const s2::Phase *)>;
  SmallVector<Value> walkGroups(size_t gi, TypeRange types, PhaseBody body);
  SmallVector<Value> walkPhases(const s2::HeadGroup &g, size_t pi,
                                TypeRange types, PhaseBody body);
  Acc emitPhaseLoop(const s2::HeadGroup &g, const s2::Phase &ph, Acc init);
  SmallVector<SpanRT> computeSpans(const s2::HeadGroup &g, const s2::Phase &ph);
  Value tileOf(ArrayRef<SpanRT> spans, Value n);
  /// Copies the K rows, the V rows or both of key tile `tile` into buffer
  /// `stage` with cp.async (zero-filled rows when !valid or past the keys
  /// this CTA may read); the caller commits the group. The loops call it
  /// through copyRows. A full tile copies without per-row tests unless
  /// `perRow` (fewer registers). The copies are spread over `copiers`
  /// threads, this one being `copier` (default: the CTA's tid, threads).
  /// The TN rows land from buffer row `firstRow` on (key-tile pairs).
  void issueRows(bool k, bool v, Value tile, Value stage, Value valid,
                 bool perRow = false, Value copier = Value(),
                 int64_t copiers = 0, int64_t firstRow = 0);
  Acc emitDeferredLoop(ArrayRef<SpanRT> spans, Acc init);
  /// The key loop of the overlapped kernels (emitDeferredLoop,
  /// emitConsumerLoop) from nBegin to nEnd, starting from `first`: `body`
  /// builds iteration n from its carried state and returns the next one;
  /// returns the state after the loop.
  DeferredCarry overlappedLoop(
      Value nBegin, Value nEnd, const DeferredCarry &first,
      function_ref<DeferredCarry(Value n, const DeferredCarry &in)> body);
  /// The MMAs and softmax of overlapped iteration n (`in`: tile n, the
  /// accumulators, P(n-1)): S(n) from K buffer `kStage` issued with
  /// P(n-1) V(n-1) from V buffer `vStage`, `afterS` once S is back, the
  /// softmax, `afterPV` once P V is back, the rescale. Returns the state of
  /// iteration n + 1, whose tile is `next`.
  DeferredCarry overlappedStep(ArrayRef<SpanRT> spans, Value n,
                               const DeferredCarry &in, Value kStage,
                               Value vStage, Value next,
                               function_ref<void()> afterS = nullptr,
                               function_ref<void()> afterPV = nullptr);
  /// The key loop of a phase, from iteration nBegin to nEnd in steps of KT
  /// iterations, with its terminator removed: the caller fills the body and
  /// yields.
  mlir::scf::ForOp keyLoop(Value nBegin, Value nEnd, ValueRange inits);
  /// Buffers and next tile of iteration n: stage n mod 2, stage n+1 mod 2,
  /// the key tile of iteration n+KT, the next step's first (the last one's
  /// again past the end) and whether it is to be loaded (n+KT < nEnd and in
  /// the key window).
  struct Step {
    Value stage, nextStage, nextTile, nextValid;
  };
  Step stepOf(ArrayRef<SpanRT> spans, Value n, Value nEnd);
  /// i1: key tile `tile` starts before the key window (only phases with a
  /// Table span can visit one; null otherwise).
  Value beforeWindow(ArrayRef<SpanRT> spans, Value tile);
  /// `valid` and not beforeWindow(spans, tile).
  Value andInWindow(ArrayRef<SpanRT> spans, Value valid, Value tile);
  /// Masks and online softmax of S (`sRaw`, key tile `cur`, iteration
  /// `n`; with KT > 1 the step's other tiles are those of iterations n + 1
  /// on): returns P in S's layout, updates acc.m and acc.l, and sets
  /// `alpha` to the factors O must be scaled by.
  SmallVector<Value> softmaxStep(ArrayRef<SpanRT> spans, Value n, Value cur,
                                 ArrayRef<Value> sRaw, Acc &acc,
                                 Value (&alpha)[2]);
  /// O *= alpha, skipped at run time when both factors are 1.
  void rescaleO(Acc &acc, const Value (&alpha)[2]);
  /// One key tile of a step, for the masks: the tile, i1 "its iteration
  /// is in a masked span" (or null: none is), and i1 "mask it whole" (a
  /// table tile before the window, a pair's second tile past the phase's
  /// end; or null).
  struct MaskPart {
    Value tile, patternOn, outside;
  };
  /// Masks S of a step whose part j (`parts`, KT of them) holds columns
  /// [j TN, (j + 1) TN): sequence / window end, causal diagonal, the
  /// pattern predicate where patternOn, and the whole tile where outside.
  void applyMasks(SmallVector<Value> &s, ArrayRef<MaskPart> parts);
  Value patternVisible(Value qb, Value kb);
  Value packPair(Value a, Value b);
  void epilogue(const Acc &acc);
  /// Whether the epilogue stages O in the Q tile and stores it from there
  /// in 16-byte chunks a lane (storeStagedO) instead of each thread's
  /// fragments in 4-byte pieces. Needs a flavour whose warps read only
  /// their own warpgroup's Q rows from shared memory, all of them done by
  /// the epilogue (wgmma).
  virtual bool stagedEpilogue() { return false; }
  /// The staged O rows of this warp to o (rows of the sequence only).
  void storeStagedO(Value oBase, Value sqb);

  ImplicitLocOpBuilder &ib;
  const s2::Pattern &pat;
  const s2::Schedule &sched;
  const KernelConfig &cfg;
  KernelTarget &tgt;

  Type elemTy;
  /// BN: keys a pipeline step (the K/V buffers' rows, S's columns); TN:
  /// keys a schedule tile (cfg.blockN); KT = BN / TN schedule tiles a step
  /// (cfg.keyTiles: key-tile pairs load two into one buffer).
  int64_t D = 0, BM = 0, BN = 0, TN = 0, KT = 1, threads = 0;
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
  /// nkt = ceil(kEnd / TN).
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
  /// i1: K/V tiles move by TMA (tensorMaps(), the tma argument set, not
  /// packed); the tensor maps (generic pointers to the by-value
  /// parameters).
  Value tmaOn, kMap, vMap;
  // i32 per-thread values for the masks.
  Value rowI32, crI32, colI32;
  // Per rule: i1 "applies to this CTA's head" and the stride shift (i32).
  SmallVector<Value> ruleOn, ruleShift;
};

/// A memref<?xT> over a generic pointer (offset 0, unit stride, unknown
/// size): how every kernel wraps its pointer parameters.
Value memrefOverPointer(ImplicitLocOpBuilder &ib, Value ptr, Type elem);

/// The `gpu.module @s2_kernels` of `module`, created when missing (the
/// module is marked as a GPU container).
gpu::GPUModuleOp kernelModule(ModuleOp module, Location loc);

/// Canonicalizes and CSEs a freshly built kernel so that the gpu stop is
/// readable (the builders fold constants but do not deduplicate them).
void canonicalizeAndCSE(gpu::GPUFuncOp fn);

/// Head dim 64 or 128 and bf16/f16, which every kernel of `c` needs;
/// reports the first problem at `loc`, naming `kernel` ("the merge
/// kernel") as what supports them.
LogicalResult checkHeadDimAndDType(Location loc, const KernelConfig &c,
                                   llvm::StringRef kernel);

/// The checks both builders make on the pattern and the schedule (tile
/// sizes against `c`, heads, rules, spans); reports the first problem at
/// `loc`.
LogicalResult checkPatternAndSchedule(Location loc, const s2::Pattern &p,
                                      const s2::Schedule &s,
                                      const KernelConfig &c);

/// Adds the kernel `info.name` with the ABI's parameters to `gpu.module
/// @s2_kernels` of `module` (created when missing; the module is marked as a
/// GPU container), lets `emitBody` fill its body, then canonicalizes and
/// CSEs it. Fails when the gpu module already defines the name.
FailureOr<KernelInfo> buildForwardFunc(
    ModuleOp module, const KernelInfo &info,
    function_ref<void(ImplicitLocOpBuilder &, gpu::GPUFuncOp)> emitBody);

} // namespace detail
} // namespace s2c

#endif // S2C_CODEGEN_EMITTERCOMMON_H
