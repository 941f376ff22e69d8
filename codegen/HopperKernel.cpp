//===- HopperKernel.cpp - Forward kernels with warpgroup MMA (sm_90a) -----===//
//
// Emits the forward attention kernel of a pattern for sm_90a with Hopper's
// warpgroup MMA (see HopperKernel.h and docs/kernels.md, "Hopper path").
// The structure is buildForwardKernel's: the shared emitter
// (EmitterBase, EmitterCommon.h) builds the prologue, group and phase
// dispatch, span arithmetic, masks, online softmax and epilogue, and this
// file supplies only the parts that differ:
//
//   shared memory  tiles in wgmma's 128-byte-swizzle layout (64-column
//                  boxes), aligned to 1024 bytes at run time
//   Q              stays in shared memory (read by wgmma through a
//                  descriptor), no ldmatrix
//   S = QK^T       D/16 nvvm.wgmma.mma_async m64nBNk16 per key tile
//   O += PV        BN/16 wgmma m64nDk16 with P in registers (inline PTX)
//   copies         where hopperUsesTma and the runtime passes the tensor
//                  maps: one thread issues the K/V tiles' TMA box loads,
//                  completed on an mbarrier per tensor and buffer that every
//                  thread waits on (EmitterBase::copyRows / waitRows);
//                  otherwise cp.async as before, then fence.proxy.async
//                  before the barrier so that wgmma (async proxy) sees them
//   key loop       where hopperDefersPV: S of tile n and P V of tile n-1
//                  issued together, the softmax of n while P V runs
//                  (EmitterBase::emitDeferredLoop); at head dim 64 with a
//                  launch bound of 4 CTAs per SM (hopperMinCtasPerSM)
//   roles          where hopperRingStages: a producer warpgroup after the
//                  consumers streams K and V through a ring of buffers on
//                  full/empty mbarriers (EmitterBase::emitProducerLoop),
//                  the consumers run the overlapped loop on it
//                  (emitConsumerLoop); setmaxnreg moves registers from the
//                  producer to the consumers (hopperRegisterSplit)
//   key steps      where hopperKeyTiles is 2 (warp-specialised 128 x 64,
//                  head dim 128): two schedule tiles a step in one 128-key
//                  buffer (EmitterBase::stepTiles, per-tile masks)
//   epilogue       warp specialised: O staged in the warp's rows of the Q
//                  tile, then stored in 16-byte chunks a lane
//                  (EmitterBase::storeStagedO)
//
// One warpgroup (4 warps) owns 64 query rows; its accumulators have the
// mma.sync per-warp layout, so masks, softmax and epilogue are unchanged.
//
//===----------------------------------------------------------------------===//

#include "codegen/HopperKernel.h"

#include "codegen/EmitterCommon.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;

namespace s2c {

std::string hopperKernelName(const KernelConfig &c) {
  std::string name = "s2_fwd_sm90a_wgmma";
  name += c.dtype == s2::DType::F16 ? "_f16" : "_bf16";
  name += "_d" + std::to_string(c.headDim);
  name += "_m" + std::to_string(c.blockM) + "n" + std::to_string(c.blockN);
  if (c.keyTiles > 1)
    name += "x" + std::to_string(c.keyTiles);
  return name;
}

int64_t hopperKeyTiles(const KernelConfig &c, const s2::Pattern &p,
                       bool deferPV) {
  if (c.keyTiles > 0)
    return c.keyTiles;
  // The warp-specialised 128 x 64 kernel at head dim 128 gathers key-tile
  // pairs: the 128 x 128 kernel's steps on the 128 x 64 schedule. Measured
  // on an H100 against the same kernel without (docs/results.md, "kernel
  // v9"): 0.97-1.24x, 1.04-1.24x from 32k tokens on. Patterns of blocks under
  // 64 tokens keep single tiles: their per-element masks on 128-key steps
  // spilled kilobytes (ptxas, 16-token blocks), where single 64-key steps spill
  // nothing.
  return deferPV && c.target == KernelConfig::Target::Sm90a &&
                 c.headDim == 128 && c.blockM == 128 && c.blockN == 64 &&
                 p.block >= 64
             ? 2
             : 1;
}

/// Keys a pipeline step of the configuration's kernel: block_n, or twice
/// it with key-tile pairs.
static int64_t stepKeys(const KernelConfig &c) {
  return c.blockN * std::max<int64_t>(c.keyTiles, 1);
}

bool hopperDefersPV(const KernelConfig &c) {
  // Measured on an H100 (docs/results.md, kernel v4): at head dim 128 with
  // 64-key tiles the overlap is 1.00-1.19x faster. At head dim 64 with
  // 64 x 64 tiles it pays only with 4 CTAs per SM (hopperMinCtasPerSM):
  // alone the carried P cost a CTA per SM (dense causal 127 -> 153
  // registers; 0.87-0.94x). 128 x 64 at head dim 64 lost a CTA too
  // (0.69-0.88x). At head dim 128 with 128 x 128 tiles S (64 f32), O (64
  // f32) and P (32 b32) spilled next to the copies of the unspecialised
  // loop, but fit the warp-specialised consumers (hopperRingStages); 64 x
  // 128 stays serial.
  if (c.headDim == 64)
    return c.blockM == 64 && c.blockN == 64;
  return c.blockN == 64 || c.blockM == 128;
}

int64_t hopperMinCtasPerSM(const KernelConfig &c) {
  // 4 CTAs of 128 threads: at most 128 registers a thread. The overlapped
  // head-dim-64 kernels need 151-168 without the bound and spill 4-12
  // bytes with it. Measured against the serial loop: 1.02-1.15x on the
  // sparse patterns from 32k on, about even on dense causal
  // (docs/results.md, kernel v4).
  if (c.headDim == 64 && c.blockM == 64 && c.blockN == 64)
    return 4;
  // Warp-specialised kernels: setmaxnreg needs a launch bound (ptxas
  // ignores it otherwise), and the register split assumes these CTAs.
  if (hopperRingStages(c))
    return c.blockM == 128 ? 1 : 2;
  return 0;
}

int64_t hopperRingStages(const KernelConfig &c, bool deferPV) {
  // The overlapped head-dim-128 kernels. 128 x 64: one CTA an SM (three
  // warpgroups), four stages; 64 x 64: two CTAs an SM, whose shared memory
  // leaves room for two. Measured on an H100 against the same tiles
  // unspecialised (docs/results.md, "kernel v6"): 1.03-1.30x. 128 x 128:
  // one CTA an SM with two stages (Q and five 32 KB tiles: 193 KB);
  // against 128 x 64 warp specialised, 1.15-1.29x on dense causal and
  // 1.11-1.13x on 128-token blocks, slower where 64-token blocks leave
  // half of each key tile masked (docs/results.md, "kernel v7"). 128 x 64
  // with key-tile pairs has the 128 x 128 kernel's 128-key buffers and
  // two stages.
  if (!deferPV || !hopperDefersPV(c) || c.headDim != 128)
    return 0;
  if (stepKeys(c) == 128)
    return 2;
  return c.blockM == 128 ? 4 : 2;
}

std::pair<int64_t, int64_t> hopperRegisterSplit(const KernelConfig &c) {
  // Registers a thread at entry: 65536 / (CTAs an SM x threads), a multiple
  // of 8 (168 for three warpgroups and one CTA, 128 for two and two CTAs);
  // the producer keeps 72 or 64 (its span arithmetic and cp.async
  // addresses spill with 56) and gives the rest to the consumers:
  // 72 + 2 x 216 = 3 x 168, 64 + 192 = 2 x 128. At 128 x 128 the
  // consumers' loop fits 216 (values live across it spill a few bytes
  // around it); 56 + 2 x 224 moved 70 or so bytes of spills to the
  // producer's cp.async loop.
  if (!hopperRingStages(c))
    return {0, 0};
  return c.blockM == 128 ? std::make_pair(int64_t(72), int64_t(216))
                         : std::make_pair(int64_t(64), int64_t(192));
}

/// Whether the kernel of the configuration loads by TMA when it is not warp
/// specialised.
static bool tmaUnspecialised(const KernelConfig &c) {
  // Measured on an H100 against the same kernels with cp.async only
  // (docs/results.md, "kernel v5"): at head dim 128 with two warpgroups
  // (block_m 128) 1.02-1.10x; with one (64 x 64) 0.91-0.97x, so those keep
  // cp.async. At head dim 64 with 64 x 64 tiles (4 CTAs per SM) 1.00-1.06x
  // on the sparse patterns from 32k on, even on dense causal (0.85-0.94x
  // at 8k), despite 100 or so more bytes of spills. At head dim 64 with
  // 128 x 64 tiles the TMA path's registers (128 -> 137) cost a CTA per SM:
  // 0.6x on dense causal. Other shapes are unmeasured and keep cp.async.
  if (c.headDim == 128)
    return c.blockM == 128 && c.blockN == 64;
  return c.blockM == 64 && c.blockN == 64;
}

bool hopperUsesTma(const KernelConfig &c, bool deferPV) {
  return hopperRingStages(c, deferPV) || tmaUnspecialised(c);
}

int64_t hopperSharedBytes(const KernelConfig &c, bool deferPV) {
  // Q, the K and V buffers, the four TMA mbarriers (8 bytes each, padded to
  // 64), and 1024 bytes to align the tiles. Warp specialised: Q, the K and
  // V rings, the zero V buffer and four mbarriers a stage.
  if (int64_t ring = hopperRingStages(c, deferPV))
    return (c.blockM + (2 * ring + 1) * stepKeys(c)) * c.headDim * 2 +
           32 * ring + 1024;
  return (c.blockM + 2 * c.stages * c.blockN) * c.headDim * 2 + 64 + 1024;
}

namespace {

using detail::Acc;

/// EmitterBase with warpgroup MMA: tiles in wgmma's 128-byte-swizzle layout
/// aligned to 1024 bytes, Q and K read by wgmma through descriptors, P from
/// registers, V as a transposed B operand; cp.async writes are fenced into
/// the async proxy before each barrier.
class HopperEmitter final : public detail::EmitterBase {
public:
  HopperEmitter(ImplicitLocOpBuilder &ib, const s2::Pattern &p,
                const s2::Schedule &s, const KernelConfig &cfg,
                KernelTarget &tgt, bool deferPV, bool tma, int64_t ring)
      : EmitterBase(ib, p, s, cfg, tgt), defer(deferPV), tma(tma), ring(ring) {}

protected:
  void createSharedTiles(Value dsm, gpu::AddressSpaceAttr wg) override;
  Value tileIndex(Value row, Value chunk, int64_t rows) override {
    return swizzle(row, chunk, rows);
  }
  int64_t tileRowPitch() override { return 64; }
  void fenceCopies() override { fenceProxyAsync(); }
  // Q stays in shared memory: wgmma reads it there at every key tile.
  SmallVector<Value> computeS(Value stage) override;
  void accumulatePV(Acc &acc, ArrayRef<Value> p, Value stage) override;
  bool deferPV() override { return defer; }
  bool tensorMaps() override { return tma; }
  Value tmaBoxAddr(bool v, Value stage, int64_t box, int64_t row) override;
  Value tmaBarrier(bool v, Value stage) override;
  int64_t ringStages() override { return ring; }
  // Warp specialised: O staged in the Q tile for coalesced stores.
  bool stagedEpilogue() override { return ring > 0; }
  Value emptyBarrier(bool v, Value slot) override;
  void enterRole(bool producer) override;
  SmallVector<Value> packP(ArrayRef<Value> p) override;
  SmallVector<Value> computeSWithPV(Value kStage, ArrayRef<Value> o,
                                    ArrayRef<Value> pPrev, Value vStage,
                                    PendingPV &pv) override;
  SmallVector<Value> finishPV(const PendingPV &pv) override;
  void drainPV(Acc &acc, ArrayRef<Value> pPrev, Value vStage) override;

private:
  /// Issues the D/16 wgmmas of S = Q K^T (K buffer `stage`), after a
  /// wgmma fence when `fence`, and commits them as one group; returns the
  /// pending accumulator struct.
  Value issueS(Value stage, bool fence);
  /// The thread's f32 values of a pending accumulator struct of `n`
  /// members, once waited for, through fenceRegs.
  SmallVector<Value> readAcc(Value acc, int64_t n);
  /// Issues the BN/16 wgmmas of O += P V (`o` the O registers, `pRegs` the
  /// packed P, V buffer `stage`), after a wgmma fence when `fence`, and
  /// commits them as one group; returns the pending O struct.
  Value issuePV(ArrayRef<Value> o, ArrayRef<Value> pRegs, Value stage,
                bool fence);

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

  /// A shared-window address (index) as an !llvm.ptr<3>.
  Value sharedPtr(Value addr);

  /// Descriptor bits (index values) of this warpgroup's Q rows, of K stage
  /// 0 and of V stage 0 (start address >> 4 included).
  Value qDesc, kDesc, vDesc;
  /// Shared-window address (index) of the Q tile, 1024-byte aligned; the
  /// K and V buffers and the mbarriers follow at these byte offsets.
  Value tileBase;
  int64_t kOff = 0, vOff = 0, barOff = 0;
  /// K (and V) buffers: the ring's stages, or cfg.stages.
  int64_t bufs = 0;
  bool defer, tma;
  int64_t ring;
};

void HopperEmitter::createSharedTiles(Value dsm, gpu::AddressSpaceAttr wg) {
  // The 128-byte swizzle is a function of address bits 4-9: tiles start
  // at multiples of 1024 bytes of the shared window. The dynamic buffer
  // is only 16-byte aligned, so the tiles start `pad` bytes into it (the
  // kernel asks for 1024 bytes more).
  Value addr = memref::ExtractAlignedPointerAsIndexOp::create(ib, dsm);
  Value pad = andI(sub(c(0), addr), c(1023));
  Value base = add(addr, pad);
  int64_t eb = 2;
  auto view = [&](int64_t byteOff, int64_t elems) -> Value {
    auto ty = MemRefType::get({elems}, elemTy, MemRefLayoutAttrInterface(), wg);
    return memref::ViewOp::create(ib, ty, dsm, add(pad, c(byteOff)),
                                  ValueRange{});
  };
  // Warp specialised, the V ring has one more buffer, of zeros.
  bufs = ring ? ring : cfg.stages;
  int64_t vBufs = ring ? ring + 1 : bufs;
  kOff = BM * D * eb;
  vOff = (BM * D + bufs * BN * D) * eb;
  barOff = (BM * D + (bufs + vBufs) * BN * D) * eb;
  tileBase = base;
  qS = view(0, BM * D);
  kS = view(kOff, bufs * BN * D);
  vS = view(vOff, vBufs * BN * D);

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
}

Value HopperEmitter::sharedPtr(Value addr) {
  return LLVM::IntToPtrOp::create(
      ib, LLVM::LLVMPointerType::get(ib.getContext(), 3),
      ib.createOrFold<arith::IndexCastOp>(ib.getI64Type(), addr));
}

Value HopperEmitter::tmaBoxAddr(bool v, Value stage, int64_t box, int64_t row) {
  // A 64-column box of BN keys is BN 128-byte rows in the 128-byte swizzle
  // (TMA's CU_TENSOR_MAP_SWIZZLE_128B is the layout `swizzle` computes,
  // given 1024-byte-aligned boxes, so a load may start at any row that is
  // a multiple of 8); head dim 128's second box follows the first.
  Value off = add(c((v ? vOff : kOff) + box * BN * 128 + row * 128),
                  mul(stage, c(BN * D * 2)));
  return sharedPtr(add(tileBase, off));
}

Value HopperEmitter::tmaBarrier(bool v, Value stage) {
  // The "full" barriers of K, then of V (8 bytes a buffer), then the ring's
  // "empty" ones in the same order.
  return sharedPtr(
      add(tileBase, add(c(barOff + (v ? 8 * bufs : 0)), mul(stage, c(8)))));
}

Value HopperEmitter::emptyBarrier(bool v, Value slot) {
  return sharedPtr(add(tileBase, add(c(barOff + 16 * bufs + (v ? 8 * bufs : 0)),
                                     mul(slot, c(8)))));
}

void HopperEmitter::enterRole(bool producer) {
  auto [p, cons] = hopperRegisterSplit(cfg);
  MLIRContext *ctx = ib.getContext();
  NVVM::SetMaxRegisterOp::create(
      ib, ib.getI32IntegerAttr(int32_t(producer ? p : cons)),
      NVVM::SetMaxRegisterActionAttr::get(
          ctx, producer ? NVVM::SetMaxRegisterAction::decrease
                        : NVVM::SetMaxRegisterAction::increase));
}

Value HopperEmitter::swizzle(Value row, Value chunk, int64_t rows) {
  Value inBox = D > 64 ? ib.createOrFold<arith::RemUIOp>(chunk, c(8)) : chunk;
  Value phys = xorI(inBox, ib.createOrFold<arith::AndIOp>(row, c(7)));
  Value idx = add(mul(row, c(64)), mul(phys, c(8)));
  if (D > 64)
    idx = add(idx,
              mul(ib.createOrFold<arith::DivUIOp>(chunk, c(8)), c(rows * 64)));
  return idx;
}

void HopperEmitter::fenceProxyAsync() {
  MLIRContext *ctx = ib.getContext();
  NVVM::FenceProxyOp::create(
      ib, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
      NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
}

SmallVector<Value> HopperEmitter::fenceRegs(ArrayRef<Value> vals) {
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

Value HopperEmitter::desc(Value base, int64_t bytes, Value extra16) {
  Value d = add(base, c(bytes / 16));
  if (extra16)
    d = add(d, extra16);
  return ib.createOrFold<arith::IndexCastOp>(ib.getI64Type(), d);
}

Value HopperEmitter::issueS(Value stage, bool fence) {
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
  if (fence)
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
  return acc;
}

SmallVector<Value> HopperEmitter::readAcc(Value acc, int64_t n) {
  SmallVector<Value> v;
  for (int64_t i = 0; i < n; ++i)
    v.push_back(LLVM::ExtractValueOp::create(ib, acc, i));
  return fenceRegs(v);
}

SmallVector<Value> HopperEmitter::computeS(Value stage) {
  Value acc = issueS(stage, true);
  NVVM::WgmmaWaitGroupSyncOp::create(ib, 0);
  // The accumulator of m64nNk16 gives thread (warp w, group g, thread q)
  // rows 16w + g and 16w + g + 8, columns 8j + 2q, 8j + 2q + 1, as
  // d[4j..4j+3] = (g, 2q), (g, 2q+1), (g+8, 2q), (g+8, 2q+1): exactly the
  // mma.sync m16n8 C layout of n-block j that the masks and the softmax
  // expect.
  return readAcc(acc, BN / 2);
}

SmallVector<Value> HopperEmitter::packP(ArrayRef<Value> p) {
  // The A register fragment of wgmma is mma.sync's m16n8k16 A fragment per
  // warp, so P's S-layout accumulators of n-blocks 2kk and 2kk+1 are the A
  // operand of k-step kk (FlashAttention-2/3's trick): 4 x b32 (two
  // bf16/f16 each) per k-step.
  Type i32 = ib.getI32Type();
  auto v1i32 = VectorType::get({1}, i32);
  auto toI32Reg = [&](Value v) -> Value {
    Value cast = vector::BitCastOp::create(ib, v1i32, v);
    return vector::ExtractOp::create(ib, cast, ArrayRef<int64_t>{0});
  };
  SmallVector<Value> regs;
  for (int64_t kk = 0; kk < BN / 16; ++kk)
    for (int64_t x = 0; x < 4; ++x) {
      int64_t nb = 2 * kk + x / 2, e = (x % 2) * 2;
      regs.push_back(toI32Reg(packPair(p[nb * 4 + e], p[nb * 4 + e + 1])));
    }
  return regs;
}

Value HopperEmitter::issuePV(ArrayRef<Value> oRegs, ArrayRef<Value> pRegs,
                             Value stage, bool fence) {
  // O (64 x D) += P (64 x BN, registers) V (BN x D, shared): BN/16 wgmma
  // m64nDk16 with A from registers and B transposed (V is MN-major: d
  // contiguous). nvvm.wgmma.mma_async takes A from shared memory only, so
  // this is inline PTX (what that op lowers to, with a register A).
  MLIRContext *ctx = ib.getContext();
  Type f32 = ib.getF32Type();
  int64_t nO = D / 2;
  auto accTy =
      LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(nO, f32));
  Value o = LLVM::UndefOp::create(ib, accTy);
  for (int64_t i = 0; i < nO; ++i)
    o = LLVM::InsertValueOp::create(ib, o, oRegs[i], ArrayRef<int64_t>{i});

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
  if (fence)
    NVVM::WgmmaFenceAlignedOp::create(ib);
  for (int64_t kk = 0; kk < BN / 16; ++kk) {
    // Keys [16kk, 16kk + 16): two 8-row groups of 1024 bytes.
    SmallVector<Value> ops;
    for (int64_t i = 0; i < nO; ++i)
      ops.push_back(LLVM::ExtractValueOp::create(ib, o, i));
    for (int64_t x = 0; x < 4; ++x)
      ops.push_back(pRegs[kk * 4 + x]);
    ops.push_back(desc(vDesc, kk * 16 * 128, vStage));
    o = LLVM::InlineAsmOp::create(
            ib, accTy, ops, ib.getStringAttr(text), ib.getStringAttr(cons),
            ib.getUnitAttr(), UnitAttr(), LLVM::TailCallKindAttr(),
            LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT),
            ArrayAttr())
            .getResult(0);
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(ib);
  return o;
}

void HopperEmitter::accumulatePV(Acc &acc, ArrayRef<Value> p, Value stage) {
  drainPV(acc, packP(p), stage);
}

void HopperEmitter::drainPV(Acc &acc, ArrayRef<Value> pRegs, Value stage) {
  // The O and P registers pass through fenceRegs before the wgmma fence,
  // so that their definitions stay above it.
  SmallVector<Value> regs(acc.o.begin(), acc.o.end());
  llvm::append_range(regs, pRegs);
  regs = fenceRegs(regs);
  int64_t nO = D / 2;
  Value o = issuePV(ArrayRef<Value>(regs).take_front(nO),
                    ArrayRef<Value>(regs).drop_front(nO), stage, true);
  NVVM::WgmmaWaitGroupSyncOp::create(ib, 0);
  acc.o = readAcc(o, nO);
}

SmallVector<Value> HopperEmitter::computeSWithPV(Value kStage,
                                                 ArrayRef<Value> oIn,
                                                 ArrayRef<Value> pPrev,
                                                 Value vStage, PendingPV &pv) {
  // Two groups behind one fence: S(n), then P(n-1) V(n-1). Waiting until
  // one group is pending returns S while P V may still run.
  SmallVector<Value> regs(oIn.begin(), oIn.end());
  llvm::append_range(regs, pPrev);
  regs = fenceRegs(regs);
  int64_t nO = D / 2;
  Value sAcc = issueS(kStage, true);
  pv.p.assign(regs.begin() + nO, regs.end());
  pv.o = issuePV(ArrayRef<Value>(regs).take_front(nO), pv.p, vStage, false);
  NVVM::WgmmaWaitGroupSyncOp::create(ib, 1);
  return readAcc(sAcc, BN / 2);
}

SmallVector<Value> HopperEmitter::finishPV(const PendingPV &pv) {
  // The P registers are read by the MMA until this wait: they pass through
  // fenceRegs after it, so that they stay live (and unchanged) until then.
  NVVM::WgmmaWaitGroupSyncOp::create(ib, 0);
  int64_t nO = D / 2;
  SmallVector<Value> v;
  for (int64_t i = 0; i < nO; ++i)
    v.push_back(LLVM::ExtractValueOp::create(ib, pv.o, i));
  llvm::append_range(v, pv.p);
  v = fenceRegs(v);
  v.resize(nO);
  return v;
}

} // namespace

//===----------------------------------------------------------------------===//
// Entry point
//===----------------------------------------------------------------------===//

/// Checks the configuration against what the wgmma builder supports;
/// reports the first problem at `loc`.
static LogicalResult checkHopperSupported(Location loc, const s2::Pattern &p,
                                          const s2::Schedule &s,
                                          const KernelConfig &c, bool deferPV) {
  if (c.target != KernelConfig::Target::Sm90a)
    return emitError(loc) << "the wgmma kernel needs target 'sm_90a', not '"
                          << targetName(c.target) << "'";
  if (failed(detail::checkHeadDimAndDType(loc, c, "the wgmma kernel")))
    return failure();
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
  if (c.keyTiles > 2 ||
      (c.keyTiles == 2 &&
       (c.blockM != 128 || c.blockN != 64 || !hopperRingStages(c, deferPV))))
    return emitError(loc) << "unsupported key tiles a step " << c.keyTiles
                          << " with " << c.blockM << "x" << c.blockN
                          << " tiles at head dim " << c.headDim
                          << "; key-tile pairs need the warp-specialised "
                             "128x64 kernel at head dim 128 (mma wgmma)";
  if (hopperSharedBytes(c, deferPV) > 232448)
    return emitError(loc) << "kernel needs " << hopperSharedBytes(c, deferPV)
                          << " bytes of shared memory; sm_90a allows at most "
                             "232448";
  return detail::checkPatternAndSchedule(loc, p, s, c);
}

FailureOr<KernelInfo> buildHopperForwardKernel(ModuleOp module,
                                               const s2::Pattern &pattern,
                                               const s2::Schedule &schedule,
                                               const KernelConfig &requested,
                                               bool deferPV) {
  Location loc = module.getLoc();
  KernelConfig config = requested;
  config.keyTiles = hopperKeyTiles(requested, pattern, deferPV);
  if (failed(checkHopperSupported(loc, pattern, schedule, config, deferPV)))
    return failure();
  // Warp specialisation needs the overlapped loop; without it the kernel
  // keeps TMA only where hopperUsesTma measured it faster unspecialised.
  bool defer = deferPV && hopperDefersPV(config);
  int64_t ring = hopperRingStages(config, deferPV);
  bool tma = hopperUsesTma(config, deferPV);
  KernelInfo info;
  info.name = hopperKernelName(config);
  info.config = config;
  // A producer warpgroup follows the consumers.
  info.threads = config.numWarps * 32 + (ring ? 128 : 0);
  info.sharedBytes = hopperSharedBytes(config, deferPV);
  // K/V by TMA when the runtime passes the tensor maps, else cp.async.
  if (tma)
    info.abiVersion = s2::kKernelAbiTensorMaps;

  return detail::buildForwardFunc(
      module, info, [&](ImplicitLocOpBuilder &ib, gpu::GPUFuncOp fn) {
        // The cp.async / group instructions are the mma.sync target's.
        std::unique_ptr<KernelTarget> target =
            createMmaSyncTarget(config.dtype);
        HopperEmitter(ib, pattern, schedule, config, *target, defer, tma, ring)
            .emit(fn);
        // Launch bound (PTX .minnctapersm): ptxas caps the registers.
        if (int64_t ctas = defer ? hopperMinCtasPerSM(config) : 0)
          fn->setAttr("nvvm.minctasm", ib.getI32IntegerAttr(int32_t(ctas)));
      });
}

std::optional<MmaKind> parseMmaKind(llvm::StringRef name) {
  if (name == "sync")
    return MmaKind::Sync;
  if (name == "wgmma")
    return MmaKind::Wgmma;
  if (name == "wgmma-serial")
    return MmaKind::WgmmaSerial;
  return std::nullopt;
}

const char *mmaKindName(MmaKind kind) {
  switch (kind) {
  case MmaKind::Wgmma:
    return "wgmma";
  case MmaKind::WgmmaSerial:
    return "wgmma-serial";
  case MmaKind::Sync:
    break;
  }
  return "sync";
}

FailureOr<KernelInfo> buildWgmmaForwardKernel(ModuleOp module,
                                              const s2::Pattern &pattern,
                                              const s2::Schedule &schedule,
                                              const KernelConfig &config,
                                              MmaKind mma) {
  return buildHopperForwardKernel(module, pattern, schedule, config,
                                  mma != MmaKind::WgmmaSerial);
}

FailureOr<KernelInfo> buildForwardKernelWith(ModuleOp module,
                                             const s2::Pattern &pattern,
                                             const s2::Schedule &schedule,
                                             const KernelConfig &config,
                                             MmaKind mma) {
  if (mma != MmaKind::Sync && config.target == KernelConfig::Target::Sm90a)
    return buildWgmmaForwardKernel(module, pattern, schedule, config, mma);
  return buildForwardKernel(module, pattern, schedule, config);
}

} // namespace s2c
