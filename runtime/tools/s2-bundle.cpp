//===- s2-bundle.cpp - Wrap raw PTX/cubin into a bundle, or print one -----===//
//
// A small MLIR-free tool for tests and bring-up:
//
//   s2-bundle info FILE.s2m
//   s2-bundle filter --target sm_80 IN.s2m OUT.s2m
//       (keeps one target's kernels)
//   s2-bundle create -o OUT.s2m --pattern-text PATTERN.txt
//       --kernel name=N,target=sm_80,dtype=bf16,head_dim=128,block_m=128,
//                block_n=64,threads=128,smem=BYTES,ptx=FILE[,cubin=FILE]
//                [,kind=forward|merge|copy]
//       [--kernel ...] [--tables FILE.i32] [--max-seq-len N]
//       [--setting KEY=VALUE]...
//
// PATTERN.txt is s2::serializePattern text. --tables takes raw little-endian
// i32 data (parameter 25 of the kernel ABI). Kernels are forward kernels
// unless kind=merge or kind=copy says otherwise.
//
//===----------------------------------------------------------------------===//

#include "s2/Bundle.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

int usage() {
  std::cerr
      << "usage: s2-bundle info FILE.s2m\n"
         "       s2-bundle filter --target TARGET IN.s2m OUT.s2m\n"
         "       s2-bundle create -o OUT.s2m --pattern-text FILE\n"
         "           --kernel name=N,target=sm_80,dtype=bf16|f16,head_dim=D,"
         "block_m=M,block_n=N,threads=T,smem=BYTES,ptx=FILE[,cubin=FILE]"
         "[,kind=forward|merge|copy][,abi=2|3]\n"
         "           [--kernel ...] [--tables FILE.i32] [--max-seq-len N]\n"
         "           [--setting KEY=VALUE]...\n";
  return 2;
}

/// A whole input file (bundles, pattern text, tables), within the bundle
/// size limit.
bool readFile(const std::string &path, std::string &out) {
  std::string error;
  return s2::readFileBounded(path, s2::BundleLimits::kMaxFileBytes, out, error);
}

bool toInt(const std::string &s, int64_t &v) {
  if (s.empty())
    return false;
  char *end = nullptr;
  long long x = std::strtoll(s.c_str(), &end, 10);
  if (*end)
    return false;
  v = x;
  return true;
}

bool parseKernel(const std::string &spec, s2::BundleKernel &k,
                 std::string &err) {
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      err = "expected key=value in --kernel, got '" + item + "'";
      return false;
    }
    std::string key = item.substr(0, eq), val = item.substr(eq + 1);
    int64_t n = 0;
    if (key == "name") {
      k.name = val;
    } else if (key == "target") {
      k.target = val;
    } else if (key == "dtype") {
      if (val == "bf16")
        k.dtype = s2::DType::BF16;
      else if (val == "f16" || val == "fp16")
        k.dtype = s2::DType::F16;
      else {
        err = "unknown dtype '" + val + "', expected bf16 or f16";
        return false;
      }
    } else if (key == "kind") {
      if (val == "forward")
        k.kind = s2::KernelKind::Forward;
      else if (val == "merge")
        k.kind = s2::KernelKind::Merge;
      else if (val == "copy")
        k.kind = s2::KernelKind::Copy;
      else {
        err = "unknown kernel kind '" + val +
              "', expected forward, merge or copy";
        return false;
      }
    } else if (key == "ptx" || key == "cubin") {
      std::string data;
      if (!readFile(val, data)) {
        err = "cannot read '" + val + "'";
        return false;
      }
      (key == "ptx" ? k.ptx : k.cubin) = data;
    } else if (toInt(val, n) && key == "head_dim") {
      k.headDim = int32_t(n);
    } else if (toInt(val, n) && key == "block_m") {
      k.blockM = int32_t(n);
    } else if (toInt(val, n) && key == "block_n") {
      k.blockN = int32_t(n);
    } else if (toInt(val, n) && key == "threads") {
      k.threads = int32_t(n);
    } else if (toInt(val, n) && key == "smem") {
      k.sharedBytes = int32_t(n);
    } else if (toInt(val, n) && key == "abi") {
      k.abiVersion = int32_t(n);
    } else {
      err = "unknown or malformed kernel field '" + item + "'";
      return false;
    }
  }
  return true;
}

int info(const std::string &path) {
  std::string data, err;
  if (!readFile(path, data)) {
    std::cerr << "s2-bundle: cannot read '" << path << "'\n";
    return 1;
  }
  s2::Bundle b;
  if (!s2::readBundle(data.data(), data.size(), b, err)) {
    std::cerr << "s2-bundle: " << path << ": " << err << "\n";
    return 1;
  }
  std::cout << "pattern " << b.patternName << "\n"
            << "heads " << b.heads << " kv_heads " << b.kvHeads << " block "
            << b.block << " causal " << (b.causal ? 1 : 0) << "\n"
            << "tiles " << b.blockM << "x" << b.blockN << " max_seq_len "
            << b.maxSeqLen << "\n";
  for (const auto &kv : b.settings)
    std::cout << "setting " << kv.first << " = " << kv.second << "\n";
  for (const s2::BundleKernel &k : b.kernels)
    std::cout << "kernel " << k.name << " " << k.target << " "
              << s2::dtypeName(k.dtype) << " d" << k.headDim << " " << k.blockM
              << "x" << k.blockN << " threads " << k.threads << " smem "
              << k.sharedBytes << " abi " << k.abiVersion << " kind "
              << (k.kind == s2::KernelKind::Merge  ? "merge"
                  : k.kind == s2::KernelKind::Copy ? "copy"
                                                   : "forward")
              << " ptx " << k.ptx.size() << " cubin " << k.cubin.size() << "\n";
  std::cout << "tables " << b.tableData.size() << " i32 in " << b.tables.size()
            << " slices\n";
  return 0;
}

/// Keeps only the kernels of one target (to test, say, the sm_80 PTX on a
/// Hopper GPU that would otherwise run the sm_90a kernels).
int filter(const std::string &target, const std::string &in,
           const std::string &out) {
  std::string data, err;
  if (!readFile(in, data)) {
    std::cerr << "s2-bundle: cannot read '" << in << "'\n";
    return 1;
  }
  s2::Bundle b;
  if (!s2::readBundle(data.data(), data.size(), b, err)) {
    std::cerr << "s2-bundle: " << in << ": " << err << "\n";
    return 1;
  }
  std::vector<s2::BundleKernel> keep;
  for (s2::BundleKernel &k : b.kernels)
    if (k.target == target)
      keep.push_back(std::move(k));
  if (keep.empty()) {
    std::cerr << "s2-bundle: " << in << " has no kernel for '" << target
              << "'\n";
    return 1;
  }
  b.kernels = std::move(keep);
  std::string bytes = s2::writeBundle(b);
  std::ofstream o(out, std::ios::binary);
  if (!o || !o.write(bytes.data(), std::streamsize(bytes.size()))) {
    std::cerr << "s2-bundle: cannot write '" << out << "'\n";
    return 1;
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  std::string cmd = argv[1];
  if (cmd == "info")
    return argc == 3 ? info(argv[2]) : usage();
  if (cmd == "filter")
    return argc == 6 && std::string(argv[2]) == "--target"
               ? filter(argv[3], argv[4], argv[5])
               : usage();
  if (cmd != "create")
    return usage();
  s2::Bundle b;
  std::string out, patternFile, tablesFile, err;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc)
      return usage();
    std::string v = argv[++i];
    int64_t n = 0;
    if (a == "-o") {
      out = v;
    } else if (a == "--pattern-text") {
      patternFile = v;
    } else if (a == "--tables") {
      tablesFile = v;
    } else if (a == "--max-seq-len" && toInt(v, n)) {
      b.maxSeqLen = n;
    } else if (a == "--setting" && v.find('=') != std::string::npos) {
      b.settings.push_back(
          {v.substr(0, v.find('=')), v.substr(v.find('=') + 1)});
    } else if (a == "--kernel") {
      s2::BundleKernel k;
      if (!parseKernel(v, k, err)) {
        std::cerr << "s2-bundle: " << err << "\n";
        return 1;
      }
      b.kernels.push_back(std::move(k));
    } else {
      return usage();
    }
  }
  if (out.empty() || patternFile.empty())
    return usage();
  std::string text;
  if (!readFile(patternFile, text)) {
    std::cerr << "s2-bundle: cannot read '" << patternFile << "'\n";
    return 1;
  }
  s2::Pattern p;
  if (!s2::deserializePattern(text, p, err)) {
    std::cerr << "s2-bundle: " << patternFile << ": " << err << "\n";
    return 1;
  }
  s2::setBundlePattern(b, p);
  // The schedule's tiles are the forward kernels'.
  b.blockM = 128;
  b.blockN = 64;
  for (const s2::BundleKernel &k : b.kernels)
    if (k.kind == s2::KernelKind::Forward) {
      b.blockM = k.blockM;
      b.blockN = k.blockN;
      break;
    }
  if (!tablesFile.empty()) {
    std::string raw;
    if (!readFile(tablesFile, raw) || raw.size() % 4) {
      std::cerr << "s2-bundle: cannot read whole i32 data from '" << tablesFile
                << "'\n";
      return 1;
    }
    b.tableData.resize(raw.size() / 4);
    for (size_t i = 0; i < b.tableData.size(); ++i) {
      const unsigned char *c =
          reinterpret_cast<const unsigned char *>(raw.data()) + 4 * i;
      b.tableData[i] = int32_t(uint32_t(c[0]) | uint32_t(c[1]) << 8 |
                               uint32_t(c[2]) << 16 | uint32_t(c[3]) << 24);
    }
    b.tables.push_back({"raw", 0, b.tableData.size()});
  }
  std::string verr = s2::validateBundle(b);
  if (!verr.empty()) {
    std::cerr << "s2-bundle: invalid bundle: " << verr << "\n";
    return 1;
  }
  std::string bytes = s2::writeBundle(b);
  std::ofstream o(out, std::ios::binary);
  if (!o || !o.write(bytes.data(), std::streamsize(bytes.size()))) {
    std::cerr << "s2-bundle: cannot write '" << out << "'\n";
    return 1;
  }
  return 0;
}
