//===- Bundle.cpp - Writer and hostile-input reader for .s2m bundles ------===//
//
// The file layout (docs/bundle.md, "File format"): a 40-byte header (magic,
// format version, header size, manifest and payload sizes, CRC-32 of both),
// then a little-endian binary manifest whose PTX, cubin and table entries are
// (offset, size) references into the payload area that follows it. The
// reader checks every count and reference against the remaining bytes before
// allocating, so no input can make it allocate more than the file holds.
//
//===----------------------------------------------------------------------===//

#include "s2/Bundle.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace s2 {

namespace {

constexpr uint32_t kCrcPoly = 0xEDB88320u;

/// Appends little-endian values and (offset, size) references to the
/// payload area.
class Writer {
public:
  std::string manifest;
  std::string payload;

  void u8(uint8_t v) { manifest.push_back(char(v)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i)
      manifest.push_back(char((v >> (8 * i)) & 0xff));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i)
      manifest.push_back(char((v >> (8 * i)) & 0xff));
  }
  void i32(int32_t v) { u32(uint32_t(v)); }
  void i64(int64_t v) { u64(uint64_t(v)); }
  void str(const std::string &s) {
    u32(uint32_t(s.size()));
    manifest += s;
  }
  /// Stores `bytes` in the payload area, 16-byte aligned, and writes the
  /// reference.
  void blob(const void *bytes, size_t size) {
    if (size == 0) {
      u64(0);
      u64(0);
      return;
    }
    while (payload.size() % 16)
      payload.push_back('\0');
    u64(payload.size());
    u64(size);
    payload.append(static_cast<const char *>(bytes), size);
  }
};

/// Bounds-checked little-endian cursor over the manifest. Every read fails
/// (and stays failed) once the bytes run out.
class Cursor {
public:
  Cursor(const unsigned char *data, size_t size, const unsigned char *payload,
         size_t payloadSize)
      : p(data), end(data + size), payload(payload), payloadSize(payloadSize) {}

  std::string error;

  bool ok() const { return error.empty(); }
  bool atEnd() const { return p == end; }
  size_t remaining() const { return size_t(end - p); }

  bool fail(const std::string &msg) {
    if (error.empty())
      error = msg;
    return false;
  }

  bool bytes(void *dst, size_t n, const char *what) {
    if (!ok())
      return false;
    if (remaining() < n)
      return fail(std::string("truncated manifest: expected ") + what);
    std::memcpy(dst, p, n);
    p += n;
    return true;
  }
  bool u8(uint8_t &v, const char *what) { return bytes(&v, 1, what); }
  bool u32(uint32_t &v, const char *what) {
    unsigned char b[4];
    if (!bytes(b, 4, what))
      return false;
    v = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 |
        uint32_t(b[3]) << 24;
    return true;
  }
  bool u64(uint64_t &v, const char *what) {
    unsigned char b[8];
    if (!bytes(b, 8, what))
      return false;
    v = 0;
    for (int i = 7; i >= 0; --i)
      v = (v << 8) | b[i];
    return true;
  }
  bool i32(int32_t &v, const char *what) {
    uint32_t u;
    if (!u32(u, what))
      return false;
    v = int32_t(u);
    return true;
  }
  bool i64(int64_t &v, const char *what) {
    uint64_t u;
    if (!u64(u, what))
      return false;
    v = int64_t(u);
    return true;
  }
  bool str(std::string &s, uint32_t limit, const char *what) {
    uint32_t n;
    if (!u32(n, what))
      return false;
    if (n > limit)
      return fail(std::string(what) + " of " + std::to_string(n) +
                  " bytes exceeds the limit of " + std::to_string(limit));
    if (remaining() < n)
      return fail(std::string("truncated manifest: expected ") + what);
    s.assign(reinterpret_cast<const char *>(p), n);
    p += n;
    return true;
  }
  /// Reads an (offset, size) reference and copies the payload bytes it
  /// names into `s`.
  bool blob(std::string &s, const char *what) {
    uint64_t off, size;
    if (!u64(off, what) || !u64(size, what))
      return false;
    if (off > payloadSize || size > payloadSize - off)
      return fail(std::string(what) + " reference [" + std::to_string(off) +
                  ", +" + std::to_string(size) +
                  ") lies outside the payload area of " +
                  std::to_string(payloadSize) + " bytes");
    s.assign(reinterpret_cast<const char *>(payload + off), size_t(size));
    return true;
  }

private:
  const unsigned char *p;
  const unsigned char *end;
  const unsigned char *payload;
  size_t payloadSize;
};

uint32_t readLE32(const unsigned char *b) {
  return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 |
         uint32_t(b[3]) << 24;
}
uint64_t readLE64(const unsigned char *b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | b[i];
  return v;
}
void putLE32(std::string &s, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    s.push_back(char((v >> (8 * i)) & 0xff));
}
void putLE64(std::string &s, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    s.push_back(char((v >> (8 * i)) & 0xff));
}

bool validIdentifier(const std::string &s) {
  if (s.empty() || s.size() > BundleLimits::kMaxNameBytes)
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '$' || c == '.'))
      return false;
  return !(s[0] >= '0' && s[0] <= '9');
}

std::string kernelLabel(size_t i, const BundleKernel &k) {
  return "kernel #" + std::to_string(i) + " '" +
         (k.name.size() <= 64 ? k.name : k.name.substr(0, 64) + "...") + "'";
}

} // namespace

uint32_t crc32(const void *data, size_t size) {
  static uint32_t table[256];
  static bool init = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? kCrcPoly ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)init;
  const unsigned char *b = static_cast<const unsigned char *>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i)
    c = table[(c ^ b[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

bool parseTarget(const std::string &target, int &arch, bool &archSpecific) {
  if (target.size() < 5 || target.compare(0, 3, "sm_") != 0)
    return false;
  size_t i = 3;
  int v = 0;
  size_t digits = 0;
  while (i < target.size() && target[i] >= '0' && target[i] <= '9' &&
         digits < 4) {
    v = v * 10 + (target[i] - '0');
    ++i;
    ++digits;
  }
  if (digits < 2 || v < 10)
    return false;
  archSpecific = false;
  if (i < target.size() && target[i] == 'a') {
    archSpecific = true;
    ++i;
  }
  if (i != target.size())
    return false;
  arch = v;
  return true;
}

void setBundlePattern(Bundle &b, const Pattern &p) {
  b.patternName = p.name;
  b.patternText = serializePattern(p);
  b.heads = p.heads;
  b.kvHeads = p.kvHeads;
  b.block = p.block;
  b.causal = p.causal;
  b.headDim = int32_t(p.headDim);
  b.dtype = p.dtype;
}

bool readFileBounded(const std::string &path, uint64_t maxBytes,
                     std::string &out, std::string &error, bool *tooLarge) {
  if (tooLarge)
    *tooLarge = false;
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    error = "cannot open '" + path + "': " + std::strerror(errno);
    return false;
  }
  out.clear();
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    out.append(buf, n);
    if (out.size() > maxBytes) {
      std::fclose(f);
      if (tooLarge)
        *tooLarge = true;
      error = "'" + path + "' exceeds the size limit of " +
              std::to_string(maxBytes) + " bytes";
      return false;
    }
  }
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    error = "error reading '" + path + "'";
    return false;
  }
  return true;
}

std::string validateBundle(const Bundle &b) {
  if (b.patternName.size() > BundleLimits::kMaxNameBytes)
    return "pattern name longer than " +
           std::to_string(BundleLimits::kMaxNameBytes) + " bytes";
  if (b.patternText.size() > BundleLimits::kMaxPatternBytes)
    return "pattern text longer than " +
           std::to_string(BundleLimits::kMaxPatternBytes) + " bytes";
  Pattern p;
  std::string perr;
  if (!deserializePattern(b.patternText, p, perr))
    return "invalid pattern description: " + perr;
  if (p.heads != b.heads || p.kvHeads != b.kvHeads || p.block != b.block ||
      p.causal != b.causal)
    return "manifest settings (heads " + std::to_string(b.heads) +
           ", kv heads " + std::to_string(b.kvHeads) + ", block " +
           std::to_string(b.block) + ", causal " +
           std::to_string(int(b.causal)) +
           ") disagree with the pattern description (heads " +
           std::to_string(p.heads) + ", kv heads " + std::to_string(p.kvHeads) +
           ", block " + std::to_string(p.block) + ", causal " +
           std::to_string(int(p.causal)) + ")";
  if (b.headDim < 0 || b.headDim > 1024)
    return "head dim setting " + std::to_string(b.headDim) +
           " outside [0, 1024]";
  if (b.dtype != DType::Any && b.dtype != DType::BF16 && b.dtype != DType::F16)
    return "unknown dtype setting " + std::to_string(int(b.dtype));
  if (b.blockM < 1 || b.blockM > 1024 || b.blockN < 1 || b.blockN > 1024)
    return "tile sizes " + std::to_string(b.blockM) + "x" +
           std::to_string(b.blockN) + " outside [1, 1024]";
  if (b.maxSeqLen < 0)
    return "negative maximum sequence length " + std::to_string(b.maxSeqLen);
  if (b.settings.size() > BundleLimits::kMaxSettings)
    return "too many settings";
  for (const auto &kv : b.settings)
    if (kv.first.empty() || kv.first.size() > BundleLimits::kMaxNameBytes ||
        kv.second.size() > BundleLimits::kMaxNameBytes)
      return "setting '" + kv.first.substr(0, 64) +
             "' has an empty or oversize key or value";
  if (b.kernels.size() > BundleLimits::kMaxKernels)
    return "too many kernels (" + std::to_string(b.kernels.size()) + ")";
  for (size_t i = 0; i < b.kernels.size(); ++i) {
    const BundleKernel &k = b.kernels[i];
    std::string label = kernelLabel(i, k);
    if (!validIdentifier(k.name))
      return label + ": invalid entry point name";
    int arch;
    bool specific;
    if (!parseTarget(k.target, arch, specific))
      return label + ": invalid target '" + k.target.substr(0, 64) +
             "', expected sm_<NN> or sm_<NN>a";
    if (k.kind != KernelKind::Forward && k.kind != KernelKind::Merge &&
        k.kind != KernelKind::Copy)
      return label + ": unknown kernel kind " + std::to_string(int(k.kind)) +
             ", expected 0 (forward), 1 (merge) or 2 (copy)";
    // A copy kernel moves bytes: its dtype is ignored and its head dim is
    // 0 (or any value in range).
    bool copy = k.kind == KernelKind::Copy;
    if (!copy && k.dtype != DType::BF16 && k.dtype != DType::F16)
      return label + ": dtype must be bf16 or f16";
    if (k.headDim < (copy ? 0 : 1) || k.headDim > 1024)
      return label + ": head dim " + std::to_string(k.headDim) +
             " outside [1, 1024]" +
             (copy ? " (head dim of a copy kernel may be 0)" : "");
    // A merge kernel's BLOCK_M is its rows per CTA, a copy kernel's its
    // segments per CTA; neither has key tiles.
    bool noKeys = k.kind != KernelKind::Forward;
    if (k.blockM < 1 || k.blockM > 1024 || k.blockN < (noKeys ? 0 : 1) ||
        k.blockN > 1024)
      return label + ": tile sizes " + std::to_string(k.blockM) + "x" +
             std::to_string(k.blockN) + " outside [1, 1024]" +
             (noKeys ? " (block n of a merge or copy kernel may be 0)" : "");
    if (k.threads < 32 || k.threads > 1024 || k.threads % 32)
      return label + ": " + std::to_string(k.threads) +
             " threads per CTA, expected a multiple of 32 in [32, 1024]";
    if (k.sharedBytes < 0 || k.sharedBytes > (1 << 20))
      return label + ": shared memory " + std::to_string(k.sharedBytes) +
             " bytes outside [0, 1 MiB]";
    // Forward kernels take version 2 or 3 (with K/V tensor maps); merge
    // and copy kernels version 2.
    bool forward = k.kind == KernelKind::Forward;
    if (k.abiVersion != kKernelAbiVersion &&
        !(forward && k.abiVersion == kKernelAbiTensorMaps))
      return label + ": unsupported kernel ABI version " +
             std::to_string(k.abiVersion) + ", expected " +
             std::to_string(kKernelAbiVersion) +
             (forward ? " or " + std::to_string(kKernelAbiTensorMaps)
              : k.abiVersion == kKernelAbiTensorMaps
                  ? std::string(" (version ") +
                        std::to_string(kKernelAbiTensorMaps) +
                        ", with tensor maps, is for forward kernels only; "
                        "this is a " +
                        (k.kind == KernelKind::Merge ? "merge" : "copy") +
                        " kernel)"
                  : std::string());
    if (k.ptx.empty() && k.cubin.empty())
      return label + ": neither PTX nor cubin";
    if (k.ptx.find('\0') != std::string::npos)
      return label + ": PTX text contains a NUL byte";
  }
  if (b.tables.size() > BundleLimits::kMaxTables)
    return "too many table slices";
  for (const BundleTable &t : b.tables) {
    if (t.name.size() > BundleLimits::kMaxNameBytes)
      return "table slice name too long";
    if (t.offset > b.tableData.size() ||
        t.length > b.tableData.size() - t.offset)
      return "table slice '" + t.name + "' [" + std::to_string(t.offset) +
             ", +" + std::to_string(t.length) + ") exceeds the " +
             std::to_string(b.tableData.size()) + " elements of table data";
  }
  return "";
}

std::string writeBundle(const Bundle &b) {
  Writer w;
  w.str(b.patternName);
  w.str(b.patternText);
  w.i64(b.heads);
  w.i64(b.kvHeads);
  w.i64(b.block);
  w.u8(b.causal ? 1 : 0);
  w.i32(b.headDim);
  w.u8(uint8_t(b.dtype));
  w.i32(b.blockM);
  w.i32(b.blockN);
  w.i64(b.maxSeqLen);
  w.u32(uint32_t(b.settings.size()));
  for (const auto &kv : b.settings) {
    w.str(kv.first);
    w.str(kv.second);
  }
  w.u32(uint32_t(b.kernels.size()));
  for (const BundleKernel &k : b.kernels) {
    w.str(k.name);
    w.str(k.target);
    w.u8(uint8_t(k.dtype));
    w.i32(k.headDim);
    w.i32(k.blockM);
    w.i32(k.blockN);
    w.i32(k.threads);
    w.i32(k.sharedBytes);
    w.i32(k.abiVersion);
    w.u8(uint8_t(k.kind));
    w.blob(k.ptx.data(), k.ptx.size());
    w.blob(k.cubin.data(), k.cubin.size());
  }
  w.u32(uint32_t(b.tables.size()));
  for (const BundleTable &t : b.tables) {
    w.str(t.name);
    w.u64(t.offset);
    w.u64(t.length);
  }
  // Table data as little-endian i32.
  std::string table;
  table.reserve(b.tableData.size() * 4);
  for (int32_t v : b.tableData)
    putLE32(table, uint32_t(v));
  w.blob(table.data(), table.size());

  std::string body = w.manifest + w.payload;
  std::string out(kBundleMagic, sizeof(kBundleMagic));
  putLE32(out, kBundleFormatVersion);
  putLE32(out, uint32_t(kBundleHeaderSize));
  putLE64(out, w.manifest.size());
  putLE64(out, w.payload.size());
  putLE32(out, crc32(body.data(), body.size()));
  putLE32(out, 0);
  return out + body;
}

bool readBundle(const void *data, size_t size, Bundle &out,
                std::string &error) {
  const unsigned char *bytes = static_cast<const unsigned char *>(data);
  if (!data && size)
    return error = "null bundle data", false;
  if (size < kBundleHeaderSize)
    return error = "truncated bundle: " + std::to_string(size) +
                   " bytes, the header alone is " +
                   std::to_string(kBundleHeaderSize),
           false;
  if (std::memcmp(bytes, kBundleMagic, sizeof(kBundleMagic)) != 0)
    return error = "not an s2c bundle (bad magic)", false;
  uint32_t version = readLE32(bytes + 8);
  if (version != kBundleFormatVersion)
    return error = "unsupported bundle format version " +
                   std::to_string(version) + ", expected " +
                   std::to_string(kBundleFormatVersion) +
                   " (recompile the pattern with this s2c)",
           false;
  uint32_t headerSize = readLE32(bytes + 12);
  if (headerSize != kBundleHeaderSize)
    return error = "bad header size " + std::to_string(headerSize), false;
  if (size > BundleLimits::kMaxFileBytes)
    return error = "bundle of " + std::to_string(size) +
                   " bytes exceeds the limit of " +
                   std::to_string(BundleLimits::kMaxFileBytes),
           false;
  uint64_t manifestSize = readLE64(bytes + 16);
  uint64_t payloadSize = readLE64(bytes + 24);
  uint32_t crc = readLE32(bytes + 32);
  uint32_t flags = readLE32(bytes + 36);
  if (flags != 0)
    return error = "unknown header flags " + std::to_string(flags), false;
  uint64_t rest = size - kBundleHeaderSize;
  if (manifestSize > rest || payloadSize > rest - manifestSize)
    return error = "truncated bundle: header announces " +
                   std::to_string(manifestSize) + " manifest and " +
                   std::to_string(payloadSize) + " payload bytes, file has " +
                   std::to_string(rest),
           false;
  if (manifestSize + payloadSize != rest)
    return error = std::to_string(rest - manifestSize - payloadSize) +
                   " unexpected trailing bytes after the payload",
           false;
  const unsigned char *body = bytes + kBundleHeaderSize;
  if (crc32(body, size_t(rest)) != crc)
    return error = "checksum mismatch: the bundle is corrupt", false;

  Cursor c(body, size_t(manifestSize), body + manifestSize,
           size_t(payloadSize));
  Bundle b;
  uint8_t u8v;
  c.str(b.patternName, BundleLimits::kMaxNameBytes, "pattern name");
  c.str(b.patternText, BundleLimits::kMaxPatternBytes, "pattern text");
  c.i64(b.heads, "heads");
  c.i64(b.kvHeads, "kv heads");
  c.i64(b.block, "block");
  if (c.u8(u8v, "causal") && u8v > 1)
    c.fail("causal flag " + std::to_string(u8v) + ", expected 0 or 1");
  b.causal = u8v == 1;
  c.i32(b.headDim, "head dim");
  if (c.u8(u8v, "dtype") && u8v > uint8_t(DType::F16))
    c.fail("unknown dtype " + std::to_string(u8v));
  b.dtype = DType(u8v);
  c.i32(b.blockM, "block m");
  c.i32(b.blockN, "block n");
  c.i64(b.maxSeqLen, "max sequence length");
  uint32_t n = 0;
  // Every count is bounded by the bytes left: each entry takes at least
  // four bytes, so a count larger than that is corrupt, not a reason to
  // allocate.
  auto count = [&](const char *what, uint32_t limit, size_t minEntry) {
    n = 0;
    if (!c.u32(n, what))
      return false;
    if (n > limit || size_t(n) * minEntry > c.remaining())
      return c.fail(std::string(what) + " " + std::to_string(n) +
                    " exceeds what the manifest can hold");
    return true;
  };
  if (count("setting count", BundleLimits::kMaxSettings, 8)) {
    b.settings.resize(n);
    for (auto &kv : b.settings) {
      c.str(kv.first, BundleLimits::kMaxNameBytes, "setting key");
      c.str(kv.second, BundleLimits::kMaxNameBytes, "setting value");
    }
  }
  // A kernel takes at least 66 bytes: two empty strings (8), dtype (1),
  // six i32 (24), kind (1) and two references (32).
  if (count("kernel count", BundleLimits::kMaxKernels, 66)) {
    b.kernels.resize(n);
    for (BundleKernel &k : b.kernels) {
      c.str(k.name, BundleLimits::kMaxNameBytes, "kernel name");
      c.str(k.target, BundleLimits::kMaxNameBytes, "kernel target");
      if (c.u8(u8v, "kernel dtype") && u8v > uint8_t(DType::F16))
        c.fail("unknown kernel dtype " + std::to_string(u8v));
      k.dtype = DType(u8v);
      c.i32(k.headDim, "kernel head dim");
      c.i32(k.blockM, "kernel block m");
      c.i32(k.blockN, "kernel block n");
      c.i32(k.threads, "kernel threads");
      c.i32(k.sharedBytes, "kernel shared memory");
      c.i32(k.abiVersion, "kernel ABI version");
      if (c.u8(u8v, "kernel kind") && u8v > uint8_t(KernelKind::Copy))
        c.fail("unknown kernel kind " + std::to_string(u8v) +
               ", expected 0 (forward), 1 (merge) or 2 (copy)");
      k.kind = KernelKind(u8v);
      c.blob(k.ptx, "kernel PTX");
      c.blob(k.cubin, "kernel cubin");
      if (!c.ok())
        break;
    }
  }
  if (count("table slice count", BundleLimits::kMaxTables, 20)) {
    b.tables.resize(n);
    for (BundleTable &t : b.tables) {
      c.str(t.name, BundleLimits::kMaxNameBytes, "table slice name");
      c.u64(t.offset, "table slice offset");
      c.u64(t.length, "table slice length");
      if (!c.ok())
        break;
    }
  }
  std::string table;
  if (c.blob(table, "table data") && table.size() % 4)
    c.fail("table data of " + std::to_string(table.size()) +
           " bytes is not a whole number of i32");
  if (c.ok() && !c.atEnd())
    c.fail(std::to_string(c.remaining()) +
           " unexpected trailing bytes in the manifest");
  if (!c.ok())
    return error = c.error, false;
  b.tableData.resize(table.size() / 4);
  for (size_t i = 0; i < b.tableData.size(); ++i)
    b.tableData[i] = int32_t(readLE32(
        reinterpret_cast<const unsigned char *>(table.data()) + 4 * i));
  std::string verr = validateBundle(b);
  if (!verr.empty())
    return error = "invalid bundle: " + verr, false;
  out = std::move(b);
  return true;
}

} // namespace s2
