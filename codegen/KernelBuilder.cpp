//===- KernelBuilder.cpp - Forward sparse-attention kernels as GPU IR -----===//
//
// Emits the FlashAttention-2 style forward kernel of a pattern as a gpu.func
// (see KernelBuilder.h and docs/kernels.md). The structure, from the top:
//
//   prologue   thread/warp/lane indices, head and KV head, packed-sequence
//              bounds, query tile t (heaviest first), early exit
//   Q          Q tile -> swizzled shared memory (cp.async) -> registers
//              (ldmatrix), once per CTA
//   dispatch   one scf.if chain on the head's group, then on t's phase;
//              each arm holds one pipelined scf.for over the flattened spans
//   loop       prefetch K/V of iteration n+1 into the other buffer, wait for
//              iteration n, S = QK^T (mma), masks where needed, online
//              softmax, O += PV (mma)
//   epilogue   1/l normalisation, O and LSE stores of the valid rows
//
// Every integer quantity of the schedule is a compile-time constant or an
// affine expression of run-time values; nothing is looked up in tables unless
// the schedule itself is a table.
//
// That structure is EmitterBase (EmitterCommon.h/.cpp), shared with the
// sm_90a wgmma kernel (HopperKernel.cpp); this file holds the mma.sync
// parts (the shared tile layout, the Q fragments, S = QK^T and O += PV on
// m16n8k16), the mma.sync KernelTarget and the entry points.
//
//===----------------------------------------------------------------------===//

#include "codegen/KernelBuilder.h"

#include "codegen/EmitterCommon.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;

namespace s2c {

KernelTarget::~KernelTarget() = default;

void applyScheduleTiles(KernelConfig &config, const s2::Schedule &schedule) {
  config.blockM = schedule.tiles.blockM;
  config.blockN = schedule.tiles.blockN;
  config.numWarps = config.blockM / 16;
}

std::optional<KernelConfig::Target> parseTargetName(llvm::StringRef name) {
  if (name == "sm_80")
    return KernelConfig::Target::Sm80;
  if (name == "sm_90a")
    return KernelConfig::Target::Sm90a;
  return std::nullopt;
}

std::optional<s2::DType> parseDTypeName(llvm::StringRef name) {
  if (name == "bf16")
    return s2::DType::BF16;
  if (name == "f16" || name == "fp16")
    return s2::DType::F16;
  return std::nullopt;
}

const char *targetName(KernelConfig::Target target) {
  return target == KernelConfig::Target::Sm90a ? "sm_90a" : "sm_80";
}

std::string kernelName(const KernelConfig &c) {
  std::string name = "s2_fwd_";
  name += c.target == KernelConfig::Target::Sm90a ? "sm90a" : "sm80";
  name += c.dtype == s2::DType::F16 ? "_f16" : "_bf16";
  name += "_d" + std::to_string(c.headDim);
  name += "_m" + std::to_string(c.blockM) + "n" + std::to_string(c.blockN);
  return name;
}

std::vector<int32_t> packScheduleTables(const s2::Schedule &schedule) {
  std::vector<int32_t> data;
  for (const s2::TileTable &t : schedule.tables) {
    for (int64_t v : t.rowPtr)
      data.push_back(int32_t(v));
    for (int64_t v : t.cols)
      data.push_back(int32_t(v));
  }
  // One trailing word so that a clamped read one past an empty row stays in
  // the buffer.
  if (!data.empty())
    data.push_back(0);
  return data;
}

//===----------------------------------------------------------------------===//
// The mma.sync target
//===----------------------------------------------------------------------===//

namespace {

class MmaSyncTarget final : public KernelTarget {
public:
  explicit MmaSyncTarget(s2::DType dtype) : dtype(dtype) {}

  SmallVector<Value, 4> loadMatrixX4(OpBuilder &b, Location loc, Value smem,
                                     Value index, bool transpose) override {
    Type elem = cast<MemRefType>(smem.getType()).getElementType();
    auto resTy = VectorType::get({4, 2}, elem);
    Value m = nvgpu::LdMatrixOp::create(b, loc, resTy, smem, ValueRange{index},
                                        transpose, 4u);
    SmallVector<Value, 4> regs;
    for (int64_t i = 0; i < 4; ++i)
      regs.push_back(
          vector::ExtractOp::create(b, loc, m, ArrayRef<int64_t>{i}));
    return regs;
  }

  SmallVector<Value, 4> mma16816(OpBuilder &b, Location loc, ValueRange a,
                                 ValueRange bv, ValueRange c) override {
    if (dtype == s2::DType::F16)
      return mmaF16(b, loc, a, bv, c);
    return mmaBF16(b, loc, a, bv, c);
  }

  Value asyncCopy16(OpBuilder &b, Location loc, Value dst, Value dstIndex,
                    Value src, Value srcIndex, Value srcElements) override {
    auto tokTy = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    return nvgpu::DeviceAsyncCopyOp::create(
        b, loc, tokTy, dst, ValueRange{dstIndex}, src, ValueRange{srcIndex},
        b.getIndexAttr(8), srcElements, b.getUnitAttr());
  }

  Value commitGroup(OpBuilder &b, Location loc, ValueRange tokens) override {
    auto tokTy = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    return nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, tokTy, tokens);
  }

  void waitGroups(OpBuilder &b, Location loc, Value token,
                  int32_t pending) override {
    nvgpu::DeviceAsyncWaitOp::create(b, loc, token,
                                     b.getI32IntegerAttr(pending));
  }

private:
  /// f16: nvgpu.mma.sync on vector<4x2xf16> x vector<2x2xf16>.
  SmallVector<Value, 4> mmaF16(OpBuilder &b, Location loc, ValueRange a,
                               ValueRange bv, ValueRange c) {
    Type f16 = b.getF16Type(), f32 = b.getF32Type();
    auto pack2d = [&](ValueRange rows, Type elem) -> Value {
      auto ty = VectorType::get({int64_t(rows.size()), 2}, elem);
      Value v = arith::ConstantOp::create(b, loc, ty, b.getZeroAttr(ty));
      for (auto [i, r] : llvm::enumerate(rows))
        v = vector::InsertOp::create(b, loc, r, v,
                                     ArrayRef<int64_t>{int64_t(i)});
      return v;
    };
    auto v2f32 = VectorType::get({2}, f32);
    Value c0 =
        vector::FromElementsOp::create(b, loc, v2f32, ValueRange{c[0], c[1]});
    Value c1 =
        vector::FromElementsOp::create(b, loc, v2f32, ValueRange{c[2], c[3]});
    Value res = nvgpu::MmaSyncOp::create(b, loc, pack2d(a, f16),
                                         pack2d(bv, f16), pack2d({c0, c1}, f32),
                                         ArrayRef<int64_t>{16, 8, 16});
    SmallVector<Value, 4> out;
    for (int64_t i = 0; i < 2; ++i) {
      Value row = vector::ExtractOp::create(b, loc, res, ArrayRef<int64_t>{i});
      for (int64_t j = 0; j < 2; ++j)
        out.push_back(
            vector::ExtractOp::create(b, loc, row, ArrayRef<int64_t>{j}));
    }
    return out;
  }

  /// bf16: 1-D bitcasts to i32 and nvvm.mma.sync with bf16 PTX types (the
  /// nvgpu.mma.sync lowering does not know bf16 in MLIR 22).
  SmallVector<Value, 4> mmaBF16(OpBuilder &b, Location loc, ValueRange a,
                                ValueRange bv, ValueRange c) {
    Type i32 = b.getI32Type(), f32 = b.getF32Type();
    auto v1i32 = VectorType::get({1}, i32);
    auto toI32 = [&](Value v) -> Value {
      Value cast = vector::BitCastOp::create(b, loc, v1i32, v);
      return vector::ExtractOp::create(b, loc, cast, ArrayRef<int64_t>{0});
    };
    SmallVector<Value, 4> ai, bi;
    for (Value v : a)
      ai.push_back(toI32(v));
    for (Value v : bv)
      bi.push_back(toI32(v));
    auto resTy =
        LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    std::array<NVVM::MMATypes, 2> ptx = {NVVM::MMATypes::bf16,
                                         NVVM::MMATypes::bf16};
    std::array<NVVM::MMALayout, 2> layouts = {NVVM::MMALayout::row,
                                              NVVM::MMALayout::col};
    Value res = NVVM::MmaOp::create(b, loc, resTy, ai, bi, c,
                                    ArrayRef<int64_t>{16, 8, 16}, std::nullopt,
                                    std::nullopt, ptx, layouts);
    SmallVector<Value, 4> out;
    for (int64_t i = 0; i < 4; ++i)
      out.push_back(LLVM::ExtractValueOp::create(b, loc, res, i));
    return out;
  }

  s2::DType dtype;
};

} // namespace

std::unique_ptr<KernelTarget> createMmaSyncTarget(s2::DType dtype) {
  return std::make_unique<MmaSyncTarget>(dtype);
}

//===----------------------------------------------------------------------===//
// The kernel emitter (mma.sync flavour)
//===----------------------------------------------------------------------===//

namespace {

using detail::Acc;

/// EmitterBase with m16n8k16 mma.sync: Q, K and V tiles row-major with
/// head-dim-long rows, 16-byte chunks XOR-swizzled by row; Q fragments
/// loaded with ldmatrix, K and V fragments at every k-step.
class MmaSyncEmitter final : public detail::EmitterBase {
public:
  using EmitterBase::EmitterBase;

protected:
  void createSharedTiles(Value dsm, gpu::AddressSpaceAttr wg) override;
  Value tileIndex(Value row, Value chunk, int64_t /*rows*/) override {
    return swizzle(row, chunk);
  }
  int64_t tileRowPitch() override { return D; }
  void afterQLoaded() override;
  SmallVector<Value> computeS(Value stage) override;
  void accumulatePV(Acc &acc, ArrayRef<Value> p, Value stage) override;

private:
  /// Index of element (row, 8-element chunk) of a row-major tile with rows
  /// of headDim elements, 16-byte chunks XOR-swizzled by row mod 8.
  Value swizzle(Value row, Value chunk);

  SmallVector<SmallVector<Value, 4>> qFrag;
  bool qInRegisters = true;
  /// The A fragment of Q for k-step kk (ldmatrix.x4 from the Q tile).
  SmallVector<Value, 4> loadQ(int64_t kk) {
    Value row =
        add(mul(warp, c(16)), ib.createOrFold<arith::RemUIOp>(lane, c(16)));
    Value half = ib.createOrFold<arith::DivUIOp>(lane, c(16));
    return tgt.loadMatrixX4(ib, ib.getLoc(), qS,
                            swizzle(row, add(c(kk * 2), half)),
                            /*transpose=*/false);
  }
};

void MmaSyncEmitter::createSharedTiles(Value dsm, gpu::AddressSpaceAttr wg) {
  int64_t eb = 2;
  auto view = [&](int64_t byteOff, int64_t elems) -> Value {
    auto ty = MemRefType::get({elems}, elemTy, MemRefLayoutAttrInterface(), wg);
    return memref::ViewOp::create(ib, ty, dsm, c(byteOff), ValueRange{});
  };
  qS = view(0, BM * D);
  kS = view(BM * D * eb, cfg.stages * BN * D);
  vS = view((BM * D + cfg.stages * BN * D) * eb, cfg.stages * BN * D);
}

void MmaSyncEmitter::afterQLoaded() {
  // Head dim 64: Q fragments stay in registers for the whole loop. Head
  // dim 128: they are re-read from shared memory (which keeps Q) at each
  // k-step, which frees 32 registers and keeps the kernel spill-free.
  qInRegisters = D <= 64;
  if (qInRegisters)
    for (int64_t kk = 0; kk < D / 16; ++kk)
      qFrag.push_back(loadQ(kk));
}

Value MmaSyncEmitter::swizzle(Value row, Value chunk) {
  Value phys = xorI(chunk, ib.createOrFold<arith::AndIOp>(row, c(7)));
  return add(mul(row, c(D)), mul(phys, c(8)));
}

SmallVector<Value> MmaSyncEmitter::computeS(Value stage) {
  Value zero = cf(0.0);
  SmallVector<Value> s(BN / 8 * 4, zero);
  Value stageOff = mul(stage, c(BN * D));
  Value mat = ib.createOrFold<arith::DivUIOp>(lane, c(8));
  Value r8 = ib.createOrFold<arith::RemUIOp>(lane, c(8));
  Value keyOff = add(mul(ib.createOrFold<arith::DivUIOp>(mat, c(2)), c(8)), r8);
  Value chunkOff = ib.createOrFold<arith::RemUIOp>(mat, c(2));
  for (int64_t kk = 0; kk < D / 16; ++kk) {
    SmallVector<Value, 4> qk = qInRegisters ? qFrag[kk] : loadQ(kk);
    for (int64_t np = 0; np < BN / 16; ++np) {
      Value key = add(c(np * 16), keyOff);
      Value chunk = add(c(kk * 2), chunkOff);
      SmallVector<Value, 4> b = tgt.loadMatrixX4(
          ib, ib.getLoc(), kS, add(stageOff, swizzle(key, chunk)), false);
      for (int64_t half = 0; half < 2; ++half) {
        int64_t nb = np * 2 + half;
        SmallVector<Value, 4> cIn(s.begin() + nb * 4, s.begin() + nb * 4 + 4);
        SmallVector<Value, 4> r = tgt.mma16816(
            ib, ib.getLoc(), qk, ValueRange{b[half * 2], b[half * 2 + 1]}, cIn);
        std::copy(r.begin(), r.end(), s.begin() + nb * 4);
      }
    }
  }
  return s;
}

void MmaSyncEmitter::accumulatePV(Acc &acc, ArrayRef<Value> p, Value stage) {
  Value stageOff = mul(stage, c(BN * D));
  Value mat = ib.createOrFold<arith::DivUIOp>(lane, c(8));
  Value r8 = ib.createOrFold<arith::RemUIOp>(lane, c(8));
  Value keyOff = add(mul(ib.createOrFold<arith::RemUIOp>(mat, c(2)), c(8)), r8);
  Value chunkOff = ib.createOrFold<arith::DivUIOp>(mat, c(2));
  for (int64_t kk = 0; kk < BN / 16; ++kk) {
    // A fragment of P for keys [16kk, 16kk+16) from the S accumulators.
    SmallVector<Value, 4> a = {
        packPair(p[(2 * kk) * 4 + 0], p[(2 * kk) * 4 + 1]),
        packPair(p[(2 * kk) * 4 + 2], p[(2 * kk) * 4 + 3]),
        packPair(p[(2 * kk + 1) * 4 + 0], p[(2 * kk + 1) * 4 + 1]),
        packPair(p[(2 * kk + 1) * 4 + 2], p[(2 * kk + 1) * 4 + 3])};
    for (int64_t dp = 0; dp < D / 16; ++dp) {
      Value key = add(c(kk * 16), keyOff);
      Value chunk = add(c(dp * 2), chunkOff);
      SmallVector<Value, 4> b = tgt.loadMatrixX4(
          ib, ib.getLoc(), vS, add(stageOff, swizzle(key, chunk)), true);
      for (int64_t half = 0; half < 2; ++half) {
        int64_t nb = dp * 2 + half;
        SmallVector<Value, 4> cIn(acc.o.begin() + nb * 4,
                                  acc.o.begin() + nb * 4 + 4);
        SmallVector<Value, 4> r = tgt.mma16816(
            ib, ib.getLoc(), a, ValueRange{b[half * 2], b[half * 2 + 1]}, cIn);
        std::copy(r.begin(), r.end(), acc.o.begin() + nb * 4);
      }
    }
  }
}

} // namespace

FailureOr<std::vector<int64_t>>
foldKeyTiles(const s2::Pattern &pattern, const s2::Schedule &schedule,
             const KernelConfig &config, int64_t head, int64_t tile,
             int64_t numKeyTiles, int64_t windowBegin, int64_t windowEnd) {
  MLIRContext ctx;
  ctx.loadDialect<arith::ArithDialect, func::FuncDialect>();
  OpBuilder ob(&ctx);
  OwningOpRef<ModuleOp> m = ModuleOp::create(UnknownLoc::get(&ctx));
  ob.setInsertionPointToEnd(m->getBody());
  auto fn = func::FuncOp::create(ob, UnknownLoc::get(&ctx), "fold",
                                 ob.getFunctionType({}, {}));
  Block *body = fn.addEntryBlock();
  ImplicitLocOpBuilder ib(UnknownLoc::get(&ctx), &ctx);
  ib.setInsertionPointToEnd(body);
  std::unique_ptr<KernelTarget> target = createMmaSyncTarget(config.dtype);
  return MmaSyncEmitter(ib, pattern, schedule, config, *target)
      .foldTiles(head, tile, numKeyTiles, windowBegin, windowEnd);
}

//===----------------------------------------------------------------------===//
// Entry point
//===----------------------------------------------------------------------===//

/// Checks the configuration against what the builder supports; reports the
/// first problem at `loc`.
static LogicalResult checkSupported(Location loc, const s2::Pattern &p,
                                    const s2::Schedule &s,
                                    const KernelConfig &c) {
  if (failed(detail::checkHeadDimAndDType(loc, c, "the kernel builder")))
    return failure();
  if (c.numWarps < 1 || c.numWarps > 8 || c.blockM != 16 * c.numWarps)
    return emitError(loc)
           << "unsupported tile: block_m " << c.blockM << " with " << c.numWarps
           << " warps; expected block_m = 16 x warps, 1..8 warps";
  if (c.blockN != 32 && c.blockN != 64 && c.blockN != 128)
    return emitError(loc) << "unsupported tile: block_n " << c.blockN
                          << "; expected 32, 64 or 128";
  int64_t threads = c.numWarps * 32, cpr = c.headDim / 8;
  if (threads % cpr != 0 || (c.blockM * cpr) % threads != 0 ||
      (c.blockN * cpr) % threads != 0)
    return emitError(loc) << "unsupported tile: " << c.blockM << "x" << c.blockN
                          << " tiles with " << c.numWarps
                          << " warps do not split into 16-byte copies";
  if (c.stages != 2)
    return emitError(loc) << "unsupported pipeline depth " << c.stages
                          << "; the kernel builder supports 2 stages";
  if (c.keyTiles > 1)
    return emitError(loc) << "unsupported key tiles a step " << c.keyTiles
                          << "; key-tile pairs need the sm_90a wgmma kernel";
  int64_t shared = (c.blockM + 2 * c.stages * c.blockN) * c.headDim * 2;
  int64_t limit = c.target == KernelConfig::Target::Sm90a ? 232448 : 166912;
  if (shared > limit)
    return emitError(loc) << "kernel needs " << shared
                          << " bytes of shared memory; " << targetName(c.target)
                          << " allows at most " << limit;
  return detail::checkPatternAndSchedule(loc, p, s, c);
}

FailureOr<KernelInfo> buildForwardKernel(ModuleOp module,
                                         const s2::Pattern &pattern,
                                         const s2::Schedule &schedule,
                                         const KernelConfig &config) {
  Location loc = module.getLoc();
  if (failed(checkSupported(loc, pattern, schedule, config)))
    return failure();
  KernelInfo info;
  info.name = kernelName(config);
  info.config = config;
  info.config.keyTiles = 1;
  info.threads = config.numWarps * 32;
  info.sharedBytes =
      (config.blockM + 2 * config.stages * config.blockN) * config.headDim * 2;

  return detail::buildForwardFunc(
      module, info, [&](ImplicitLocOpBuilder &ib, gpu::GPUFuncOp fn) {
        std::unique_ptr<KernelTarget> target =
            createMmaSyncTarget(config.dtype);
        MmaSyncEmitter(ib, pattern, schedule, info.config, *target).emit(fn);
      });
}

} // namespace s2c
