//===- main.cpp - Embedding example: load a bundle, report, maybe launch --===//
//
// Loads a bundle with the C++ wrapper and prints its pattern and kernels,
// then asks the driver for a GPU. With one, it prepares the bundle for
// device 0 and reports which kernel each (dtype, head dim) would run; without
// one it says why (the runtime reports S2RT_ERROR_NO_DRIVER, it does not
// fail to link). Launching needs device memory, which a real application
// gets from its framework; see docs/runtime.md.
//
//===----------------------------------------------------------------------===//

#include <s2rt.hpp>

#include <cstdio>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s BUNDLE.s2m\n", argv[0]);
    return 2;
  }
  s2rt::Bundle bundle;
  s2rt::Status s = s2rt::Bundle::loadFile(argv[1], bundle);
  if (!s) {
    std::fprintf(stderr, "error: %s: %s\n", s.name(), s.message.c_str());
    return 1;
  }
  std::printf("pattern '%s': %lld heads, %lld kv heads, block %lld, %s\n",
              bundle.patternName().c_str(), (long long)bundle.heads(),
              (long long)bundle.kvHeads(), (long long)bundle.block(),
              bundle.causal() ? "causal" : "bidirectional");
  std::printf("tiles %lldx%lld, max key length %s\n",
              (long long)bundle.blockM(), (long long)bundle.blockN(),
              bundle.maxSeqLen() ? std::to_string(bundle.maxSeqLen()).c_str()
                                 : "any");
  for (const s2rt::KernelInfo &k : bundle.kernels())
    std::printf("  %s kernel %s: %s %s d%d, %d threads, %d bytes shared%s%s\n",
                k.kind == S2RT_KERNEL_MERGE  ? "merge"
                : k.kind == S2RT_KERNEL_COPY ? "copy"
                                             : "forward",
                k.name.c_str(), k.target.c_str(),
                k.dtype == S2RT_DTYPE_BF16 ? "bf16" : "f16", k.headDim,
                k.threads, k.sharedBytes, k.hasPtx ? ", PTX" : "",
                k.hasCubin ? ", cubin" : "");
  int devices = 0;
  s = s2rt::Status(s2rt_device_count(&devices));
  if (!s || devices == 0) {
    std::printf("no GPU here (%s): %s\n", s.name(),
                s.ok() ? "no CUDA device" : s.message.c_str());
    return 0;
  }
  s = bundle.prepare(0);
  std::printf("prepare(device 0): %s%s%s\n", s.name(), s.ok() ? "" : ": ",
              s.message.c_str());
  return s.ok() ? 0 : 1;
}
