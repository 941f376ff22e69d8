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
#include "s2rt_sp.h"

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

s2::BundleKernel mergeKernel(const char *name, const char *target, s2::DType dt,
                             int hd, bool ptx, bool cubin) {
  s2::BundleKernel k = kernel(name, target, dt, hd, ptx, cubin);
  k.kind = s2::KernelKind::Merge;
  k.blockM = 64;
  k.blockN = 0;
  k.threads = 128;
  k.sharedBytes = 0;
  return k;
}

/// sample() with merge kernels in front of the forward ones (so a selection
/// that ignored the kind would pick them): bf16 d128 for sm_80 (PTX) and
/// sm_90a (cubin), f16 d64 for sm_80 (PTX), and a merge-only bf16 d64.
s2::Bundle sampleWithMerge() {
  s2::Bundle b = sample();
  std::vector<s2::BundleKernel> merges = {
      mergeKernel("s2_merge_bf16_d128_sm80", "sm_80", s2::DType::BF16, 128,
                  true, false),
      mergeKernel("s2_merge_bf16_d128_sm90a", "sm_90a", s2::DType::BF16, 128,
                  false, true),
      mergeKernel("s2_merge_f16_d64_sm80", "sm_80", s2::DType::F16, 64, true,
                  false),
      mergeKernel("s2_merge_bf16_d64_sm80", "sm_80", s2::DType::BF16, 64, true,
                  false)};
  b.kernels.insert(b.kernels.begin(), merges.begin(), merges.end());
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

/// Valid merge arguments for sampleWithMerge(): (B, S, H, D) bf16 d128.
s2rt_merge_args goodMergeArgs() {
  s2rt_merge_args a;
  s2rt_merge_args_init(&a);
  a.out = reinterpret_cast<void *>(uintptr_t(0x100000));
  a.lse = reinterpret_cast<float *>(uintptr_t(0x500000));
  a.part_out = reinterpret_cast<const void *>(uintptr_t(0x200000));
  a.part_lse = reinterpret_cast<const float *>(uintptr_t(0x600000));
  a.batch = 2;
  a.rows = 1000;
  a.heads = 8;
  a.head_dim = 128;
  a.dtype = S2RT_DTYPE_BF16;
  int64_t os[3] = {1000 * 8 * 128, 8 * 128, 128};
  for (int i = 0; i < 3; ++i) {
    a.o_stride[i] = os[i];
    a.part_o_stride[i] = os[i];
  }
  a.lse_stride[0] = a.part_lse_stride[0] = 8 * 1000;
  a.lse_stride[1] = a.part_lse_stride[1] = 1000;
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
  EXPECT_EQ(k.abi_version, 2);
  EXPECT_EQ(k.has_ptx, 0);
  EXPECT_EQ(k.has_cubin, 1);
  EXPECT_EQ(k.kind, S2RT_KERNEL_FORWARD);
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
  // A version 1 bundle (before the kernel kind byte) is refused by version.
  std::string v1 = file;
  v1[8] = 1;
  EXPECT_STATUS(s2rt_bundle_load_memory(v1.data(), v1.size(), &b),
                S2RT_ERROR_VERSION_MISMATCH,
                "bundle format version 1, this runtime reads version 2");
  s2::Bundle abi = sample();
  abi.kernels[0].abiVersion = 1;
  std::string abiFile = s2::writeBundle(abi);
  EXPECT_STATUS(s2rt_bundle_load_memory(abiFile.data(), abiFile.size(), &b),
                S2RT_ERROR_VERSION_MISMATCH, "ABI version 1");
  // Version 3 (tensor maps) loads for a forward kernel, not for a merge
  // kernel; 4 does not load.
  abi = sampleWithMerge();
  abi.kernels[5].abiVersion = s2::kKernelAbiTensorMaps; // fwd_bf16_128_sm90a
  abiFile = s2::writeBundle(abi);
  ASSERT_EQ(s2rt_bundle_load_memory(abiFile.data(), abiFile.size(), &b),
            S2RT_SUCCESS)
      << s2rt_last_error();
  s2rt_kernel_info info;
  ASSERT_EQ(s2rt_bundle_kernel_info(b, 5, &info), S2RT_SUCCESS);
  EXPECT_EQ(info.abi_version, 3);
  s2rt_bundle_destroy(b);
  abi.kernels[0].abiVersion = s2::kKernelAbiTensorMaps; // a merge kernel
  abiFile = s2::writeBundle(abi);
  EXPECT_STATUS(s2rt_bundle_load_memory(abiFile.data(), abiFile.size(), &b),
                S2RT_ERROR_VERSION_MISMATCH,
                "ABI version 3, expected 2 (version 3, with tensor maps, is "
                "for forward kernels only");
  abi = sampleWithMerge();
  abi.kernels[5].abiVersion = 4;
  abiFile = s2::writeBundle(abi);
  EXPECT_STATUS(s2rt_bundle_load_memory(abiFile.data(), abiFile.size(), &b),
                S2RT_ERROR_VERSION_MISMATCH, "ABI version 4, expected 2 or 3");
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
      // Query position and key window (parameters 26-28).
      {"negative query position",
       [](s2rt_forward_args &x) { x.query_pos = -2; },
       S2RT_ERROR_INVALID_ARGUMENT,
       "query position -2 is negative (-1 means seqlen_k - seqlen_q)"},
      {"query rows past the keys",
       [](s2rt_forward_args &x) {
         x.seqlen_q = 100;
         x.query_pos = 901;
       },
       S2RT_ERROR_INVALID_ARGUMENT,
       "query rows [901, +100) extend past the key length 1000"},
      {"negative key window begin",
       [](s2rt_forward_args &x) { x.key_begin = -64; },
       S2RT_ERROR_INVALID_ARGUMENT, "key window begin -64 is negative"},
      {"negative key window end", [](s2rt_forward_args &x) { x.key_end = -2; },
       S2RT_ERROR_INVALID_ARGUMENT,
       "key window end -2 is negative (-1 means seqlen_k)"},
      {"key window past the keys",
       [](s2rt_forward_args &x) { x.key_end = 1024; },
       S2RT_ERROR_INVALID_ARGUMENT,
       "key window end 1024 exceeds the key length 1000"},
      {"reversed key window",
       [](s2rt_forward_args &x) {
         x.key_begin = 640;
         x.key_end = 128;
       },
       S2RT_ERROR_INVALID_ARGUMENT, "key window [640, 128) ends before it"},
      {"key window begins past the keys",
       [](s2rt_forward_args &x) { x.key_begin = 1024; },
       S2RT_ERROR_INVALID_ARGUMENT, "key window [1024, 1000) ends before it"},
      {"key window begin off the tiles",
       [](s2rt_forward_args &x) { x.key_begin = 100; },
       S2RT_ERROR_INVALID_ARGUMENT,
       "key window begin 100 is not a multiple of the bundle's block_n 64"},
      {"key window end off the tiles",
       [](s2rt_forward_args &x) { x.key_end = 100; },
       S2RT_ERROR_INVALID_ARGUMENT,
       "key window end 100 is neither a multiple of the bundle's block_n 64 "
       "nor the key length 1000"},
      {"packed with a query position",
       [](s2rt_forward_args &x) {
         x.cu_seqlens_q =
             reinterpret_cast<const int32_t *>(uintptr_t(0x600000));
         x.cu_seqlens_k =
             reinterpret_cast<const int32_t *>(uintptr_t(0x700000));
         x.seqlen_q = 500;
         x.query_pos = 0;
       },
       S2RT_ERROR_INVALID_ARGUMENT,
       "a packed launch takes the default query position and key window "
       "(query_pos -1, key_begin 0, key_end -1), got query_pos 0, key window "
       "[0, -1)"},
      {"packed with a key window begin",
       [](s2rt_forward_args &x) {
         x.cu_seqlens_q =
             reinterpret_cast<const int32_t *>(uintptr_t(0x600000));
         x.cu_seqlens_k =
             reinterpret_cast<const int32_t *>(uintptr_t(0x700000));
         x.key_begin = 64;
       },
       S2RT_ERROR_INVALID_ARGUMENT, "key window [64, -1)"},
      {"packed with a key window end",
       [](s2rt_forward_args &x) {
         x.cu_seqlens_q =
             reinterpret_cast<const int32_t *>(uintptr_t(0x600000));
         x.cu_seqlens_k =
             reinterpret_cast<const int32_t *>(uintptr_t(0x700000));
         x.key_end = 512;
       },
       S2RT_ERROR_INVALID_ARGUMENT, "key window [0, 512)"},
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

  // Valid query positions and key windows: top-left, the default spelled
  // out, the last row alone, a window of whole tiles, one ending at the
  // sequence end off the tiles, an empty window, and a packed launch with
  // the defaults spelled out.
  struct Window {
    int64_t sq, pos, begin, end;
  };
  const Window windows[] = {{100, 0, 0, -1},     {100, 900, 0, 1000},
                            {1, 999, 0, -1},     {1000, -1, 64, 640},
                            {300, 200, 128, -1}, {300, 200, 960, 1000},
                            {300, 200, 128, 128}};
  for (const Window &w : windows) {
    x = goodArgs();
    x.seqlen_q = w.sq;
    x.query_pos = w.pos;
    x.key_begin = w.begin;
    x.key_end = w.end;
    EXPECT_EQ(check(l.b, x, m), S2RT_SUCCESS)
        << w.sq << " " << w.pos << " " << w.begin << " " << w.end << ": " << m;
  }
  x = goodArgs();
  x.cu_seqlens_q = reinterpret_cast<const int32_t *>(uintptr_t(0x600000));
  x.cu_seqlens_k = reinterpret_cast<const int32_t *>(uintptr_t(0x700000));
  x.seqlen_q = 400;
  x.query_pos = 600;
  x.key_end = 1000;
  EXPECT_EQ(check(l.b, x, m), S2RT_SUCCESS) << m;
}

TEST(Runtime, ForwardArgsDefaults) {
  s2rt_forward_args a;
  std::memset(&a, 0x5a, sizeof(a));
  s2rt_forward_args_init(&a);
  EXPECT_EQ(a.struct_size, sizeof(s2rt_forward_args));
  EXPECT_EQ(a.query_pos, -1);
  EXPECT_EQ(a.key_begin, 0);
  EXPECT_EQ(a.key_end, -1);
  EXPECT_EQ(a.device, -1);
  s2rt_merge_args m;
  std::memset(&m, 0x5a, sizeof(m));
  s2rt_merge_args_init(&m);
  EXPECT_EQ(m.struct_size, sizeof(s2rt_merge_args));
  EXPECT_EQ(m.batch, 1);
  EXPECT_EQ(m.rows, 0);
  EXPECT_EQ(m.dtype, S2RT_DTYPE_BF16);
  EXPECT_EQ(m.device, -1);
  EXPECT_EQ(m.out, nullptr);
  EXPECT_EQ(m.part_lse_stride[1], 0);
}

TEST(Runtime, KernelKinds) {
  Loaded l(sampleWithMerge());
  ASSERT_EQ(s2rt_bundle_num_kernels(l.b), 7);
  s2rt_kernel_info k;
  ASSERT_EQ(s2rt_bundle_kernel_info(l.b, 0, &k), S2RT_SUCCESS);
  EXPECT_EQ(k.kind, S2RT_KERNEL_MERGE);
  EXPECT_STREQ(k.name, "s2_merge_bf16_d128_sm80");
  EXPECT_EQ(k.block_m, 64);
  EXPECT_EQ(k.block_n, 0);
  EXPECT_EQ(k.shared_bytes, 0);
  ASSERT_EQ(s2rt_bundle_kernel_info(l.b, 4, &k), S2RT_SUCCESS);
  EXPECT_EQ(k.kind, S2RT_KERNEL_FORWARD);
  // Forward queries ignore merge kernels: bf16 d64 exists only as a merge
  // kernel.
  EXPECT_EQ(s2rt_bundle_supports(l.b, S2RT_DTYPE_BF16, 128), 1);
  EXPECT_EQ(s2rt_bundle_supports(l.b, S2RT_DTYPE_BF16, 64), 0);
  int idx = -1, cubin = -1;
  ASSERT_EQ(
      s2rt_bundle_select_kernel(l.b, 90, S2RT_DTYPE_BF16, 128, &idx, &cubin),
      S2RT_SUCCESS);
  EXPECT_EQ(idx, 5); // fwd_bf16_128_sm90a, not the merge kernel at 1
  ASSERT_EQ(
      s2rt_bundle_select_kernel(l.b, 86, S2RT_DTYPE_BF16, 128, &idx, &cubin),
      S2RT_SUCCESS);
  EXPECT_EQ(idx, 4);
  EXPECT_STATUS(
      s2rt_bundle_select_kernel(l.b, 90, S2RT_DTYPE_BF16, 64, &idx, &cubin),
      S2RT_ERROR_UNSUPPORTED, "no bf16 d64 kernel runs on sm_90");
  s2rt_forward_args a = goodArgs();
  a.head_dim = 64;
  for (int i = 0; i < 3; ++i) {
    a.q_stride[i] /= 2;
    a.k_stride[i] /= 2;
    a.v_stride[i] /= 2;
    a.o_stride[i] /= 2;
  }
  std::string m;
  EXPECT_EQ(check(l.b, a, m), S2RT_ERROR_UNSUPPORTED);
  EXPECT_NE(m.find("the bundle has no bf16 kernel for head dim 64"),
            std::string::npos)
      << m;
}

TEST(Runtime, MergeArgumentChecks) {
  Loaded l(sampleWithMerge());
  s2rt_merge_args a = goodMergeArgs();
  EXPECT_EQ(s2rt_merge_check(l.b, &a, 0), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_EQ(s2rt_merge_check(l.b, &a, 90), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_STATUS(s2rt_merge_check(nullptr, &a, 0), S2RT_ERROR_INVALID_ARGUMENT,
                "null bundle");
  EXPECT_STATUS(s2rt_merge_check(l.b, nullptr, 0), S2RT_ERROR_INVALID_ARGUMENT,
                "null merge arguments");

  struct Case {
    const char *what;
    void (*mutate)(s2rt_merge_args &);
    s2rt_status status;
    const char *needle;
  };
  const Case cases[] = {
      {"uninitialised", [](s2rt_merge_args &x) { x.struct_size = 8; },
       S2RT_ERROR_INVALID_ARGUMENT, "s2rt_merge_args_init"},
      {"null out", [](s2rt_merge_args &x) { x.out = nullptr; },
       S2RT_ERROR_INVALID_ARGUMENT, "null 'out' pointer"},
      {"null lse", [](s2rt_merge_args &x) { x.lse = nullptr; },
       S2RT_ERROR_INVALID_ARGUMENT, "null 'lse' pointer"},
      {"null part_out", [](s2rt_merge_args &x) { x.part_out = nullptr; },
       S2RT_ERROR_INVALID_ARGUMENT, "null 'part_out' pointer"},
      {"null part_lse", [](s2rt_merge_args &x) { x.part_lse = nullptr; },
       S2RT_ERROR_INVALID_ARGUMENT, "null 'part_lse' pointer"},
      {"misaligned out",
       [](s2rt_merge_args &x) {
         x.out = reinterpret_cast<void *>(uintptr_t(0x100008));
       },
       S2RT_ERROR_INVALID_ARGUMENT, "'out' pointer is not 16-byte aligned"},
      {"misaligned part_out",
       [](s2rt_merge_args &x) {
         x.part_out = reinterpret_cast<const void *>(uintptr_t(0x200002));
       },
       S2RT_ERROR_INVALID_ARGUMENT,
       "'part_out' pointer is not 16-byte aligned"},
      {"misaligned part_lse",
       [](s2rt_merge_args &x) {
         x.part_lse = reinterpret_cast<const float *>(uintptr_t(0x600002));
       },
       S2RT_ERROR_INVALID_ARGUMENT, "'part_lse' pointer is not 4-byte aligned"},
      {"unknown dtype", [](s2rt_merge_args &x) { x.dtype = s2rt_dtype(5); },
       S2RT_ERROR_INVALID_ARGUMENT, "unknown dtype 5"},
      {"zero head dim", [](s2rt_merge_args &x) { x.head_dim = 0; },
       S2RT_ERROR_INVALID_ARGUMENT, "head dim 0 outside [1, 1024]"},
      {"zero batch", [](s2rt_merge_args &x) { x.batch = 0; },
       S2RT_ERROR_INVALID_ARGUMENT, "batch 0 outside [1, 65535]"},
      {"zero heads", [](s2rt_merge_args &x) { x.heads = 0; },
       S2RT_ERROR_INVALID_ARGUMENT, "heads 0 outside [1, 65535]"},
      {"too many heads", [](s2rt_merge_args &x) { x.heads = 70000; },
       S2RT_ERROR_INVALID_ARGUMENT, "heads 70000 outside [1, 65535]"},
      {"negative rows", [](s2rt_merge_args &x) { x.rows = -1; },
       S2RT_ERROR_INVALID_ARGUMENT, "rows -1 outside [0, 2^31)"},
      {"too many rows", [](s2rt_merge_args &x) { x.rows = int64_t(1) << 31; },
       S2RT_ERROR_INVALID_ARGUMENT, "rows 2147483648 outside [0, 2^31)"},
      {"negative out stride", [](s2rt_merge_args &x) { x.o_stride[0] = -8; },
       S2RT_ERROR_INVALID_ARGUMENT, "negative batch stride of 'out'"},
      {"part_out seq stride off 16 bytes",
       [](s2rt_merge_args &x) { x.part_o_stride[1] = 132; },
       S2RT_ERROR_INVALID_ARGUMENT,
       "seq stride 132 of 'part_out' is not a multiple of 16 bytes"},
      {"out head stride off 16 bytes",
       [](s2rt_merge_args &x) { x.o_stride[2] = 4; },
       S2RT_ERROR_INVALID_ARGUMENT, "head stride 4 of 'out'"},
      {"huge stride",
       [](s2rt_merge_args &x) { x.part_o_stride[0] = int64_t(1) << 62; },
       S2RT_ERROR_INVALID_ARGUMENT,
       "strides of 'part_out' address beyond 2^62"},
      {"negative lse stride",
       [](s2rt_merge_args &x) { x.part_lse_stride[1] = -1; },
       S2RT_ERROR_INVALID_ARGUMENT, "negative 'part_lse' stride"},
      {"huge lse stride",
       [](s2rt_merge_args &x) { x.lse_stride[0] = int64_t(1) << 62; },
       S2RT_ERROR_INVALID_ARGUMENT, "strides of 'lse' address beyond 2^62"},
      {"no merge kernel for the dtype",
       [](s2rt_merge_args &x) { x.dtype = S2RT_DTYPE_F16; },
       S2RT_ERROR_UNSUPPORTED,
       "the bundle has no f16 merge kernel for head dim 128; it has: bf16 "
       "d128 sm_80, bf16 d128 sm_90a, f16 d64 sm_80, bf16 d64 sm_80"},
  };
  for (const Case &c : cases) {
    s2rt_merge_args x = goodMergeArgs();
    c.mutate(x);
    s2rt_status s = s2rt_merge_check(l.b, &x, 0);
    std::string m = s2rt_last_error();
    EXPECT_EQ(s, c.status) << c.what << ": " << s2rt_status_name(s) << ": "
                           << m;
    EXPECT_NE(m.find(c.needle), std::string::npos) << c.what << ": " << m;
  }
  // Architecture: nothing runs on sm_75; f16 d64 merge PTX needs sm_80.
  EXPECT_STATUS(s2rt_merge_check(l.b, &a, 75), S2RT_ERROR_UNSUPPORTED,
                "no bf16 d128 merge kernel of the bundle runs on sm_75");
  // Zero rows and a (B, H, S, D) layout are fine; a success clears the
  // message the failure before it left.
  s2rt_merge_args x = goodMergeArgs();
  x.rows = 0;
  EXPECT_EQ(s2rt_merge_check(l.b, &x, 0), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_STREQ(s2rt_last_error(), "");
  x = goodMergeArgs();
  x.o_stride[1] = 128;
  x.o_stride[2] = 1000 * 128;
  EXPECT_EQ(s2rt_merge_check(l.b, &x, 0), S2RT_SUCCESS) << s2rt_last_error();
  // A bundle without merge kernels says so.
  Loaded old(sample());
  EXPECT_STATUS(s2rt_merge_check(old.b, &a, 0), S2RT_ERROR_UNSUPPORTED,
                "the bundle has no bf16 merge kernel for head dim 128; it "
                "has: no merge kernels");
}

s2::BundleKernel copyKernel(const char *target, bool ptx, bool cubin) {
  s2::BundleKernel k =
      kernel("s2_copy", target, s2::DType::BF16, 0, ptx, cubin);
  k.kind = s2::KernelKind::Copy;
  k.blockM = 1;
  k.blockN = 0;
  k.threads = 128;
  k.sharedBytes = 0;
  return k;
}

/// sampleWithMerge() with copy kernels in front (so a selection that
/// ignored the kind would pick them): sm_80 PTX and an sm_90a cubin.
s2::Bundle sampleWithCopy() {
  s2::Bundle b = sampleWithMerge();
  b.kernels.insert(b.kernels.begin(), {copyKernel("sm_80", true, false),
                                       copyKernel("sm_90a", false, true)});
  return b;
}

TEST(Runtime, CopyArgumentChecks) {
  Loaded l(sampleWithCopy());
  int64_t segs[6] = {0, 0, 0, 0, 0, 0};
  s2rt_copy_args a;
  s2rt_copy_args_init(&a);
  EXPECT_EQ(a.struct_size, sizeof(s2rt_copy_args));
  EXPECT_EQ(a.segments, nullptr);
  EXPECT_EQ(a.count, 0);
  EXPECT_EQ(a.device, -1);
  EXPECT_EQ(s2rt_copy_check(l.b, &a, 90), S2RT_SUCCESS) << s2rt_last_error();
  a.segments = segs;
  a.count = 1;
  EXPECT_EQ(s2rt_copy_check(l.b, &a, 90), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_EQ(s2rt_copy_check(l.b, &a, 80), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_EQ(s2rt_copy_check(l.b, &a, 0), S2RT_SUCCESS) << s2rt_last_error();

  EXPECT_STATUS(s2rt_copy_check(nullptr, &a, 0), S2RT_ERROR_INVALID_ARGUMENT,
                "null bundle");
  EXPECT_STATUS(s2rt_copy_check(l.b, nullptr, 0), S2RT_ERROR_INVALID_ARGUMENT,
                "null copy arguments");
  s2rt_copy_args b = a;
  b.struct_size = 8;
  EXPECT_STATUS(s2rt_copy_check(l.b, &b, 0), S2RT_ERROR_INVALID_ARGUMENT,
                "copy arguments of size 8, expected");
  b = a;
  b.count = -1;
  EXPECT_STATUS(s2rt_copy_check(l.b, &b, 0), S2RT_ERROR_INVALID_ARGUMENT,
                "segment count -1 outside [0, 2^31)");
  b.count = int64_t(INT32_MAX) + 1;
  EXPECT_STATUS(s2rt_copy_check(l.b, &b, 0), S2RT_ERROR_INVALID_ARGUMENT,
                "segment count 2147483648 outside [0, 2^31)");
  b.count = INT32_MAX;
  EXPECT_EQ(s2rt_copy_check(l.b, &b, 0), S2RT_SUCCESS) << s2rt_last_error();
  b = a;
  b.segments = nullptr;
  EXPECT_STATUS(s2rt_copy_check(l.b, &b, 0), S2RT_ERROR_INVALID_ARGUMENT,
                "null 'segments' pointer with 1 segment(s)");
  b.count = 0;
  EXPECT_EQ(s2rt_copy_check(l.b, &b, 0), S2RT_SUCCESS);
  b = a;
  b.segments = reinterpret_cast<const int64_t *>(
      reinterpret_cast<const char *>(segs) + 4);
  EXPECT_STATUS(s2rt_copy_check(l.b, &b, 0), S2RT_ERROR_INVALID_ARGUMENT,
                "'segments' pointer is not 8-byte aligned");
  // Architectures: nothing runs below sm_80.
  EXPECT_STATUS(s2rt_copy_check(l.b, &a, 75), S2RT_ERROR_UNSUPPORTED,
                "no copy kernel of the bundle runs on sm_75; it has: sm_80, "
                "sm_90a");
  EXPECT_EQ(s2rt_bundle_has_copy_kernel(l.b, 0), 1);
  EXPECT_EQ(s2rt_bundle_has_copy_kernel(l.b, 80), 1);
  EXPECT_EQ(s2rt_bundle_has_copy_kernel(l.b, 90), 1);
  EXPECT_EQ(s2rt_bundle_has_copy_kernel(l.b, 75), 0);
  EXPECT_EQ(s2rt_bundle_has_copy_kernel(nullptr, 90), 0);

  // Kernel info: kind 2, head dim 0; forward and merge queries ignore it.
  s2rt_kernel_info k;
  ASSERT_EQ(s2rt_bundle_kernel_info(l.b, 1, &k), S2RT_SUCCESS);
  EXPECT_EQ(k.kind, S2RT_KERNEL_COPY);
  EXPECT_EQ(k.kind, 2);
  EXPECT_STREQ(k.name, "s2_copy");
  EXPECT_STREQ(k.target, "sm_90a");
  EXPECT_EQ(k.head_dim, 0);
  EXPECT_EQ(k.block_m, 1);
  EXPECT_EQ(k.block_n, 0);
  ASSERT_EQ(s2rt_bundle_kernel_info(l.b, 2, &k), S2RT_SUCCESS);
  EXPECT_EQ(k.kind, S2RT_KERNEL_MERGE);
  int idx = -1, cubin = -1;
  ASSERT_EQ(
      s2rt_bundle_select_kernel(l.b, 90, S2RT_DTYPE_BF16, 128, &idx, &cubin),
      S2RT_SUCCESS);
  EXPECT_EQ(idx, 7); // fwd_bf16_128_sm90a, not the copy kernel at 1

  // A bundle without a copy kernel (written before the copy kernel ABI).
  Loaded old(sampleWithMerge());
  EXPECT_EQ(s2rt_bundle_has_copy_kernel(old.b, 0), 0);
  EXPECT_EQ(s2rt_bundle_has_copy_kernel(old.b, 90), 0);
  EXPECT_STATUS(s2rt_copy_check(old.b, &a, 90), S2RT_ERROR_UNSUPPORTED,
                "the bundle has no copy kernel");
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
  Loaded lm(sampleWithMerge());
  s2rt_merge_args m = goodMergeArgs();
  EXPECT_STATUS(s2rt_merge(lm.b, &m, nullptr), S2RT_ERROR_NO_DRIVER,
                "cannot load");
  m.part_out = nullptr;
  EXPECT_STATUS(s2rt_merge(lm.b, &m, nullptr), S2RT_ERROR_INVALID_ARGUMENT,
                "null 'part_out'");
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
  s2rt_merge_args ma = s2rt::Bundle::mergeArgs();
  EXPECT_EQ(ma.struct_size, sizeof(s2rt_merge_args));
  s = moved.checkMerge(ma);
  EXPECT_EQ(s.code, S2RT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("null 'out'"), std::string::npos) << s.message;
  EXPECT_EQ(moved.kernels()[0].kind, S2RT_KERNEL_FORWARD);
  // sample() predates the copy kernel: the wrapper says so.
  EXPECT_FALSE(moved.hasCopyKernel());
  s2rt_copy_args ca = s2rt::Bundle::copyArgs();
  EXPECT_EQ(ca.struct_size, sizeof(s2rt_copy_args));
  ca.count = 1;
  s = moved.checkCopy(ca);
  EXPECT_EQ(s.code, S2RT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("null 'segments'"), std::string::npos) << s.message;
  ca.count = 0;
  s = moved.checkCopy(ca, 90);
  EXPECT_EQ(s.code, S2RT_ERROR_UNSUPPORTED);
  EXPECT_NE(s.message.find("no copy kernel"), std::string::npos) << s.message;
  std::string withCopy = s2::writeBundle(sampleWithCopy());
  s2rt::Bundle cb;
  ASSERT_TRUE(
      s2rt::Bundle::loadMemory(withCopy.data(), withCopy.size(), cb).ok());
  EXPECT_TRUE(cb.hasCopyKernel());
  EXPECT_TRUE(cb.hasCopyKernel(80));
  EXPECT_FALSE(cb.hasCopyKernel(75));
  EXPECT_TRUE(cb.checkCopy(ca, 90).ok());
  EXPECT_EQ(cb.kernels()[0].kind, S2RT_KERNEL_COPY);
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
  // The defaults: bottom-right aligned queries, the whole key range.
  EXPECT_EQ(f.numParams, 29);
  EXPECT_EQ(param<int64_t>(f, 26), 0);
  EXPECT_EQ(param<int64_t>(f, 27), 0);
  EXPECT_EQ(param<int64_t>(f, 28), 1000);
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
  EXPECT_EQ(param<int64_t>(f, 26), 983);
  EXPECT_EQ(param<int64_t>(f, 28), 1000);
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
  // Packed: the defaults from the maximum lengths (ignored by the kernel).
  EXPECT_EQ(param<int64_t>(f, 26), 700);
  EXPECT_EQ(param<int64_t>(f, 27), 0);
  EXPECT_EQ(param<int64_t>(f, 28), 1000);
  // Zero-length query: nothing launched.
  int launches = fake_cuda_stats().launches;
  a = goodArgs();
  a.seqlen_q = 0;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().launches, launches);
}

TEST_F(FakeDriver, WindowedForwardLaunch) {
  Loaded l(sampleWithMerge());
  s2rt_forward_args a = goodArgs();
  // Rows [200, 500) against keys [128, 640): query tiles [1, 4).
  a.seqlen_q = 300;
  a.query_pos = 200;
  a.key_begin = 128;
  a.key_end = 640;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  FakeLaunch f = fake_cuda_last_launch();
  EXPECT_STREQ(fake_cuda_function_name(f.function), "fwd_bf16_128_sm90a");
  EXPECT_EQ(f.numParams, 29);
  EXPECT_EQ(f.grid[0], 3u);
  EXPECT_EQ(f.grid[1], 8u);
  EXPECT_EQ(f.grid[2], 2u);
  EXPECT_EQ(param<int64_t>(f, 5), 300);
  EXPECT_EQ(param<int64_t>(f, 6), 1000);
  EXPECT_EQ(param<int64_t>(f, 26), 200);
  EXPECT_EQ(param<int64_t>(f, 27), 128);
  EXPECT_EQ(param<int64_t>(f, 28), 640);

  // Top-left queries, a window ending at the sequence end: [0, 1000) over
  // tiles [0, 8); the window's end passed as seqlen_k.
  a = goodArgs();
  a.query_pos = 0;
  a.key_begin = 960;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  f = fake_cuda_last_launch();
  EXPECT_EQ(f.grid[0], 8u);
  EXPECT_EQ(param<int64_t>(f, 26), 0);
  EXPECT_EQ(param<int64_t>(f, 27), 960);
  EXPECT_EQ(param<int64_t>(f, 28), 1000);

  // Tiles are aligned to absolute positions: one row at 130 is tile 1; 100
  // rows from 120 straddle tiles 0 and 1.
  a = goodArgs();
  a.seqlen_q = 1;
  a.query_pos = 130;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_last_launch().grid[0], 1u);
  a.seqlen_q = 100;
  a.query_pos = 120;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_last_launch().grid[0], 2u);

  // An empty window is launched (its rows get 0 and -inf).
  int launches = fake_cuda_stats().launches;
  a = goodArgs();
  a.key_begin = 128;
  a.key_end = 128;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().launches, launches + 1);
  EXPECT_EQ(param<int64_t>(fake_cuda_last_launch(), 27), 128);
  EXPECT_EQ(param<int64_t>(fake_cuda_last_launch(), 28), 128);

  // Precondition errors launch nothing.
  a.key_begin = 100;
  EXPECT_STATUS(s2rt_forward(l.b, &a, nullptr), S2RT_ERROR_INVALID_ARGUMENT,
                "key window begin 100");
  EXPECT_EQ(fake_cuda_stats().launches, launches + 1);
}

TEST_F(FakeDriver, MergeLaunch) {
  Loaded l(sampleWithMerge());
  // prepare loads one forward and one merge kernel per variant: on sm_90,
  // forward bf16 d128 and merge bf16 d128 from sm_90a cubins, forward f16
  // d64, merge f16 d64 and merge bf16 d64 from sm_80 PTX.
  ASSERT_EQ(s2rt_bundle_prepare(l.b, 0), S2RT_SUCCESS) << s2rt_last_error();
  FakeStats st = fake_cuda_stats();
  EXPECT_EQ(st.moduleLoads, 5);
  EXPECT_EQ(st.moduleLoadsCubin, 2);
  EXPECT_EQ(st.setAttributes, 2); // merge kernels have no dynamic shared
  EXPECT_EQ(st.pushes, st.pops);

  s2rt_merge_args a = goodMergeArgs();
  s2rt_stream stream = reinterpret_cast<s2rt_stream>(uintptr_t(0xbee0));
  ASSERT_EQ(s2rt_merge(l.b, &a, stream), S2RT_SUCCESS) << s2rt_last_error();
  FakeLaunch f = fake_cuda_last_launch();
  EXPECT_STREQ(fake_cuda_function_name(f.function), "s2_merge_bf16_d128_sm90a");
  EXPECT_EQ(f.numParams, 15);
  EXPECT_EQ(f.grid[0], 16u); // ceil(1000 / 64)
  EXPECT_EQ(f.grid[1], 8u);
  EXPECT_EQ(f.grid[2], 2u);
  EXPECT_EQ(f.block[0], 128u);
  EXPECT_EQ(f.sharedBytes, 0u);
  EXPECT_EQ(f.stream, reinterpret_cast<void *>(stream));
  EXPECT_EQ(param<uintptr_t>(f, 0), 0x100000u);
  EXPECT_EQ(param<uintptr_t>(f, 1), 0x500000u);
  EXPECT_EQ(param<uintptr_t>(f, 2), 0x200000u);
  EXPECT_EQ(param<uintptr_t>(f, 3), 0x600000u);
  EXPECT_EQ(param<int64_t>(f, 4), 1000);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(param<int64_t>(f, 5 + i), a.o_stride[i]);
    EXPECT_EQ(param<int64_t>(f, 10 + i), a.part_o_stride[i]);
  }
  EXPECT_EQ(param<int64_t>(f, 8), 8000);
  EXPECT_EQ(param<int64_t>(f, 9), 1000);
  EXPECT_EQ(param<int64_t>(f, 13), 8000);
  EXPECT_EQ(param<int64_t>(f, 14), 1000);

  // Distinct strides reach their parameters; f16 d64 takes sm_80 PTX.
  a = goodMergeArgs();
  a.dtype = S2RT_DTYPE_F16;
  a.head_dim = 64;
  a.rows = 65;
  a.heads = 3;
  a.batch = 1;
  int64_t v = 8;
  for (int64_t *p :
       {&a.o_stride[0], &a.o_stride[1], &a.o_stride[2], &a.part_o_stride[0],
        &a.part_o_stride[1], &a.part_o_stride[2]})
    *p = (v += 8);
  a.lse_stride[0] = 1001;
  a.lse_stride[1] = 1002;
  a.part_lse_stride[0] = 1003;
  a.part_lse_stride[1] = 1004;
  ASSERT_EQ(s2rt_merge(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  f = fake_cuda_last_launch();
  EXPECT_STREQ(fake_cuda_function_name(f.function), "s2_merge_f16_d64_sm80");
  EXPECT_EQ(f.grid[0], 2u); // ceil(65 / 64)
  EXPECT_EQ(f.grid[1], 3u);
  EXPECT_EQ(f.grid[2], 1u);
  const int64_t expect[10] = {16, 24, 32, 1001, 1002, 40, 48, 56, 1003, 1004};
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(param<int64_t>(f, 5 + i), expect[i]) << "parameter " << 5 + i;

  // Zero rows: nothing launched.
  int launches = fake_cuda_stats().launches;
  a = goodMergeArgs();
  a.rows = 0;
  ASSERT_EQ(s2rt_merge(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_EQ(fake_cuda_stats().launches, launches);

  // A failed launch names the kernel and grid.
  a = goodMergeArgs();
  fake_cuda_fail_next("cuLaunchKernel", CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
  EXPECT_STATUS(s2rt_merge(l.b, &a, nullptr), S2RT_ERROR_CUDA,
                "launching 's2_merge_bf16_d128_sm90a' with grid (16, 8, 2)");
  EXPECT_EQ(fake_cuda_stats().pushes, fake_cuda_stats().pops);
}

TEST_F(FakeDriver, MergeKernelForTheDevice) {
  // sm_80: the forward kernels run, the bf16 d128 merge kernel exists only
  // for sm_90a... once the sm_80 PTX is taken away.
  fake_cuda_set_devices(1, 8, 0, 164 * 1024);
  s2::Bundle b = sampleWithMerge();
  b.kernels.erase(b.kernels.begin());
  Loaded l(b);
  s2rt_merge_args a = goodMergeArgs();
  EXPECT_STATUS(s2rt_merge(l.b, &a, nullptr), S2RT_ERROR_UNSUPPORTED,
                "no bf16 d128 merge kernel of the bundle runs on device 0 "
                "(sm_80); it has: bf16 d128 sm_90a");
  // The forward kernel still runs there.
  s2rt_forward_args f = goodArgs();
  EXPECT_EQ(s2rt_forward(l.b, &f, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_STREQ(fake_cuda_function_name(fake_cuda_last_launch().function),
               "fwd_bf16_128_sm80");
  // The device's current context is used as for forward; another context
  // is pushed and popped around the launch.
  fake_cuda_set_current(-1);
  a.dtype = S2RT_DTYPE_F16;
  a.head_dim = 64;
  a.device = 0;
  FakeStats before = fake_cuda_stats();
  ASSERT_EQ(s2rt_merge(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  FakeStats after = fake_cuda_stats();
  EXPECT_EQ(after.pushes, before.pushes + 1);
  EXPECT_EQ(after.pops, after.pushes);
  fake_cuda_set_current(0);
}

TEST_F(FakeDriver, CopyLaunch) {
  Loaded l(sampleWithCopy());
  // sm_90: the copy kernel is loaded once, from the sm_90a cubin, beside
  // the five forward and merge kernels of MergeLaunch.
  ASSERT_EQ(s2rt_bundle_prepare(l.b, 0), S2RT_SUCCESS) << s2rt_last_error();
  FakeStats st = fake_cuda_stats();
  EXPECT_EQ(st.moduleLoads, 6);
  EXPECT_EQ(st.moduleLoadsCubin, 3);
  EXPECT_EQ(st.setAttributes, 2);

  // Three segments: a pitched one (rows of 32 bytes out of 48-byte source
  // rows into 64-byte destination rows), a contiguous one, an empty one.
  alignas(16) unsigned char src[4096], dst[4096];
  for (size_t i = 0; i < sizeof(src); ++i)
    src[i] = static_cast<unsigned char>(i * 7 + 3);
  std::memset(dst, 0xee, sizeof(dst));
  auto addr = [](const void *p, size_t off) {
    return int64_t(reinterpret_cast<uintptr_t>(p) + off);
  };
  alignas(16) int64_t segs[18] = {
      addr(src, 16),   addr(dst, 0),    5, 32,  48, 64,  // pitched
      addr(src, 1024), addr(dst, 2048), 1, 256, 0,  0,   // one row
      addr(src, 0),    addr(dst, 3072), 0, 16,  16, 16}; // no rows
  s2rt_copy_args a;
  s2rt_copy_args_init(&a);
  a.segments = segs;
  a.count = 3;
  s2rt_stream stream = reinterpret_cast<s2rt_stream>(uintptr_t(0xc0de));
  ASSERT_EQ(s2rt_copy(l.b, &a, stream), S2RT_SUCCESS) << s2rt_last_error();
  FakeLaunch f = fake_cuda_last_launch();
  EXPECT_STREQ(fake_cuda_function_name(f.function), "s2_copy");
  EXPECT_EQ(f.numParams, 2);
  EXPECT_EQ(f.grid[0], 3u);
  EXPECT_EQ(f.grid[1], 1u);
  EXPECT_EQ(f.grid[2], 1u);
  EXPECT_EQ(f.block[0], 128u);
  EXPECT_EQ(f.block[1], 1u);
  EXPECT_EQ(f.sharedBytes, 0u);
  EXPECT_EQ(f.stream, reinterpret_cast<void *>(stream));
  EXPECT_EQ(param<const int64_t *>(f, 0), segs);
  EXPECT_EQ(param<int64_t>(f, 1), 3);
  EXPECT_EQ(fake_cuda_stats().copyKernels, 1);
  EXPECT_EQ(fake_cuda_stats().moduleLoads, 6); // nothing loaded again

  // The fake ran it: row r of segment 0 at dst + 64r holds src + 16 + 48r,
  // the 32 bytes after it in the row untouched; segment 1 moved 256 bytes;
  // segment 2 nothing.
  for (int r = 0; r < 5; ++r) {
    EXPECT_EQ(std::memcmp(dst + 64 * r, src + 16 + 48 * r, 32), 0)
        << "row " << r;
    for (int i = 32; i < 64; ++i)
      EXPECT_EQ(dst[64 * r + i], 0xee) << "row " << r << " byte " << i;
  }
  for (int i = 320; i < 2048; ++i)
    ASSERT_EQ(dst[i], 0xee) << i;
  EXPECT_EQ(std::memcmp(dst + 2048, src + 1024, 256), 0);
  for (int i = 2048 + 256; i < 4096; ++i)
    ASSERT_EQ(dst[i], 0xee) << i;

  // Zero segments: nothing launched.
  int launches = fake_cuda_stats().launches;
  a.count = 0;
  ASSERT_EQ(s2rt_copy(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  a.segments = nullptr;
  ASSERT_EQ(s2rt_copy(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_EQ(fake_cuda_stats().launches, launches);
  // Bad arguments launch nothing either.
  a.count = -2;
  EXPECT_STATUS(s2rt_copy(l.b, &a, nullptr), S2RT_ERROR_INVALID_ARGUMENT,
                "segment count -2");
  EXPECT_EQ(fake_cuda_stats().launches, launches);

  // A failed launch names the kernel and grid.
  a.segments = segs;
  a.count = 2;
  fake_cuda_fail_next("cuLaunchKernel", CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
  EXPECT_STATUS(s2rt_copy(l.b, &a, nullptr), S2RT_ERROR_CUDA,
                "launching 's2_copy' with grid (2, 1, 1)");
  EXPECT_EQ(fake_cuda_stats().pushes, fake_cuda_stats().pops);
}

TEST_F(FakeDriver, CopyKernelForTheDevice) {
  // sm_80: the sm_80 PTX (the sm_90a cubin does not run there).
  fake_cuda_set_devices(1, 8, 0, 164 * 1024);
  Loaded l(sampleWithCopy());
  alignas(16) unsigned char src[64], dst[64] = {0};
  for (int i = 0; i < 64; ++i)
    src[i] = static_cast<unsigned char>(i + 1);
  alignas(16) int64_t segs[6] = {int64_t(reinterpret_cast<uintptr_t>(src)),
                                 int64_t(reinterpret_cast<uintptr_t>(dst)),
                                 2,
                                 16,
                                 32,
                                 16};
  s2rt_copy_args a;
  s2rt_copy_args_init(&a);
  a.segments = segs;
  a.count = 1;
  FakeStats before = fake_cuda_stats();
  ASSERT_EQ(s2rt_copy(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  FakeLaunch f = fake_cuda_last_launch();
  EXPECT_STREQ(fake_cuda_function_name(f.function), "s2_copy");
  FakeStats after = fake_cuda_stats();
  // PTX: the copy kernel and the sm_80 merge and f16 forward kernels; the
  // one cubin is the bf16 d128 forward kernel's.
  EXPECT_EQ(after.moduleLoadsPtx - before.moduleLoadsPtx, 5);
  EXPECT_EQ(after.moduleLoadsCubin - before.moduleLoadsCubin, 1);
  EXPECT_EQ(std::memcmp(dst, src, 16), 0);
  EXPECT_EQ(std::memcmp(dst + 16, src + 32, 16), 0);
  EXPECT_EQ(dst[32], 0);

  // Without the sm_80 copy kernel nothing runs on sm_80.
  s2::Bundle b = sampleWithCopy();
  b.kernels.erase(b.kernels.begin());
  Loaded only90(b);
  EXPECT_EQ(s2rt_bundle_has_copy_kernel(only90.b, 80), 0);
  EXPECT_STATUS(s2rt_copy(only90.b, &a, nullptr), S2RT_ERROR_UNSUPPORTED,
                "no copy kernel of the bundle runs on device 0 (sm_80); it "
                "has: sm_90a");
}

TEST_F(FakeDriver, FakeStreamsEventsAndCopies) {
  // The fake's side of the entry points the sequence-parallel executor uses
  // (called directly: this binary links the fake).
  CUstream s = nullptr;
  EXPECT_EQ(cuStreamCreate(&s, 0), CUDA_ERROR_INVALID_CONTEXT);
  fake_cuda_set_current(1);
  ASSERT_EQ(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUevent e0 = nullptr, e1 = nullptr;
  ASSERT_EQ(cuEventCreate(&e0, 0), CUDA_SUCCESS);
  ASSERT_EQ(cuEventCreate(&e1, 0), CUDA_SUCCESS);
  std::vector<char> a(64), b(64, 0);
  for (int i = 0; i < 64; ++i)
    a[size_t(i)] = char(i);
  auto dev = [](std::vector<char> &v) { return CUdeviceptr(v.data()); };
  ASSERT_EQ(cuEventRecord(e0, s), CUDA_SUCCESS);
  ASSERT_EQ(cuMemcpyAsync(dev(b), dev(a), 16, s), CUDA_SUCCESS);
  EXPECT_EQ(b[15], 15);
  ASSERT_EQ(cuMemsetD8Async(dev(b), 7, 4, s), CUDA_SUCCESS);
  EXPECT_EQ(b[3], 7);
  EXPECT_EQ(b[4], 4);
  // A 4x4 block at (x 2, y 1) of an 8-wide source into a 4-wide target.
  CUDA_MEMCPY2D p;
  std::memset(&p, 0, sizeof(p));
  p.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  p.srcDevice = dev(a);
  p.srcPitch = 8;
  p.srcXInBytes = 2;
  p.srcY = 1;
  p.dstMemoryType = CU_MEMORYTYPE_HOST;
  p.dstHost = b.data() + 32;
  p.dstPitch = 4;
  p.WidthInBytes = 4;
  p.Height = 4;
  ASSERT_EQ(cuMemcpy2DAsync(&p, s), CUDA_SUCCESS);
  EXPECT_EQ(b[32], 10);
  EXPECT_EQ(b[47], 8 * 4 + 5);
  p.dstPitch = 3;
  EXPECT_EQ(cuMemcpy2DAsync(&p, s), CUDA_ERROR_INVALID_VALUE);
  char host[4];
  ASSERT_EQ(cuMemcpyDtoHAsync(host, dev(a) + 8, 4, s), CUDA_SUCCESS);
  EXPECT_EQ(host[0], 8);
  ASSERT_EQ(cuMemcpyHtoDAsync(dev(b), host, 4, s), CUDA_SUCCESS);
  EXPECT_EQ(b[0], 8);
  ASSERT_EQ(cuMemcpyDtoH(host, dev(a) + 20, 4), CUDA_SUCCESS);
  EXPECT_EQ(host[3], 23);
  ASSERT_EQ(cuEventRecord(e1, s), CUDA_SUCCESS);
  ASSERT_EQ(cuStreamWaitEvent(nullptr, e1, 0), CUDA_SUCCESS);
  ASSERT_EQ(cuEventSynchronize(e1), CUDA_SUCCESS);
  ASSERT_EQ(cuStreamSynchronize(s), CUDA_SUCCESS);
  ASSERT_EQ(cuCtxSynchronize(), CUDA_SUCCESS);
  float ms = -1;
  ASSERT_EQ(cuEventElapsedTime(&ms, e0, e1), CUDA_SUCCESS);
  EXPECT_EQ(ms, 1.0f);
  FakeStats st = fake_cuda_stats();
  EXPECT_EQ(st.streamsCreated, 1);
  EXPECT_EQ(st.eventsCreated, 2);
  EXPECT_EQ(st.eventRecords, 2);
  EXPECT_EQ(st.asyncCopies, 4);
  EXPECT_EQ(st.copiesToHost, 2);
  EXPECT_EQ(st.memsets, 1);
  EXPECT_EQ(st.streamWaits, 1);
  ASSERT_EQ(cuEventDestroy(e0), CUDA_SUCCESS);
  ASSERT_EQ(cuEventDestroy(e1), CUDA_SUCCESS);
  EXPECT_EQ(cuEventDestroy(e1), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(cuEventRecord(e1, s), CUDA_ERROR_INVALID_HANDLE);
  ASSERT_EQ(cuStreamDestroy(s), CUDA_SUCCESS);
  EXPECT_EQ(cuMemcpyAsync(dev(b), dev(a), 1, s), CUDA_ERROR_INVALID_HANDLE);
  st = fake_cuda_stats();
  EXPECT_EQ(st.streamsDestroyed, st.streamsCreated);
  EXPECT_EQ(st.eventsDestroyed, st.eventsCreated);
  // cuCtxSetCurrent replaces the top of the stack; null pops it.
  CUcontext c = nullptr;
  ASSERT_EQ(cuCtxSetCurrent(reinterpret_cast<CUcontext>(uintptr_t(0x2000))),
            CUDA_SUCCESS);
  ASSERT_EQ(cuCtxGetCurrent(&c), CUDA_SUCCESS);
  EXPECT_EQ(c, reinterpret_cast<CUcontext>(uintptr_t(0x2000)));
  ASSERT_EQ(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  ASSERT_EQ(cuCtxGetCurrent(&c), CUDA_SUCCESS);
  EXPECT_EQ(c, nullptr);
  EXPECT_EQ(cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);
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

// Sequence parallelism (s2rt_sp.h) over the fake driver: every launch of the
// program is made, the outputs start as the merge identity, virtual ranks
// copy their messages, and missing pieces (NCCL, merge kernels) are errors.
TEST_F(FakeDriver, SequenceParallelVirtualRanks) {
  // With driver copies for packing (no copy kernel), then with the copy
  // kernel (which the fake runs on the host).
  for (bool withCopy : {false, true}) {
    SCOPED_TRACE(withCopy ? "copy kernel" : "driver copies");
    s2::Bundle sb = sampleWithMerge();
    if (withCopy)
      sb.kernels.insert(sb.kernels.begin(),
                        {copyKernel("sm_80", true, false),
                         copyKernel("sm_90a", false, true)});
    Loaded l(sb);
    int copyLaunches = fake_cuda_stats().copyKernels;
    s2rt_sp_config c;
    s2rt_sp_config_init(&c);
    c.seqlen = 1000;
    c.ranks = 3;
    c.head_dim = 128;
    s2rt_sp *sp = nullptr;
    ASSERT_EQ(s2rt_sp_create(l.b, &c, &sp), S2RT_SUCCESS) << s2rt_last_error();
    s2rt_sp_stats st;
    ASSERT_EQ(s2rt_sp_get_stats(sp, &st), S2RT_SUCCESS);
    EXPECT_GT(st.launches, 3);
    EXPECT_GT(st.messages, 0);
    const int64_t H = 8, Hk = 2, D = 128;
    std::vector<std::vector<uint16_t>> q(3), k(3), v(3), o(3);
    std::vector<std::vector<float>> lse(3);
    std::vector<s2rt_sp_tensors> ts(3);
    int64_t total = 0;
    for (int64_t r = 0; r < 3; ++r) {
      int64_t b0, n;
      ASSERT_EQ(s2rt_sp_shard(sp, r, &b0, &n), S2RT_SUCCESS);
      EXPECT_EQ(b0, total);
      total += n;
      q[r].assign(size_t(n * H * D), 1);
      k[r].assign(size_t(n * Hk * D), 2);
      v[r].assign(size_t(n * Hk * D), 3);
      o[r].assign(size_t(n * H * D), 0x7777);
      lse[r].assign(size_t(H * n), 5.0f);
      ts[r] = {q[r].data(), k[r].data(), v[r].data(), o[r].data(),
               lse[r].data()};
    }
    EXPECT_EQ(total, 1000);
    int before = fake_cuda_stats().launches;
    ASSERT_EQ(s2rt_sp_forward_virtual(sp, ts.data(), 0, nullptr), S2RT_SUCCESS)
        << s2rt_last_error();
    FakeStats fs = fake_cuda_stats();
    int copyRuns = fs.copyKernels - copyLaunches;
    EXPECT_EQ(fs.launches - before - copyRuns, st.launches);
    if (withCopy)
      EXPECT_GT(copyRuns, 0);
    else
      EXPECT_EQ(copyRuns, 0);
    EXPECT_GT(fs.asyncCopies, 0);
    EXPECT_GT(fs.streamWaits, 0);
    // No kernel ran: every output row is still the merge identity.
    for (int64_t r = 0; r < 3; ++r) {
      for (uint16_t x : o[r])
        ASSERT_EQ(x, 0);
      for (float x : lse[r])
        ASSERT_TRUE(std::isinf(x) && x < 0);
    }
    // The last launch of a rank reads keys through the window of its shard.
    FakeLaunch f = fake_cuda_last_launch();
    if (f.numParams == 29) {
      int64_t kvLo = param<int64_t>(f, 27), kvHi = param<int64_t>(f, 28);
      EXPECT_EQ(kvLo % 64, 0);
      EXPECT_GT(kvHi, kvLo);
      EXPECT_EQ(param<int64_t>(f, 6), 1000); // sk: absolute positions
    }
    // A second run reuses streams, events and scratch.
    int allocs = fake_cuda_stats().allocs;
    ASSERT_EQ(s2rt_sp_forward_virtual(sp, ts.data(), 0, nullptr), S2RT_SUCCESS)
        << s2rt_last_error();
    EXPECT_EQ(fake_cuda_stats().allocs, allocs);
    // Errors: a null tensor, a rank out of range, NCCL missing.
    ts[1].lse = nullptr;
    EXPECT_STATUS(s2rt_sp_forward_virtual(sp, ts.data(), 0, nullptr),
                  S2RT_ERROR_INVALID_ARGUMENT, "rank 1");
    ts[1].lse = lse[1].data();
    setenv("S2RT_LIBNCCL", "/nonexistent/libnccl.so.2", 1);
    int dummy;
    EXPECT_STATUS(s2rt_sp_forward_nccl(sp, 0, &dummy, &ts[0], 0, nullptr),
                  S2RT_ERROR_NO_DRIVER, "cannot load NCCL");
    EXPECT_STATUS(s2rt_sp_forward_nccl(sp, 5, &dummy, &ts[0], 0, nullptr),
                  S2RT_ERROR_INVALID_ARGUMENT, "out of range");
    unsetenv("S2RT_LIBNCCL");
    s2rt_sp_destroy(sp);

    // A bundle without merge kernels plans, but its run fails with a message.
    Loaded noMerge(sample());
    ASSERT_EQ(s2rt_sp_create(noMerge.b, &c, &sp), S2RT_SUCCESS)
        << s2rt_last_error();
    EXPECT_STATUS(s2rt_sp_forward_virtual(sp, ts.data(), 0, nullptr),
                  S2RT_ERROR_CUDA, "merge");
    s2rt_sp_destroy(sp);

    // Bad configurations.
    s2rt_sp_config bad = c;
    bad.ranks = 1;
    EXPECT_STATUS(s2rt_sp_create(l.b, &bad, &sp), S2RT_ERROR_INVALID_ARGUMENT,
                  "ranks");
    bad = c;
    bad.head_dim = 96;
    EXPECT_STATUS(s2rt_sp_create(l.b, &bad, &sp), S2RT_ERROR_UNSUPPORTED,
                  "head dim");
    bad = c;
    bad.struct_size = 8;
    EXPECT_STATUS(s2rt_sp_create(l.b, &bad, &sp), S2RT_ERROR_INVALID_ARGUMENT,
                  "s2rt_sp_config_init");
  }
}

//===----------------------------------------------------------------------===//
// Forward kernels of kernel ABI 3: the tma flag and the K/V tensor maps
// (docs/bundle.md, "Kernel ABI (forward, version 3)"). RuntimeTest runs them
// against a fake with cuTensorMapEncodeTiled, RuntimeTestCuda11 against one
// without. The runtime's map cache is process-wide: every test uses K/V
// addresses of its own.
//===----------------------------------------------------------------------===//

/// PTX declaring forward entry `name` with the parameters of kernel ABI
/// `abi` (29; 32 for ABI 3, the maps 128 bytes aligned to 64), which is
/// where the fake driver takes a kernel's parameters from.
std::string forwardPtx(const std::string &name, const std::string &target,
                       int abi) {
  int n = abi == s2::kKernelAbiTensorMaps ? 32 : 29;
  std::string s = ".version 8.0\n.target " + target +
                  "\n.address_size 64\n\n.visible .entry " + name + "(\n";
  for (int i = 0; i < n; ++i) {
    std::string p = name + "_param_" + std::to_string(i);
    s += i >= 30              ? "\t.param .align 64 .b8 " + p + "[128]"
         : i == 21            ? "\t.param .f32 " + p
         : i == 22 || i == 29 ? "\t.param .u32 " + p
                              : "\t.param .u64 " + p;
    s += i + 1 < n ? ",\n" : "\n";
  }
  return s + ")\n{\n\tret;\n}\n";
}

/// `k` as a PTX kernel of ABI `abi` with its parameters declared.
s2::BundleKernel withAbi(s2::BundleKernel k, int abi) {
  k.abiVersion = abi;
  k.ptx = forwardPtx(k.name, k.target, abi);
  k.cubin.clear();
  return k;
}

/// The sample pattern with sm_90a kernels: bf16 d128 of ABI 3 (block_n
/// 64), f16 d64 of ABI 3 with block_n 128, f16 d36 of ABI 3, and bf16 d64
/// of ABI 2 (its 29 parameters declared).
s2::Bundle tmaSample() {
  s2::Bundle b = sample();
  b.kernels.clear();
  b.kernels.push_back(withAbi(
      kernel("fwd_bf16_128_tma", "sm_90a", s2::DType::BF16, 128, true, false),
      s2::kKernelAbiTensorMaps));
  s2::BundleKernel f16 = withAbi(
      kernel("fwd_f16_64_tma", "sm_90a", s2::DType::F16, 64, true, false),
      s2::kKernelAbiTensorMaps);
  f16.blockN = 128;
  b.kernels.push_back(f16);
  b.kernels.push_back(withAbi(
      kernel("fwd_f16_36_tma", "sm_90a", s2::DType::F16, 36, true, false),
      s2::kKernelAbiTensorMaps));
  b.kernels.push_back(withAbi(
      kernel("fwd_bf16_64_abi2", "sm_90a", s2::DType::BF16, 64, true, false),
      s2::kKernelAbiVersion));
  return b;
}

/// goodArgs() (bf16 d128, B 2, 1000 keys, (B, S, H, D) layout, 2 KV heads)
/// with K and V at addresses of their own.
s2rt_forward_args tmaArgs(uintptr_t k, uintptr_t v) {
  s2rt_forward_args a = goodArgs();
  a.k = reinterpret_cast<const void *>(k);
  a.v = reinterpret_cast<const void *>(v);
  return a;
}

/// Parameters 29-31 of the last launch.
struct TmaParams {
  int32_t tma = -1;
  uint64_t kMap[16] = {};
  uint64_t vMap[16] = {};
  uintptr_t kAt = 1, vAt = 1;
};

TmaParams lastTmaParams() {
  TmaParams t;
  EXPECT_EQ(fake_cuda_last_launch_param(29, &t.tma, 4, nullptr), 4u);
  EXPECT_EQ(fake_cuda_last_launch_param(30, t.kMap, 128, &t.kAt), 128u);
  EXPECT_EQ(fake_cuda_last_launch_param(31, t.vMap, 128, &t.vAt), 128u);
  return t;
}

bool allZero(const uint64_t (&map)[16]) {
  for (uint64_t w : map)
    if (w)
      return false;
  return true;
}

/// Checks encode call `i` against the map docs/bundle.md describes.
void expectEncode(int i, int dataType, uintptr_t address,
                  std::vector<uint64_t> dims, std::vector<uint64_t> strides,
                  unsigned boxN) {
  SCOPED_TRACE("encode call " + std::to_string(i));
  FakeTensorMapEncode e;
  ASSERT_TRUE(fake_cuda_tensor_map_encode(i, &e));
  EXPECT_EQ(e.result, CUDA_SUCCESS);
  EXPECT_EQ(e.dataType, dataType);
  ASSERT_EQ(e.rank, 4u);
  EXPECT_EQ(e.globalAddress, uint64_t(address));
  EXPECT_EQ(std::vector<uint64_t>(e.globalDim, e.globalDim + 4), dims);
  EXPECT_EQ(std::vector<uint64_t>(e.globalStrides, e.globalStrides + 3),
            strides);
  EXPECT_EQ(std::vector<unsigned>(e.boxDim, e.boxDim + 4),
            (std::vector<unsigned>{64, boxN, 1, 1}));
  EXPECT_EQ(std::vector<unsigned>(e.elementStrides, e.elementStrides + 4),
            (std::vector<unsigned>{1, 1, 1, 1}));
  EXPECT_EQ(e.interleave, CU_TENSOR_MAP_INTERLEAVE_NONE);
  EXPECT_EQ(e.swizzle, CU_TENSOR_MAP_SWIZZLE_128B);
  EXPECT_EQ(e.l2Promotion, CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
  EXPECT_EQ(e.oobFill, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  EXPECT_TRUE(e.mapAligned);
}

#define SKIP_WITHOUT_ENCODE()                                                  \
  if (!fake_cuda_has_tensor_map_encode())                                      \
  GTEST_SKIP() << "the fake driver has no cuTensorMapEncodeTiled "             \
                  "(TensorMapsNeedTheEncodeFunction covers it)"

TEST_F(FakeDriver, TensorMapsForAbi3Kernels) {
  SKIP_WITHOUT_ENCODE();
  Loaded l(tmaSample());
  s2rt_forward_args a = tmaArgs(0x10000000, 0x11000000);
  a.lse = reinterpret_cast<float *>(uintptr_t(0x500000));
  a.lse_stride[0] = 8 * 1000;
  a.lse_stride[1] = 1000;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_STREQ(s2rt_last_error(), "");
  FakeLaunch f = fake_cuda_last_launch();
  EXPECT_STREQ(fake_cuda_function_name(f.function), "fwd_bf16_128_tma");
  ASSERT_EQ(f.numParams, 32);
  // The 29 parameters of version 2, unchanged.
  EXPECT_EQ(param<uintptr_t>(f, 0), 0x100000u);
  EXPECT_EQ(param<uintptr_t>(f, 1), 0x10000000u);
  EXPECT_EQ(param<uintptr_t>(f, 2), 0x11000000u);
  EXPECT_EQ(param<uintptr_t>(f, 4), 0x500000u);
  EXPECT_EQ(param<int64_t>(f, 6), 1000);
  EXPECT_EQ(param<int64_t>(f, 11), 256);
  EXPECT_EQ(param<int32_t>(f, 22), 0);
  EXPECT_EQ(param<int64_t>(f, 28), 1000);
  // Then tma = 1 and the maps the driver encoded, K then V.
  ASSERT_EQ(fake_cuda_stats().tensorMapEncodes, 2);
  TmaParams t = lastTmaParams();
  EXPECT_EQ(t.tma, 1);
  EXPECT_EQ(t.kMap[0], 0x10000000u);
  EXPECT_EQ(t.kMap[1], 1u);
  EXPECT_EQ(t.vMap[0], 0x11000000u);
  EXPECT_EQ(t.vMap[1], 2u);
  EXPECT_EQ(t.kAt % 64, 0u);
  EXPECT_EQ(t.vAt % 64, 0u);
  // (D, S, KV heads, B) = (128, 1000, 2, 2); byte strides of seq, head,
  // batch; box (64, BLOCK_N).
  expectEncode(0, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 0x10000000,
               {128, 1000, 2, 2}, {512, 256, 512000}, 64);
  expectEncode(1, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 0x11000000,
               {128, 1000, 2, 2}, {512, 256, 512000}, 64);

  // f16, the kernel's BLOCK_N (128, not the bundle's 64) in the box; batch
  // 1 with batch stride 0 and one KV head in the launch (heads [4, 8), G =
  // 4): those dims get the packed stride.
  a = tmaArgs(0x12000000, 0x13000000);
  a.dtype = S2RT_DTYPE_F16;
  a.head_dim = 64;
  a.batch = 1;
  a.heads = 4;
  a.head_offset = 4;
  int64_t qs[3] = {0, 8 * 64, 64}, ks[3] = {0, 2 * 64, 64};
  for (int i = 0; i < 3; ++i) {
    a.q_stride[i] = a.o_stride[i] = qs[i];
    a.k_stride[i] = a.v_stride[i] = ks[i];
  }
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  f = fake_cuda_last_launch();
  EXPECT_STREQ(fake_cuda_function_name(f.function), "fwd_f16_64_tma");
  EXPECT_EQ(f.grid[1], 4u);
  ASSERT_EQ(fake_cuda_stats().tensorMapEncodes, 4);
  t = lastTmaParams();
  EXPECT_EQ(t.tma, 1);
  EXPECT_EQ(t.kMap[0], 0x12000000u);
  EXPECT_EQ(t.vMap[0], 0x13000000u);
  // seq 64 * 2 * 2 bytes; head (extent 1) 256 * 1000; batch (extent 1)
  // 256000 * 1.
  expectEncode(2, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 0x12000000, {64, 1000, 1, 1},
               {256, 256000, 256000}, 128);
  expectEncode(3, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 0x13000000, {64, 1000, 1, 1},
               {256, 256000, 256000}, 128);
  // Heads [0, 3): ceil(3 / 4) = 1 KV head in the launch.
  a = tmaArgs(0x14000000, 0x15000000);
  a.heads = 3;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_EQ(lastTmaParams().tma, 1);
  expectEncode(4, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 0x14000000,
               {128, 1000, 1, 2}, {512, 512000, 512000}, 64);

  // A key window [256, 512) whose k and v point before their buffers (k =
  // buffer - 256 keys): the maps take the pointers as passed and the whole
  // key length.
  uintptr_t kBuf = 0x16000000, vBuf = 0x17000000, before = 256 * 512;
  a = tmaArgs(kBuf - before, vBuf - before);
  a.seqlen_q = 256;
  a.query_pos = 256;
  a.key_begin = 256;
  a.key_end = 512;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  f = fake_cuda_last_launch();
  EXPECT_EQ(param<uintptr_t>(f, 1), kBuf - before);
  EXPECT_EQ(param<int64_t>(f, 27), 256);
  EXPECT_EQ(param<int64_t>(f, 28), 512);
  t = lastTmaParams();
  EXPECT_EQ(t.tma, 1);
  EXPECT_EQ(t.kMap[0], kBuf - before);
  expectEncode(6, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, kBuf - before,
               {128, 1000, 2, 2}, {512, 256, 512000}, 64);
  expectEncode(7, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, vBuf - before,
               {128, 1000, 2, 2}, {512, 256, 512000}, 64);
  EXPECT_STREQ(s2rt_last_error(), "");
}

TEST_F(FakeDriver, TensorMapsAreCached) {
  SKIP_WITHOUT_ENCODE();
  Loaded l(tmaSample());
  s2rt_forward_args a = tmaArgs(0x20000000, 0x21000000);
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  ASSERT_EQ(fake_cuda_stats().tensorMapEncodes, 2);
  TmaParams first = lastTmaParams();
  EXPECT_EQ(first.tma, 1);
  // The same launch again: no encode, the same maps.
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 2);
  TmaParams again = lastTmaParams();
  EXPECT_EQ(again.tma, 1);
  EXPECT_EQ(std::memcmp(first.kMap, again.kMap, 128), 0);
  EXPECT_EQ(std::memcmp(first.vMap, again.vMap, 128), 0);
  // Another query length or window changes no map either.
  a.seqlen_q = 100;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 2);
  // Every other thing a map depends on is part of the key: address, dims,
  // strides.
  a.v = reinterpret_cast<const void *>(uintptr_t(0x22000000));
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 3); // V only
  a.seqlen_k = 1100;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 5);
  a.k_stride[0] = a.v_stride[0] = 1100 * 2 * 128 + 8;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 7);
  EXPECT_EQ(lastTmaParams().tma, 1);

  // Bounded at 64 maps, the oldest evicted first (a hit does not make a
  // map younger): B's two maps survive 62 younger ones, not 64.
  s2rt_forward_args b = tmaArgs(0x23000000, 0x24000000);
  ASSERT_EQ(s2rt_forward(l.b, &b, nullptr), S2RT_SUCCESS);
  int encodes = fake_cuda_stats().tensorMapEncodes;
  EXPECT_EQ(encodes, 9);
  auto other = [&](int i) {
    s2rt_forward_args o = tmaArgs(0x30000000 + uintptr_t(i) * 0x100000,
                                  0x50000000 + uintptr_t(i) * 0x100000);
    ASSERT_EQ(s2rt_forward(l.b, &o, nullptr), S2RT_SUCCESS);
  };
  for (int i = 0; i < 31; ++i)
    other(i);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, encodes + 62);
  ASSERT_EQ(s2rt_forward(l.b, &b, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, encodes + 62);
  other(31);
  ASSERT_EQ(s2rt_forward(l.b, &b, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, encodes + 64 + 2);
  EXPECT_EQ(lastTmaParams().tma, 1);
}

TEST_F(FakeDriver, TensorMapFallbacks) {
  SKIP_WITHOUT_ENCODE();
  Loaded l(tmaSample());
  // Each case launches with tma = 0 and zeroed maps (32 parameters still),
  // succeeds and leaves no error message.
  auto expectNoTma = [&](const char *what) {
    SCOPED_TRACE(what);
    EXPECT_STREQ(s2rt_last_error(), "");
    EXPECT_EQ(fake_cuda_last_launch().numParams, 32);
    TmaParams t = lastTmaParams();
    EXPECT_EQ(t.tma, 0);
    EXPECT_TRUE(allZero(t.kMap));
    EXPECT_TRUE(allZero(t.vMap));
  };

  // Packed: never, and nothing is encoded.
  s2rt_forward_args a = tmaArgs(0x60000000, 0x61000000);
  a.cu_seqlens_q = reinterpret_cast<const int32_t *>(uintptr_t(0x600000));
  a.cu_seqlens_k = reinterpret_cast<const int32_t *>(uintptr_t(0x700000));
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  expectNoTma("packed");
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 0);

  // A byte stride of 2^40 or more (batch stride 2^39 elements).
  a = tmaArgs(0x62000000, 0x63000000);
  a.k_stride[0] = int64_t(1) << 39;
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  expectNoTma("stride of 2^40 bytes");
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 0);
  a.k_stride[0] = (int64_t(1) << 39) - 8; // just below: fine
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_EQ(lastTmaParams().tma, 1);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 2);

  // A stride that is not a multiple of 16 bytes. The argument checks take
  // only multiples of 8 elements, so it takes the packed stride of a key
  // dimension of extent 1, which is the head dim's: 36 elements, 72 bytes
  // (rows padded to 40 elements).
  a = tmaArgs(0x64000000, 0x65000000);
  a.dtype = S2RT_DTYPE_F16;
  a.head_dim = 36;
  a.seqlen_q = a.seqlen_k = 1;
  int64_t qs[3] = {8 * 40, 8 * 40, 40}, ks[3] = {2 * 40, 2 * 40, 40};
  for (int i = 0; i < 3; ++i) {
    a.q_stride[i] = a.o_stride[i] = qs[i];
    a.k_stride[i] = a.v_stride[i] = ks[i];
  }
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_STREQ(fake_cuda_function_name(fake_cuda_last_launch().function),
               "fwd_f16_36_tma");
  expectNoTma("seq stride of 72 bytes");
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 2);
  a.seqlen_q = a.seqlen_k = 2; // the strides passed: 160, 80, 160 bytes
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_EQ(lastTmaParams().tma, 1);
  expectEncode(2, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 0x64000000, {36, 2, 2, 2},
               {160, 80, 160}, 64);

  // The driver refuses an encode (CUDA_ERROR_INVALID_VALUE): tma = 0, no
  // V encode, and the failure is cached like a map.
  a = tmaArgs(0x66000000, 0x67000000);
  fake_cuda_fail_next("cuTensorMapEncodeTiled", CUDA_ERROR_INVALID_VALUE);
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  expectNoTma("encode refused");
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 5);
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  expectNoTma("encode refused, cached");
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 5);
  // So is another failure (here of the V encode, K being cached).
  a = tmaArgs(0x68000000, 0x69000000);
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 7);
  a.v = reinterpret_cast<const void *>(uintptr_t(0x6a000000));
  fake_cuda_fail_next("cuTensorMapEncodeTiled", CUDA_ERROR_NOT_INITIALIZED);
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  expectNoTma("encode failed");
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 8);
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  expectNoTma("encode failed, cached");
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 8);
  FakeTensorMapEncode e;
  ASSERT_TRUE(fake_cuda_tensor_map_encode(7, &e));
  EXPECT_EQ(e.result, CUDA_ERROR_NOT_INITIALIZED);
  EXPECT_EQ(e.globalAddress, 0x6a000000u);
  // No encode without the device's context (pushing it fails): tma = 0
  // this time, no error, and the next launch encodes.
  a.v = reinterpret_cast<const void *>(uintptr_t(0x6b000000));
  fake_cuda_fail_next("cuCtxPushCurrent", CUDA_ERROR_INVALID_CONTEXT);
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  expectNoTma("no context for the encode");
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 8);
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_EQ(lastTmaParams().tma, 1);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 9);
  FakeStats fs = fake_cuda_stats();
  EXPECT_EQ(fs.pushes, fs.pops);

  // A layout the driver refuses on its own (BLOCK_N 512 > 256 in the box).
  s2::Bundle wide = tmaSample();
  wide.kernels[0].blockN = 512;
  Loaded lw(wide);
  a = tmaArgs(0x6c000000, 0x6d000000);
  ASSERT_EQ(s2rt_forward(lw.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  expectNoTma("box of 512 keys");
  ASSERT_TRUE(fake_cuda_tensor_map_encode(9, &e));
  EXPECT_EQ(e.result, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(e.boxDim[1], 512u);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 10);
}

TEST_F(FakeDriver, TensorMapsOffWithS2rtTma0) {
  SKIP_WITHOUT_ENCODE();
  // Read when a bundle is prepared for a device: a bundle prepared with
  // S2RT_TMA=0 launches with tma = 0 and encodes nothing, also after the
  // variable is gone; one prepared afterwards uses the maps.
  setenv("S2RT_TMA", "0", 1);
  Loaded off(tmaSample());
  ASSERT_EQ(s2rt_bundle_prepare(off.b, 0), S2RT_SUCCESS) << s2rt_last_error();
  unsetenv("S2RT_TMA");
  s2rt_forward_args a = tmaArgs(0x70000000, 0x71000000);
  ASSERT_EQ(s2rt_forward(off.b, &a, nullptr), S2RT_SUCCESS)
      << s2rt_last_error();
  EXPECT_EQ(fake_cuda_last_launch().numParams, 32);
  TmaParams t = lastTmaParams();
  EXPECT_EQ(t.tma, 0);
  EXPECT_TRUE(allZero(t.kMap));
  EXPECT_TRUE(allZero(t.vMap));
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 0);
  // Any other value leaves them on.
  setenv("S2RT_TMA", "1", 1);
  Loaded on(tmaSample());
  ASSERT_EQ(s2rt_forward(on.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  unsetenv("S2RT_TMA");
  EXPECT_EQ(lastTmaParams().tma, 1);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 2);
}

TEST_F(FakeDriver, Abi2KernelsGetNoTensorMaps) {
  // A kernel of ABI 2 declaring its 29 parameters, on sm_90 with arguments
  // that would take maps: 29 parameters as before, nothing encoded.
  Loaded l(tmaSample());
  s2rt_forward_args a = tmaArgs(0x72000000, 0x73000000);
  a.head_dim = 64;
  int64_t qs[3] = {1000 * 8 * 64, 8 * 64, 64},
          ks[3] = {1000 * 2 * 64, 2 * 64, 64};
  for (int i = 0; i < 3; ++i) {
    a.q_stride[i] = a.o_stride[i] = qs[i];
    a.k_stride[i] = a.v_stride[i] = ks[i];
  }
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  FakeLaunch f = fake_cuda_last_launch();
  EXPECT_STREQ(fake_cuda_function_name(f.function), "fwd_bf16_64_abi2");
  EXPECT_EQ(f.numParams, 29);
  EXPECT_EQ(fake_cuda_last_launch_param(29, nullptr, 0, nullptr), 0u);
  EXPECT_EQ(param<uintptr_t>(f, 1), 0x72000000u);
  EXPECT_EQ(param<int64_t>(f, 11), 128);
  EXPECT_EQ(param<int64_t>(f, 28), 1000);
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 0);
  // The kernel info reports each kernel's ABI.
  s2rt_kernel_info info;
  ASSERT_EQ(s2rt_bundle_kernel_info(l.b, 0, &info), S2RT_SUCCESS);
  EXPECT_EQ(info.abi_version, 3);
  ASSERT_EQ(s2rt_bundle_kernel_info(l.b, 3, &info), S2RT_SUCCESS);
  EXPECT_EQ(info.abi_version, 2);
}

TEST_F(FakeDriver, TensorMapsNeedTheEncodeFunction) {
  if (fake_cuda_has_tensor_map_encode())
    GTEST_SKIP() << "runs in RuntimeTestCuda11, whose fake driver has no "
                    "cuTensorMapEncodeTiled";
  // The driver loaded without it, and an ABI 3 kernel runs with tma = 0.
  Loaded l(tmaSample());
  s2rt_forward_args a = tmaArgs(0x74000000, 0x75000000);
  ASSERT_EQ(s2rt_forward(l.b, &a, nullptr), S2RT_SUCCESS) << s2rt_last_error();
  EXPECT_STREQ(s2rt_last_error(), "");
  FakeLaunch f = fake_cuda_last_launch();
  EXPECT_STREQ(fake_cuda_function_name(f.function), "fwd_bf16_128_tma");
  EXPECT_EQ(f.numParams, 32);
  EXPECT_EQ(param<uintptr_t>(f, 1), 0x74000000u);
  TmaParams t = lastTmaParams();
  EXPECT_EQ(t.tma, 0);
  EXPECT_TRUE(allZero(t.kMap));
  EXPECT_TRUE(allZero(t.vMap));
  EXPECT_EQ(fake_cuda_stats().tensorMapEncodes, 0);
}

TEST_F(FakeDriver, SequenceParallelForwardsTakeTensorMaps) {
  SKIP_WITHOUT_ENCODE();
  // The executor's forward pieces go through s2rt_forward: with an ABI 3
  // forward kernel, they launch with maps of the shards' K and V.
  s2::Bundle sb = sampleWithMerge();
  for (s2::BundleKernel &k : sb.kernels)
    if (k.kind == s2::KernelKind::Forward && k.target == "sm_90a")
      k = withAbi(k, s2::kKernelAbiTensorMaps);
  Loaded l(sb);
  s2rt_sp_config c;
  s2rt_sp_config_init(&c);
  c.seqlen = 1000;
  c.ranks = 2;
  c.head_dim = 128;
  s2rt_sp *sp = nullptr;
  ASSERT_EQ(s2rt_sp_create(l.b, &c, &sp), S2RT_SUCCESS) << s2rt_last_error();
  const int64_t H = 8, Hk = 2, D = 128;
  std::vector<std::vector<uint16_t>> q(2), k(2), v(2), o(2);
  std::vector<std::vector<float>> lse(2);
  std::vector<s2rt_sp_tensors> ts(2);
  for (int64_t r = 0; r < 2; ++r) {
    int64_t b0, n;
    ASSERT_EQ(s2rt_sp_shard(sp, r, &b0, &n), S2RT_SUCCESS);
    q[r].assign(size_t(n * H * D), 1);
    k[r].assign(size_t(n * Hk * D), 2);
    v[r].assign(size_t(n * Hk * D), 3);
    o[r].assign(size_t(n * H * D), 0);
    lse[r].assign(size_t(H * n), 0.0f);
    ts[r] = {q[r].data(), k[r].data(), v[r].data(), o[r].data(), lse[r].data()};
  }
  ASSERT_EQ(s2rt_sp_forward_virtual(sp, ts.data(), 0, nullptr), S2RT_SUCCESS)
      << s2rt_last_error();
  int n = fake_cuda_stats().tensorMapEncodes;
  EXPECT_GE(n, 2);
  for (int i = 0; i < n; ++i) {
    FakeTensorMapEncode e;
    ASSERT_TRUE(fake_cuda_tensor_map_encode(i, &e));
    EXPECT_EQ(e.result, CUDA_SUCCESS);
    EXPECT_EQ(e.globalDim[0], 128u);
    EXPECT_EQ(e.boxDim[1], 64u);
  }
  s2rt_sp_destroy(sp);
}

} // namespace
