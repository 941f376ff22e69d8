//===- RuntimeTest.cpp - Every s2rt status path that needs no GPU ---------===//
//
// Loads good and bad bundles through the C API, checks the metadata
// queries and kernel selection per architecture, drives s2rt_forward_check
// and s2rt_forward through every argument error, and points S2RT_LIBCUDA at
// a missing file so the "no driver" path is the real one on every machine.
// Device pointers are fake (aligned) addresses: no check dereferences them.
//
//===----------------------------------------------------------------------===//

#include "s2/Bundle.h"
#include "s2rt.h"
#include "s2rt.hpp"

#include "FakeCuda.h"

#include <cuda.h>
#include <dlfcn.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

s2::Pattern gqaPattern() {
  s2::Pattern p;
  p.name = "gqa_local";
  p.heads = 8;
  p.kvHeads = 2;
  p.block = 64;
  p.causal = true;
  s2::Rule r;
  r.kind = s2::RuleKind::Local;
  r.heads.assign(8, 1);
  r.n = 2;
  p.rules.push_back(r);
  return p;
}

s2::BundleKernel kernel(const char *name, const char *target, s2::DType dt,
                        int hd, bool ptx, bool cubin) {
  s2::BundleKernel k;
  k.name = name;
  k.target = target;
  k.dtype = dt;
  k.headDim = hd;
  k.blockM = 128;
  k.blockN = 64;
  k.threads = 256;
  k.sharedBytes = 49152 + 16384;
  if (ptx)
    k.ptx = std::string(".version 8.0\n.target ") + target + "\n";
  if (cubin)
    k.cubin = "\x7f"
              "ELF-fake";
  return k;
}

s2::Bundle sample(int64_t maxSeqLen = 0) {
  s2::Bundle b;
  s2::setBundlePattern(b, gqaPattern());
  b.blockM = 128;
  b.blockN = 64;
  b.maxSeqLen = maxSeqLen;
  b.settings = {{"compiler", "test"}};
  b.kernels.push_back(
      kernel("fwd_bf16_128_sm80", "sm_80", s2::DType::BF16, 128, true, true));
  b.kernels.push_back(kernel("fwd_bf16_128_sm90a", "sm_90a", s2::DType::BF16,
                             128, false, true));
  b.kernels.push_back(
      kernel("fwd_f16_64_sm80", "sm_80", s2::DType::F16, 64, true, false));
  return b;
}

struct Loaded {
  s2rt_bundle *b = nullptr;
  explicit Loaded(const s2::Bundle &bundle) {
    std::string file = s2::writeBundle(bundle);
    EXPECT_EQ(s2rt_bundle_load_memory(file.data(), file.size(), &b),
              S2RT_SUCCESS)
        << s2rt_last_error();
  }
  ~Loaded() { s2rt_bundle_destroy(b); }
};

/// Valid arguments for the sample bundle: (B, S, H, D) bf16, d128.
s2rt_forward_args goodArgs() {
  s2rt_forward_args a;
  s2rt_forward_args_init(&a);
  a.q = reinterpret_cast<const void *>(uintptr_t(0x100000));
  a.k = reinterpret_cast<const void *>(uintptr_t(0x200000));
  a.v = reinterpret_cast<const void *>(uintptr_t(0x300000));
  a.out = reinterpret_cast<void *>(uintptr_t(0x400000));
  a.batch = 2;
  a.seqlen_q = 1000;
  a.seqlen_k = 1000;
  a.heads = 8;
  a.head_offset = 0;
  a.head_dim = 128;
  a.dtype = S2RT_DTYPE_BF16;
  int64_t d = 128;
  int64_t qs[3] = {1000 * 8 * d, 8 * d, d};
  int64_t ks[3] = {1000 * 2 * d, 2 * d, d};
  for (int i = 0; i < 3; ++i) {
    a.q_stride[i] = qs[i];
    a.o_stride[i] = qs[i];
    a.k_stride[i] = ks[i];
    a.v_stride[i] = ks[i];
  }
  return a;
}

/// Runs the host checks and returns the status; the message goes to `msg`.
s2rt_status check(const s2rt_bundle *b, const s2rt_forward_args &a,
                  std::string &msg, int arch = 0) {
  s2rt_status s = s2rt_forward_check(b, &a, arch);
  msg = s2rt_last_error();
  return s;
}

#define EXPECT_STATUS(call, status, needle)                                    \
  do {                                                                         \
    std::string msg_;                                                          \
    s2rt_status s_ = (call);                                                   \
    msg_ = s2rt_last_error();                                                  \
    EXPECT_EQ(s_, status) << s2rt_status_name(s_) << ": " << msg_;             \
    EXPECT_NE(msg_.find(needle), std::string::npos) << msg_;                   \
  } while (0)

TEST(Runtime, StatusNames) {
  EXPECT_STREQ(s2rt_status_name(S2RT_SUCCESS), "S2RT_SUCCESS");
  EXPECT_STREQ(s2rt_status_name(S2RT_ERROR_NO_DRIVER), "S2RT_ERROR_NO_DRIVER");
  EXPECT_STREQ(s2rt_status_name(s2rt_status(99)), "S2RT_ERROR_UNKNOWN");
}

TEST(Runtime, LoadAndQuery) {
  Loaded l(sample(4096));
  ASSERT_NE(l.b, nullptr);
  EXPECT_STREQ(s2rt_bundle_pattern_name(l.b), "gqa_local");
  EXPECT_EQ(s2rt_bundle_heads(l.b), 8);
  EXPECT_EQ(s2rt_bundle_kv_heads(l.b), 2);
  EXPECT_EQ(s2rt_bundle_block(l.b), 64);
  EXPECT_EQ(s2rt_bundle_causal(l.b), 1);
  EXPECT_EQ(s2rt_bundle_block_m(l.b), 128);
  EXPECT_EQ(s2rt_bundle_block_n(l.b), 64);
  EXPECT_EQ(s2rt_bundle_max_seq_len(l.b), 4096);
  EXPECT_STREQ(s2rt_bundle_setting(l.b, "compiler"), "test");
  EXPECT_EQ(s2rt_bundle_setting(l.b, "nope"), nullptr);
  EXPECT_NE(std::string(s2rt_bundle_pattern_text(l.b)).find("settings 8 2 64"),
            std::string::npos);
  ASSERT_EQ(s2rt_bundle_num_kernels(l.b), 3);
  s2rt_kernel_info k;
  ASSERT_EQ(s2rt_bundle_kernel_info(l.b, 1, &k), S2RT_SUCCESS);
  EXPECT_STREQ(k.name, "fwd_bf16_128_sm90a");
  EXPECT_STREQ(k.target, "sm_90a");
  EXPECT_EQ(k.dtype, S2RT_DTYPE_BF16);
  EXPECT_EQ(k.head_dim, 128);
  EXPECT_EQ(k.threads, 256);
  EXPECT_EQ(k.shared_bytes, 65536);
  EXPECT_EQ(k.abi_version, 1);
  EXPECT_EQ(k.has_ptx, 0);
  EXPECT_EQ(k.has_cubin, 1);
  EXPECT_STATUS(s2rt_bundle_kernel_info(l.b, 3, &k),
                S2RT_ERROR_INVALID_ARGUMENT, "kernel index 3");
  EXPECT_STATUS(s2rt_bundle_kernel_info(l.b, 0, nullptr),
                S2RT_ERROR_INVALID_ARGUMENT, "null");
  EXPECT_EQ(s2rt_bundle_supports(l.b, S2RT_DTYPE_BF16, 128), 1);
  EXPECT_EQ(s2rt_bundle_supports(l.b, S2RT_DTYPE_F16, 64), 1);
  EXPECT_EQ(s2rt_bundle_supports(l.b, S2RT_DTYPE_F16, 128), 0);
  // Null bundles give neutral answers.
  EXPECT_STREQ(s2rt_bundle_pattern_name(nullptr), "");
  EXPECT_EQ(s2rt_bundle_heads(nullptr), 0);
  EXPECT_EQ(s2rt_bundle_num_kernels(nullptr), 0);
  s2rt_bundle_destroy(nullptr);
}

TEST(Runtime, KernelSelectionPerArchitecture) {
  Loaded l(sample());
  int idx = -1, cubin = -1;
  // sm_90: the sm_90a cubin beats sm_80 PTX.
  ASSERT_EQ(
      s2rt_bundle_select_kernel(l.b, 90, S2RT_DTYPE_BF16, 128, &idx, &cubin),
      S2RT_SUCCESS);
  EXPECT_EQ(idx, 1);
  EXPECT_EQ(cubin, 1);
  // sm_80: exact-arch cubin.
  ASSERT_EQ(
      s2rt_bundle_select_kernel(l.b, 80, S2RT_DTYPE_BF16, 128, &idx, &cubin),
      S2RT_SUCCESS);
  EXPECT_EQ(idx, 0);
  EXPECT_EQ(cubin, 1);
  // sm_86 and sm_100: sm_80 PTX through the JIT (sm_90a is arch-specific).
  for (int arch : {86, 100}) {
    ASSERT_EQ(s2rt_bundle_select_kernel(l.b, arch, S2RT_DTYPE_BF16, 128, &idx,
                                        &cubin),
              S2RT_SUCCESS);
    EXPECT_EQ(idx, 0);
    EXPECT_EQ(cubin, 0);
  }
  // sm_75 runs nothing.
  EXPECT_STATUS(
      s2rt_bundle_select_kernel(l.b, 75, S2RT_DTYPE_BF16, 128, &idx, &cubin),
      S2RT_ERROR_UNSUPPORTED, "runs on sm_75");
  EXPECT_EQ(idx, -1);
  // f16 d64 exists only as sm_80 PTX.
  ASSERT_EQ(
      s2rt_bundle_select_kernel(l.b, 90, S2RT_DTYPE_F16, 64, &idx, &cubin),
      S2RT_SUCCESS);
  EXPECT_EQ(idx, 2);
  EXPECT_EQ(cubin, 0);
}

TEST(Runtime, CorruptTruncatedAndWrongVersionBundles) {
  std::string file = s2::writeBundle(sample());
  s2rt_bundle *b = reinterpret_cast<s2rt_bundle *>(uintptr_t(1));
  EXPECT_STATUS(s2rt_bundle_load_memory(file.data(), file.size() - 1, &b),
                S2RT_ERROR_INVALID_BUNDLE, "");
  EXPECT_EQ(b, nullptr);
  EXPECT_STATUS(s2rt_bundle_load_memory(file.data(), 10, &b),
                S2RT_ERROR_INVALID_BUNDLE, "truncated");
  std::string corrupt = file;
  corrupt[file.size() / 2] ^= 0x5a;
  EXPECT_STATUS(s2rt_bundle_load_memory(corrupt.data(), corrupt.size(), &b),
                S2RT_ERROR_INVALID_BUNDLE, "checksum");
  std::string v2 = file;
  v2[8] = 2;
  EXPECT_STATUS(s2rt_bundle_load_memory(v2.data(), v2.size(), &b),
                S2RT_ERROR_VERSION_MISMATCH, "format version 2");
  s2::Bundle abi = sample();
  abi.kernels[0].abiVersion = 2;
  std::string abiFile = s2::writeBundle(abi);
  EXPECT_STATUS(s2rt_bundle_load_memory(abiFile.data(), abiFile.size(), &b),
                S2RT_ERROR_VERSION_MISMATCH, "ABI version 2");
  EXPECT_STATUS(s2rt_bundle_load_memory(nullptr, 10, &b),
                S2RT_ERROR_INVALID_ARGUMENT, "null");
  EXPECT_STATUS(s2rt_bundle_load_memory(file.data(), file.size(), nullptr),
                S2RT_ERROR_INVALID_ARGUMENT, "null");
}

TEST(Runtime, LoadFile) {
  s2rt_bundle *b = nullptr;
  EXPECT_STATUS(s2rt_bundle_load_file("/nonexistent/x.s2m", &b), S2RT_ERROR_IO,
                "cannot open '/nonexistent/x.s2m'");
  EXPECT_STATUS(s2rt_bundle_load_file(nullptr, &b), S2RT_ERROR_INVALID_ARGUMENT,
                "null path");
  std::string path = ::testing::TempDir() + "/runtime_test.s2m";
  std::string file = s2::writeBundle(sample());
  std::FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(file.data(), 1, file.size(), f);
  std::fclose(f);
  ASSERT_EQ(s2rt_bundle_load_file(path.c_str(), &b), S2RT_SUCCESS)
      << s2rt_last_error();
  EXPECT_EQ(s2rt_bundle_heads(b), 8);
  s2rt_bundle_destroy(b);
  f = std::fopen(path.c_str(), "wb");
  std::fwrite("garbage", 1, 7, f);
  std::fclose(f);
  EXPECT_STATUS(s2rt_bundle_load_file(path.c_str(), &b),
                S2RT_ERROR_INVALID_BUNDLE, path + ": truncated");
  std::remove(path.c_str());
}

TEST(Runtime, ForwardArgumentChecks) {
  Loaded l(sample(8192));
  std::string m;
  s2rt_forward_args a = goodArgs();
  ASSERT_EQ(check(l.b, a, m), S2RT_SUCCESS) << m;
  ASSERT_EQ(check(l.b, a, m, 90), S2RT_SUCCESS) << m;

  EXPECT_STATUS(s2rt_forward_check(nullptr, &a, 0), S2RT_ERROR_INVALID_ARGUMENT,
                "null bundle");
  EXPECT_STATUS(s2rt_forward_check(l.b, nullptr, 0),
                S2RT_ERROR_INVALID_ARGUMENT, "null forward arguments");

  struct Case {
    const char *what;
    void (*mutate)(s2rt_forward_args &);
    s2rt_status status;
    const char *needle;
  };
  const Case cases[] = {
      {"uninitialised", [](s2rt_forward_args &x) { x.struct_size = 8; },
       S2RT_ERROR_INVALID_ARGUMENT, "s2rt_forward_args_init"},
      {"null q", [](s2rt_forward_args &x) { x.q = nullptr; },
       S2RT_ERROR_INVALID_ARGUMENT, "null 'q' pointer"},
      {"null k", [](s2rt_forward_args &x) { x.k = nullptr; },
       S2RT_ERROR_INVALID_ARGUMENT, "null 'k' pointer"},
      {"null v", [](s2rt_forward_args &x) { x.v = nullptr; },
       S2RT_ERROR_INVALID_ARGUMENT, "null 'v' pointer"},
      {"null out", [](s2rt_forward_args &x) { x.out = nullptr; },
       S2RT_ERROR_INVALID_ARGUMENT, "null 'out' pointer"},
      {"misaligned q",
       [](s2rt_forward_args &x) {
         x.q = reinterpret_cast<const void *>(uintptr_t(0x100008));
       },
       S2RT_ERROR_INVALID_ARGUMENT, "'q' pointer is not 16-byte aligned"},
      {"misaligned lse",
       [](s2rt_forward_args &x) {
         x.lse = reinterpret_cast<float *>(uintptr_t(0x500002));
       },
       S2RT_ERROR_INVALID_ARGUMENT, "'lse' pointer is not 4-byte aligned"},
      {"misaligned k stride", [](s2rt_forward_args &x) { x.k_stride[1] = 132; },
       S2RT_ERROR_INVALID_ARGUMENT,
       "seq stride 132 of 'k' is not a multiple of 16 bytes"},
      {"misaligned o batch stride",
       [](s2rt_forward_args &x) { x.o_stride[0] += 4; },
       S2RT_ERROR_INVALID_ARGUMENT, "batch stride"},
      {"negative stride", [](s2rt_forward_args &x) { x.v_stride[2] = -128; },
       S2RT_ERROR_INVALID_ARGUMENT, "negative head stride of 'v'"},
      {"huge stride",
       [](s2rt_forward_args &x) { x.q_stride[0] = int64_t(1) << 62; },
       S2RT_ERROR_INVALID_ARGUMENT, "beyond 2^62"},
      {"negative lse stride",
       [](s2rt_forward_args &x) {
         x.lse = reinterpret_cast<float *>(uintptr_t(0x500000));
         x.lse_stride[0] = -1;
       },
       S2RT_ERROR_INVALID_ARGUMENT, "negative 'lse' stride"},
      {"unknown dtype", [](s2rt_forward_args &x) { x.dtype = s2rt_dtype(7); },
       S2RT_ERROR_INVALID_ARGUMENT, "unknown dtype 7"},
      {"unsupported dtype",
       [](s2rt_forward_args &x) { x.dtype = S2RT_DTYPE_F16; },
       S2RT_ERROR_UNSUPPORTED, "no f16 kernel for head dim 128"},
      {"unsupported head dim", [](s2rt_forward_args &x) { x.head_dim = 96; },
       S2RT_ERROR_UNSUPPORTED, "no bf16 kernel for head dim 96"},
      {"zero head dim", [](s2rt_forward_args &x) { x.head_dim = 0; },
       S2RT_ERROR_INVALID_ARGUMENT, "head dim 0"},
      {"too many heads", [](s2rt_forward_args &x) { x.heads = 9; },
       S2RT_ERROR_INVALID_ARGUMENT, "heads [0, 9) outside the pattern's 8"},
      {"offset past heads",
       [](s2rt_forward_args &x) {
         x.heads = 4;
         x.head_offset = 6;
       },
       S2RT_ERROR_INVALID_ARGUMENT, "heads [6, 10)"},
      {"offset not a group multiple",
       [](s2rt_forward_args &x) {
         x.heads = 2;
         x.head_offset = 1;
       },
       S2RT_ERROR_INVALID_ARGUMENT, "not a multiple of the GQA group size 4"},
      {"zero heads", [](s2rt_forward_args &x) { x.heads = 0; },
       S2RT_ERROR_INVALID_ARGUMENT, "outside the pattern"},
      {"query longer than keys",
       [](s2rt_forward_args &x) { x.seqlen_q = 1001; },
       S2RT_ERROR_INVALID_ARGUMENT,
       "query length 1001 exceeds key length 1000"},
      {"negative length", [](s2rt_forward_args &x) { x.seqlen_q = -1; },
       S2RT_ERROR_INVALID_ARGUMENT, "outside [0, 2^31)"},
      {"beyond the table-backed schedule",
       [](s2rt_forward_args &x) {
         x.seqlen_q = 10000;
         x.seqlen_k = 10000;
       },
       S2RT_ERROR_INVALID_ARGUMENT, "exceeds 8192"},
      {"zero batch", [](s2rt_forward_args &x) { x.batch = 0; },
       S2RT_ERROR_INVALID_ARGUMENT, "batch 0"},
      {"one cu_seqlens",
       [](s2rt_forward_args &x) {
         x.cu_seqlens_q =
             reinterpret_cast<const int32_t *>(uintptr_t(0x600000));
       },
       S2RT_ERROR_INVALID_ARGUMENT, "both 'cu_seqlens_q' and 'cu_seqlens_k'"},
      {"misaligned cu_seqlens",
       [](s2rt_forward_args &x) {
         x.cu_seqlens_q =
             reinterpret_cast<const int32_t *>(uintptr_t(0x600002));
         x.cu_seqlens_k =
             reinterpret_cast<const int32_t *>(uintptr_t(0x700000));
       },
       S2RT_ERROR_INVALID_ARGUMENT, "not 4-byte aligned"},
      {"nan scale",
       [](s2rt_forward_args &x) { x.softmax_scale = __builtin_nanf(""); },
       S2RT_ERROR_INVALID_ARGUMENT, "softmax scale is not finite"},
  };
  for (const Case &c : cases) {
    s2rt_forward_args x = goodArgs();
    c.mutate(x);
    s2rt_status s = check(l.b, x, m);
    EXPECT_EQ(s, c.status) << c.what << ": " << s2rt_status_name(s) << ": "
                           << m;
    EXPECT_NE(m.find(c.needle), std::string::npos) << c.what << ": " << m;
  }

  // Architecture: sm_75 has no kernel; f16 d64 PTX needs sm_80.
  EXPECT_EQ(check(l.b, a, m, 75), S2RT_ERROR_UNSUPPORTED);
  EXPECT_NE(m.find("runs on sm_75"), std::string::npos) << m;

  // Valid variants: (B, H, S, D) strides, a GQA shard, query shorter than
  // key, packed, LSE, zero-length query.
  s2rt_forward_args x = goodArgs();
  x.q_stride[1] = 128;
  x.q_stride[2] = 1000 * 128;
  x.heads = 4;
  x.head_offset = 4;
  x.seqlen_q = 17;
  x.lse = reinterpret_cast<float *>(uintptr_t(0x500000));
  x.lse_stride[0] = 8 * 17;
  x.lse_stride[1] = 17;
  EXPECT_EQ(check(l.b, x, m), S2RT_SUCCESS) << m;
  x = goodArgs();
  x.cu_seqlens_q = reinterpret_cast<const int32_t *>(uintptr_t(0x600000));
  x.cu_seqlens_k = reinterpret_cast<const int32_t *>(uintptr_t(0x700000));
  x.q_stride[0] = 12345; // ignored when packed
  EXPECT_EQ(check(l.b, x, m), S2RT_SUCCESS) << m;
  x = goodArgs();
  x.seqlen_q = 0;
  EXPECT_EQ(check(l.b, x, m), S2RT_SUCCESS) << m;
}

TEST(Runtime, MissingDriver) {
  // Runs first in its own process under ctest; either way the driver is not
  // cached after a failure, so the override always takes effect.
  setenv("S2RT_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
  EXPECT_STATUS(s2rt_init(), S2RT_ERROR_NO_DRIVER,
                "cannot load the CUDA driver '/nonexistent/libcuda.so.1'");
  int count = 7;
  EXPECT_STATUS(s2rt_device_count(&count), S2RT_ERROR_NO_DRIVER, "cannot load");
  EXPECT_EQ(count, 0);
  Loaded l(sample());
  EXPECT_STATUS(s2rt_bundle_prepare(l.b, 0), S2RT_ERROR_NO_DRIVER,
                "cannot load");
  s2rt_forward_args a = goodArgs();
  EXPECT_STATUS(s2rt_forward(l.b, &a, nullptr), S2RT_ERROR_NO_DRIVER,
                "cannot load");
  // Argument errors are reported before the driver is needed.
  a.q = nullptr;
  EXPECT_STATUS(s2rt_forward(l.b, &a, nullptr), S2RT_ERROR_INVALID_ARGUMENT,
                "null 'q'");
  EXPECT_STATUS(s2rt_bundle_prepare(l.b, -1), S2RT_ERROR_INVALID_ARGUMENT,
                "negative device");
  EXPECT_STATUS(s2rt_device_count(nullptr), S2RT_ERROR_INVALID_ARGUMENT,
                "null");
  // A library that is not a CUDA driver.
  setenv("S2RT_LIBCUDA", "libc.so.6", 1);
  EXPECT_STATUS(s2rt_init(), S2RT_ERROR_NO_DRIVER, "lacks cuInit");
  unsetenv("S2RT_LIBCUDA");
}

TEST(Runtime, SuccessClearsLastError) {
  s2rt_bundle *b = nullptr;
  s2rt_bundle_load_memory(nullptr, 0, &b);
  EXPECT_STRNE(s2rt_last_error(), "");
  Loaded l(sample());
  EXPECT_STREQ(s2rt_last_error(), "");
}

TEST(Runtime, CppWrapper) {
  std::string file = s2::writeBundle(sample());
  s2rt::Bundle b;
  s2rt::Status s = s2rt::Bundle::loadMemory(file.data(), file.size(), b);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(b.patternName(), "gqa_local");
  EXPECT_EQ(b.heads(), 8);
  EXPECT_TRUE(b.causal());
  EXPECT_TRUE(b.supports(S2RT_DTYPE_BF16, 128));
  auto ks = b.kernels();
  ASSERT_EQ(ks.size(), 3u);
  EXPECT_EQ(ks[1].target, "sm_90a");
  EXPECT_TRUE(ks[1].hasCubin);
  s2rt::Bundle moved(std::move(b));
  EXPECT_FALSE(b.valid());
  EXPECT_TRUE(moved.valid());
  s2rt_forward_args a = s2rt::Bundle::forwardArgs();
  s = moved.check(a);
  EXPECT_FALSE(s);
  EXPECT_EQ(s.code, S2RT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("null 'q'"), std::string::npos);
  s2rt::Bundle bad;
  s = s2rt::Bundle::loadMemory("nope", 4, bad);
  EXPECT_EQ(s.code, S2RT_ERROR_INVALID_BUNDLE);
  EXPECT_FALSE(bad.valid());
}

//===----------------------------------------------------------------------===//
// The launch path against the fake driver (runtime/testing/FakeCuda.cpp).
// These tests come last: once a driver loads, the runtime keeps it.
//===----------------------------------------------------------------------===//

std::string fakeDriverPath() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void *>(&fake_cuda_reset), &info) ||
      !info.dli_fname)
    return "";
  return info.dli_fname;
}

class FakeDriver : public ::testing::Test {
protected:
  void SetUp() override {
    std::string path = fakeDriverPath();
    ASSERT_FALSE(path.empty());
    setenv("S2RT_LIBCUDA", path.c_str(), 1);
    fake_cuda_reset();
    ASSERT_EQ(s2rt_init(), S2RT_SUCCESS) << s2rt_last_error();
  }
  void TearDown() override { unsetenv("S2RT_LIBCUDA"); }
};

template <typename T> T param(const FakeLaunch &l, int i) {
  T v;
  std::memcpy(&v, l.params[i], sizeof(T));
  return v;
}

TEST_F(FakeDriver, PrepareLoadsOneKernelPerVariantOnce) {
  s2::Bundle sb = sample();
  sb.tableData = {1, 2, 3, -4};
  sb.tables = {{"t", 0, 4}};
  Loaded l(sb);
  ASSERT_EQ(s2rt_bundle_prepare(l.b, 0), S2RT_SUCCESS) << s2rt_last_error();
  FakeStats st = fake_cuda_stats();
  // sm_90: bf16 d128 from the sm_90a cubin, f16 d64 from sm_80 PTX.
  EXPECT_EQ(st.moduleLoads, 2);
  EXPECT_EQ(st.moduleLoadsCubin, 1);
  EXPECT_EQ(st.moduleLoadsPtx, 1);
  EXPECT_EQ(st.setAttributes, 2); // one opt-in per loaded kernel
  EXPECT_EQ(st.lastMaxDynamicShared, 65536);
  EXPECT_EQ(st.retains, 1);
  EXPECT_EQ(st.pushes, st.pops);
  ASSERT_EQ(st.allocs, 1);
  size_t bytes = 0;
  const int32_t *copied =
      static_cast<const int32_t *>(fake_cuda_last_copy(&bytes));
  ASSERT_EQ(bytes, 16u);
  EXPECT_EQ(copied[3], -4);
  // Cached: no second load.
  ASSERT_EQ(s2rt_bundle_prepare(l.b, 0), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().moduleLoads, 2);
  s2rt_bundle_destroy(l.b);
  l.b = nullptr;
  st = fake_cuda_stats();
  EXPECT_EQ(st.moduleUnloads, 2);
  EXPECT_EQ(st.frees, 1);
  EXPECT_EQ(st.releases, 1);
}

TEST_F(FakeDriver, ForwardMarshalsTheKernelAbi) {
  s2::Bundle sb = sample();
  sb.tableData = {7};
  sb.tables = {{"t", 0, 1}};
  Loaded l(sb);
  s2rt_forward_args a = goodArgs();
  a.lse = reinterpret_cast<float *>(uintptr_t(0x500000));
  a.lse_stride[0] = 8 * 1000;
  a.lse_stride[1] = 1000;
  a.head_offset = 4;
  a.heads = 4;
  a.softmax_scale = 0.25f;
  s2rt_stream stream = reinterpret_cast<s2rt_stream>(uintptr_t(0xabc0));
  ASSERT_EQ(s2rt_forward(l.b, &a, stream), S2RT_SUCCESS) << s2rt_last_error();
  FakeLaunch f = fake_cuda_last_launch();
  EXPECT_EQ(f.grid[0], 8u); // ceil(1000 / 128)
  EXPECT_EQ(f.grid[1], 4u);
  EXPECT_EQ(f.grid[2], 2u);
  EXPECT_EQ(f.block[0], 256u);
  EXPECT_EQ(f.block[1], 1u);
  EXPECT_EQ(f.sharedBytes, 65536u);
  EXPECT_EQ(f.stream, reinterpret_cast<void *>(stream));
  EXPECT_EQ(std::string(fake_cuda_last_function_name()), "fwd_f16_64_sm80");
  EXPECT_EQ(param<uintptr_t>(f, 0), 0x100000u);
  EXPECT_EQ(param<uintptr_t>(f, 1), 0x200000u);
  EXPECT_EQ(param<uintptr_t>(f, 2), 0x300000u);
  EXPECT_EQ(param<uintptr_t>(f, 3), 0x400000u);
  EXPECT_EQ(param<uintptr_t>(f, 4), 0x500000u);
  EXPECT_EQ(param<int64_t>(f, 5), 1000);
  EXPECT_EQ(param<int64_t>(f, 6), 1000);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(param<int64_t>(f, 7 + i), a.q_stride[i]);
    EXPECT_EQ(param<int64_t>(f, 10 + i), a.k_stride[i]);
    EXPECT_EQ(param<int64_t>(f, 13 + i), a.v_stride[i]);
    EXPECT_EQ(param<int64_t>(f, 16 + i), a.o_stride[i]);
  }
  EXPECT_EQ(param<int64_t>(f, 19), 8000);
  EXPECT_EQ(param<int64_t>(f, 20), 1000);
  EXPECT_FLOAT_EQ(param<float>(f, 21), 0.25f * 1.44269504f);
  EXPECT_EQ(param<int32_t>(f, 22), 4);
  EXPECT_EQ(param<uintptr_t>(f, 23), 0u);
  EXPECT_EQ(param<uintptr_t>(f, 24), 0u);
  EXPECT_NE(param<uintptr_t>(f, 25), 0u); // the uploaded tables
  // A current primary context is used as is; none: pushed and popped.
  FakeStats st = fake_cuda_stats();
  EXPECT_EQ(st.pushes, st.pops);

  // Default scale 1/sqrt(d); query shorter than keys: only the last tiles.
  a = goodArgs();
  a.seqlen_q = 17;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  f = fake_cuda_last_launch();
  EXPECT_EQ(std::string(fake_cuda_last_function_name()), "fwd_f16_64_sm80");
  EXPECT_EQ(f.grid[0], 1u); // tiles [floor(983/128), ceil(1000/128)) = [7, 8)
  EXPECT_FLOAT_EQ(param<float>(f, 21), 1.44269504f / std::sqrt(128.0f));
  a.seqlen_q = 300;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_last_launch().grid[0], 3u); // [5, 8)
  // Packed: an upper bound from the maximum lengths.
  a = goodArgs();
  a.cu_seqlens_q = reinterpret_cast<const int32_t *>(uintptr_t(0x600000));
  a.cu_seqlens_k = reinterpret_cast<const int32_t *>(uintptr_t(0x700000));
  a.batch = 3;
  a.seqlen_q = 300;
  a.seqlen_k = 1000;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  f = fake_cuda_last_launch();
  EXPECT_EQ(f.grid[0], 4u); // min(ceil(300/128) + 1, ceil(1000/128))
  EXPECT_EQ(f.grid[2], 3u);
  EXPECT_EQ(param<uintptr_t>(f, 23), 0x600000u);
  EXPECT_EQ(param<uintptr_t>(f, 24), 0x700000u);
  // Zero-length query: nothing launched.
  int launches = fake_cuda_stats().launches;
  a = goodArgs();
  a.seqlen_q = 0;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().launches, launches);
}

TEST_F(FakeDriver, CurrentContextAndDevice) {
  fake_cuda_set_devices(2, 9, 0, 227 * 1024);
  Loaded l(sample());
  s2rt_forward_args a = goodArgs();
  // The current context is device 1's primary: it is used, no push.
  fake_cuda_set_current(2);
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  FakeStats st = fake_cuda_stats();
  EXPECT_EQ(st.retains, 1);
  int pushesAfterPrepare = st.pushes;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().pushes, pushesAfterPrepare);
  // Another context is current: the primary one is pushed around the launch.
  fake_cuda_set_current(-1);
  a.device = 1;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  st = fake_cuda_stats();
  EXPECT_EQ(st.pushes, pushesAfterPrepare + 1);
  EXPECT_EQ(st.pops, st.pushes);
  a.device = 2;
  EXPECT_STATUS(s2rt_forward(l.b, &a, nullptr), S2RT_ERROR_INVALID_ARGUMENT,
                "device 2 out of range: 2 CUDA device(s)");
  fake_cuda_set_current(0);
}

TEST_F(FakeDriver, ArchitectureAndSharedMemoryLimits) {
  {
    fake_cuda_set_devices(1, 7, 5, 64 * 1024);
    Loaded l(sample());
    EXPECT_STATUS(s2rt_bundle_prepare(l.b, 0), S2RT_ERROR_UNSUPPORTED,
                  "no kernel of the bundle runs on device 0 (sm_75)");
    s2rt_forward_args a = goodArgs();
    EXPECT_STATUS(s2rt_forward(l.b, &a, nullptr), S2RT_ERROR_UNSUPPORTED,
                  "sm_75");
  }
  {
    fake_cuda_set_devices(1, 8, 0, 48 * 1024);
    Loaded l(sample());
    EXPECT_STATUS(s2rt_bundle_prepare(l.b, 0), S2RT_ERROR_UNSUPPORTED,
                  "needs 65536 bytes of shared memory; device 0 allows 49152");
    FakeStats st = fake_cuda_stats();
    EXPECT_EQ(st.retains, st.releases);
    EXPECT_EQ(st.moduleLoads, st.moduleUnloads);
  }
  {
    // sm_86: the bundle's f16 d64 exists, bf16 d128 only as sm_80 (PTX and
    // cubin): PTX is JIT-compiled there.
    fake_cuda_set_devices(1, 8, 6, 99 * 1024);
    Loaded l(sample());
    ASSERT_EQ(s2rt_bundle_prepare(l.b, 0), S2RT_SUCCESS) << s2rt_last_error();
    FakeStats st = fake_cuda_stats();
    EXPECT_EQ(st.moduleLoadsPtx, 2);
    EXPECT_EQ(st.moduleLoadsCubin, 0);
  }
}

TEST_F(FakeDriver, DriverFailuresAreReportedAndCleanedUp) {
  Loaded l(sample());
  fake_cuda_fail_next("cuModuleLoadDataEx", CUDA_ERROR_INVALID_PTX);
  EXPECT_STATUS(s2rt_bundle_prepare(l.b, 0), S2RT_ERROR_CUDA,
                "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX");
  EXPECT_NE(std::string(s2rt_last_error()).find("fake JIT error"),
            std::string::npos)
      << s2rt_last_error();
  FakeStats st = fake_cuda_stats();
  EXPECT_EQ(st.retains, st.releases);
  EXPECT_EQ(st.moduleLoads, st.moduleUnloads);
  EXPECT_EQ(st.pushes, st.pops);
  // The next attempt succeeds.
  ASSERT_EQ(s2rt_bundle_prepare(l.b, 0), S2RT_SUCCESS) << s2rt_last_error();

  s2rt_forward_args a = goodArgs();
  fake_cuda_fail_next("cuLaunchKernel", CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
  EXPECT_STATUS(s2rt_forward(l.b, &a, nullptr), S2RT_ERROR_CUDA,
                "cuLaunchKernel failed: CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES");
  EXPECT_NE(std::string(s2rt_last_error()).find("grid (8, 8, 2)"),
            std::string::npos);

  Loaded l2(sample());
  fake_cuda_fail_next("cuMemAlloc", CUDA_ERROR_OUT_OF_MEMORY);
  s2::Bundle withTables = sample();
  withTables.tableData = {1};
  Loaded l3(withTables);
  EXPECT_STATUS(s2rt_bundle_prepare(l3.b, 0), S2RT_ERROR_OUT_OF_MEMORY,
                "cuMemAlloc");

  s2::Bundle missing = sample();
  missing.kernels[1].name = "missing";
  Loaded l4(missing);
  EXPECT_STATUS(s2rt_bundle_prepare(l4.b, 0), S2RT_ERROR_INVALID_BUNDLE,
                "no entry point 'missing'");
}

TEST_F(FakeDriver, ConcurrentForwardsLoadOnce) {
  Loaded l(sample());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      s2rt_forward_args a = goodArgs();
      for (int i = 0; i < 50; ++i)
        if (s2rt_forward(l.b, &a, nullptr) != S2RT_SUCCESS)
          ++failures;
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  FakeStats st = fake_cuda_stats();
  EXPECT_EQ(st.launches, 400);
  EXPECT_EQ(st.moduleLoads, 2);
  EXPECT_EQ(st.retains, 1);
}

} // namespace
