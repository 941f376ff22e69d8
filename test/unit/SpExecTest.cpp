//===- SpExecTest.cpp - Sequence-parallel programs run on the host --------===//
//
// Runs programs of s2/SpExec.h on a host device whose attention launch
// follows the kernel ABI's semantics (query rows at an absolute position,
// keys restricted to a window, the pattern by the oracle, bf16 outputs) and
// whose merge is the merge kernel's formula. Every rank's output must equal
// one attention over the whole sequence, for S2, dense and random patterns,
// every balancing, GQA, batches, and ragged shards; dropping one message
// must break it (the comparison can fail).
//
//===----------------------------------------------------------------------===//

#include "s2/SpExec.h"
#include "TestPatterns.h"
#include "s2/Float16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>

using namespace s2;

namespace {

float bf16At(const char *base, int64_t elem) {
  uint16_t h;
  std::memcpy(&h, base + 2 * elem, 2);
  return floatFromBf16(h);
}

void putBf16(char *base, int64_t elem, float f) {
  uint16_t h = bf16FromFloat(f);
  std::memcpy(base + 2 * elem, &h, 2);
}

/// Attention of docs/bundle.md's forward kernel, on the host.
void hostAttention(const Pattern &p, const SpAttention &a, const char *q,
                   const char *k, const char *v, char *o, float *lse,
                   int64_t D) {
  double scale = 1.0 / std::sqrt(double(D));
  int64_t G = p.heads / p.kvHeads;
  std::vector<double> s, acc(static_cast<size_t>(D));
  for (int64_t b = 0; b < a.batch; ++b)
    for (int64_t h = 0; h < a.heads; ++h)
      for (int64_t i = 0; i < a.seqQ; ++i) {
        int64_t pos = a.queryPos + i, g = h / G;
        const char *qr =
            q + 2 * (b * a.qStride[0] + i * a.qStride[1] + h * a.qStride[2]);
        s.clear();
        std::vector<int64_t> keys;
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t kp = a.keyBegin; kp < std::min(a.keyEnd, a.seqK); ++kp) {
          if (!tokenVisible(p, h, pos, kp))
            continue;
          const char *kr =
              k + 2 * (b * a.kStride[0] + kp * a.kStride[1] + g * a.kStride[2]);
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += double(bf16At(qr, d)) * bf16At(kr, d);
          s.push_back(dot * scale);
          keys.push_back(kp);
          mx = std::max(mx, s.back());
        }
        char *orow =
            o + 2 * (b * a.oStride[0] + i * a.oStride[1] + h * a.oStride[2]);
        float *l = lse + b * a.lseStride[0] + h * a.lseStride[1] + i;
        std::fill(acc.begin(), acc.end(), 0.0);
        double sum = 0;
        for (size_t x = 0; x < keys.size(); ++x) {
          double w = std::exp(s[x] - mx);
          sum += w;
          const char *vr = v + 2 * (b * a.vStride[0] + keys[x] * a.vStride[1] +
                                    g * a.vStride[2]);
          for (int64_t d = 0; d < D; ++d)
            acc[size_t(d)] += w * bf16At(vr, d);
        }
        for (int64_t d = 0; d < D; ++d)
          putBf16(orow, d, keys.empty() ? 0.0f : float(acc[size_t(d)] / sum));
        *l = keys.empty() ? -std::numeric_limits<float>::infinity()
                          : float(mx + std::log(sum));
      }
}

/// Every rank's memory in one process; transfers are memcpy.
class HostDevice : public SpDevice {
public:
  HostDevice(const Pattern &p, const SpProgram &prog) : pat(p), prog(prog) {
    int64_t P = int64_t(prog.ranks.size());
    const SpShape &sh = prog.shape;
    mem.resize(size_t(P));
    for (int64_t r = 0; r < P; ++r) {
      int64_t L = prog.shardLen[size_t(r)];
      auto &m = mem[size_t(r)];
      m.push_back(bytes(sh.batch * L * p.heads * sh.headDim * 2));
      m.push_back(bytes(sh.batch * L * p.kvHeads * sh.headDim * 2));
      m.push_back(bytes(sh.batch * L * p.kvHeads * sh.headDim * 2));
      m.push_back(bytes(sh.batch * L * p.heads * sh.headDim * 2));
      m.push_back(bytes(sh.batch * p.heads * L * 4));
      for (int64_t b : prog.ranks[size_t(r)].scratchBytes)
        m.push_back(bytes(b, char(0x5a))); // garbage, never read unwritten
    }
  }
  static std::vector<char> bytes(int64_t n, char fillWith = char(0x7f)) {
    return std::vector<char>(size_t(n), fillWith);
  }
  char *buffer(int64_t rank, int32_t id) override {
    return mem[size_t(rank)][size_t(id)].data();
  }
  bool fill(int64_t, void *o, int64_t n, float *lse, int64_t count) override {
    std::memset(o, 0, size_t(n));
    for (int64_t i = 0; i < count; ++i)
      lse[i] = -std::numeric_limits<float>::infinity();
    return true;
  }
  bool copy(int64_t, char *dst, int64_t dp, const char *src, int64_t sp,
            int64_t w, int64_t h) override {
    for (int64_t y = 0; y < h; ++y)
      std::memcpy(dst + y * dp, src + y * sp, size_t(w));
    ++copies;
    return true;
  }
  bool attention(int64_t, const SpAttention &a, const char *q, const char *k,
                 const char *v, char *o, float *lse) override {
    hostAttention(pat, a, q, k, v, o, lse, prog.shape.headDim);
    ++launches;
    return true;
  }
  bool merge(int64_t, const SpMerge &m, char *o, float *lse, const char *in,
             const float *inLse) override {
    float ninf = -std::numeric_limits<float>::infinity();
    for (int64_t b = 0; b < m.batch; ++b)
      for (int64_t h = 0; h < m.heads; ++h)
        for (int64_t i = 0; i < m.rows; ++i) {
          float &l0 = lse[b * m.lseStride[0] + h * m.lseStride[1] + i];
          float l1 = inLse[b * m.inLseStride[0] + h * m.inLseStride[1] + i];
          float mx = std::max(l0, l1);
          if (mx == ninf)
            continue;
          float L = mx + std::log(std::exp(l0 - mx) + std::exp(l1 - mx));
          float w0 = std::exp(l0 - L), w1 = std::exp(l1 - L);
          int64_t oo = b * m.oStride[0] + i * m.oStride[1] + h * m.oStride[2];
          int64_t io =
              b * m.inStride[0] + i * m.inStride[1] + h * m.inStride[2];
          for (int64_t d = 0; d < prog.shape.headDim; ++d)
            putBf16(o, oo + d,
                    bf16At(o, oo + d) * w0 + bf16At(in, io + d) * w1);
          l0 = L;
        }
    ++merges;
    return true;
  }
  bool markPacked(int64_t, int64_t) override { return true; }
  bool waitPhase(int64_t, int64_t) override { return true; }
  bool exchange(int64_t, const std::vector<Transfer> &ts) override {
    for (const Transfer &t : ts) {
      if (t.message == dropped)
        continue;
      std::memcpy(t.receive, t.send, size_t(t.message->bytes));
      bytesMoved += t.message->bytes;
    }
    return true;
  }

  const Pattern &pat;
  const SpProgram &prog;
  std::vector<std::vector<std::vector<char>>> mem;
  const SpMessage *dropped = nullptr;
  int64_t copies = 0, launches = 0, merges = 0, bytesMoved = 0;
};

struct Result {
  float maxOut = 0, maxLse = 0;
  std::string error;
  /// Messages by SpTransferKind, and merges run.
  int64_t messages[3] = {0, 0, 0};
  int64_t merges = 0;
};

/// Runs `pattern` over P ranks and compares with one whole-sequence launch.
Result runAndCompare(const Pattern &pattern, int64_t S, int64_t P,
                     SpBalance balance, int64_t batch, int64_t D,
                     bool wholeShards, uint64_t seed, bool dropOne = false,
                     int64_t *messagesOut = nullptr) {
  Result res;
  SpConfig cfg;
  cfg.seqLen = S;
  cfg.ranks = P;
  cfg.tiles.blockM = 16;
  cfg.tiles.blockN = 16;
  cfg.headDim = D;
  cfg.balance = balance;
  SpPlan plan;
  if (!planSequenceParallel(pattern, cfg, plan, res.error))
    return res;
  SpShape shape;
  shape.batch = batch;
  shape.headDim = D;
  SpProgram prog;
  if (!buildSpProgram(plan, shape, wholeShards, prog, res.error))
    return res;
  HostDevice dev(pattern, prog);
  for (const auto &ph : prog.messages)
    for (const SpMessage &m : ph)
      ++res.messages[int(m.kind)];
  if (messagesOut) {
    *messagesOut = 0;
    for (const auto &ph : prog.messages)
      *messagesOut += int64_t(ph.size());
  }
  if (dropOne) {
    const SpMessage *best = nullptr;
    for (const auto &ph : prog.messages)
      for (const SpMessage &m : ph)
        if (!best || m.bytes > best->bytes)
          best = &m;
    dev.dropped = best;
  }
  // Whole-sequence tensors, then each rank's shard.
  int64_t H = pattern.heads, Hk = pattern.kvHeads;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  auto make = [&](int64_t heads) {
    std::vector<char> t(size_t(batch * S * heads * D * 2));
    for (int64_t e = 0; e < batch * S * heads * D; ++e)
      putBf16(t.data(), e, uni(rng) * 2.0f);
    return t;
  };
  std::vector<char> q = make(H), k = make(Hk), v = make(Hk);
  for (int64_t r = 0; r < P; ++r) {
    int64_t s0 = plan.shardBegin[size_t(r)], L = prog.shardLen[size_t(r)];
    for (int64_t b = 0; b < batch; ++b) {
      std::memcpy(dev.buffer(r, kSpQ) + b * L * H * D * 2,
                  q.data() + (b * S + s0) * H * D * 2, size_t(L * H * D * 2));
      std::memcpy(dev.buffer(r, kSpK) + b * L * Hk * D * 2,
                  k.data() + (b * S + s0) * Hk * D * 2, size_t(L * Hk * D * 2));
      std::memcpy(dev.buffer(r, kSpV) + b * L * Hk * D * 2,
                  v.data() + (b * S + s0) * Hk * D * 2, size_t(L * Hk * D * 2));
    }
  }
  std::string err;
  if (!runSpProgram(
          prog,
          [&] {
            std::vector<int64_t> all;
            for (int64_t r = 0; r < P; ++r)
              all.push_back(r);
            return all;
          }(),
          dev, err)) {
    res.error = err;
    return res;
  }
  res.merges = dev.merges;
  // The reference: one launch over everything.
  std::vector<char> o(q.size());
  std::vector<float> lse(size_t(batch * H * S));
  SpAttention a;
  a.q = a.k = a.v = a.o = a.lse = {0, 0};
  int64_t qs[3] = {S * H * D, H * D, D}, ks[3] = {S * Hk * D, Hk * D, D};
  std::copy(qs, qs + 3, a.qStride);
  std::copy(ks, ks + 3, a.kStride);
  std::copy(ks, ks + 3, a.vStride);
  std::copy(qs, qs + 3, a.oStride);
  a.lseStride[0] = H * S;
  a.lseStride[1] = S;
  a.seqQ = a.seqK = a.keyEnd = S;
  a.batch = batch;
  a.heads = H;
  hostAttention(pattern, a, q.data(), k.data(), v.data(), o.data(), lse.data(),
                D);
  for (int64_t r = 0; r < P; ++r) {
    int64_t s0 = plan.shardBegin[size_t(r)], L = prog.shardLen[size_t(r)];
    const char *ro = dev.buffer(r, kSpO);
    const float *rl = reinterpret_cast<const float *>(dev.buffer(r, kSpLse));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < L; ++i)
        for (int64_t h = 0; h < H; ++h) {
          float l0 = lse[size_t((b * H + h) * S + s0 + i)];
          float l1 = rl[(b * H + h) * L + i];
          if (std::isinf(l0) || std::isinf(l1)) {
            if (l0 != l1)
              res.maxLse = std::numeric_limits<float>::infinity();
          } else {
            res.maxLse = std::max(res.maxLse, std::fabs(l0 - l1));
          }
          for (int64_t d = 0; d < D; ++d) {
            float x = bf16At(o.data(), ((b * S + s0 + i) * H + h) * D + d);
            float y = bf16At(ro, ((b * L + i) * H + h) * D + d);
            res.maxOut = std::max(res.maxOut, std::fabs(x - y));
          }
        }
  }
  return res;
}

constexpr float kOutTol = 0.03f; // bf16 partials merged a few times
constexpr float kLseTol = 1e-3f;

TEST(SpExec, S2AndDenseEveryBalancing) {
  Pattern s2p = s2test::s2Pattern(4, 16, true, 3, 4);
  Pattern dense;
  dense.name = "dense";
  dense.heads = dense.kvHeads = 2;
  dense.block = 16;
  dense.causal = true;
  dense.rules = {s2test::makeRule(dense, RuleKind::Dense)};
  for (const Pattern *p : {&s2p, &dense})
    for (int64_t P : {2, 3, 4})
      for (SpBalance b : {SpBalance::None, SpBalance::KvOwner,
                          SpBalance::QueryRows, SpBalance::Auto}) {
        Result r = runAndCompare(*p, 400, P, b, 1, 16, false, 7);
        EXPECT_EQ(r.error, "");
        // Keys travel; balanced plans move queries, outputs and merges.
        EXPECT_GT(r.messages[int(SpTransferKind::KeyValue)], 0);
        if (b != SpBalance::None && P > 2) {
          EXPECT_GT(r.messages[int(SpTransferKind::Query)], 0);
          EXPECT_GT(r.messages[int(SpTransferKind::Output)], 0);
        }
        EXPECT_GT(r.merges, 0);
        EXPECT_LE(r.maxOut, kOutTol)
            << p->name << " P=" << P << " " << spBalanceName(b);
        EXPECT_LE(r.maxLse, kLseTol)
            << p->name << " P=" << P << " " << spBalanceName(b);
      }
}

TEST(SpExec, WholeShardsBatchesAndGqa) {
  Pattern p = s2test::s2Pattern(4, 16, true, 2, 3);
  p.kvHeads = 2;
  for (bool whole : {false, true}) {
    Result r = runAndCompare(p, 333, 3, SpBalance::KvOwner, 2, 8, whole, 11);
    EXPECT_EQ(r.error, "");
    EXPECT_LE(r.maxOut, kOutTol) << whole;
    EXPECT_LE(r.maxLse, kLseTol) << whole;
  }
}

TEST(SpExec, RandomPatterns) {
  std::mt19937_64 rng(3);
  s2test::RandomPatternOptions o;
  o.maxHeads = 4;
  o.maxBlockLog2 = 1;
  o.maxTokens = 300;
  o.gqaPairs = true;
  int ran = 0;
  for (int it = 0; it < 40; ++it) {
    Pattern p = s2test::randomPattern(rng, o);
    int64_t S = std::uniform_int_distribution<int64_t>(40, 300)(rng);
    int64_t P = std::uniform_int_distribution<int64_t>(2, 5)(rng);
    SpBalance b = SpBalance(std::uniform_int_distribution<int>(0, 3)(rng));
    Result r = runAndCompare(p, S, P, b, 1, 8, false, uint64_t(it));
    if (!r.error.empty()) {
      // Only the planner may refuse (e.g. no schedule for these tiles).
      EXPECT_EQ(r.error.find("malformed"), std::string::npos) << r.error;
      continue;
    }
    ++ran;
    EXPECT_LE(r.maxOut, kOutTol) << "pattern " << it << " S=" << S << " P=" << P
                                 << " " << spBalanceName(b);
    EXPECT_LE(r.maxLse, kLseTol) << "pattern " << it;
  }
  EXPECT_GE(ran, 30);
}

TEST(SpExec, DroppedMessageIsDetected) {
  Pattern p = s2test::s2Pattern(4, 16, true, 3, 4);
  int64_t messages = 0;
  Result good = runAndCompare(p, 400, 4, SpBalance::KvOwner, 1, 16, false, 5,
                              false, &messages);
  ASSERT_EQ(good.error, "");
  ASSERT_GT(messages, 0);
  EXPECT_LE(good.maxOut, kOutTol);
  Result bad =
      runAndCompare(p, 400, 4, SpBalance::KvOwner, 1, 16, false, 5, true);
  ASSERT_EQ(bad.error, "");
  EXPECT_GT(std::max(bad.maxOut, bad.maxLse), kOutTol);
}

TEST(SpExec, RejectsBadShapes) {
  Pattern p = s2test::s2Pattern(2, 16, true, 2, 2);
  SpConfig cfg;
  cfg.seqLen = 100;
  cfg.ranks = 2;
  cfg.tiles.blockM = cfg.tiles.blockN = 16;
  SpPlan plan;
  std::string err;
  ASSERT_TRUE(planSequenceParallel(p, cfg, plan, err)) << err;
  SpProgram prog;
  SpShape sh;
  sh.headDim = 12;
  EXPECT_FALSE(buildSpProgram(plan, sh, false, prog, err));
  EXPECT_NE(err.find("head dim"), std::string::npos);
  sh.headDim = 16;
  ASSERT_TRUE(buildSpProgram(plan, sh, false, prog, err)) << err;
  HostDevice dev2(p, prog);
  EXPECT_FALSE(runSpProgram(prog, {0, 7}, dev2, err));
  EXPECT_NE(err.find("out of range"), std::string::npos);
}

} // namespace
