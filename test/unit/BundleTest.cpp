//===- BundleTest.cpp - The .s2m format: round trip and hostile input -----===//
//
// Writes bundles, reads them back field by field, and feeds the reader
// every truncation of a valid file, random byte mutations (with and without
// the checksum repaired, so the manifest parser itself is exercised) and
// hand-made oversize counts: every bad input must be rejected with a
// message and nothing may crash (run under ASan to make that strict).
//
//===----------------------------------------------------------------------===//

#include "s2/Bundle.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

using namespace s2;

namespace {

Pattern samplePattern() {
  Pattern p;
  p.name = "shard";
  p.heads = 8;
  p.kvHeads = 2;
  p.block = 64;
  p.causal = true;
  Rule local;
  local.kind = RuleKind::Local;
  local.heads.assign(8, 1);
  local.n = 4;
  p.rules.push_back(local);
  Rule stride;
  stride.kind = RuleKind::Stride;
  stride.heads.assign(8, 1);
  stride.step = 8;
  stride.shift.resize(8);
  for (int64_t h = 0; h < 8; ++h)
    stride.shift[size_t(h)] = shardShift(p, h, 8, 0);
  p.rules.push_back(stride);
  return p;
}

Bundle sampleBundle() {
  Bundle b;
  setBundlePattern(b, samplePattern());
  b.blockM = 128;
  b.blockN = 64;
  b.maxSeqLen = 0;
  b.settings = {{"compiler", "s2c 0.1.0"}, {"merge_q", "1"}};
  BundleKernel k;
  k.name = "s2_fwd_bf16_d128_sm80";
  k.target = "sm_80";
  k.dtype = DType::BF16;
  k.headDim = 128;
  k.blockM = 128;
  k.blockN = 64;
  k.threads = 256;
  k.sharedBytes = 65536;
  k.ptx = ".version 8.0\n.target sm_80\n.address_size 64\n";
  b.kernels.push_back(k);
  k.name = "s2_fwd_f16_d64_sm90a";
  k.target = "sm_90a";
  k.dtype = DType::F16;
  k.headDim = 64;
  k.ptx.clear();
  k.cubin = std::string("\x7f"
                        "ELF\0\1\2\3",
                        8);
  b.kernels.push_back(k);
  // A merge kernel: rows per CTA as BLOCK_M, no key tiles, no shared
  // memory.
  k.kind = KernelKind::Merge;
  k.name = "s2_merge_bf16_d128";
  k.target = "sm_80";
  k.dtype = DType::BF16;
  k.headDim = 128;
  k.blockM = 32;
  k.blockN = 0;
  k.threads = 128;
  k.sharedBytes = 0;
  k.cubin.clear();
  k.ptx = ".version 8.0\n.target sm_80\n.address_size 64\n";
  b.kernels.push_back(k);
  b.tableData = {0, 3, 5, 1, 2, 7, -1};
  b.tables = {{"group0.rowptr", 0, 3}, {"group0.cols", 3, 4}};
  return b;
}

void fixCrc(std::string &file) {
  uint32_t crc =
      crc32(file.data() + kBundleHeaderSize, file.size() - kBundleHeaderSize);
  for (int i = 0; i < 4; ++i)
    file[32 + i] = char((crc >> (8 * i)) & 0xff);
}

bool read(const std::string &file, Bundle &out, std::string &err) {
  return readBundle(file.data(), file.size(), out, err);
}

TEST(Bundle, RoundTrip) {
  Bundle b = sampleBundle();
  ASSERT_EQ(validateBundle(b), "");
  std::string file = writeBundle(b);
  Bundle r;
  std::string err;
  ASSERT_TRUE(read(file, r, err)) << err;
  EXPECT_EQ(r.patternName, "shard");
  EXPECT_EQ(r.patternText, b.patternText);
  EXPECT_EQ(r.heads, 8);
  EXPECT_EQ(r.kvHeads, 2);
  EXPECT_EQ(r.block, 64);
  EXPECT_TRUE(r.causal);
  EXPECT_EQ(r.blockM, 128);
  EXPECT_EQ(r.blockN, 64);
  EXPECT_EQ(r.settings, b.settings);
  ASSERT_EQ(r.kernels.size(), 3u);
  EXPECT_EQ(r.kernels[0].kind, KernelKind::Forward);
  EXPECT_EQ(r.kernels[1].kind, KernelKind::Forward);
  EXPECT_EQ(r.kernels[2].kind, KernelKind::Merge);
  EXPECT_EQ(r.kernels[2].name, "s2_merge_bf16_d128");
  EXPECT_EQ(r.kernels[2].blockM, 32);
  EXPECT_EQ(r.kernels[2].blockN, 0);
  EXPECT_EQ(r.kernels[2].sharedBytes, 0);
  EXPECT_EQ(r.kernels[0].name, "s2_fwd_bf16_d128_sm80");
  EXPECT_EQ(r.kernels[0].target, "sm_80");
  EXPECT_EQ(r.kernels[0].dtype, DType::BF16);
  EXPECT_EQ(r.kernels[0].headDim, 128);
  EXPECT_EQ(r.kernels[0].threads, 256);
  EXPECT_EQ(r.kernels[0].sharedBytes, 65536);
  EXPECT_EQ(r.kernels[0].abiVersion, kKernelAbiVersion);
  EXPECT_EQ(r.kernels[0].ptx, b.kernels[0].ptx);
  EXPECT_TRUE(r.kernels[0].cubin.empty());
  EXPECT_EQ(r.kernels[1].cubin, b.kernels[1].cubin);
  EXPECT_EQ(r.kernels[1].dtype, DType::F16);
  EXPECT_EQ(r.tableData, b.tableData);
  ASSERT_EQ(r.tables.size(), 2u);
  EXPECT_EQ(r.tables[1].name, "group0.cols");
  EXPECT_EQ(r.tables[1].offset, 3u);
  EXPECT_EQ(r.tables[1].length, 4u);
  // The carried pattern is the oracle's input.
  Pattern p;
  ASSERT_TRUE(deserializePattern(r.patternText, p, err)) << err;
  EXPECT_EQ(countVisiblePairs(p, 3, 1000, 1000),
            countVisiblePairs(samplePattern(), 3, 1000, 1000));
  // Writing is deterministic.
  EXPECT_EQ(writeBundle(r), file);
}

TEST(Bundle, HeaderLayout) {
  std::string file = writeBundle(sampleBundle());
  ASSERT_GE(file.size(), kBundleHeaderSize);
  EXPECT_EQ(std::memcmp(file.data(), "S2MBNDL\0", 8), 0);
  EXPECT_EQ(uint8_t(file[8]), kBundleFormatVersion);
  EXPECT_EQ(uint8_t(file[12]), kBundleHeaderSize);
}

TEST(Bundle, EmptyTablesAndNoKernels) {
  Bundle b = sampleBundle();
  b.kernels.clear();
  b.tables.clear();
  b.tableData.clear();
  std::string err;
  Bundle r;
  ASSERT_TRUE(read(writeBundle(b), r, err)) << err;
  EXPECT_TRUE(r.kernels.empty());
  EXPECT_TRUE(r.tableData.empty());
}

TEST(Bundle, EveryTruncationRejected) {
  std::string file = writeBundle(sampleBundle());
  for (size_t n = 0; n < file.size(); ++n) {
    Bundle r;
    std::string err;
    EXPECT_FALSE(readBundle(file.data(), n, r, err)) << "length " << n;
    EXPECT_FALSE(err.empty()) << "length " << n;
  }
  // Truncations with the header and checksum made consistent again reach
  // the manifest parser.
  for (size_t n = kBundleHeaderSize; n < file.size(); ++n) {
    std::string t = file.substr(0, n);
    uint64_t manifest = 0;
    for (int i = 7; i >= 0; --i)
      manifest = (manifest << 8) | uint8_t(t[16 + i]);
    uint64_t rest = n - kBundleHeaderSize;
    if (manifest > rest)
      manifest = rest;
    uint64_t payload = rest - manifest;
    for (int i = 0; i < 8; ++i) {
      t[16 + i] = char((manifest >> (8 * i)) & 0xff);
      t[24 + i] = char((payload >> (8 * i)) & 0xff);
    }
    fixCrc(t);
    Bundle r;
    std::string err;
    EXPECT_FALSE(read(t, r, err)) << "length " << n;
    EXPECT_FALSE(err.empty());
  }
}

TEST(Bundle, TrailingBytesRejected) {
  std::string file = writeBundle(sampleBundle()) + "x";
  Bundle r;
  std::string err;
  EXPECT_FALSE(read(file, r, err));
  EXPECT_NE(err.find("trailing"), std::string::npos) << err;
}

TEST(Bundle, RandomMutations) {
  std::string file = writeBundle(sampleBundle());
  std::mt19937_64 rng(12345);
  int accepted = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string m = file;
    int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t at = rng() % m.size();
      switch (rng() % 3) {
      case 0:
        m[at] = char(rng());
        break;
      case 1:
        m[at] = char(uint8_t(m[at]) ^ (1u << (rng() % 8)));
        break;
      default:
        m[at] = char(0xff);
        break;
      }
    }
    bool repair = iter % 2 == 0;
    if (repair)
      fixCrc(m);
    Bundle r;
    std::string err;
    bool okRead = read(m, r, err);
    if (okRead) {
      // Anything accepted must be valid and re-writable.
      EXPECT_EQ(validateBundle(r), "");
      ++accepted;
    } else {
      EXPECT_FALSE(err.empty());
    }
    if (!repair && m != file) {
      EXPECT_FALSE(okRead) << "checksum did not catch a mutation";
    }
  }
  // Mutations of PTX text or padding may stay valid; most must not.
  EXPECT_LT(accepted, 20000 / 2);
}

/// Offset of kernel `i`'s kind byte in `file` (found by writing the bundle
/// with that kernel's kind changed and comparing).
size_t kindOffset(const Bundle &b, size_t i) {
  Bundle other = b;
  other.kernels[i].kind = other.kernels[i].kind == KernelKind::Forward
                              ? KernelKind::Merge
                              : KernelKind::Forward;
  std::string x = writeBundle(b), y = writeBundle(other);
  for (size_t at = kBundleHeaderSize; at < x.size(); ++at)
    if (x[at] != y[at])
      return at;
  return 0;
}

TEST(Bundle, KernelKind) {
  Bundle b = sampleBundle();
  std::string file = writeBundle(b);
  // The kind byte follows the kernel ABI version (docs/bundle.md).
  size_t at = kindOffset(b, 2);
  ASSERT_GT(at, kBundleHeaderSize);
  EXPECT_EQ(uint8_t(file[at]), 1);
  uint32_t abi = 0;
  for (int i = 3; i >= 0; --i)
    abi = (abi << 8) | uint8_t(file[at - 4 + size_t(i)]);
  EXPECT_EQ(abi, uint32_t(kKernelAbiVersion));
  EXPECT_EQ(uint8_t(file[kindOffset(b, 0)]), 0);
  // Kinds other than 0, 1 and 2 are rejected, checksum repaired or not.
  for (uint8_t bad : {uint8_t(3), uint8_t(0xff)}) {
    std::string m = file;
    m[at] = char(bad);
    Bundle r;
    std::string err;
    EXPECT_FALSE(read(m, r, err));
    EXPECT_NE(err.find("checksum"), std::string::npos) << err;
    fixCrc(m);
    EXPECT_FALSE(read(m, r, err));
    EXPECT_NE(err.find("unknown kernel kind " + std::to_string(bad) +
                       ", expected 0 (forward), 1 (merge) or 2 (copy)"),
              std::string::npos)
        << err;
  }
  // validateBundle refuses an out-of-range kind too.
  Bundle v = b;
  v.kernels[0].kind = KernelKind(7);
  EXPECT_NE(validateBundle(v).find("unknown kernel kind 7"), std::string::npos)
      << validateBundle(v);
  // block n 0 is for merge kernels only; block m must be positive for both.
  v = b;
  v.kernels[0].blockN = 0;
  EXPECT_NE(validateBundle(v).find("tile sizes 128x0 outside [1, 1024]"),
            std::string::npos)
      << validateBundle(v);
  v = b;
  v.kernels[2].blockM = 0;
  EXPECT_NE(validateBundle(v).find("tile sizes 0x0 outside [1, 1024] (block "
                                   "n of a merge or copy kernel may be 0)"),
            std::string::npos)
      << validateBundle(v);
  v = b;
  v.kernels[2].blockN = -1;
  EXPECT_NE(validateBundle(v).find("tile sizes"), std::string::npos);
  v = b;
  v.kernels[2].blockN = 64;
  EXPECT_EQ(validateBundle(v), "");
}

/// sampleBundle() with a copy kernel (docs/bundle.md, "Copy kernel ABI").
Bundle sampleWithCopy() {
  Bundle b = sampleBundle();
  BundleKernel k;
  k.kind = KernelKind::Copy;
  k.name = "s2_copy";
  k.target = "sm_90a";
  k.dtype = DType::BF16;
  k.headDim = 0;
  k.blockM = 1;
  k.blockN = 0;
  k.threads = 128;
  k.sharedBytes = 0;
  k.ptx = ".version 8.0\n.target sm_90a\n.address_size 64\n";
  b.kernels.push_back(k);
  return b;
}

TEST(Bundle, CopyKernelKind) {
  Bundle b = sampleWithCopy();
  ASSERT_EQ(validateBundle(b), "");
  std::string file = writeBundle(b);
  Bundle r;
  std::string err;
  ASSERT_TRUE(read(file, r, err)) << err;
  ASSERT_EQ(r.kernels.size(), b.kernels.size());
  const BundleKernel &k = r.kernels.back();
  EXPECT_EQ(k.kind, KernelKind::Copy);
  EXPECT_EQ(uint8_t(k.kind), 2);
  EXPECT_EQ(k.name, "s2_copy");
  EXPECT_EQ(k.headDim, 0);
  EXPECT_EQ(k.blockM, 1);
  EXPECT_EQ(k.blockN, 0);
  EXPECT_EQ(k.threads, 128);
  EXPECT_EQ(k.ptx, b.kernels.back().ptx);
  EXPECT_EQ(writeBundle(r), file);
  // The kind byte on disk is 2.
  size_t at = kindOffset(b, b.kernels.size() - 1);
  ASSERT_GT(at, kBundleHeaderSize);
  EXPECT_EQ(uint8_t(file[at]), 2);

  // Head dim 0 and any dtype are for copy kernels only.
  Bundle v = b;
  v.kernels.back().dtype = DType::Any;
  EXPECT_EQ(validateBundle(v), "");
  v.kernels.back().headDim = 64;
  EXPECT_EQ(validateBundle(v), "");
  v.kernels.back().headDim = -1;
  EXPECT_NE(validateBundle(v).find("head dim -1 outside [1, 1024] (head dim "
                                   "of a copy kernel may be 0)"),
            std::string::npos)
      << validateBundle(v);
  v = b;
  v.kernels[2].headDim = 0; // the merge kernel
  EXPECT_NE(validateBundle(v).find("head dim 0 outside [1, 1024]"),
            std::string::npos);
  EXPECT_EQ(validateBundle(v).find("copy kernel"), std::string::npos);
  v = b;
  v.kernels[0].headDim = 0; // a forward kernel
  EXPECT_NE(validateBundle(v).find("head dim 0 outside [1, 1024]"),
            std::string::npos);
  v = b;
  v.kernels[2].dtype = DType::Any;
  EXPECT_NE(validateBundle(v).find("dtype must be bf16 or f16"),
            std::string::npos);
  // A copy kernel keeps the other limits: block m >= 1, block n >= 0.
  v = b;
  v.kernels.back().blockM = 0;
  EXPECT_NE(validateBundle(v).find("tile sizes 0x0"), std::string::npos);
  v = b;
  v.kernels.back().blockN = -1;
  EXPECT_NE(validateBundle(v).find("tile sizes 1x-1"), std::string::npos);
}

TEST(Bundle, WrongVersionAndMagic) {
  std::string file = writeBundle(sampleBundle());
  // Version 1 (no kernel kind byte) and a future version 3 are refused.
  for (char version : {char(1), char(3)}) {
    std::string v = file;
    v[8] = version;
    Bundle r;
    std::string err;
    EXPECT_FALSE(read(v, r, err));
    EXPECT_NE(err.find("unsupported bundle format version " +
                       std::to_string(int(version)) +
                       ", expected 2 (recompile the pattern with this s2c)"),
              std::string::npos)
        << err;
  }
  Bundle r;
  std::string err;
  std::string m = file;
  m[0] = 'X';
  EXPECT_FALSE(read(m, r, err));
  EXPECT_NE(err.find("bad magic"), std::string::npos) << err;
  std::string h = file;
  h[36] = 1;
  EXPECT_FALSE(read(h, r, err));
  EXPECT_NE(err.find("flags"), std::string::npos) << err;
}

TEST(Bundle, OversizeCountsRejectedWithoutAllocating) {
  // A manifest whose pattern-name length claims 4 GiB.
  std::string file = writeBundle(sampleBundle());
  std::string m = file;
  for (int i = 0; i < 4; ++i)
    m[kBundleHeaderSize + i] = char(0xff);
  fixCrc(m);
  Bundle r;
  std::string err;
  EXPECT_FALSE(read(m, r, err));
  EXPECT_NE(err.find("exceeds the limit"), std::string::npos) << err;
  // Header sizes beyond the file.
  std::string h = file;
  for (int i = 0; i < 8; ++i)
    h[16 + i] = char(0xff);
  EXPECT_FALSE(read(h, r, err));
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  // A file above the size limit is refused before anything is read.
  EXPECT_FALSE(
      readBundle(file.data(), size_t(BundleLimits::kMaxFileBytes) + 1, r, err));
  EXPECT_NE(err.find("exceeds the limit"), std::string::npos) << err;
  // Null data.
  EXPECT_FALSE(readBundle(nullptr, 100, r, err));
}

TEST(Bundle, ValidationMessages) {
  Bundle b = sampleBundle();
  b.kernels[0].abiVersion = 1;
  EXPECT_NE(
      validateBundle(b).find("unsupported kernel ABI version 1, expected 2"),
      std::string::npos);
  b = sampleBundle();
  b.kernels[0].target = "sm80";
  EXPECT_NE(validateBundle(b).find("invalid target 'sm80'"), std::string::npos);
  b = sampleBundle();
  b.kernels[0].ptx.clear();
  EXPECT_NE(validateBundle(b).find("neither PTX nor cubin"), std::string::npos);
  b = sampleBundle();
  b.kernels[0].threads = 100;
  EXPECT_NE(validateBundle(b).find("threads per CTA"), std::string::npos);
  b = sampleBundle();
  b.heads = 4;
  EXPECT_NE(validateBundle(b).find("disagree with the pattern"),
            std::string::npos);
  b = sampleBundle();
  b.tables[1].length = 100;
  EXPECT_NE(validateBundle(b).find("exceeds the 7 elements"),
            std::string::npos);
  b = sampleBundle();
  b.patternText = "garbage";
  EXPECT_NE(validateBundle(b).find("invalid pattern description"),
            std::string::npos);
  // The reader applies the same validation.
  b = sampleBundle();
  b.kernels[1].abiVersion = 7;
  Bundle r;
  std::string err;
  EXPECT_FALSE(read(writeBundle(b), r, err));
  EXPECT_NE(err.find("ABI version 7"), std::string::npos) << err;
}

TEST(Bundle, KernelAbiVersions) {
  // Forward kernels take version 2 or 3 (K/V tensor maps) and keep it
  // through a round trip; merge and copy kernels take only 2.
  Bundle b = sampleWithCopy();
  b.kernels[1].abiVersion = kKernelAbiTensorMaps; // forward, sm_90a
  ASSERT_EQ(validateBundle(b), "");
  Bundle r;
  std::string err;
  ASSERT_TRUE(read(writeBundle(b), r, err)) << err;
  EXPECT_EQ(r.kernels[0].abiVersion, kKernelAbiVersion);
  EXPECT_EQ(r.kernels[1].abiVersion, 3);
  EXPECT_EQ(r.kernels[2].abiVersion, kKernelAbiVersion);
  EXPECT_EQ(r.kernels[3].abiVersion, kKernelAbiVersion);
  EXPECT_EQ(writeBundle(r), writeBundle(b));
  // 3 for a merge or copy kernel: rejected, by the validator and the reader.
  for (size_t i : {size_t(2), size_t(3)}) {
    Bundle v = b;
    v.kernels[i].abiVersion = kKernelAbiTensorMaps;
    const char *kind = i == 2 ? "merge" : "copy";
    std::string want =
        "kernel #" + std::to_string(i) + " '" + v.kernels[i].name +
        "': unsupported kernel ABI version 3, expected 2 (version 3, with "
        "tensor maps, is for forward kernels only; this is a " +
        kind + " kernel)";
    EXPECT_EQ(validateBundle(v), want);
    EXPECT_FALSE(read(writeBundle(v), r, err));
    EXPECT_NE(err.find(want), std::string::npos) << err;
  }
  // 4 (and 1) for a forward kernel: rejected.
  for (int32_t abi : {4, 1}) {
    Bundle v = b;
    v.kernels[0].abiVersion = abi;
    std::string want = "kernel #0 's2_fwd_bf16_d128_sm80': unsupported kernel "
                       "ABI version " +
                       std::to_string(abi) + ", expected 2 or 3";
    EXPECT_EQ(validateBundle(v), want);
    EXPECT_FALSE(read(writeBundle(v), r, err));
    EXPECT_NE(err.find(want), std::string::npos) << err;
  }
  Bundle v = b;
  v.kernels[2].abiVersion = 4;
  EXPECT_NE(validateBundle(v).find("unsupported kernel ABI version 4, "
                                   "expected 2"),
            std::string::npos);
  EXPECT_EQ(validateBundle(v).find("or 3"), std::string::npos);
}

TEST(Bundle, ParseTarget) {
  int arch = 0;
  bool specific = false;
  EXPECT_TRUE(parseTarget("sm_80", arch, specific));
  EXPECT_EQ(arch, 80);
  EXPECT_FALSE(specific);
  EXPECT_TRUE(parseTarget("sm_90a", arch, specific));
  EXPECT_EQ(arch, 90);
  EXPECT_TRUE(specific);
  EXPECT_TRUE(parseTarget("sm_120", arch, specific));
  EXPECT_EQ(arch, 120);
  EXPECT_FALSE(parseTarget("sm_", arch, specific));
  EXPECT_FALSE(parseTarget("sm_9", arch, specific));
  EXPECT_FALSE(parseTarget("sm_90b", arch, specific));
  EXPECT_FALSE(parseTarget("compute_90", arch, specific));
  EXPECT_FALSE(parseTarget("sm_90aa", arch, specific));
}

TEST(Bundle, Crc32KnownValue) {
  // The standard check value of CRC-32/ISO-HDLC.
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);
}

} // namespace
