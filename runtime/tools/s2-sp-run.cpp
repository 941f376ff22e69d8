//===- s2-sp-run.cpp - Run, check and time sequence-parallel attention ----===//
//
// The GPU check of s2rt_sp.h. Generates random bf16 q, k, v for a whole
// sequence, hands each rank its shard, runs the plan (virtual ranks on one
// device, or one NCCL rank per device driven by one thread each), gathers
// the output and compares it with (1) one s2rt_forward over the whole
// sequence on device 0 (every element) and (2) an fp64 reference computed on
// the host for sampled rows (relative L2 error, the GPU checks' measure).
// Then it times the plan, the dense ring (every key shard sent, no
// balancing) and the single-device launch with CUDA events (virtual) or
// host clocks around barriers (NCCL), median of --repeat runs, and prints a
// table; --json writes everything.
//
//   s2-sp-run BUNDLE --ranks 4 --seq 32768 [--mode virtual|nccl]
//       [--balance auto|none|kv-owner|query-rows] [--batch 1] [--head-dim D]
//       [--check-rows 256] [--repeat 10] [--no-ring] [--json FILE]
//
// Exit status: 0 checks passed, 1 a check failed, 2 bad usage or a runtime
// error.
//
//===----------------------------------------------------------------------===//

#include "s2rt.h"
#include "s2rt_sp.h"

#include "../lib/Driver.h"
#include "s2/Float16.h"
#include "s2/Pattern.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace s2rt_detail;

namespace {

[[noreturn]] void die(const std::string &msg) {
  std::fprintf(stderr, "s2-sp-run: error: %s\n", msg.c_str());
  std::exit(2);
}

void check(s2rt_status s, const char *what) {
  if (s != S2RT_SUCCESS)
    die(std::string(what) + ": " + s2rt_status_name(s) + ": " +
        s2rt_last_error());
}

#define CU(call)                                                               \
  do {                                                                         \
    CUresult r_ = (d->call);                                                   \
    if (r_ != CUDA_SUCCESS)                                                    \
      die(cuMessage(*d, #call, r_));                                           \
  } while (0)

const Driver *d = nullptr;

/// The element type of the run (bf16 or f16).
bool useHalf = false;
uint16_t toElem(float f) {
  return useHalf ? s2::f16FromFloat(f) : s2::bf16FromFloat(f);
}
float fromElem(uint16_t h) {
  return useHalf ? s2::floatFromF16(h) : s2::floatFromBf16(h);
}
s2rt_dtype runDtype() { return useHalf ? S2RT_DTYPE_F16 : S2RT_DTYPE_BF16; }

/// Fast deterministic noise in [-2, 2), in the run's element type.
std::vector<uint16_t> noise(size_t n, uint64_t seed) {
  std::vector<uint16_t> v(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v[i] = toElem(float(int32_t(x >> 32)) * (2.0f / 2147483648.0f));
  }
  return v;
}

struct Options {
  std::string bundle, mode = "virtual", balance = "auto", json;
  int64_t ranks = 2, seq = 8192, batch = 1, headDim = 0, checkRows = 256;
  int repeat = 10, warmup = 2;
  bool ring = true;
  uint64_t seed = 1;
};

s2rt_sp_balance balanceOf(const std::string &s) {
  if (s == "none")
    return S2RT_SP_BALANCE_NONE;
  if (s == "kv-owner")
    return S2RT_SP_BALANCE_KV_OWNER;
  if (s == "query-rows")
    return S2RT_SP_BALANCE_QUERY_ROWS;
  if (s == "auto")
    return S2RT_SP_BALANCE_AUTO;
  die("unknown balance '" + s +
      "', expected none, kv-owner, query-rows or "
      "auto");
}

/// Whole-sequence tensors on the host.
struct Host {
  int64_t B, S, H, Hk, D;
  std::vector<uint16_t> q, k, v;
};

class Barrier {
public:
  explicit Barrier(int n) : n(n) {}
  void wait() {
    std::unique_lock<std::mutex> l(m);
    int gen = generation;
    if (++count == n) {
      count = 0;
      ++generation;
      cv.notify_all();
    } else {
      cv.wait(l, [&] { return gen != generation; });
    }
  }

private:
  std::mutex m;
  std::condition_variable cv;
  int n, count = 0, generation = 0;
};

/// Device copies of rank r's shard, and its output on the host afterwards.
struct Shard {
  int64_t begin = 0, len = 0;
  CUdeviceptr q = 0, k = 0, v = 0, o = 0, lse = 0;
  std::vector<uint16_t> out;
  std::vector<float> outLse;
};

CUdeviceptr alloc(size_t bytes) {
  CUdeviceptr p = 0;
  CU(cuMemAlloc(&p, std::max<size_t>(bytes, 16)));
  return p;
}

void upload(const Host &h, Shard &s) {
  size_t rq = size_t(h.H * h.D) * 2, rk = size_t(h.Hk * h.D) * 2;
  s.q = alloc(size_t(h.B * s.len) * rq);
  s.k = alloc(size_t(h.B * s.len) * rk);
  s.v = alloc(size_t(h.B * s.len) * rk);
  s.o = alloc(size_t(h.B * s.len) * rq);
  s.lse = alloc(size_t(h.B * h.H * s.len) * 4);
  for (int64_t b = 0; b < h.B; ++b) {
    size_t src = size_t(b * h.S + s.begin);
    size_t dst = size_t(b * s.len);
    if (s.len == 0)
      continue;
    CU(cuMemcpyHtoD(s.q + dst * rq, h.q.data() + src * h.H * h.D,
                    size_t(s.len) * rq));
    CU(cuMemcpyHtoD(s.k + dst * rk, h.k.data() + src * h.Hk * h.D,
                    size_t(s.len) * rk));
    CU(cuMemcpyHtoD(s.v + dst * rk, h.v.data() + src * h.Hk * h.D,
                    size_t(s.len) * rk));
  }
}

void download(const Host &h, Shard &s) {
  s.out.resize(size_t(h.B * s.len * h.H * h.D));
  s.outLse.resize(size_t(h.B * h.H * s.len));
  if (s.len == 0)
    return;
  CU(cuMemcpyDtoH(s.out.data(), s.o, s.out.size() * 2));
  CU(cuMemcpyDtoH(s.outLse.data(), s.lse, s.outLse.size() * 4));
}

void release(Shard &s) {
  for (CUdeviceptr p : {s.q, s.k, s.v, s.o, s.lse})
    if (p)
      d->cuMemFree(p);
  s.q = s.k = s.v = s.o = s.lse = 0;
}

s2rt_sp_tensors tensorsOf(const Shard &s) {
  s2rt_sp_tensors t;
  t.q = reinterpret_cast<const void *>(uintptr_t(s.q));
  t.k = reinterpret_cast<const void *>(uintptr_t(s.k));
  t.v = reinterpret_cast<const void *>(uintptr_t(s.v));
  t.out = reinterpret_cast<void *>(uintptr_t(s.o));
  t.lse = reinterpret_cast<float *>(uintptr_t(s.lse));
  return t;
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// One whole-sequence launch on device 0: output, lse and its median time.
struct Single {
  std::vector<uint16_t> out;
  std::vector<float> lse;
  double ms = 0;
};

Single runSingle(s2rt_bundle *bundle, const Host &h, const Options &o) {
  Single r;
  Shard s;
  s.len = h.S;
  upload(h, s);
  s2rt_forward_args a;
  s2rt_forward_args_init(&a);
  a.q = reinterpret_cast<const void *>(uintptr_t(s.q));
  a.k = reinterpret_cast<const void *>(uintptr_t(s.k));
  a.v = reinterpret_cast<const void *>(uintptr_t(s.v));
  a.out = reinterpret_cast<void *>(uintptr_t(s.o));
  a.lse = reinterpret_cast<float *>(uintptr_t(s.lse));
  a.batch = h.B;
  a.seqlen_q = a.seqlen_k = h.S;
  a.heads = h.H;
  a.head_dim = h.D;
  a.dtype = runDtype();
  int64_t qs[3] = {h.S * h.H * h.D, h.H * h.D, h.D};
  int64_t ks[3] = {h.S * h.Hk * h.D, h.Hk * h.D, h.D};
  for (int i = 0; i < 3; ++i) {
    a.q_stride[i] = a.o_stride[i] = qs[i];
    a.k_stride[i] = a.v_stride[i] = ks[i];
  }
  a.lse_stride[0] = h.H * h.S;
  a.lse_stride[1] = h.S;
  a.device = 0;
  CUstream st;
  CU(cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
  CUevent e0, e1;
  CU(cuEventCreate(&e0, CU_EVENT_DEFAULT));
  CU(cuEventCreate(&e1, CU_EVENT_DEFAULT));
  check(s2rt_forward(bundle, &a, st), "s2rt_forward");
  CU(cuStreamSynchronize(st));
  download(h, s);
  r.out = s.out;
  r.lse = s.outLse;
  std::vector<double> t;
  for (int i = 0; i < o.warmup + o.repeat; ++i) {
    CU(cuEventRecord(e0, st));
    check(s2rt_forward(bundle, &a, st), "s2rt_forward");
    CU(cuEventRecord(e1, st));
    CU(cuEventSynchronize(e1));
    float ms;
    CU(cuEventElapsedTime(&ms, e0, e1));
    if (i >= o.warmup)
      t.push_back(ms);
  }
  r.ms = median(t);
  CU(cuEventDestroy(e0));
  CU(cuEventDestroy(e1));
  CU(cuStreamDestroy(st));
  release(s);
  return r;
}

/// A plan's run: outputs gathered per rank, times, stats.
struct SpRun {
  std::vector<Shard> shards;
  double ms = 0;
  s2rt_sp_stats stats{};
};

SpRun runSp(s2rt_bundle *bundle, const Host &h, const Options &o,
            s2rt_sp_balance balance, bool wholeShards) {
  s2rt_sp_config c;
  s2rt_sp_config_init(&c);
  c.seqlen = h.S;
  c.ranks = o.ranks;
  c.batch = h.B;
  c.head_dim = h.D;
  c.dtype = runDtype();
  c.balance = balance;
  c.whole_shards = wholeShards;
  s2rt_sp *sp;
  check(s2rt_sp_create(bundle, &c, &sp), "s2rt_sp_create");
  SpRun run;
  check(s2rt_sp_get_stats(sp, &run.stats), "s2rt_sp_get_stats");
  int64_t P = o.ranks;
  run.shards.resize(size_t(P));
  for (int64_t r = 0; r < P; ++r)
    check(s2rt_sp_shard(sp, r, &run.shards[size_t(r)].begin,
                        &run.shards[size_t(r)].len),
          "s2rt_sp_shard");
  std::vector<double> times;
  if (o.mode == "virtual") {
    check(setCurrentDevice(*d, 0), "set device");
    std::vector<s2rt_sp_tensors> ts;
    for (Shard &s : run.shards) {
      upload(h, s);
      ts.push_back(tensorsOf(s));
    }
    CUstream st;
    CU(cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
    CUevent e0, e1;
    CU(cuEventCreate(&e0, CU_EVENT_DEFAULT));
    CU(cuEventCreate(&e1, CU_EVENT_DEFAULT));
    check(s2rt_sp_forward_virtual(sp, ts.data(), 0, st), "forward_virtual");
    CU(cuStreamSynchronize(st));
    for (Shard &s : run.shards)
      download(h, s);
    for (int i = 0; i < o.warmup + o.repeat; ++i) {
      CU(cuEventRecord(e0, st));
      check(s2rt_sp_forward_virtual(sp, ts.data(), 0, st), "forward_virtual");
      CU(cuEventRecord(e1, st));
      CU(cuEventSynchronize(e1));
      float ms;
      CU(cuEventElapsedTime(&ms, e0, e1));
      if (i >= o.warmup)
        times.push_back(ms);
    }
    CU(cuEventDestroy(e0));
    CU(cuEventDestroy(e1));
    CU(cuStreamDestroy(st));
    for (Shard &s : run.shards)
      release(s);
  } else {
    std::vector<int> devs;
    for (int64_t r = 0; r < P; ++r)
      devs.push_back(int(r));
    std::vector<void *> comms(static_cast<size_t>(P));
    check(s2rt_sp_nccl_init_all(int(P), devs.data(), comms.data()),
          "s2rt_sp_nccl_init_all");
    Barrier bar(static_cast<int>(P));
    std::vector<std::thread> th;
    for (int64_t r = 0; r < P; ++r)
      th.emplace_back([&, r] {
        check(setCurrentDevice(*d, int(r)), "set device");
        Shard &s = run.shards[size_t(r)];
        upload(h, s);
        s2rt_sp_tensors t = tensorsOf(s);
        CUstream st;
        CU(cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
        auto once = [&] {
          s2rt_status x =
              s2rt_sp_forward_nccl(sp, r, comms[size_t(r)], &t, int(r), st);
          if (x != S2RT_SUCCESS)
            die("rank " + std::to_string(r) + ": " + s2rt_last_error());
          CU(cuStreamSynchronize(st));
        };
        bar.wait();
        once();
        bar.wait();
        download(h, s);
        for (int i = 0; i < o.warmup + o.repeat; ++i) {
          bar.wait();
          auto t0 = std::chrono::steady_clock::now();
          once();
          bar.wait();
          auto t1 = std::chrono::steady_clock::now();
          if (r == 0 && i >= o.warmup)
            times.push_back(
                std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
        CU(cuStreamDestroy(st));
        release(s);
      });
    for (std::thread &t : th)
      t.join();
    for (void *c : comms)
      s2rt_sp_nccl_destroy(c);
  }
  run.ms = median(times);
  s2rt_sp_destroy(sp);
  return run;
}

struct Compare {
  double maxAbs = 0, rel = 0, maxLse = 0;
  bool lseInfMismatch = false;
};

/// Every element of the gathered output against the single launch.
Compare compareAll(const Host &h, const SpRun &run, const Single &s) {
  Compare c;
  double d2 = 0, r2 = 0;
  for (const Shard &sh : run.shards)
    for (int64_t b = 0; b < h.B; ++b)
      for (int64_t i = 0; i < sh.len; ++i)
        for (int64_t hh = 0; hh < h.H; ++hh) {
          float l0 = s.lse[size_t((b * h.H + hh) * h.S + sh.begin + i)];
          float l1 = sh.outLse[size_t((b * h.H + hh) * sh.len + i)];
          if (std::isinf(l0) || std::isinf(l1))
            c.lseInfMismatch |= l0 != l1;
          else
            c.maxLse = std::max(c.maxLse, double(std::fabs(l0 - l1)));
          for (int64_t e = 0; e < h.D; ++e) {
            double x = fromElem(
                s.out[size_t(((b * h.S + sh.begin + i) * h.H + hh) * h.D + e)]);
            double y = fromElem(
                sh.out[size_t(((b * sh.len + i) * h.H + hh) * h.D + e)]);
            c.maxAbs = std::max(c.maxAbs, std::fabs(x - y));
            d2 += (x - y) * (x - y);
            r2 += x * x;
          }
        }
  c.rel = r2 > 0 ? std::sqrt(d2 / r2) : std::sqrt(d2);
  return c;
}

/// fp64 reference for sampled rows; relative L2 error of `get`'s output.
struct Fp64 {
  double relSp = 0, relSingle = 0, maxLseSp = 0;
  int64_t rows = 0;
};

Fp64 checkFp64(const s2::Pattern &p, const Host &h, const SpRun &run,
               const Single &s, int64_t nrows, uint64_t seed) {
  Fp64 f;
  std::mt19937_64 rng(seed);
  double d2sp = 0, d2s = 0, r2 = 0;
  double scale = 1.0 / std::sqrt(double(h.D));
  int64_t G = h.H / h.Hk;
  std::vector<double> acc(size_t(h.D)), sc;
  for (int64_t n = 0; n < nrows; ++n) {
    int64_t b = int64_t(rng() % uint64_t(h.B));
    int64_t hh = int64_t(rng() % uint64_t(h.H));
    int64_t pos = int64_t(rng() % uint64_t(h.S));
    if (n == 0)
      pos = h.S - 1; // the heaviest row
    int64_t g = hh / G;
    const uint16_t *q = &h.q[size_t(((b * h.S + pos) * h.H + hh) * h.D)];
    double mx = -std::numeric_limits<double>::infinity();
    sc.assign(size_t(h.S), -std::numeric_limits<double>::infinity());
    for (int64_t kp = 0; kp < h.S; ++kp) {
      if (!s2::tokenVisible(p, hh, pos, kp))
        continue;
      const uint16_t *k = &h.k[size_t(((b * h.S + kp) * h.Hk + g) * h.D)];
      double dot = 0;
      for (int64_t e = 0; e < h.D; ++e)
        dot += double(fromElem(q[e])) * fromElem(k[e]);
      sc[size_t(kp)] = dot * scale;
      mx = std::max(mx, sc[size_t(kp)]);
    }
    std::fill(acc.begin(), acc.end(), 0.0);
    double sum = 0;
    if (!std::isinf(mx))
      for (int64_t kp = 0; kp < h.S; ++kp) {
        if (std::isinf(sc[size_t(kp)]))
          continue;
        double w = std::exp(sc[size_t(kp)] - mx);
        sum += w;
        const uint16_t *v = &h.v[size_t(((b * h.S + kp) * h.Hk + g) * h.D)];
        for (int64_t e = 0; e < h.D; ++e)
          acc[size_t(e)] += w * fromElem(v[e]);
      }
    double lse =
        sum > 0 ? mx + std::log(sum) : -std::numeric_limits<double>::infinity();
    // Which rank holds the row.
    const Shard *sh = nullptr;
    for (const Shard &x : run.shards)
      if (pos >= x.begin && pos < x.begin + x.len)
        sh = &x;
    int64_t i = pos - sh->begin;
    for (int64_t e = 0; e < h.D; ++e) {
      double ref = sum > 0 ? acc[size_t(e)] / sum : 0.0;
      double ysp =
          fromElem(sh->out[size_t(((b * sh->len + i) * h.H + hh) * h.D + e)]);
      double ys =
          fromElem(s.out[size_t(((b * h.S + pos) * h.H + hh) * h.D + e)]);
      d2sp += (ysp - ref) * (ysp - ref);
      d2s += (ys - ref) * (ys - ref);
      r2 += ref * ref;
    }
    double l = sh->outLse[size_t((b * h.H + hh) * sh->len + i)];
    if (std::isinf(lse) || std::isinf(l))
      f.maxLseSp = std::max(f.maxLseSp, lse == l ? 0.0 : 1e30);
    else
      f.maxLseSp = std::max(f.maxLseSp, std::fabs(l - lse));
    ++f.rows;
  }
  f.relSp = r2 > 0 ? std::sqrt(d2sp / r2) : std::sqrt(d2sp);
  f.relSingle = r2 > 0 ? std::sqrt(d2s / r2) : std::sqrt(d2s);
  return f;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc)
        die("option '" + a + "' needs a value");
      return argv[++i];
    };
    auto num = [&]() -> int64_t {
      std::string v = val();
      char *end = nullptr;
      long long x = std::strtoll(v.c_str(), &end, 10);
      if (!end || *end || x < 0)
        die("option '" + a + "' expects a non-negative integer, got '" + v +
            "'");
      return x;
    };
    if (a == "--ranks")
      o.ranks = num();
    else if (a == "--seq")
      o.seq = num();
    else if (a == "--batch")
      o.batch = num();
    else if (a == "--head-dim")
      o.headDim = num();
    else if (a == "--check-rows")
      o.checkRows = num();
    else if (a == "--repeat")
      o.repeat = int(num());
    else if (a == "--warmup")
      o.warmup = int(num());
    else if (a == "--seed")
      o.seed = uint64_t(num());
    else if (a == "--mode")
      o.mode = val();
    else if (a == "--balance")
      o.balance = val();
    else if (a == "--json")
      o.json = val();
    else if (a == "--no-ring")
      o.ring = false;
    else if (!a.empty() && a[0] == '-')
      die("unknown option '" + a + "'");
    else
      o.bundle = a;
  }
  if (o.bundle.empty())
    die("usage: s2-sp-run BUNDLE --ranks P --seq S [--mode virtual|nccl] "
        "[--balance B] [--batch N] [--head-dim D] [--check-rows N] "
        "[--repeat N] [--no-ring] [--json FILE]");
  if (o.mode != "virtual" && o.mode != "nccl")
    die("unknown mode '" + o.mode + "', expected virtual or nccl");
  if (o.seq < 1 || o.batch < 1 || o.repeat < 1)
    die("--seq, --batch and --repeat must be positive");
  s2rt_sp_balance balance = balanceOf(o.balance);
  check(loadDriver(d), "load the CUDA driver");
  int count = 0;
  check(s2rt_device_count(&count), "device count");
  if (o.mode == "nccl" && count < o.ranks)
    die("--mode nccl needs one device per rank: " + std::to_string(o.ranks) +
        " ranks, " + std::to_string(count) + " devices");
  s2rt_bundle *bundle;
  check(s2rt_bundle_load_file(o.bundle.c_str(), &bundle), "load bundle");
  s2::Pattern pat;
  std::string err;
  if (!s2::deserializePattern(s2rt_bundle_pattern_text(bundle), pat, err))
    die("bundle pattern: " + err);
  // The first forward kernel's dtype (bf16 preferred) and head dim, unless
  // given.
  bool anyBf16 = false;
  int firstDim = 0;
  for (int i = 0; i < s2rt_bundle_num_kernels(bundle); ++i) {
    s2rt_kernel_info ki;
    check(s2rt_bundle_kernel_info(bundle, i, &ki), "kernel info");
    if (ki.kind != S2RT_KERNEL_FORWARD)
      continue;
    if (ki.dtype == S2RT_DTYPE_BF16 && !anyBf16) {
      anyBf16 = true;
      firstDim = ki.head_dim;
    } else if (!firstDim) {
      firstDim = ki.head_dim;
    }
  }
  useHalf = !anyBf16;
  if (o.headDim == 0)
    o.headDim = firstDim;
  if (o.headDim == 0)
    die("the bundle has no forward kernel");
  Host h{o.batch, o.seq, pat.heads, pat.kvHeads, o.headDim, {}, {}, {}};
  h.q = noise(size_t(h.B * h.S * h.H * h.D), o.seed * 3 + 0);
  h.k = noise(size_t(h.B * h.S * h.Hk * h.D), o.seed * 3 + 1);
  h.v = noise(size_t(h.B * h.S * h.Hk * h.D), o.seed * 3 + 2);
  check(setCurrentDevice(*d, 0), "set device 0");

  Single single = runSingle(bundle, h, o);
  SpRun plan = runSp(bundle, h, o, balance, false);
  Compare cmp = compareAll(h, plan, single);
  Fp64 f64 = checkFp64(pat, h, plan, single, o.checkRows, o.seed + 7);
  SpRun ring;
  Compare cmpRing;
  if (o.ring) {
    ring = runSp(bundle, h, o, S2RT_SP_BALANCE_NONE, true);
    cmpRing = compareAll(h, ring, single);
  }
  const double tolRel = 1e-2, tolLse = 1e-2;
  bool pass = f64.relSp < tolRel && f64.maxLseSp < tolLse && cmp.rel < tolRel &&
              !cmp.lseInfMismatch && cmp.maxLse < tolLse &&
              (!o.ring || (cmpRing.rel < tolRel && !cmpRing.lseInfMismatch &&
                           cmpRing.maxLse < tolLse));

  std::printf("pattern %s  %s  heads %lld/%lld  d%lld  batch %lld  seq %lld  "
              "ranks %lld  mode %s  balance %s\n",
              pat.name.c_str(), useHalf ? "f16" : "bf16", (long long)h.H,
              (long long)h.Hk, (long long)h.D, (long long)h.B, (long long)h.S,
              (long long)o.ranks, o.mode.c_str(), o.balance.c_str());
  std::printf("check vs fp64 (%lld rows): rel L2 %.2e (single device %.2e), "
              "max |dlse| %.2e\n",
              (long long)f64.rows, f64.relSp, f64.relSingle, f64.maxLseSp);
  std::printf("check vs single device (all rows): rel L2 %.2e, max |d| "
              "%.2e, max |dlse| %.2e%s\n",
              cmp.rel, cmp.maxAbs, cmp.maxLse,
              cmp.lseInfMismatch ? ", -inf MISMATCH" : "");
  if (o.ring)
    std::printf("check ring vs single device: rel L2 %.2e, max |dlse| "
                "%.2e%s\n",
                cmpRing.rel, cmpRing.maxLse,
                cmpRing.lseInfMismatch ? ", -inf MISMATCH" : "");
  std::printf("%-22s %10s %7s %9s %12s %10s\n", "run", "ms", "steps",
              "messages", "MB sent", "launches");
  std::printf("%-22s %10.3f %7s %9s %12s %10s\n", "single device", single.ms,
              "-", "-", "-", "1");
  auto row = [](const char *name, const SpRun &r) {
    std::printf("%-22s %10.3f %7lld %9lld %12.1f %10lld\n", name, r.ms,
                (long long)r.stats.steps, (long long)r.stats.messages,
                double(r.stats.bytes) / 1e6, (long long)r.stats.launches);
  };
  row("plan", plan);
  if (o.ring)
    row("ring (all keys)", ring);
  std::printf("%s\n", pass ? "PASS" : "FAIL");

  if (!o.json.empty()) {
    FILE *fj = std::fopen(o.json.c_str(), "w");
    if (!fj)
      die("cannot write '" + o.json + "'");
    auto stats = [&](const SpRun &r) {
      return "{\"ms\": " + std::to_string(r.ms) +
             ", \"steps\": " + std::to_string(r.stats.steps) +
             ", \"messages\": " + std::to_string(r.stats.messages) +
             ", \"bytes\": " + std::to_string(r.stats.bytes) +
             ", \"launches\": " + std::to_string(r.stats.launches) +
             ", \"max_scratch_bytes\": " +
             std::to_string(r.stats.max_scratch_bytes) +
             ", \"max_work\": " + std::to_string(r.stats.max_work) +
             ", \"mean_work\": " + std::to_string(r.stats.mean_work) + "}";
    };
    std::fprintf(
        fj,
        "{\"pattern\": \"%s\", \"heads\": %lld, \"kv_heads\": %lld, "
        "\"head_dim\": %lld, \"batch\": %lld, \"seq\": %lld, \"ranks\": %lld, "
        "\"mode\": \"%s\", \"balance\": \"%s\", \"repeat\": %d,\n"
        " \"fp64\": {\"rows\": %lld, \"rel_sp\": %.4e, \"rel_single\": %.4e, "
        "\"max_lse\": %.4e},\n"
        " \"vs_single\": {\"rel\": %.4e, \"max_abs\": %.4e, \"max_lse\": "
        "%.4e, \"lse_inf_mismatch\": %s},\n"
        " \"single_ms\": %f,\n \"plan\": %s,\n \"ring\": %s,\n"
        " \"ring_vs_single_rel\": %.4e,\n \"pass\": %s}\n",
        pat.name.c_str(), (long long)h.H, (long long)h.Hk, (long long)h.D,
        (long long)h.B, (long long)h.S, (long long)o.ranks, o.mode.c_str(),
        o.balance.c_str(), o.repeat, (long long)f64.rows, f64.relSp,
        f64.relSingle, f64.maxLseSp, cmp.rel, cmp.maxAbs, cmp.maxLse,
        cmp.lseInfMismatch ? "true" : "false", single.ms, stats(plan).c_str(),
        o.ring ? stats(ring).c_str() : "null", cmpRing.rel,
        pass ? "true" : "false");
    std::fclose(fj);
  }
  s2rt_bundle_destroy(bundle);
  return pass ? 0 : 1;
}
