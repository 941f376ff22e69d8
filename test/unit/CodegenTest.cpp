//===- CodegenTest.cpp - Tests of the forward kernel builder --------------===//
//
// The hand-made schedules of codegen/tools/Presets.h (used for the first GPU
// checks) visit exactly the key tiles the oracle allows; the kernel builder
// accepts every preset and every schedule s2::buildSchedule produces for a
// set of patterns, and the result verifies; unsupported settings fail with
// a diagnostic naming what is supported; table packing; one lowering to PTX.
// The key window: the span arithmetic clipped to [kv_lo, kv_hi) visits
// exactly the schedule's tiles inside it. The merge kernel: its ABI, and its
// arithmetic (the ops emitMergeMath emits, evaluated on the host) against
// a double-precision log-sum-exp, -inf cases included.
//
//===----------------------------------------------------------------------===//

#include "codegen/CopyKernel.h"
#include "codegen/KernelBuilder.h"
#include "codegen/Lowering.h"
#include "codegen/tools/Presets.h"

#include "KernelBuild.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <set>

using namespace s2c;

namespace {

/// Every visible key tile of (h, t) at tile = block size, from the oracle.
std::set<int64_t> oracleTiles(const s2::Pattern &p, int64_t h, int64_t t,
                              int64_t nk) {
  std::set<int64_t> out;
  for (int64_t j = 0; j < nk; ++j)
    if (s2::blockVisible(p, h, t, j))
      out.insert(j);
  return out;
}

using test::Built;

void build(Built &b, const s2::Pattern &p, const s2::Schedule &s,
           const KernelConfig &cfg) {
  test::buildWith(
      b, [&](mlir::ModuleOp m) { return buildForwardKernel(m, p, s, cfg); });
}

KernelConfig config(int64_t d, s2::DType dt, int64_t bm = 64, int64_t bn = 64) {
  return test::kernelConfig(KernelConfig::Target::Sm80, d, dt, bm, bn);
}

/// The S2 parameters of the span-arithmetic tests: 8 heads over 2 KV
/// heads, stride 8, local window 3, the given block size.
presets::Params spanParams(int64_t block) {
  presets::Params q;
  q.heads = 8;
  q.kvHeads = 2;
  q.stride = 8;
  q.local = 3;
  q.block = block;
  return q;
}

/// spanParams patterns at each block size, causal and bidirectional.
std::vector<s2::Pattern> spanPatterns(std::initializer_list<int64_t> blocks) {
  std::vector<s2::Pattern> pats;
  for (int64_t block : blocks) {
    s2::Pattern p = presets::s2Pattern(spanParams(block));
    pats.push_back(p);
    p.causal = false;
    pats.push_back(p);
  }
  return pats;
}

} // namespace

TEST(CodegenPresets, TilesMatchOracle) {
  presets::Params q;
  q.heads = 8;
  q.kvHeads = 4;
  q.stride = 8;
  q.local = 3;
  for (const char *name : {"causal", "s2", "s2dense", "table"}) {
    s2::Pattern p;
    s2::Schedule s;
    ASSERT_TRUE(presets::build(name, q, p, s)) << name;
    EXPECT_EQ(s2::validatePattern(p), "") << name;
    int64_t nk = 40;
    for (int64_t h = 0; h < p.heads; ++h)
      for (int64_t t = 0; t < nk; ++t) {
        std::vector<int64_t> got = s2::keyTilesOf(s, h, t, nk);
        std::set<int64_t> gotSet(got.begin(), got.end());
        EXPECT_EQ(gotSet.size(), got.size()) << name << " duplicates";
        EXPECT_EQ(gotSet, oracleTiles(p, h, t, nk))
            << name << " head " << h << " tile " << t;
      }
  }
}

TEST(CodegenBuilder, BuildsEveryPreset) {
  for (const char *name : {"causal", "dense", "s2", "s2dense", "table"})
    for (int64_t d : {64, 128})
      for (s2::DType dt : {s2::DType::BF16, s2::DType::F16}) {
        presets::Params q;
        s2::Pattern p;
        s2::Schedule s;
        ASSERT_TRUE(presets::build(name, q, p, s));
        Built b;
        build(b, p, s, config(d, dt));
        ASSERT_TRUE(mlir::succeeded(b.info)) << name << ": " << b.diag;
        EXPECT_TRUE(mlir::succeeded(mlir::verify(*b.module))) << name;
        EXPECT_EQ(b.info->threads, 128);
        EXPECT_EQ(b.info->sharedBytes, (64 + 4 * 64) * d * 2);
        int funcs = 0;
        b.module->walk([&](mlir::gpu::GPUFuncOp f) {
          ++funcs;
          EXPECT_EQ(f.getNumArguments(), 29u); // ABI version 2
          EXPECT_EQ(f.getName(), b.info->name);
          EXPECT_TRUE(f.isKernel());
        });
        EXPECT_EQ(funcs, 1);
      }
}

TEST(CodegenBuilder, BuildsScheduleBuilderOutput) {
  // Patterns through s2::buildSchedule at 64x64 and 128x64 tiles.
  std::vector<s2::Pattern> pats = presets::scheduleBuilderPatterns();
  for (const s2::Pattern &p : pats) {
    ASSERT_EQ(s2::validatePattern(p), "");
    for (int64_t bm : {64, 128}) {
      s2::TileConfig tiles;
      tiles.blockM = bm;
      tiles.blockN = 64;
      tiles.maxSeqLen = 4096;
      s2::Schedule s;
      std::string err;
      ASSERT_TRUE(s2::buildSchedule(p, tiles, s, err)) << err;
      Built b;
      build(b, p, s, config(128, s2::DType::BF16, bm, 64));
      ASSERT_TRUE(mlir::succeeded(b.info)) << b.diag;
      EXPECT_TRUE(mlir::succeeded(mlir::verify(*b.module)));
      EXPECT_EQ(b.info->threads, bm * 2);
    }
  }
}

TEST(CodegenBuilder, SpanArithmeticMatchesSchedule) {
  // The kernel's span arithmetic (folded on constants) visits exactly the
  // key tiles s2::keyTilesOf lists, in the same order, for closed-form
  // schedules from s2::buildSchedule: windows, progressions with runs
  // (blocks smaller than tiles), several phases (query-range scopes), GQA
  // residues, bidirectional patterns.
  std::vector<s2::Pattern> pats = spanPatterns({16, 32, 64, 128});
  {
    s2::Pattern p = presets::s2Pattern(spanParams(32));
    p.rules[0].qEnd = 6; // window only for the first query blocks
    s2::Rule sink = presets::ruleForAll(p, s2::RuleKind::Sink);
    sink.n = 2;
    sink.qBegin = 4;
    p.rules.push_back(sink);
    pats.push_back(p);
  }
  int checked = 0;
  for (const s2::Pattern &p : pats) {
    ASSERT_EQ(s2::validatePattern(p), "");
    for (int64_t bm : {64, 128}) {
      s2::TileConfig tiles;
      tiles.blockM = bm;
      tiles.blockN = 64;
      s2::Schedule s;
      std::string err;
      ASSERT_TRUE(s2::buildSchedule(p, tiles, s, err)) << err;
      KernelConfig cfg = config(64, s2::DType::BF16, bm, 64);
      int64_t nk = 24;
      for (int64_t h = 0; h < p.heads; ++h)
        for (int64_t t = 0; t * bm < nk * 64; ++t) {
          mlir::FailureOr<std::vector<int64_t>> got =
              foldKeyTiles(p, s, cfg, h, t, nk);
          if (mlir::failed(got))
            continue; // table spans
          EXPECT_EQ(*got, s2::keyTilesOf(s, h, t, nk))
              << p.name << " block " << p.block << " causal " << p.causal
              << " BM " << bm << " head " << h << " tile " << t;
          ++checked;
        }
    }
  }
  EXPECT_GT(checked, 1000);
}

TEST(CodegenBuilder, UnsupportedSettingsFail) {
  presets::Params q;
  s2::Pattern p;
  s2::Schedule s;
  ASSERT_TRUE(presets::build("causal", q, p, s));
  {
    Built b;
    build(b, p, s, config(96, s2::DType::BF16));
    EXPECT_TRUE(mlir::failed(b.info));
    EXPECT_NE(b.diag.find("supports 64 and 128"), std::string::npos) << b.diag;
  }
  {
    Built b;
    build(b, p, s, config(64, s2::DType::Any));
    EXPECT_TRUE(mlir::failed(b.info));
    EXPECT_NE(b.diag.find("supports bf16 and f16"), std::string::npos);
  }
  {
    Built b;
    build(b, p, s, config(64, s2::DType::BF16, 128, 64));
    EXPECT_TRUE(mlir::failed(b.info));
    EXPECT_NE(b.diag.find("do not match kernel tiles"), std::string::npos);
  }
  {
    // Long explicit block lists: fine in full spans, rejected where the
    // kernel would have to compare them per element.
    s2::Pattern g = p;
    s2::Rule glob = presets::ruleForAll(g, s2::RuleKind::Global);
    for (int64_t x = 0; x < 65; ++x)
      glob.set.push_back(x);
    g.rules.push_back(glob);
    Built full;
    build(full, g, s, config(64, s2::DType::BF16));
    EXPECT_TRUE(mlir::succeeded(full.info)) << full.diag;
    s2::Schedule masked = s;
    masked.groups[0].phases[0].spans[0].masked = true;
    Built b;
    build(b, g, masked, config(64, s2::DType::BF16));
    EXPECT_TRUE(mlir::failed(b.info));
    EXPECT_NE(b.diag.find("at most 64 explicit blocks"), std::string::npos)
        << b.diag;
  }
  {
    // Two kernels of the same configuration in one module.
    Built b;
    build(b, p, s, config(64, s2::DType::BF16));
    ASSERT_TRUE(mlir::succeeded(b.info));
    mlir::ScopedDiagnosticHandler h(
        &b.ctx, [](mlir::Diagnostic &) { return mlir::success(); });
    EXPECT_TRUE(mlir::failed(
        buildForwardKernel(*b.module, p, s, config(64, s2::DType::BF16))));
  }
}

TEST(CodegenBuilder, PackTables) {
  s2::Schedule s;
  EXPECT_TRUE(packScheduleTables(s).empty());
  s2::TileTable a, b;
  a.rowPtr = {0, 1, 3};
  a.cols = {0, 0, 1};
  b.rowPtr = {0, 0};
  s.tables = {a, b};
  std::vector<int32_t> want = {0, 1, 3, 0, 0, 1, 0, 0, 0};
  EXPECT_EQ(packScheduleTables(s), want);
}

TEST(CodegenLowering, PtxForBothTargets) {
  presets::Params q;
  s2::Pattern p;
  s2::Schedule s;
  ASSERT_TRUE(presets::build("s2", q, p, s));
  for (auto target :
       {KernelConfig::Target::Sm80, KernelConfig::Target::Sm90a}) {
    Built b;
    KernelConfig cfg = config(64, s2::DType::BF16);
    cfg.target = target;
    build(b, p, s, cfg);
    ASSERT_TRUE(mlir::succeeded(b.info));
    mlir::FailureOr<std::string> ptx = lowerToPTX(*b.module, target);
    ASSERT_TRUE(mlir::succeeded(ptx));
    EXPECT_NE(ptx->find(".entry " + b.info->name), std::string::npos);
    EXPECT_NE(ptx->find(target == KernelConfig::Target::Sm90a
                            ? ".target sm_90a"
                            : ".target sm_80"),
              std::string::npos);
    EXPECT_NE(ptx->find("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"),
              std::string::npos);
    EXPECT_EQ(ptx->find("__nv_"), std::string::npos);
    if (!findPtxas().empty()) {
      std::string err;
      auto cubin = assembleCubin(*ptx, target, err);
      EXPECT_TRUE(mlir::succeeded(cubin)) << err;
    }
  }
}

TEST(CodegenBuilder, SpanArithmeticClipsToWindow) {
  // Closed-form spans clipped to a key window of tiles [lo, hi) (kv_lo =
  // 64 lo, kv_hi = 64 hi): exactly the schedule's tiles inside the window,
  // in the same order. Windows that cut progressions with runs (block 16,
  // 32), the local window, empty and whole windows.
  std::vector<s2::Pattern> pats = spanPatterns({16, 32, 64});
  int checked = 0, clipped = 0;
  for (const s2::Pattern &p : pats) {
    s2::TileConfig tiles;
    tiles.blockM = 64;
    tiles.blockN = 64;
    s2::Schedule s;
    std::string err;
    ASSERT_TRUE(s2::buildSchedule(p, tiles, s, err)) << err;
    KernelConfig cfg = config(64, s2::DType::BF16, 64, 64);
    int64_t nk = 24;
    for (auto [lo, hi] : std::vector<std::pair<int64_t, int64_t>>{
             {0, 24}, {0, 7}, {5, 24}, {3, 11}, {9, 10}, {12, 12}, {20, 30}})
      for (int64_t h = 0; h < p.heads; h += 3)
        for (int64_t t = 0; t < nk; ++t) {
          mlir::FailureOr<std::vector<int64_t>> got =
              foldKeyTiles(p, s, cfg, h, t, nk, lo, hi);
          if (mlir::failed(got))
            continue;
          std::vector<int64_t> want;
          for (int64_t k : s2::keyTilesOf(s, h, t, nk))
            if (k >= lo && k < hi)
              want.push_back(k);
          EXPECT_EQ(*got, want)
              << "block " << p.block << " causal " << p.causal << " window ["
              << lo << ", " << hi << ") head " << h << " tile " << t;
          clipped += int(want.size() != s2::keyTilesOf(s, h, t, nk).size());
          ++checked;
        }
  }
  EXPECT_GT(checked, 1000);
  EXPECT_GT(clipped, 100);
}

TEST(CodegenMerge, BuildsEveryConfiguration) {
  for (int64_t d : {64, 128})
    for (s2::DType dt : {s2::DType::BF16, s2::DType::F16}) {
      Built b;
      b.module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&b.ctx));
      KernelConfig cfg = config(d, dt);
      b.info = buildMergeKernel(*b.module, cfg);
      ASSERT_TRUE(mlir::succeeded(b.info));
      EXPECT_TRUE(mlir::succeeded(mlir::verify(*b.module)));
      EXPECT_EQ(b.info->kind, s2::KernelKind::Merge);
      EXPECT_EQ(b.info->name, std::string("s2_merge_") +
                                  (dt == s2::DType::F16 ? "f16" : "bf16") +
                                  "_d" + std::to_string(d));
      EXPECT_EQ(b.info->threads, 128);
      EXPECT_EQ(b.info->config.blockM, 128 / (d / 8)); // rows per CTA
      EXPECT_EQ(b.info->config.blockN, 0);
      EXPECT_EQ(b.info->sharedBytes, 0);
      // A second request (another schedule of the same dtype and head dim)
      // reuses the kernel, next to a forward kernel in the same module.
      presets::Params q;
      s2::Pattern p;
      s2::Schedule s;
      ASSERT_TRUE(presets::build("causal", q, p, s));
      ASSERT_TRUE(mlir::succeeded(buildForwardKernel(*b.module, p, s, cfg)));
      ASSERT_TRUE(mlir::succeeded(buildMergeKernel(*b.module, cfg)));
      int merges = 0, forwards = 0;
      b.module->walk([&](mlir::gpu::GPUFuncOp f) {
        EXPECT_TRUE(f.isKernel());
        if (f.getName() == b.info->name) {
          ++merges;
          EXPECT_EQ(f.getNumArguments(), 15u);
        } else {
          ++forwards;
          EXPECT_EQ(f.getNumArguments(), 29u);
        }
      });
      EXPECT_EQ(merges, 1);
      EXPECT_EQ(forwards, 1);
    }
  Built b;
  mlir::ScopedDiagnosticHandler handler(&b.ctx, [&](mlir::Diagnostic &d) {
    b.diag += d.str();
    return mlir::success();
  });
  b.module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&b.ctx));
  EXPECT_TRUE(
      mlir::failed(buildMergeKernel(*b.module, config(96, s2::DType::BF16))));
  EXPECT_NE(b.diag.find("merge kernel supports 64 and 128"), std::string::npos)
      << b.diag;
}

namespace {

/// Evaluates, on the host, the scalar ops emitMergeMath emits for one row
/// (lse, lse_in, o, o_in as f32 values): arith constants, float arithmetic
/// and compares, i1 logic, selects, and the three LLVM intrinsics the GPU
/// code calls (ex2 / lg2 as exp2 / log2 in float).
struct MergeEval {
  bool keep;
  float o, lse;
};

MergeEval evalMergeMath(float lse, float lseIn, float o, float oIn) {
  mlir::MLIRContext ctx;
  ctx.loadDialect<mlir::arith::ArithDialect, mlir::func::FuncDialect,
                  mlir::LLVM::LLVMDialect>();
  mlir::OpBuilder b(&ctx);
  mlir::Location loc = b.getUnknownLoc();
  mlir::OwningOpRef<mlir::ModuleOp> m = mlir::ModuleOp::create(loc);
  b.setInsertionPointToEnd(m->getBody());
  mlir::Type f32 = b.getF32Type();
  auto fn = mlir::func::FuncOp::create(
      b, loc, "merge", b.getFunctionType({f32, f32, f32, f32}, {}));
  mlir::Block *body = fn.addEntryBlock();
  b.setInsertionPointToEnd(body);
  MergeMath mm =
      emitMergeMath(b, loc, body->getArgument(0), body->getArgument(1),
                    body->getArgument(2), body->getArgument(3));
  llvm::DenseMap<mlir::Value, float> fv;
  llvm::DenseMap<mlir::Value, bool> bv;
  fv[body->getArgument(0)] = lse;
  fv[body->getArgument(1)] = lseIn;
  fv[body->getArgument(2)] = o;
  fv[body->getArgument(3)] = oIn;
  for (mlir::Operation &op : *body) {
    if (auto c = mlir::dyn_cast<mlir::arith::ConstantOp>(op)) {
      if (auto fa = mlir::dyn_cast<mlir::FloatAttr>(c.getValue()))
        fv[c] = float(fa.getValueAsDouble());
      else
        bv[c] = mlir::cast<mlir::IntegerAttr>(c.getValue()).getInt() != 0;
    } else if (auto x = mlir::dyn_cast<mlir::arith::SubFOp>(op)) {
      fv[x] = fv[x.getLhs()] - fv[x.getRhs()];
    } else if (auto x = mlir::dyn_cast<mlir::arith::AddFOp>(op)) {
      fv[x] = fv[x.getLhs()] + fv[x.getRhs()];
    } else if (auto x = mlir::dyn_cast<mlir::arith::MulFOp>(op)) {
      fv[x] = fv[x.getLhs()] * fv[x.getRhs()];
    } else if (auto x = mlir::dyn_cast<mlir::arith::DivFOp>(op)) {
      fv[x] = fv[x.getLhs()] / fv[x.getRhs()];
    } else if (auto x = mlir::dyn_cast<mlir::arith::CmpFOp>(op)) {
      float l = fv[x.getLhs()], r = fv[x.getRhs()];
      switch (x.getPredicate()) {
      case mlir::arith::CmpFPredicate::OEQ:
        bv[x] = l == r;
        break;
      case mlir::arith::CmpFPredicate::UNE:
        bv[x] = !(l == r);
        break;
      default:
        ADD_FAILURE() << "unexpected predicate in the merge arithmetic";
      }
    } else if (auto x = mlir::dyn_cast<mlir::arith::XOrIOp>(op)) {
      bv[x] = bv[x.getLhs()] != bv[x.getRhs()];
    } else if (auto x = mlir::dyn_cast<mlir::arith::AndIOp>(op)) {
      bv[x] = bv[x.getLhs()] && bv[x.getRhs()];
    } else if (auto x = mlir::dyn_cast<mlir::arith::SelectOp>(op)) {
      fv[x] =
          bv[x.getCondition()] ? fv[x.getTrueValue()] : fv[x.getFalseValue()];
    } else if (auto x = mlir::dyn_cast<mlir::LLVM::CallIntrinsicOp>(op)) {
      llvm::StringRef name = x.getIntrin();
      std::vector<float> a;
      for (mlir::Value v : x.getArgs())
        a.push_back(fv[v]);
      if (name == "llvm.maxnum.f32")
        fv[x.getResult(0)] = std::fmax(a[0], a[1]);
      else if (name == "llvm.nvvm.ex2.approx.ftz.f")
        fv[x.getResult(0)] = std::exp2(a[0]);
      else if (name == "llvm.nvvm.lg2.approx.f")
        fv[x.getResult(0)] = std::log2(a[0]);
      else
        ADD_FAILURE() << "unexpected intrinsic " << name.str();
    } else {
      ADD_FAILURE() << "unexpected op " << op.getName().getStringRef().str();
    }
  }
  return {bv[mm.keep], fv[mm.o], fv[mm.lse]};
}

} // namespace

TEST(CodegenMerge, ArithmeticOnHost) {
  const float ninf = -std::numeric_limits<float>::infinity();
  // Both finite: against log-sum-exp and the weighted mean in double.
  for (auto [a, bb, o, oi] : std::vector<std::array<double, 4>>{
           {0.0, 0.0, 1.0, 3.0},
           {2.5, -1.25, -0.5, 4.0},
           {-7.0, 3.0, 2.0, -2.0},
           {80.0, -80.0, 1.0, 1e4}, // one side vanishes without overflow
           {1e3, 1e3 + 0.5, 0.25, -0.75}}) {
    MergeEval r = evalMergeMath(float(a), float(bb), float(o), float(oi));
    double mx = std::max(a, bb);
    double ea = std::exp(a - mx), eb = std::exp(bb - mx);
    double lse = mx + std::log(ea + eb);
    double out = (o * ea + oi * eb) / (ea + eb);
    EXPECT_FALSE(r.keep);
    EXPECT_NEAR(r.lse, lse, 1e-5 * std::max(1.0, std::fabs(lse)))
        << a << " " << bb;
    EXPECT_NEAR(r.o, out, 1e-5 * std::max(1.0, std::fabs(out)))
        << a << " " << bb;
  }
  // lse_in = -inf: the row is kept as it is (the kernel skips it) and the
  // selects give the same values exactly.
  MergeEval keep = evalMergeMath(1.5f, ninf, 0.75f, 123.0f);
  EXPECT_TRUE(keep.keep);
  EXPECT_EQ(keep.lse, 1.5f);
  EXPECT_EQ(keep.o, 0.75f);
  // lse = -inf: the partial result replaces it exactly.
  MergeEval repl = evalMergeMath(ninf, -2.0f, 5.0f, 0.3125f);
  EXPECT_FALSE(repl.keep);
  EXPECT_EQ(repl.lse, -2.0f);
  EXPECT_EQ(repl.o, 0.3125f);
  // Both -inf: o = 0, lse = -inf, no NaN (also from garbage o).
  MergeEval none = evalMergeMath(ninf, ninf, std::nanf(""), 7.0f);
  EXPECT_FALSE(none.keep);
  EXPECT_EQ(none.lse, ninf);
  EXPECT_EQ(none.o, 0.0f);
}

TEST(CodegenCopy, BuildsAndLowersForBothTargets) {
  for (auto target :
       {KernelConfig::Target::Sm80, KernelConfig::Target::Sm90a}) {
    Built b;
    b.module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&b.ctx));
    b.info = buildCopyKernel(*b.module, target);
    ASSERT_TRUE(mlir::succeeded(b.info));
    EXPECT_TRUE(mlir::succeeded(mlir::verify(*b.module)));
    EXPECT_EQ(b.info->kind, s2::KernelKind::Copy);
    EXPECT_EQ(b.info->name, "s2_copy");
    EXPECT_EQ(b.info->config.target, target);
    EXPECT_EQ(b.info->config.headDim, 0);
    EXPECT_EQ(b.info->config.blockM, 1); // segments per CTA
    EXPECT_EQ(b.info->config.blockN, 0);
    EXPECT_EQ(b.info->threads, kCopyKernelThreads);
    EXPECT_EQ(b.info->sharedBytes, 0);
    // Once per module, beside a merge kernel.
    ASSERT_TRUE(mlir::succeeded(
        buildMergeKernel(*b.module, config(128, s2::DType::BF16))));
    ASSERT_TRUE(mlir::succeeded(buildCopyKernel(*b.module, target)));
    int copies = 0, others = 0;
    b.module->walk([&](mlir::gpu::GPUFuncOp f) {
      EXPECT_TRUE(f.isKernel());
      if (f.getName() == "s2_copy") {
        ++copies;
        ASSERT_EQ(f.getNumArguments(), 2u);
        EXPECT_TRUE(
            mlir::isa<mlir::LLVM::LLVMPointerType>(f.getArgument(0).getType()));
        EXPECT_TRUE(f.getArgument(1).getType().isInteger(64));
      } else {
        ++others;
      }
    });
    EXPECT_EQ(copies, 1);
    EXPECT_EQ(others, 1);
    mlir::FailureOr<std::string> ptx = lowerToPTX(*b.module, target);
    ASSERT_TRUE(mlir::succeeded(ptx));
    EXPECT_NE(ptx->find(".entry s2_copy("), std::string::npos);
    EXPECT_NE(ptx->find("ld.v4."), std::string::npos);
    EXPECT_NE(ptx->find("st.v4."), std::string::npos);
    if (!findPtxas().empty()) {
      std::string err;
      auto cubin = assembleCubin(*ptx, target, err);
      EXPECT_TRUE(mlir::succeeded(cubin)) << err;
    }
  }
}
