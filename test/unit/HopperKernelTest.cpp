//===- HopperKernelTest.cpp - Tests of the wgmma forward kernel builder ---===//
//
// buildHopperForwardKernel (codegen/HopperKernel.h) accepts every preset and
// every schedule s2::buildSchedule produces for a set of patterns, at the
// supported tile shapes, head dims and dtypes; the result verifies, has the
// ABI's parameters (32 with the tensor maps where hopperUsesTma, else 29)
// and holds the expected wgmma and TMA counts; unsupported settings
// fail with a diagnostic naming what is supported; the PTX assembles with
// ptxas (when installed) for sm_90a; MmaKind::Wgmma keeps sm_80 on
// mma.sync; key-tile pairs (two key tiles a 128-key step) where the
// builder chooses them or they are asked for, and errors elsewhere.
//
//===----------------------------------------------------------------------===//

#include "codegen/HopperKernel.h"
#include "codegen/Lowering.h"
#include "codegen/tools/Presets.h"

#include "KernelBuild.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace s2c;

namespace {

using test::Built;

void build(Built &b, const s2::Pattern &p, const s2::Schedule &s,
           const KernelConfig &cfg, bool deferPV = true) {
  test::buildWith(b, [&](mlir::ModuleOp m) {
    return buildHopperForwardKernel(m, p, s, cfg, deferPV);
  });
}

KernelConfig config(int64_t d, s2::DType dt, int64_t bm = 64, int64_t bn = 64) {
  return test::kernelConfig(KernelConfig::Target::Sm90a, d, dt, bm, bn);
}

/// wgmma operations in the kernel: S = QK^T (nvvm.wgmma.mma_async), O +=
/// PV (inline PTX with a register A operand), and the waits that leave one
/// group pending (the deferred P V's).
struct WgmmaCounts {
  int s = 0, pv = 0, waitOne = 0, tmaLoads = 0, tmaWaits = 0;
};
WgmmaCounts countWgmma(mlir::ModuleOp m) {
  WgmmaCounts n;
  m.walk([&](mlir::Operation *op) {
    if (mlir::isa<mlir::NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp>(op))
      ++n.tmaLoads;
    if (mlir::isa<mlir::NVVM::MBarrierTryWaitParityOp>(op))
      ++n.tmaWaits;
    if (mlir::isa<mlir::NVVM::WgmmaMmaAsyncOp>(op))
      ++n.s;
    if (auto a = mlir::dyn_cast<mlir::LLVM::InlineAsmOp>(op))
      if (a.getAsmString().contains("wgmma.mma_async"))
        ++n.pv;
    if (auto w = mlir::dyn_cast<mlir::NVVM::WgmmaWaitGroupSyncOp>(op))
      if (w.getGroup() == 1)
        ++n.waitOne;
  });
  return n;
}

/// 16-byte stores of 8 elements to global memory: the staged epilogue's
/// stores of O (storeStagedO); the other epilogue stores 2 elements.
int countChunkStores(mlir::ModuleOp m) {
  int n = 0;
  m.walk([&](mlir::vector::StoreOp st) {
    if (st.getVectorType().getNumElements() == 8 &&
        !st.getMemRefType().getMemorySpace())
      ++n;
  });
  return n;
}

} // namespace

TEST(HopperKernel, BuildsEveryPreset) {
  for (const char *name : {"causal", "dense", "s2", "s2dense", "table"})
    for (int64_t d : {64, 128})
      for (s2::DType dt : {s2::DType::BF16, s2::DType::F16})
        for (bool defer : {true, false}) {
          presets::Params q;
          s2::Pattern p;
          s2::Schedule s;
          ASSERT_TRUE(presets::build(name, q, p, s));
          Built b;
          build(b, p, s, config(d, dt), defer);
          ASSERT_TRUE(mlir::succeeded(b.info)) << name << ": " << b.diag;
          EXPECT_TRUE(mlir::succeeded(mlir::verify(*b.module))) << name;
          // Warp specialised (head dim 128, overlapped): a producer
          // warpgroup, a ring of two K and V buffers plus the zero V tile,
          // four mbarriers a stage.
          int64_t ring = hopperRingStages(config(d, dt), defer);
          EXPECT_EQ(ring, d == 128 && defer ? 2 : 0);
          EXPECT_EQ(b.info->threads, ring ? 256 : 128);
          EXPECT_EQ(b.info->sharedBytes,
                    ring ? (64 + 5 * 64) * d * 2 + 64 + 1024
                         : (64 + 4 * 64) * d * 2 + 64 + 1024);
          EXPECT_EQ(b.info->name, hopperKernelName(config(d, dt)));
          bool tma = hopperUsesTma(config(d, dt), defer);
          EXPECT_EQ(b.info->abiVersion,
                    tma ? s2::kKernelAbiTensorMaps : s2::kKernelAbiVersion);
          int funcs = 0;
          b.module->walk([&](mlir::gpu::GPUFuncOp f) {
            ++funcs;
            EXPECT_EQ(f.getNumArguments(), tma ? 32u : 29u);
            EXPECT_EQ(f->hasAttr(kTensorMapArgsAttr), tma);
            EXPECT_EQ(f.getName(), b.info->name);
            EXPECT_TRUE(f.isKernel());
          });
          EXPECT_EQ(funcs, 1);
          // One loop per (group, phase): D/16 S steps and BN/16 PV steps
          // each; deferred, P V also once more after the loop (the last
          // tile's), and one wait that leaves P V pending per loop.
          WgmmaCounts n = countWgmma(*b.module);
          int loops = n.s / int(d / 16);
          EXPECT_GT(n.s, 0) << name;
          EXPECT_EQ(n.s % (d / 16), 0) << name;
          EXPECT_EQ(n.pv % 4, 0) << name;
          bool deferred = defer && hopperDefersPV(config(d, dt));
          EXPECT_EQ(n.pv / 4, deferred ? 2 * loops : loops) << name;
          EXPECT_EQ(n.waitOne, deferred ? loops : 0) << name;
          // TMA: per loop, the prologue's and the loop's K and V copies,
          // D/64 boxes each (deferred, the prologue's V tile is never
          // loaded: only its barrier arrival remains); waits for K and V
          // in the loop and once more after it. Warp specialised: the
          // producer's K and V loads, its waits for free buffers (TMA and
          // cp.async loops), the consumers' waits for K(n) and V(n - 1)
          // and for the last V after the loop.
          if (ring) {
            EXPECT_EQ(n.tmaLoads, loops * 2 * int(d / 64)) << name;
            EXPECT_EQ(n.tmaWaits, loops * 7) << name;
          } else {
            EXPECT_EQ(n.tmaLoads,
                      tma ? loops * (deferred ? 3 : 4) * int(d / 64) : 0)
                << name;
            EXPECT_EQ(n.tmaWaits, tma ? loops * 4 : 0) << name;
          }
        }
}

TEST(HopperKernel, BuildsScheduleBuilderOutput) {
  std::vector<s2::Pattern> pats = presets::scheduleBuilderPatterns();
  for (const s2::Pattern &p : pats) {
    ASSERT_EQ(s2::validatePattern(p), "");
    for (int64_t bm : {64, 128})
      for (int64_t bn : {64, 128}) {
        s2::TileConfig tiles;
        tiles.blockM = bm;
        tiles.blockN = bn;
        tiles.maxSeqLen = 4096;
        s2::Schedule s;
        std::string err;
        ASSERT_TRUE(s2::buildSchedule(p, tiles, s, err)) << err;
        Built b;
        KernelConfig cfg = config(128, s2::DType::BF16, bm, bn);
        build(b, p, s, cfg);
        ASSERT_TRUE(mlir::succeeded(b.info)) << b.diag;
        EXPECT_TRUE(mlir::succeeded(mlir::verify(*b.module)));
        // Key-tile pairs at 128 x 64 where the blocks are 64 tokens or more:
        // 128 keys a step.
        int64_t kt = bm == 128 && bn == 64 && p.block >= 64 ? 2 : 1;
        EXPECT_EQ(hopperKeyTiles(cfg, p), kt);
        EXPECT_EQ(b.info->config.keyTiles, kt);
        cfg.keyTiles = kt;
        int64_t step = bn * kt;
        // Warp specialised: a producer warpgroup, four ring stages at
        // 128 x 64 single tiles, two at 64 x 64 and 128-key steps; 64 x 128
        // is not.
        int64_t ring = step == 64 ? (bm == 128 ? 4 : 2) : (bm == 128 ? 2 : 0);
        EXPECT_EQ(hopperRingStages(cfg), ring);
        EXPECT_EQ(b.info->threads, bm * 2 + (ring ? 128 : 0));
        EXPECT_EQ(b.info->sharedBytes,
                  ring ? (bm + (2 * ring + 1) * step) * 128 * 2 + 32 * ring +
                             1024
                       : (bm + 4 * bn) * 128 * 2 + 64 + 1024);
      }
  }
}

TEST(HopperKernel, UnsupportedSettingsFail) {
  presets::Params q;
  s2::Pattern p;
  s2::Schedule s;
  ASSERT_TRUE(presets::build("causal", q, p, s));
  auto fails = [&](KernelConfig c, const char *expected) {
    Built b;
    build(b, p, s, c);
    EXPECT_TRUE(mlir::failed(b.info));
    EXPECT_NE(b.diag.find(expected), std::string::npos) << b.diag;
  };
  KernelConfig sm80 = config(64, s2::DType::BF16);
  sm80.target = KernelConfig::Target::Sm80;
  fails(sm80, "the wgmma kernel needs target 'sm_90a', not 'sm_80'");
  fails(config(96, s2::DType::BF16), "unsupported head dimension 96");
  fails(config(64, s2::DType::Any), "unsupported element type 'any'");
  fails(config(64, s2::DType::BF16, 32, 64), "unsupported tile: block_m 32");
  fails(config(64, s2::DType::BF16, 64, 32), "unsupported tile: block_n 32");
  KernelConfig stages = config(64, s2::DType::BF16);
  stages.stages = 3;
  fails(stages, "unsupported pipeline depth 3");
  fails(config(64, s2::DType::BF16, 128, 64),
        "schedule tiles 64x64 do not match kernel tiles 128x64");
}

TEST(HopperKernel, MmaKindDispatch) {
  EXPECT_EQ(parseMmaKind("sync"), MmaKind::Sync);
  EXPECT_EQ(parseMmaKind("wgmma"), MmaKind::Wgmma);
  EXPECT_EQ(parseMmaKind("wgmma-serial"), MmaKind::WgmmaSerial);
  EXPECT_FALSE(parseMmaKind("tma").has_value());
  EXPECT_STREQ(mmaKindName(MmaKind::Wgmma), "wgmma");
  EXPECT_STREQ(mmaKindName(MmaKind::WgmmaSerial), "wgmma-serial");
  EXPECT_STREQ(mmaKindName(MmaKind::Sync), "sync");
  presets::Params q;
  s2::Pattern p;
  s2::Schedule s;
  ASSERT_TRUE(presets::build("s2", q, p, s));
  for (MmaKind kind : {MmaKind::Wgmma, MmaKind::WgmmaSerial})
    for (KernelConfig::Target t :
         {KernelConfig::Target::Sm80, KernelConfig::Target::Sm90a}) {
      mlir::MLIRContext ctx;
      auto module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx));
      KernelConfig c = config(128, s2::DType::BF16);
      c.target = t;
      mlir::FailureOr<KernelInfo> info =
          buildForwardKernelWith(module, p, s, c, kind);
      ASSERT_TRUE(mlir::succeeded(info));
      bool hopper = t == KernelConfig::Target::Sm90a;
      EXPECT_EQ(info->name, hopper ? hopperKernelName(c) : kernelName(c));
      // Only the default kind defers P V (waits leaving one group pending),
      // at head dim 128 with 64-key tiles only.
      EXPECT_EQ(countWgmma(module).waitOne > 0,
                hopper && kind == MmaKind::Wgmma);
      module->erase();
    }
}

TEST(HopperKernel, DefersPVWhereItPays) {
  EXPECT_TRUE(hopperDefersPV(config(128, s2::DType::BF16)));
  EXPECT_TRUE(hopperDefersPV(config(128, s2::DType::F16, 128, 64)));
  EXPECT_TRUE(hopperDefersPV(config(64, s2::DType::BF16)));
  EXPECT_FALSE(hopperDefersPV(config(64, s2::DType::BF16, 128, 64)));
  EXPECT_FALSE(hopperDefersPV(config(64, s2::DType::BF16, 64, 128)));
  EXPECT_FALSE(hopperDefersPV(config(128, s2::DType::BF16, 64, 128)));
  // 128 x 128 at head dim 128: overlapped in the warp-specialised kernel.
  EXPECT_TRUE(hopperDefersPV(config(128, s2::DType::BF16, 128, 128)));
  EXPECT_EQ(hopperMinCtasPerSM(config(128, s2::DType::BF16, 128, 128)), 1);
  EXPECT_EQ(hopperMinCtasPerSM(config(64, s2::DType::F16)), 4);
  EXPECT_EQ(hopperMinCtasPerSM(config(128, s2::DType::BF16)), 2);
  EXPECT_EQ(hopperMinCtasPerSM(config(128, s2::DType::BF16, 128, 64)), 1);
  EXPECT_EQ(hopperMinCtasPerSM(config(128, s2::DType::BF16, 64, 128)), 0);
  // The bound is an attribute of the overlapped kernels only.
  presets::Params q;
  s2::Pattern p;
  s2::Schedule s;
  ASSERT_TRUE(presets::build("s2", q, p, s));
  for (int64_t d : {64, 128})
    for (bool defer : {true, false}) {
      Built b;
      build(b, p, s, config(d, s2::DType::BF16), defer);
      ASSERT_TRUE(mlir::succeeded(b.info)) << b.diag;
      b.module->walk([&](mlir::gpu::GPUFuncOp f) {
        EXPECT_EQ(f->hasAttr("nvvm.minctasm"), defer);
      });
    }
}

TEST(HopperKernel, UsesTmaWhereItPays) {
  EXPECT_TRUE(hopperUsesTma(config(128, s2::DType::BF16, 128, 64)));
  EXPECT_TRUE(hopperUsesTma(config(128, s2::DType::F16, 128, 64)));
  EXPECT_TRUE(hopperUsesTma(config(64, s2::DType::BF16)));
  // 64 x 64 at head dim 128: warp specialised (TMA), unless serial.
  EXPECT_TRUE(hopperUsesTma(config(128, s2::DType::BF16)));
  EXPECT_FALSE(hopperUsesTma(config(128, s2::DType::BF16), false));
  EXPECT_TRUE(hopperUsesTma(config(128, s2::DType::BF16, 128, 64), false));
  // 128 x 128 at head dim 128: warp specialised; 64 x 128: serial.
  EXPECT_TRUE(hopperUsesTma(config(128, s2::DType::BF16, 128, 128)));
  EXPECT_FALSE(hopperUsesTma(config(128, s2::DType::BF16, 128, 128), false));
  EXPECT_FALSE(hopperUsesTma(config(128, s2::DType::BF16, 64, 128)));
  EXPECT_FALSE(hopperUsesTma(config(64, s2::DType::BF16, 128, 64)));
  EXPECT_FALSE(hopperUsesTma(config(64, s2::DType::F16, 64, 128)));
}

TEST(HopperKernel, WarpSpecialised) {
  EXPECT_EQ(hopperRingStages(config(128, s2::DType::BF16, 64, 128)), 0);
  EXPECT_EQ(hopperRingStages(config(64, s2::DType::BF16, 128, 128)), 0);
  // (block_m, block_n, key tiles a step).
  for (auto [bm, bn, kt] : {std::tuple<int64_t, int64_t, int64_t>{64, 64, 1},
                            {128, 64, 1},
                            {128, 64, 2},
                            {128, 128, 1}}) {
    KernelConfig cfg = config(128, s2::DType::BF16, bm, bn);
    cfg.keyTiles = kt;
    int64_t ring = hopperRingStages(cfg);
    ASSERT_GT(ring, 1) << bm << "x" << bn;
    // The kernel's shared memory fits sm_90a's 227 KB.
    EXPECT_LE(hopperSharedBytes(cfg, true), 232448) << bm << "x" << bn;
    // The split fits the register file at the launch bound: producer plus
    // consumers per 128 threads, multiples of 8 (setmaxnreg), 24..256.
    auto [prod, cons] = hopperRegisterSplit(cfg);
    int64_t ctas = hopperMinCtasPerSM(cfg);
    int64_t warpgroups = bm / 64 + 1;
    int64_t entry = 65536 / (ctas * warpgroups * 128) / 8 * 8;
    EXPECT_LE(prod + bm / 64 * cons, warpgroups * entry) << bm;
    EXPECT_EQ(prod % 8, 0);
    EXPECT_EQ(cons % 8, 0);
    EXPECT_GE(prod, 24);
    EXPECT_LE(cons, 256);
    EXPECT_GT(cons, entry);

    presets::Params q;
    q.blockM = bm;
    q.blockN = bn;
    s2::Pattern p;
    s2::Schedule s;
    ASSERT_TRUE(presets::build("s2", q, p, s));
    Built b;
    build(b, p, s, cfg);
    ASSERT_TRUE(mlir::succeeded(b.info)) << b.diag;
    int dec = 0, inc = 0, inits = 0, expectTx = 0;
    b.module->walk([&](mlir::Operation *op) {
      if (auto r = mlir::dyn_cast<mlir::NVVM::SetMaxRegisterOp>(op)) {
        bool down = r.getAction() == mlir::NVVM::SetMaxRegisterAction::decrease;
        (down ? dec : inc)++;
        EXPECT_EQ(int64_t(r.getRegCount()), down ? prod : cons);
      }
      if (mlir::isa<mlir::NVVM::MBarrierInitOp>(op))
        ++inits;
      if (mlir::isa<mlir::NVVM::MBarrierArriveExpectTxOp>(op))
        ++expectTx;
    });
    EXPECT_EQ(dec, 1);
    EXPECT_EQ(inc, 1);
    // Full and empty barriers of K and V for each stage.
    EXPECT_EQ(inits, 4 * ring);
    b.module->walk([&](mlir::gpu::GPUFuncOp f) {
      EXPECT_EQ(f.getKnownBlockSizeAttr()[0], int32_t(bm * 2 + 128));
      auto bound = f->getAttrOfType<mlir::IntegerAttr>("nvvm.minctasm");
      ASSERT_TRUE(bound);
      EXPECT_EQ(bound.getInt(), ctas);
      // No CTA barrier after the roles split: the only ones are the
      // prologue's (the Q tile and the zeroed V tiles).
      int barriers = 0;
      f.walk([&](mlir::gpu::BarrierOp) { ++barriers; });
      EXPECT_EQ(barriers, 1);
    });
    EXPECT_GT(expectTx, 0);
    // O staged in the Q tile: a warp's 16 rows of 128 columns in 16-byte
    // chunks, 8 a lane.
    EXPECT_EQ(countChunkStores(*b.module), 8);
    // The producer's TMA loads: per loop, K and V, D/64 boxes each, for
    // each tile of a step.
    int loops = countWgmma(*b.module).s / 8;
    EXPECT_EQ(countWgmma(*b.module).tmaLoads, loops * 2 * 2 * int(kt));
  }
  // Kernels that are not warp specialised store O from the fragments.
  presets::Params q;
  s2::Pattern p;
  s2::Schedule s;
  ASSERT_TRUE(presets::build("s2", q, p, s));
  Built b;
  build(b, p, s, config(64, s2::DType::BF16));
  ASSERT_TRUE(mlir::succeeded(b.info)) << b.diag;
  EXPECT_EQ(countChunkStores(*b.module), 0);
}

TEST(HopperKernel, KeyTilePairs) {
  // The s2 preset at 128 x 64 (64-token blocks), head dim 128: the
  // builder's choice is two key tiles a step, one 128-key buffer.
  presets::Params q;
  q.blockM = 128;
  s2::Pattern p;
  s2::Schedule s;
  ASSERT_TRUE(presets::build("s2", q, p, s));
  KernelConfig cfg = config(128, s2::DType::BF16, 128, 64);
  Built b;
  build(b, p, s, cfg);
  ASSERT_TRUE(mlir::succeeded(b.info)) << b.diag;
  EXPECT_TRUE(mlir::succeeded(mlir::verify(*b.module)));
  EXPECT_EQ(b.info->name, "s2_fwd_sm90a_wgmma_bf16_d128_m128n64x2");
  EXPECT_EQ(b.info->config.blockN, 64);
  EXPECT_EQ(b.info->config.keyTiles, 2);
  KernelConfig wide = config(128, s2::DType::BF16, 128, 128);
  EXPECT_EQ(b.info->sharedBytes, hopperSharedBytes(wide));
  // S = Q K^T on 128 keys (m64n128k16), the key loops step two tiles, and
  // the barrier of a step expects the bytes of its loaded tiles (a value,
  // not a constant).
  int n128 = 0, step2 = 0, runTimeTx = 0;
  b.module->walk([&](mlir::Operation *op) {
    if (auto w = mlir::dyn_cast<mlir::NVVM::WgmmaMmaAsyncOp>(op))
      n128 += w.getShape().getN() == 128;
    if (auto f = mlir::dyn_cast<mlir::scf::ForOp>(op))
      if (auto c = f.getStep().getDefiningOp<mlir::arith::ConstantIndexOp>())
        step2 += c.value() == 2;
    if (auto e = mlir::dyn_cast<mlir::NVVM::MBarrierArriveExpectTxOp>(op))
      runTimeTx += !e.getTxcount().getDefiningOp<mlir::arith::ConstantOp>() &&
                   !e.getTxcount().getDefiningOp<mlir::LLVM::ConstantOp>();
  });
  EXPECT_GT(n128, 0);
  EXPECT_EQ(n128, countWgmma(*b.module).s);
  EXPECT_GE(step2, 3);     // the producer's two loops and the consumers'
  EXPECT_EQ(runTimeTx, 2); // K and V
  mlir::FailureOr<std::string> ptx =
      lowerToPTX(*b.module, KernelConfig::Target::Sm90a);
  ASSERT_TRUE(mlir::succeeded(ptx));
  EXPECT_NE(ptx->find("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16"),
            std::string::npos);
  if (!findPtxas().empty()) {
    std::string error;
    EXPECT_TRUE(mlir::succeeded(
        assembleCubin(*ptx, KernelConfig::Target::Sm90a, error)))
        << error;
  }
  // One tile a step on request: the 128 x 64 kernel of four ring stages.
  cfg.keyTiles = 1;
  Built single;
  build(single, p, s, cfg);
  ASSERT_TRUE(mlir::succeeded(single.info)) << single.diag;
  EXPECT_EQ(single.info->name, "s2_fwd_sm90a_wgmma_bf16_d128_m128n64");
  EXPECT_EQ(hopperRingStages(cfg), 4);
  // Blocks under 64 tokens keep one tile a step (their masks spill on
  // 128-key steps).
  presets::Params small = q;
  small.block = 32;
  s2::Pattern ps;
  s2::Schedule ss;
  ASSERT_TRUE(presets::build("s2", small, ps, ss));
  EXPECT_EQ(hopperKeyTiles(config(128, s2::DType::BF16, 128, 64), ps), 1);
  // Only the warp-specialised 128 x 64 head-dim-128 wgmma kernel pairs.
  EXPECT_EQ(hopperKeyTiles(config(128, s2::DType::BF16, 128, 64), p, false), 1);
  EXPECT_EQ(hopperKeyTiles(config(64, s2::DType::BF16, 128, 64), p), 1);
  EXPECT_EQ(hopperKeyTiles(config(128, s2::DType::BF16), p), 1);
  auto fails = [&](KernelConfig c, const s2::Schedule &sc, bool defer,
                   const char *expected) {
    Built f;
    build(f, p, sc, c, defer);
    EXPECT_TRUE(mlir::failed(f.info));
    EXPECT_NE(f.diag.find(expected), std::string::npos) << f.diag;
  };
  cfg.keyTiles = 2;
  fails(cfg, s, false, "key-tile pairs need the warp-specialised 128x64");
  cfg.keyTiles = 3;
  fails(cfg, s, true, "unsupported key tiles a step 3");
  presets::Params q64;
  s2::Pattern p64;
  s2::Schedule s64;
  ASSERT_TRUE(presets::build("s2", q64, p64, s64));
  KernelConfig c64 = config(128, s2::DType::BF16);
  c64.keyTiles = 2;
  fails(c64, s64, true, "unsupported key tiles a step 2 with 64x64 tiles");
  // mma.sync has no pairs.
  KernelConfig sync = cfg;
  sync.keyTiles = 2;
  Built m;
  test::buildWith(m, [&](mlir::ModuleOp mod) {
    return buildForwardKernel(mod, p, s, sync);
  });
  EXPECT_TRUE(mlir::failed(m.info));
  EXPECT_NE(m.diag.find("key-tile pairs need the sm_90a wgmma kernel"),
            std::string::npos)
      << m.diag;
}

TEST(HopperKernel, PtxAssembles) {
  presets::Params q;
  s2::Pattern p;
  s2::Schedule s;
  ASSERT_TRUE(presets::build("s2", q, p, s));
  for (int64_t d : {64, 128})
    for (bool defer : {true, false}) {
      Built b;
      build(b, p, s, config(d, s2::DType::BF16), defer);
      ASSERT_TRUE(mlir::succeeded(b.info)) << b.diag;
      mlir::FailureOr<std::string> ptx =
          lowerToPTX(*b.module, KernelConfig::Target::Sm90a);
      ASSERT_TRUE(mlir::succeeded(ptx));
      EXPECT_NE(ptx->find(".target sm_90a"), std::string::npos);
      EXPECT_NE(ptx->find("wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16"),
                std::string::npos);
      EXPECT_NE(ptx->find("wgmma.mma_async.sync.aligned.m64n" +
                          std::to_string(d) + "k16.f32.bf16.bf16"),
                std::string::npos);
      EXPECT_NE(ptx->find("fence.proxy.async.shared::cta"), std::string::npos);
      EXPECT_EQ(ptx->find("ldmatrix"), std::string::npos);
      if (findPtxas().empty())
        continue;
      std::string error;
      mlir::FailureOr<std::vector<char>> cubin =
          assembleCubin(*ptx, KernelConfig::Target::Sm90a, error);
      EXPECT_TRUE(mlir::succeeded(cubin)) << error;
    }
}
