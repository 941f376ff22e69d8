//===- Runtime.cpp - The s2rt C API over the CUDA driver API --------------===//
//
// Implements s2rt.h over the driver that Driver.h opens at run time. Every
// failure becomes a status plus a thread-local message; C++ exceptions never
// cross the C boundary.
//
// Per bundle, a mutex guards a cache of per-device state (primary context,
// loaded modules, uploaded table buffer). s2rt_forward, s2rt_merge and
// s2rt_copy look their kernel up under that mutex and launch it with no
// allocation, synchronisation or module loading once the device is prepared.
//
//===----------------------------------------------------------------------===//

#include "s2rt.h"

#include "Driver.h"
#include "s2/Bundle.h"

#include <cuda.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <tuple>
#include <vector>

using s2rt_detail::cuMessage;
using s2rt_detail::Driver;
using s2rt_detail::fail;
using s2rt_detail::lastError;
using s2rt_detail::loadDriver;
using s2rt_detail::ok;

namespace {

//===----------------------------------------------------------------------===//
// Kernel selection (no GPU needed)
//===----------------------------------------------------------------------===//

const char *dtypeLabel(int dtype) {
  return dtype == S2RT_DTYPE_BF16  ? "bf16"
         : dtype == S2RT_DTYPE_F16 ? "f16"
                                   : "unknown";
}

std::string archLabel(int arch) { return "sm_" + std::to_string(arch); }

const char *kindLabel(s2::KernelKind kind) {
  return kind == s2::KernelKind::Merge  ? "merge"
         : kind == s2::KernelKind::Copy ? "copy"
                                        : "forward";
}

/// Whether kernel `k` is of `kind` for (dtype, head dim); a copy kernel
/// moves bytes, so its dtype and head dim are ignored.
bool kernelMatches(const s2::BundleKernel &k, s2::KernelKind kind, int dtype,
                   int headDim) {
  if (k.kind != kind)
    return false;
  return kind == s2::KernelKind::Copy ||
         (int(k.dtype) == dtype && k.headDim == headDim);
}

/// Best kernel of `kind` in `b` for a device of compute capability `arch`:
/// exact-arch cubin, else PTX of the highest target the device runs
/// (architecture-specific "a" targets only on exactly their architecture,
/// so sm_90a beats sm_80 on sm_90). -1 when none runs there.
int selectKernel(const s2::Bundle &b, s2::KernelKind kind, int arch, int dtype,
                 int headDim, bool &usesCubin) {
  int best = -1;
  long bestScore = -1;
  for (size_t i = 0; i < b.kernels.size(); ++i) {
    const s2::BundleKernel &k = b.kernels[i];
    if (!kernelMatches(k, kind, dtype, headDim))
      continue;
    int karch;
    bool specific;
    if (!s2::parseTarget(k.target, karch, specific))
      continue;
    bool cubinOk = !k.cubin.empty() && karch == arch;
    bool ptxOk = !k.ptx.empty() && (specific ? karch == arch : karch <= arch);
    if (!cubinOk && !ptxOk)
      continue;
    long score = long(karch) * 4 + (specific ? 2 : 0) + (cubinOk ? 1 : 0);
    if (score > bestScore) {
      bestScore = score;
      best = int(i);
      usesCubin = cubinOk;
    }
  }
  return best;
}

/// Whether `b` has a kernel of `kind` for (dtype, head dim) on some target.
bool hasVariant(const s2::Bundle &b, s2::KernelKind kind, int dtype,
                int headDim) {
  for (const s2::BundleKernel &k : b.kernels)
    if (kernelMatches(k, kind, dtype, headDim))
      return true;
  return false;
}

/// The kernels of `kind` as "bf16 d128 sm_90a, f16 d64 sm_80".
std::string kernelList(const s2::Bundle &b, s2::KernelKind kind) {
  std::string s;
  for (const s2::BundleKernel &k : b.kernels) {
    if (k.kind != kind)
      continue;
    if (!s.empty())
      s += ", ";
    s += kind == s2::KernelKind::Copy
             ? k.target
             : std::string(s2::dtypeName(k.dtype)) + " d" +
                   std::to_string(k.headDim) + " " + k.target;
  }
  return s.empty() ? std::string("no ") + kindLabel(kind) + " kernels" : s;
}

/// Every kernel, merge and copy kernels marked.
std::string kernelList(const s2::Bundle &b) {
  std::string s;
  for (const s2::BundleKernel &k : b.kernels) {
    if (!s.empty())
      s += ", ";
    if (k.kind == s2::KernelKind::Copy) {
      s += k.target + " (copy)";
      continue;
    }
    s += std::string(s2::dtypeName(k.dtype)) + " d" +
         std::to_string(k.headDim) + " " + k.target +
         (k.kind == s2::KernelKind::Merge ? " (merge)" : "");
  }
  return s.empty() ? "no kernels" : s;
}

} // namespace

//===----------------------------------------------------------------------===//
// The bundle object
//===----------------------------------------------------------------------===//

namespace {
struct LoadedKernel {
  int index = -1;
  CUfunction fn = nullptr;
};

/// (kind, dtype, head dim) of a loaded kernel; (copy, 0, 0) for the copy
/// kernel.
using KernelKey = std::tuple<int, int, int>;

KernelKey keyOf(s2::KernelKind kind, int dtype, int headDim) {
  if (kind == s2::KernelKind::Copy)
    return KernelKey(int(kind), 0, 0);
  return KernelKey(int(kind), dtype, headDim);
}

struct DeviceState {
  bool prepared = false;
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  int arch = 0;
  std::vector<CUmodule> modules;
  /// (kind, dtype, head dim) -> the loaded kernel.
  std::map<KernelKey, LoadedKernel> kernels;
  CUdeviceptr tables = 0;
  /// Whether forward kernels of kernel ABI 3 may get K/V tensor maps
  /// (tma = 1): S2RT_TMA is not "0", read when the device is prepared.
  bool tensorMaps = true;
};
} // namespace

struct s2rt_bundle {
  s2::Bundle b;
  std::mutex mutex;
  std::map<int, DeviceState> devices;
};

namespace {

/// Frees what `st` holds (modules, tables, the context reference).
void releaseDevice(const Driver &d, DeviceState &st) {
  if (!st.ctx)
    return;
  if (d.cuCtxPushCurrent(st.ctx) == CUDA_SUCCESS) {
    for (CUmodule m : st.modules)
      d.cuModuleUnload(m);
    if (st.tables)
      d.cuMemFree(st.tables);
    CUcontext popped;
    d.cuCtxPopCurrent(&popped);
  }
  d.cuDevicePrimaryCtxRelease(st.dev);
  st = DeviceState();
}

/// Loads one kernel's module into the current context.
s2rt_status loadKernel(const Driver &d, const s2::BundleKernel &k,
                       bool useCubin, CUmodule &module, CUfunction &fn) {
  char log[4096] = {0};
  CUjit_option opts[2] = {CU_JIT_ERROR_LOG_BUFFER,
                          CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *vals[2] = {log, reinterpret_cast<void *>(uintptr_t(sizeof(log)))};
  const void *image = useCubin ? static_cast<const void *>(k.cubin.data())
                               : static_cast<const void *>(k.ptx.c_str());
  CUresult r = d.cuModuleLoadDataEx(&module, image, 2, opts, vals);
  if (r != CUDA_SUCCESS) {
    log[sizeof(log) - 1] = '\0';
    return fail(s2rt_detail::cudaStatus(r),
                cuMessage(d, "cuModuleLoadDataEx", r) + " loading kernel '" +
                    k.name + "' (" + k.target + (useCubin ? " cubin" : " PTX") +
                    ")" + (log[0] ? std::string(": ") + log : std::string()));
  }
  r = d.cuModuleGetFunction(&fn, module, k.name.c_str());
  if (r != CUDA_SUCCESS) {
    d.cuModuleUnload(module);
    module = nullptr;
    return fail(S2RT_ERROR_INVALID_BUNDLE,
                cuMessage(d, "cuModuleGetFunction", r) + ": no entry point '" +
                    k.name + "' in its module");
  }
  return S2RT_SUCCESS;
}

/// Prepares `device` for `bundle`; the caller holds bundle->mutex.
s2rt_status prepareLocked(const Driver &d, s2rt_bundle *bundle, int device) {
  DeviceState &slot = bundle->devices[device];
  if (slot.prepared)
    return S2RT_SUCCESS;
  int count = 0;
  S2RT_CU(d, cuDeviceGetCount(&count));
  if (device < 0 || device >= count)
    return fail(S2RT_ERROR_INVALID_ARGUMENT,
                "device " + std::to_string(device) + " out of range: " +
                    std::to_string(count) + " CUDA device(s)");
  DeviceState st;
  S2RT_CU(d, cuDeviceGet(&st.dev, device));
  int major = 0, minor = 0, optin = 0;
  S2RT_CU(d, cuDeviceGetAttribute(
                 &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, st.dev));
  S2RT_CU(d, cuDeviceGetAttribute(
                 &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, st.dev));
  S2RT_CU(d, cuDeviceGetAttribute(
                 &optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                 st.dev));
  st.arch = major * 10 + minor;
  {
    const char *tma = std::getenv("S2RT_TMA");
    st.tensorMaps = !(tma && std::strcmp(tma, "0") == 0);
  }
  const s2::Bundle &b = bundle->b;

  // Which kernel serves each (kind, dtype, head dim) on this device.
  std::map<KernelKey, std::pair<int, bool>> plan;
  for (const s2::BundleKernel &k : b.kernels) {
    KernelKey key = keyOf(k.kind, int(k.dtype), int(k.headDim));
    if (plan.count(key))
      continue;
    bool cubin = false;
    int idx = selectKernel(b, k.kind, st.arch, int(k.dtype), k.headDim, cubin);
    if (idx >= 0)
      plan[key] = {idx, cubin};
  }
  if (plan.empty())
    return fail(S2RT_ERROR_UNSUPPORTED,
                "no kernel of the bundle runs on device " +
                    std::to_string(device) + " (" + archLabel(st.arch) +
                    "); the bundle has: " + kernelList(b));

  S2RT_CU(d, cuDevicePrimaryCtxRetain(&st.ctx, st.dev));
  if (d.cuCtxPushCurrent(st.ctx) != CUDA_SUCCESS) {
    d.cuDevicePrimaryCtxRelease(st.dev);
    return fail(S2RT_ERROR_CUDA, "cuCtxPushCurrent failed");
  }
  auto bail = [&](s2rt_status s) {
    std::string keep = lastError();
    CUcontext popped;
    d.cuCtxPopCurrent(&popped);
    releaseDevice(d, st);
    lastError() = keep;
    return s;
  };
  std::map<int, CUfunction> loaded;
  for (auto &entry : plan) {
    int idx = entry.second.first;
    const s2::BundleKernel &k = b.kernels[size_t(idx)];
    CUfunction fn = nullptr;
    auto it = loaded.find(idx);
    if (it != loaded.end()) {
      fn = it->second;
    } else {
      if (k.sharedBytes > optin)
        return bail(fail(
            S2RT_ERROR_UNSUPPORTED,
            "kernel '" + k.name + "' needs " + std::to_string(k.sharedBytes) +
                " bytes of shared memory; device " + std::to_string(device) +
                " allows " + std::to_string(optin)));
      CUmodule m = nullptr;
      s2rt_status s = loadKernel(d, k, entry.second.second, m, fn);
      if (s != S2RT_SUCCESS)
        return bail(s);
      st.modules.push_back(m);
      // Opt in for every kernel with dynamic shared memory: the kernel's
      // static shared memory counts against the same 48 KiB default, so
      // exactly 48 KiB of dynamic memory already fails to launch without it
      // (seen on an H200, 2026-11-26).
      if (k.sharedBytes > 0) {
        CUresult r = d.cuFuncSetAttribute(
            fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k.sharedBytes);
        if (r != CUDA_SUCCESS)
          return bail(fail(S2RT_ERROR_CUDA,
                           cuMessage(d, "cuFuncSetAttribute", r) +
                               " setting MAX_DYNAMIC_SHARED_SIZE_BYTES of '" +
                               k.name + "'"));
      }
      loaded[idx] = fn;
    }
    st.kernels[entry.first] = LoadedKernel{idx, fn};
  }
  if (!b.tableData.empty()) {
    size_t bytes = b.tableData.size() * sizeof(int32_t);
    CUresult r = d.cuMemAlloc(&st.tables, bytes);
    if (r != CUDA_SUCCESS) {
      st.tables = 0;
      return bail(fail(s2rt_detail::cudaStatus(r),
                       cuMessage(d, "cuMemAlloc", r) + " for " +
                           std::to_string(bytes) + " bytes of tables"));
    }
    r = d.cuMemcpyHtoD(st.tables, b.tableData.data(), bytes);
    if (r != CUDA_SUCCESS)
      return bail(fail(S2RT_ERROR_CUDA, cuMessage(d, "cuMemcpyHtoD", r) +
                                            " uploading the tables"));
  }
  CUcontext popped;
  d.cuCtxPopCurrent(&popped);
  st.prepared = true;
  slot = std::move(st);
  return S2RT_SUCCESS;
}

/// A loaded kernel and where to launch it.
struct Launchable {
  const s2::BundleKernel *k = nullptr;
  CUfunction fn = nullptr;
  CUcontext ctx = nullptr;
  CUdeviceptr tables = 0;
  /// DeviceState::tensorMaps of its device.
  bool tensorMaps = false;
};

/// Loads the driver (returned in `dp`), resolves the device (-1: the
/// current context's, else 0), prepares it and finds the kernel of `kind`
/// for (dtype, head dim) that runs there.
s2rt_status findKernel(s2rt_bundle *bundle, int device, s2::KernelKind kind,
                       int dtype, int headDim, const Driver *&dp,
                       Launchable &out) {
  s2rt_status ls = loadDriver(dp);
  if (ls != S2RT_SUCCESS)
    return ls;
  const Driver &d = *dp;
  CUcontext current = nullptr;
  int resolved = 0;
  s2rt_status s = s2rt_detail::resolveDevice(d, device, resolved, current);
  if (s != S2RT_SUCCESS)
    return s;
  device = resolved;
  std::lock_guard<std::mutex> lock(bundle->mutex);
  s = prepareLocked(d, bundle, device);
  if (s != S2RT_SUCCESS)
    return s;
  const DeviceState &st = bundle->devices[device];
  auto it = st.kernels.find(keyOf(kind, dtype, headDim));
  if (it == st.kernels.end())
    return fail(
        S2RT_ERROR_UNSUPPORTED,
        std::string("no ") +
            (kind == s2::KernelKind::Copy
                 ? std::string("copy")
                 : std::string(dtypeLabel(dtype)) + " d" +
                       std::to_string(headDim) +
                       (kind == s2::KernelKind::Merge ? " merge" : "")) +
            " kernel of the bundle runs on device " + std::to_string(device) +
            " (" + archLabel(st.arch) +
            "); it has: " + kernelList(bundle->b, kind));
  out.k = &bundle->b.kernels[size_t(it->second.index)];
  out.fn = it->second.fn;
  out.ctx = st.ctx;
  out.tables = st.tables;
  out.tensorMaps = st.tensorMaps;
  return S2RT_SUCCESS;
}

/// Launches `l` with grid (gx, gy, gz), the manifest's block and shared
/// memory, in its device's primary context.
s2rt_status launch(const Driver &d, const Launchable &l, int64_t gx, int64_t gy,
                   int64_t gz, s2rt_stream stream, void **params) {
  s2rt_detail::ContextScope scope(d, l.ctx);
  if (scope.status() != S2RT_SUCCESS)
    return scope.status();
  CUresult r =
      d.cuLaunchKernel(l.fn, unsigned(gx), unsigned(gy), unsigned(gz),
                       unsigned(l.k->threads), 1, 1, unsigned(l.k->sharedBytes),
                       reinterpret_cast<CUstream>(stream), params, nullptr);
  if (r != CUDA_SUCCESS)
    return fail(S2RT_ERROR_CUDA,
                cuMessage(d, "cuLaunchKernel", r) + " launching '" + l.k->name +
                    "' with grid (" + std::to_string(gx) + ", " +
                    std::to_string(gy) + ", " + std::to_string(gz) + ")");
  return S2RT_SUCCESS;
}

//===----------------------------------------------------------------------===//
// K/V tensor maps of forward kernels of kernel ABI 3
//===----------------------------------------------------------------------===//

/// Everything a K or V tensor map depends on (docs/bundle.md, "Kernel ABI
/// (forward, version 3)"): the cache key, and the arguments of
/// cuTensorMapEncodeTiled that vary.
struct TensorMapKey {
  CUtensorMapDataType dtype = CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  uint64_t address = 0;
  /// Extents, innermost first: head dim, keys, KV heads in the launch,
  /// batch.
  cuuint64_t dims[4] = {};
  /// Byte strides of dims 1-3 (keys, KV heads, batch).
  cuuint64_t strides[3] = {};
  cuuint32_t box[4] = {};

  bool operator==(const TensorMapKey &o) const {
    return dtype == o.dtype && address == o.address &&
           std::equal(dims, dims + 4, o.dims) &&
           std::equal(strides, strides + 3, o.strides) &&
           std::equal(box, box + 4, o.box);
  }
};

/// Fills `key` for K or V: `ptr` exactly as passed (a key window's pointer
/// may point before its allocation) and its element strides (batch, seq,
/// head). A dimension of extent 1 is never stepped, so it gets the packed
/// stride (previous stride times previous extent) whatever the caller
/// passed (0 is common for batch 1). False when the driver would refuse
/// the layout: an extent outside [1, 2^32] or a byte stride that is
/// negative, not a multiple of 16 or not below 2^40.
bool tensorMapKey(const s2rt_forward_args &a, const void *ptr,
                  const int64_t *stride, int64_t kvHeads, int32_t blockN,
                  TensorMapKey &key) {
  const __int128 elemBytes = 2;
  key.dtype = a.dtype == S2RT_DTYPE_F16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16
                                        : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  key.address = uint64_t(reinterpret_cast<uintptr_t>(ptr));
  const int64_t extents[4] = {a.head_dim, a.seqlen_k, kvHeads, a.batch};
  for (int i = 0; i < 4; ++i) {
    if (extents[i] < 1 || extents[i] > (int64_t(1) << 32))
      return false;
    key.dims[i] = cuuint64_t(extents[i]);
  }
  const int64_t given[3] = {stride[1], stride[2], stride[0]};
  __int128 prevStride = elemBytes, prevExtent = extents[0];
  for (int i = 0; i < 3; ++i) {
    __int128 s = extents[i + 1] == 1 ? prevStride * prevExtent
                                     : __int128(given[i]) * elemBytes;
    if (s < 0 || s % 16 || s >= (__int128(1) << 40))
      return false;
    key.strides[i] = cuuint64_t(s);
    prevStride = s;
    prevExtent = extents[i + 1];
  }
  key.box[0] = 64;
  key.box[1] = cuuint32_t(blockN);
  key.box[2] = 1;
  key.box[3] = 1;
  return true;
}

/// What encoding a key came to.
enum class Encoded {
  /// The map is valid.
  Yes,
  /// cuTensorMapEncodeTiled failed (CUDA_ERROR_INVALID_VALUE for arguments
  /// it does not take): it would fail again, so the failure is cached too,
  /// keeping the retries out of the launch path.
  Refused,
  /// The call could not be made (no context): not cached.
  Failed,
};

/// Encoded tensor maps (and failed encodes) by key, process-wide (an
/// encoding depends on its key only): at most kSize entries, the oldest
/// evicted first. Keeps cuTensorMapEncodeTiled (host work, no device work)
/// out of the repeated launch path.
class TensorMapCache {
public:
  static constexpr int kSize = 64;

  /// The map of `key` into `out`, from the cache or else from
  /// `encode(key, map)` (returning an Encoded). False when there is none.
  template <typename Encode>
  bool get(const TensorMapKey &key, CUtensorMap &out, Encode &&encode) {
    std::lock_guard<std::mutex> lock(mu);
    for (int i = 0; i < count; ++i) {
      const Entry &e = entries[i];
      if (e.key == key) {
        if (e.ok)
          out = e.map;
        return e.ok;
      }
    }
    Entry fresh;
    fresh.key = key;
    std::memset(&fresh.map, 0, sizeof(fresh.map));
    Encoded r = encode(key, fresh.map);
    if (r == Encoded::Failed)
      return false;
    fresh.ok = r == Encoded::Yes;
    entries[next] = fresh;
    next = (next + 1) % kSize;
    count = std::min(count + 1, kSize);
    if (fresh.ok)
      out = fresh.map;
    return fresh.ok;
  }

private:
  struct Entry {
    TensorMapKey key;
    bool ok = false;
    CUtensorMap map;
  };
  std::mutex mu;
  Entry entries[kSize];
  int count = 0;
  int next = 0;
};

TensorMapCache &tensorMapCache() {
  static TensorMapCache cache;
  return cache;
}

/// The K and V tensor maps of a forward launch of a kernel of ABI 3 into
/// `kMap` and `vMap`; true when the kernel may use them (tma = 1): the
/// launch is not packed, the driver has cuTensorMapEncodeTiled, S2RT_TMA
/// is not "0" (l.tensorMaps), both layouts are ones the driver takes and
/// both encodes succeed. Otherwise false, silently: the kernel then copies
/// with cp.async, with the same results.
bool tensorMapsFor(const Driver &d, const Launchable &l,
                   const s2rt_forward_args &a, int64_t group, CUtensorMap &kMap,
                   CUtensorMap &vMap) {
  if (!l.tensorMaps || !d.cuTensorMapEncodeTiled || a.cu_seqlens_q ||
      a.cu_seqlens_k)
    return false;
  int64_t kvHeads = (a.heads + group - 1) / group;
  TensorMapKey kKey, vKey;
  if (!tensorMapKey(a, a.k, a.k_stride, kvHeads, l.k->blockN, kKey) ||
      !tensorMapKey(a, a.v, a.v_stride, kvHeads, l.k->blockN, vKey))
    return false;
  auto encode = [&](const TensorMapKey &key, CUtensorMap &map) {
    // Encoding is host work, but the driver may want a context. (A
    // failure's message is replaced by the launch's outcome.)
    s2rt_detail::ContextScope scope(d, l.ctx);
    if (scope.status() != S2RT_SUCCESS)
      return Encoded::Failed;
    const cuuint32_t elementStrides[4] = {1, 1, 1, 1};
    CUresult r = d.cuTensorMapEncodeTiled(
        &map, key.dtype, 4, reinterpret_cast<void *>(uintptr_t(key.address)),
        key.dims, key.strides, key.box, elementStrides,
        CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
        CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return r == CUDA_SUCCESS ? Encoded::Yes : Encoded::Refused;
  };
  TensorMapCache &cache = tensorMapCache();
  return cache.get(kKey, kMap, encode) && cache.get(vKey, vMap, encode);
}

bool aligned(const void *p, uintptr_t a) {
  return (reinterpret_cast<uintptr_t>(p) % a) == 0;
}

/// The absolute query position and key window a launch uses (the
/// defaults resolved).
struct Window {
  int64_t queryPos;
  int64_t keyBegin;
  int64_t keyEnd;
};

Window windowOf(const s2rt_forward_args &a) {
  bool packed = a.cu_seqlens_q != nullptr;
  Window w;
  w.queryPos =
      packed || a.query_pos == -1 ? a.seqlen_k - a.seqlen_q : a.query_pos;
  w.keyBegin = packed ? 0 : a.key_begin;
  w.keyEnd = packed || a.key_end == -1 ? a.seqlen_k : a.key_end;
  return w;
}

/// Checks that the key window [begin, end) of a launch over `sk` keys
/// starts on a key tile of `blockN` keys and ends on one or at sk.
s2rt_status checkWindowTiles(int64_t begin, int64_t end, int64_t sk,
                             int64_t blockN) {
  if (begin % blockN)
    return fail(S2RT_ERROR_INVALID_ARGUMENT,
                "key window begin " + std::to_string(begin) +
                    " is not a multiple of the bundle's block_n " +
                    std::to_string(blockN));
  if (end % blockN && end != sk)
    return fail(S2RT_ERROR_INVALID_ARGUMENT,
                "key window end " + std::to_string(end) +
                    " is neither a multiple of the bundle's block_n " +
                    std::to_string(blockN) + " nor the key length " +
                    std::to_string(sk));
  return S2RT_SUCCESS;
}

/// Host-side checks of s2rt_forward; `arch` 0 skips the architecture check.
s2rt_status checkForward(const s2rt_bundle *bundle, const s2rt_forward_args *a,
                         int arch) {
  auto bad = [](const std::string &m) {
    return fail(S2RT_ERROR_INVALID_ARGUMENT, m);
  };
  if (!bundle)
    return bad("null bundle");
  if (!a)
    return bad("null forward arguments");
  if (a->struct_size != sizeof(s2rt_forward_args))
    return bad("forward arguments of size " + std::to_string(a->struct_size) +
               ", expected " + std::to_string(sizeof(s2rt_forward_args)) +
               " (initialise them with s2rt_forward_args_init)");
  const s2::Bundle &b = bundle->b;
  const char *names[4] = {"q", "k", "v", "out"};
  const void *ptrs[4] = {a->q, a->k, a->v, a->out};
  for (int i = 0; i < 4; ++i) {
    if (!ptrs[i])
      return bad(std::string("null '") + names[i] + "' pointer");
    if (!aligned(ptrs[i], 16))
      return bad(std::string("'") + names[i] +
                 "' pointer is not 16-byte aligned");
  }
  if (a->lse && !aligned(a->lse, 4))
    return bad("'lse' pointer is not 4-byte aligned");
  if (a->dtype != S2RT_DTYPE_BF16 && a->dtype != S2RT_DTYPE_F16)
    return bad("unknown dtype " + std::to_string(int(a->dtype)) +
               ", expected S2RT_DTYPE_BF16 or S2RT_DTYPE_F16");
  if (a->head_dim <= 0 || a->head_dim > 1024)
    return bad("head dim " + std::to_string(a->head_dim) +
               " outside [1, 1024]");
  bool packed = a->cu_seqlens_q || a->cu_seqlens_k;
  if (packed && !(a->cu_seqlens_q && a->cu_seqlens_k))
    return bad("packed batch needs both 'cu_seqlens_q' and 'cu_seqlens_k'");
  if (packed && (!aligned(a->cu_seqlens_q, 4) || !aligned(a->cu_seqlens_k, 4)))
    return bad("'cu_seqlens' pointers are not 4-byte aligned");
  if (a->batch < 1 || a->batch > 65535)
    return bad("batch " + std::to_string(a->batch) + " outside [1, 65535]");
  const int64_t maxLen = INT32_MAX;
  if (a->seqlen_q < 0 || a->seqlen_k < 0 || a->seqlen_q > maxLen ||
      a->seqlen_k > maxLen)
    return bad("sequence lengths (" + std::to_string(a->seqlen_q) + ", " +
               std::to_string(a->seqlen_k) + ") outside [0, 2^31)");
  if (a->seqlen_q > a->seqlen_k)
    return bad("query length " + std::to_string(a->seqlen_q) +
               " exceeds key length " + std::to_string(a->seqlen_k) +
               " (queries lie among the key positions)");
  if (b.maxSeqLen > 0 && a->seqlen_k > b.maxSeqLen)
    return bad("key length " + std::to_string(a->seqlen_k) + " exceeds " +
               std::to_string(b.maxSeqLen) +
               ", the longest the bundle's table-backed schedule was built "
               "for");

  // Query position and key window (docs/bundle.md, parameters 26-28).
  if (packed) {
    bool posDefault =
        a->query_pos == -1 || a->query_pos == a->seqlen_k - a->seqlen_q;
    bool windowDefault =
        a->key_begin == 0 && (a->key_end == -1 || a->key_end == a->seqlen_k);
    if (!posDefault || !windowDefault)
      return bad("a packed launch takes the default query position and key "
                 "window (query_pos -1, key_begin 0, key_end -1), got "
                 "query_pos " +
                 std::to_string(a->query_pos) + ", key window [" +
                 std::to_string(a->key_begin) + ", " +
                 std::to_string(a->key_end) + ")");
  } else {
    if (a->query_pos < -1)
      return bad("query position " + std::to_string(a->query_pos) +
                 " is negative (-1 means seqlen_k - seqlen_q)");
    if (a->query_pos > a->seqlen_k - a->seqlen_q)
      return bad("query rows [" + std::to_string(a->query_pos) + ", +" +
                 std::to_string(a->seqlen_q) + ") extend past the key length " +
                 std::to_string(a->seqlen_k));
    if (a->key_begin < 0)
      return bad("key window begin " + std::to_string(a->key_begin) +
                 " is negative");
    if (a->key_end < -1)
      return bad("key window end " + std::to_string(a->key_end) +
                 " is negative (-1 means seqlen_k)");
    Window w = windowOf(*a);
    if (w.keyEnd > a->seqlen_k)
      return bad("key window end " + std::to_string(w.keyEnd) +
                 " exceeds the key length " + std::to_string(a->seqlen_k));
    if (w.keyBegin > w.keyEnd)
      return bad("key window [" + std::to_string(w.keyBegin) + ", " +
                 std::to_string(w.keyEnd) + ") ends before it begins");
    s2rt_status s =
        checkWindowTiles(w.keyBegin, w.keyEnd, a->seqlen_k, b.blockN);
    if (s != S2RT_SUCCESS)
      return s;
  }

  if (a->heads < 1 || a->head_offset < 0 || a->head_offset + a->heads > b.heads)
    return bad("heads [" + std::to_string(a->head_offset) + ", " +
               std::to_string(a->head_offset + a->heads) +
               ") outside the pattern's " + std::to_string(b.heads) + " heads");
  int64_t group = b.kvHeads > 0 ? b.heads / b.kvHeads : 1;
  if (a->head_offset % group)
    return bad("head offset " + std::to_string(a->head_offset) +
               " is not a multiple of the GQA group size " +
               std::to_string(group));
  if (!std::isfinite(a->softmax_scale))
    return bad("softmax scale is not finite");

  // Strides: non-negative, 16-byte multiples, no overflow of the largest
  // offset.
  struct StrideSet {
    const char *name;
    const int64_t *s;
    int64_t heads;
  };
  int64_t kvLaunchHeads =
      (a->head_offset + a->heads - 1) / group - a->head_offset / group + 1;
  StrideSet sets[4] = {{"q", a->q_stride, a->heads},
                       {"k", a->k_stride, kvLaunchHeads},
                       {"v", a->v_stride, kvLaunchHeads},
                       {"out", a->o_stride, a->heads}};
  const int64_t elemBytes = 2;
  for (const StrideSet &set : sets) {
    for (int i = 0; i < 3; ++i) {
      if (packed && i == 0)
        continue;
      int64_t s = set.s[i];
      const char *dim[3] = {"batch", "seq", "head"};
      if (s < 0)
        return bad(std::string("negative ") + dim[i] + " stride of '" +
                   set.name + "'");
      if (s % (16 / elemBytes))
        return bad(std::string(dim[i]) + " stride " + std::to_string(s) +
                   " of '" + set.name +
                   "' is not a multiple of 16 bytes (8 elements)");
    }
    __int128 len =
        set.name[0] == 'k' || set.name[0] == 'v' ? a->seqlen_k : a->seqlen_q;
    __int128 top = (packed ? 0 : __int128(a->batch - 1) * set.s[0]) +
                   (len > 0 ? (len - 1) : 0) * set.s[1] +
                   __int128(set.heads - 1) * set.s[2] + a->head_dim;
    if (top > (__int128(1) << 62))
      return bad(std::string("strides of '") + set.name +
                 "' address beyond 2^62 elements");
  }
  if (a->lse) {
    if (a->lse_stride[0] < 0 || a->lse_stride[1] < 0)
      return bad("negative 'lse' stride");
    __int128 top = (packed ? 0 : __int128(a->batch - 1) * a->lse_stride[0]) +
                   __int128(a->heads - 1) * a->lse_stride[1] + a->seqlen_q;
    if (top > (__int128(1) << 62))
      return bad("strides of 'lse' address beyond 2^62 elements");
  }

  if (!hasVariant(b, s2::KernelKind::Forward, a->dtype, int(a->head_dim)))
    return fail(S2RT_ERROR_UNSUPPORTED,
                std::string("the bundle has no ") + dtypeLabel(a->dtype) +
                    " kernel for head dim " + std::to_string(a->head_dim) +
                    "; it has: " + kernelList(b, s2::KernelKind::Forward));
  if (arch > 0) {
    bool cubin;
    if (selectKernel(b, s2::KernelKind::Forward, arch, a->dtype,
                     int(a->head_dim), cubin) < 0)
      return fail(S2RT_ERROR_UNSUPPORTED,
                  std::string("no ") + dtypeLabel(a->dtype) + " d" +
                      std::to_string(a->head_dim) + " kernel of the bundle " +
                      "runs on " + archLabel(arch) +
                      "; it has: " + kernelList(b, s2::KernelKind::Forward));
  }
  return S2RT_SUCCESS;
}

/// Host-side checks of s2rt_merge; `arch` 0 skips the architecture check.
s2rt_status checkMerge(const s2rt_bundle *bundle, const s2rt_merge_args *a,
                       int arch) {
  auto bad = [](const std::string &m) {
    return fail(S2RT_ERROR_INVALID_ARGUMENT, m);
  };
  if (!bundle)
    return bad("null bundle");
  if (!a)
    return bad("null merge arguments");
  if (a->struct_size != sizeof(s2rt_merge_args))
    return bad("merge arguments of size " + std::to_string(a->struct_size) +
               ", expected " + std::to_string(sizeof(s2rt_merge_args)) +
               " (initialise them with s2rt_merge_args_init)");
  const s2::Bundle &b = bundle->b;
  const char *names[4] = {"out", "part_out", "lse", "part_lse"};
  const void *ptrs[4] = {a->out, a->part_out, a->lse, a->part_lse};
  for (int i = 0; i < 4; ++i) {
    uintptr_t align = i < 2 ? 16 : 4;
    if (!ptrs[i])
      return bad(std::string("null '") + names[i] + "' pointer");
    if (!aligned(ptrs[i], align))
      return bad(std::string("'") + names[i] + "' pointer is not " +
                 std::to_string(align) + "-byte aligned");
  }
  if (a->dtype != S2RT_DTYPE_BF16 && a->dtype != S2RT_DTYPE_F16)
    return bad("unknown dtype " + std::to_string(int(a->dtype)) +
               ", expected S2RT_DTYPE_BF16 or S2RT_DTYPE_F16");
  if (a->head_dim <= 0 || a->head_dim > 1024)
    return bad("head dim " + std::to_string(a->head_dim) +
               " outside [1, 1024]");
  if (a->batch < 1 || a->batch > 65535)
    return bad("batch " + std::to_string(a->batch) + " outside [1, 65535]");
  if (a->heads < 1 || a->heads > 65535)
    return bad("heads " + std::to_string(a->heads) + " outside [1, 65535]");
  if (a->rows < 0 || a->rows > INT32_MAX)
    return bad("rows " + std::to_string(a->rows) + " outside [0, 2^31)");

  struct StrideSet {
    const char *name;
    const int64_t *s;
  };
  const StrideSet sets[2] = {{"out", a->o_stride},
                             {"part_out", a->part_o_stride}};
  const char *dim[3] = {"batch", "seq", "head"};
  for (const StrideSet &set : sets) {
    for (int i = 0; i < 3; ++i) {
      if (set.s[i] < 0)
        return bad(std::string("negative ") + dim[i] + " stride of '" +
                   set.name + "'");
      if (set.s[i] % 8)
        return bad(std::string(dim[i]) + " stride " + std::to_string(set.s[i]) +
                   " of '" + set.name +
                   "' is not a multiple of 16 bytes (8 elements)");
    }
    __int128 top = __int128(a->batch - 1) * set.s[0] +
                   __int128(a->rows > 0 ? a->rows - 1 : 0) * set.s[1] +
                   __int128(a->heads - 1) * set.s[2] + a->head_dim;
    if (top > (__int128(1) << 62))
      return bad(std::string("strides of '") + set.name +
                 "' address beyond 2^62 elements");
  }
  const StrideSet lseSets[2] = {{"lse", a->lse_stride},
                                {"part_lse", a->part_lse_stride}};
  for (const StrideSet &set : lseSets) {
    if (set.s[0] < 0 || set.s[1] < 0)
      return bad(std::string("negative '") + set.name + "' stride");
    __int128 top = __int128(a->batch - 1) * set.s[0] +
                   __int128(a->heads - 1) * set.s[1] + a->rows;
    if (top > (__int128(1) << 62))
      return bad(std::string("strides of '") + set.name +
                 "' address beyond 2^62 elements");
  }

  if (!hasVariant(b, s2::KernelKind::Merge, a->dtype, int(a->head_dim)))
    return fail(S2RT_ERROR_UNSUPPORTED,
                std::string("the bundle has no ") + dtypeLabel(a->dtype) +
                    " merge kernel for head dim " +
                    std::to_string(a->head_dim) +
                    "; it has: " + kernelList(b, s2::KernelKind::Merge));
  if (arch > 0) {
    bool cubin;
    if (selectKernel(b, s2::KernelKind::Merge, arch, a->dtype, int(a->head_dim),
                     cubin) < 0)
      return fail(S2RT_ERROR_UNSUPPORTED,
                  std::string("no ") + dtypeLabel(a->dtype) + " d" +
                      std::to_string(a->head_dim) +
                      " merge kernel of the bundle runs on " + archLabel(arch) +
                      "; it has: " + kernelList(b, s2::KernelKind::Merge));
  }
  return S2RT_SUCCESS;
}

/// Host-side checks of s2rt_copy; `arch` 0 skips the architecture check.
s2rt_status checkCopy(const s2rt_bundle *bundle, const s2rt_copy_args *a,
                      int arch) {
  auto bad = [](const std::string &m) {
    return fail(S2RT_ERROR_INVALID_ARGUMENT, m);
  };
  if (!bundle)
    return bad("null bundle");
  if (!a)
    return bad("null copy arguments");
  if (a->struct_size != sizeof(s2rt_copy_args))
    return bad("copy arguments of size " + std::to_string(a->struct_size) +
               ", expected " + std::to_string(sizeof(s2rt_copy_args)) +
               " (initialise them with s2rt_copy_args_init)");
  if (a->count < 0 || a->count > INT32_MAX)
    return bad("segment count " + std::to_string(a->count) +
               " outside [0, 2^31)");
  if (a->count > 0 && !a->segments)
    return bad("null 'segments' pointer with " + std::to_string(a->count) +
               " segment(s)");
  if (a->segments && !aligned(a->segments, 8))
    return bad("'segments' pointer is not 8-byte aligned");
  const s2::Bundle &b = bundle->b;
  if (!hasVariant(b, s2::KernelKind::Copy, 0, 0))
    return fail(S2RT_ERROR_UNSUPPORTED,
                "the bundle has no copy kernel (it predates the copy kernel "
                "ABI; rebuild it with s2c); it has: " +
                    kernelList(b));
  if (arch > 0) {
    bool cubin;
    if (selectKernel(b, s2::KernelKind::Copy, arch, 0, 0, cubin) < 0)
      return fail(S2RT_ERROR_UNSUPPORTED,
                  "no copy kernel of the bundle runs on " + archLabel(arch) +
                      "; it has: " + kernelList(b, s2::KernelKind::Copy));
  }
  return S2RT_SUCCESS;
}

s2rt_status loadBundle(const void *data, size_t size, s2rt_bundle **out) {
  if (!out)
    return fail(S2RT_ERROR_INVALID_ARGUMENT, "null output pointer");
  *out = nullptr;
  if (!data)
    return fail(S2RT_ERROR_INVALID_ARGUMENT, "null bundle data");
  const unsigned char *bytes = static_cast<const unsigned char *>(data);
  if (size >= 12 && std::memcmp(bytes, s2::kBundleMagic, 8) == 0) {
    uint32_t v = uint32_t(bytes[8]) | uint32_t(bytes[9]) << 8 |
                 uint32_t(bytes[10]) << 16 | uint32_t(bytes[11]) << 24;
    if (v != s2::kBundleFormatVersion)
      return fail(S2RT_ERROR_VERSION_MISMATCH,
                  "bundle format version " + std::to_string(v) +
                      ", this runtime reads version " +
                      std::to_string(s2::kBundleFormatVersion) +
                      " (recompile the pattern)");
  }
  std::unique_ptr<s2rt_bundle> b(new (std::nothrow) s2rt_bundle());
  if (!b)
    return fail(S2RT_ERROR_OUT_OF_MEMORY, "out of memory");
  std::string error;
  if (!s2::readBundle(data, size, b->b, error))
    return fail(error.find("ABI version") != std::string::npos
                    ? S2RT_ERROR_VERSION_MISMATCH
                    : S2RT_ERROR_INVALID_BUNDLE,
                error);
  *out = b.release();
  return ok();
}

} // namespace

//===----------------------------------------------------------------------===//
// The C API
//===----------------------------------------------------------------------===//

namespace {

/// Runs an entry point's body, turning exceptions (bad_alloc) into a status:
/// none crosses the C API. A success clears this thread's last error.
template <typename F> s2rt_status guarded(F &&body) noexcept {
  try {
    s2rt_status status = body();
    return status == S2RT_SUCCESS ? ok() : status;
  } catch (const std::bad_alloc &) {
    return fail(S2RT_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (...) {
    return fail(S2RT_ERROR_INVALID_ARGUMENT, "unexpected internal error");
  }
}

} // namespace

extern "C" {

const char *s2rt_status_name(s2rt_status status) {
  switch (status) {
  case S2RT_SUCCESS:
    return "S2RT_SUCCESS";
  case S2RT_ERROR_INVALID_ARGUMENT:
    return "S2RT_ERROR_INVALID_ARGUMENT";
  case S2RT_ERROR_INVALID_BUNDLE:
    return "S2RT_ERROR_INVALID_BUNDLE";
  case S2RT_ERROR_VERSION_MISMATCH:
    return "S2RT_ERROR_VERSION_MISMATCH";
  case S2RT_ERROR_IO:
    return "S2RT_ERROR_IO";
  case S2RT_ERROR_NO_DRIVER:
    return "S2RT_ERROR_NO_DRIVER";
  case S2RT_ERROR_UNSUPPORTED:
    return "S2RT_ERROR_UNSUPPORTED";
  case S2RT_ERROR_CUDA:
    return "S2RT_ERROR_CUDA";
  case S2RT_ERROR_OUT_OF_MEMORY:
    return "S2RT_ERROR_OUT_OF_MEMORY";
  default:
    break;
  }
  return "S2RT_ERROR_UNKNOWN";
}

const char *s2rt_last_error(void) { return lastError().c_str(); }

s2rt_status s2rt_init(void) {
  return guarded([&]() -> s2rt_status {
    const Driver *d;
    return loadDriver(d);
  });
}

s2rt_status s2rt_device_count(int *count) {
  return guarded([&]() -> s2rt_status {
    if (!count)
      return fail(S2RT_ERROR_INVALID_ARGUMENT, "null count pointer");
    *count = 0;
    const Driver *d;
    s2rt_status s = loadDriver(d);
    if (s != S2RT_SUCCESS)
      return s;
    S2RT_CU(*d, cuDeviceGetCount(count));
    return ok();
  });
}

s2rt_status s2rt_bundle_load_memory(const void *data, size_t size,
                                    s2rt_bundle **out) {
  return guarded([&]() -> s2rt_status { return loadBundle(data, size, out); });
}

s2rt_status s2rt_bundle_load_file(const char *path, s2rt_bundle **out) {
  return guarded([&]() -> s2rt_status {
    if (!out)
      return fail(S2RT_ERROR_INVALID_ARGUMENT, "null output pointer");
    *out = nullptr;
    if (!path)
      return fail(S2RT_ERROR_INVALID_ARGUMENT, "null path");
    std::string data, error;
    bool tooLarge = false;
    if (!s2::readFileBounded(path, s2::BundleLimits::kMaxFileBytes, data, error,
                             &tooLarge))
      return fail(tooLarge ? S2RT_ERROR_INVALID_BUNDLE : S2RT_ERROR_IO, error);
    s2rt_status s = loadBundle(data.data(), data.size(), out);
    if (s != S2RT_SUCCESS)
      lastError() = std::string(path) + ": " + lastError();
    return s;
  });
}

void s2rt_bundle_destroy(s2rt_bundle *bundle) {
  if (!bundle)
    return;
  if (const Driver *d = s2rt_detail::loadedDriver())
    for (auto &entry : bundle->devices)
      releaseDevice(*d, entry.second);
  delete bundle;
}

const char *s2rt_bundle_pattern_name(const s2rt_bundle *b) {
  return b ? b->b.patternName.c_str() : "";
}
const char *s2rt_bundle_pattern_text(const s2rt_bundle *b) {
  return b ? b->b.patternText.c_str() : "";
}
int64_t s2rt_bundle_heads(const s2rt_bundle *b) { return b ? b->b.heads : 0; }
int64_t s2rt_bundle_kv_heads(const s2rt_bundle *b) {
  return b ? b->b.kvHeads : 0;
}
int64_t s2rt_bundle_block(const s2rt_bundle *b) { return b ? b->b.block : 0; }
int s2rt_bundle_causal(const s2rt_bundle *b) {
  return b && b->b.causal ? 1 : 0;
}
int64_t s2rt_bundle_block_m(const s2rt_bundle *b) {
  return b ? b->b.blockM : 0;
}
int64_t s2rt_bundle_block_n(const s2rt_bundle *b) {
  return b ? b->b.blockN : 0;
}
int64_t s2rt_bundle_max_seq_len(const s2rt_bundle *b) {
  return b ? b->b.maxSeqLen : 0;
}
const char *s2rt_bundle_setting(const s2rt_bundle *b, const char *key) {
  if (!b || !key)
    return nullptr;
  for (const auto &kv : b->b.settings)
    if (kv.first == key)
      return kv.second.c_str();
  return nullptr;
}

int s2rt_bundle_num_kernels(const s2rt_bundle *b) {
  return b ? int(b->b.kernels.size()) : 0;
}

s2rt_status s2rt_bundle_kernel_info(const s2rt_bundle *b, int index,
                                    s2rt_kernel_info *out) {
  if (!b || !out)
    return fail(S2RT_ERROR_INVALID_ARGUMENT, "null argument");
  if (index < 0 || size_t(index) >= b->b.kernels.size())
    return fail(S2RT_ERROR_INVALID_ARGUMENT,
                "kernel index " + std::to_string(index) + " outside [0, " +
                    std::to_string(b->b.kernels.size()) + ")");
  const s2::BundleKernel &k = b->b.kernels[size_t(index)];
  out->name = k.name.c_str();
  out->target = k.target.c_str();
  out->dtype = s2rt_dtype(int(k.dtype));
  out->head_dim = k.headDim;
  out->block_m = k.blockM;
  out->block_n = k.blockN;
  out->threads = k.threads;
  out->shared_bytes = k.sharedBytes;
  out->abi_version = k.abiVersion;
  out->has_ptx = k.ptx.empty() ? 0 : 1;
  out->has_cubin = k.cubin.empty() ? 0 : 1;
  out->kind = k.kind == s2::KernelKind::Merge  ? S2RT_KERNEL_MERGE
              : k.kind == s2::KernelKind::Copy ? S2RT_KERNEL_COPY
                                               : S2RT_KERNEL_FORWARD;
  return ok();
}

int s2rt_bundle_supports(const s2rt_bundle *b, s2rt_dtype dtype, int head_dim) {
  return b && hasVariant(b->b, s2::KernelKind::Forward, int(dtype), head_dim)
             ? 1
             : 0;
}

int s2rt_bundle_has_copy_kernel(const s2rt_bundle *b, int arch) {
  if (!b)
    return 0;
  if (arch <= 0)
    return hasVariant(b->b, s2::KernelKind::Copy, 0, 0) ? 1 : 0;
  bool cubin = false;
  return selectKernel(b->b, s2::KernelKind::Copy, arch, 0, 0, cubin) >= 0 ? 1
                                                                          : 0;
}

s2rt_status s2rt_bundle_select_kernel(const s2rt_bundle *b, int arch,
                                      s2rt_dtype dtype, int head_dim,
                                      int *index, int *uses_cubin) {
  return guarded([&]() -> s2rt_status {
    if (!b || !index)
      return fail(S2RT_ERROR_INVALID_ARGUMENT, "null argument");
    bool cubin = false;
    int idx = selectKernel(b->b, s2::KernelKind::Forward, arch, int(dtype),
                           head_dim, cubin);
    *index = idx;
    if (uses_cubin)
      *uses_cubin = cubin ? 1 : 0;
    if (idx < 0)
      return fail(
          S2RT_ERROR_UNSUPPORTED,
          std::string("no ") + dtypeLabel(dtype) + " d" +
              std::to_string(head_dim) + " kernel runs on " + archLabel(arch) +
              "; the bundle has: " + kernelList(b->b, s2::KernelKind::Forward));
    return ok();
  });
}

s2rt_status s2rt_bundle_prepare(s2rt_bundle *bundle, int device) {
  return guarded([&]() -> s2rt_status {
    if (!bundle)
      return fail(S2RT_ERROR_INVALID_ARGUMENT, "null bundle");
    if (device < 0)
      return fail(S2RT_ERROR_INVALID_ARGUMENT,
                  "negative device " + std::to_string(device));
    const Driver *d;
    s2rt_status s = loadDriver(d);
    if (s != S2RT_SUCCESS)
      return s;
    std::lock_guard<std::mutex> lock(bundle->mutex);
    return prepareLocked(*d, bundle, device);
  });
}

void s2rt_forward_args_init(s2rt_forward_args *args) {
  if (!args)
    return;
  std::memset(args, 0, sizeof(*args));
  args->struct_size = sizeof(*args);
  args->batch = 1;
  args->dtype = S2RT_DTYPE_BF16;
  args->device = -1;
  args->query_pos = -1;
  args->key_begin = 0;
  args->key_end = -1;
}

s2rt_status s2rt_forward_check(const s2rt_bundle *bundle,
                               const s2rt_forward_args *args, int arch) {
  return guarded([&] { return checkForward(bundle, args, arch); });
}

s2rt_status s2rt_forward(s2rt_bundle *bundle, const s2rt_forward_args *args,
                         s2rt_stream stream) {
  return guarded([&]() -> s2rt_status {
    s2rt_status s = checkForward(bundle, args, 0);
    if (s != S2RT_SUCCESS)
      return s;
    const s2rt_forward_args &a = *args;
    const Driver *dp;
    Launchable l;
    s = findKernel(bundle, a.device, s2::KernelKind::Forward, int(a.dtype),
                   int(a.head_dim), dp, l);
    if (s != S2RT_SUCCESS)
      return s;
    const Driver &d = *dp;
    if (a.seqlen_q == 0)
      return ok();
    const s2::BundleKernel &k = *l.k;
    bool packed = a.cu_seqlens_q != nullptr;
    Window w = windowOf(a);
    // The bundle's tile sizes are its kernels'; recheck the window against
    // the kernel that runs in case they differ.
    if (!packed && k.blockN != bundle->b.blockN) {
      s = checkWindowTiles(w.keyBegin, w.keyEnd, a.seqlen_k, k.blockN);
      if (s != S2RT_SUCCESS)
        return s;
    }

    int64_t bm = k.blockM;
    int64_t tiles;
    if (packed)
      tiles =
          std::min((a.seqlen_q + bm - 1) / bm + 1, (a.seqlen_k + bm - 1) / bm);
    else
      tiles = (w.queryPos + a.seqlen_q + bm - 1) / bm - w.queryPos / bm;

    // The 29 parameters of docs/bundle.md, in order, and for a kernel of
    // ABI 3 the tma flag and the K and V tensor maps (parameters 29-31).
    const void *q = a.q, *kk = a.k, *v = a.v;
    void *o = a.out;
    void *lse = a.lse;
    int64_t sq = a.seqlen_q, sk = a.seqlen_k;
    int64_t st[14] = {a.q_stride[0],   a.q_stride[1],  a.q_stride[2],
                      a.k_stride[0],   a.k_stride[1],  a.k_stride[2],
                      a.v_stride[0],   a.v_stride[1],  a.v_stride[2],
                      a.o_stride[0],   a.o_stride[1],  a.o_stride[2],
                      a.lse_stride[0], a.lse_stride[1]};
    float scale = a.softmax_scale != 0.0f
                      ? a.softmax_scale
                      : float(1.0 / std::sqrt(double(a.head_dim)));
    float scaleLog2 = float(double(scale) * 1.4426950408889634);
    int32_t headOffset = int32_t(a.head_offset);
    const void *cuq = a.cu_seqlens_q, *cuk = a.cu_seqlens_k;
    void *tab = reinterpret_cast<void *>(uintptr_t(l.tables));
    int64_t qpos = w.queryPos, kvlo = w.keyBegin, kvhi = w.keyEnd;
    // The driver copies the maps' 128 bytes at the launch (and into a
    // graph node when captured): nothing lives on the device.
    int32_t tma = 0;
    alignas(64) CUtensorMap kMap, vMap;
    if (k.abiVersion == s2::kKernelAbiTensorMaps) {
      int64_t group =
          bundle->b.kvHeads > 0 ? bundle->b.heads / bundle->b.kvHeads : 1;
      tma = tensorMapsFor(d, l, a, group, kMap, vMap) ? 1 : 0;
      if (!tma) {
        std::memset(&kMap, 0, sizeof(kMap));
        std::memset(&vMap, 0, sizeof(vMap));
      }
    }
    // A kernel of ABI 2 reads the first 29 only.
    void *params[32] = {
        &q,         &kk,         &v,     &o,      &lse,    &sq,     &sk,
        &st[0],     &st[1],      &st[2], &st[3],  &st[4],  &st[5],  &st[6],
        &st[7],     &st[8],      &st[9], &st[10], &st[11], &st[12], &st[13],
        &scaleLog2, &headOffset, &cuq,   &cuk,    &tab,    &qpos,   &kvlo,
        &kvhi,      &tma,        &kMap,  &vMap};
    return launch(d, l, tiles, a.heads, a.batch, stream, params);
  });
}

void s2rt_merge_args_init(s2rt_merge_args *args) {
  if (!args)
    return;
  std::memset(args, 0, sizeof(*args));
  args->struct_size = sizeof(*args);
  args->batch = 1;
  args->dtype = S2RT_DTYPE_BF16;
  args->device = -1;
}

s2rt_status s2rt_merge_check(const s2rt_bundle *bundle,
                             const s2rt_merge_args *args, int arch) {
  return guarded([&] { return checkMerge(bundle, args, arch); });
}

s2rt_status s2rt_merge(s2rt_bundle *bundle, const s2rt_merge_args *args,
                       s2rt_stream stream) {
  return guarded([&]() -> s2rt_status {
    s2rt_status s = checkMerge(bundle, args, 0);
    if (s != S2RT_SUCCESS)
      return s;
    const s2rt_merge_args &a = *args;
    const Driver *dp;
    Launchable l;
    s = findKernel(bundle, a.device, s2::KernelKind::Merge, int(a.dtype),
                   int(a.head_dim), dp, l);
    if (s != S2RT_SUCCESS)
      return s;
    const Driver &d = *dp;
    if (a.rows == 0)
      return ok();
    int64_t bm = l.k->blockM;
    int64_t tiles = (a.rows + bm - 1) / bm;

    // The 15 parameters of docs/bundle.md, "Merge kernel ABI", in order.
    void *o = a.out;
    void *lse = a.lse;
    const void *oIn = a.part_out;
    const void *lseIn = a.part_lse;
    int64_t rows = a.rows;
    int64_t st[10] = {a.o_stride[0],        a.o_stride[1],
                      a.o_stride[2],        a.lse_stride[0],
                      a.lse_stride[1],      a.part_o_stride[0],
                      a.part_o_stride[1],   a.part_o_stride[2],
                      a.part_lse_stride[0], a.part_lse_stride[1]};
    void *params[15] = {&o,     &lse,   &oIn,   &lseIn, &rows,
                        &st[0], &st[1], &st[2], &st[3], &st[4],
                        &st[5], &st[6], &st[7], &st[8], &st[9]};
    return launch(d, l, tiles, a.heads, a.batch, stream, params);
  });
}

void s2rt_copy_args_init(s2rt_copy_args *args) {
  if (!args)
    return;
  std::memset(args, 0, sizeof(*args));
  args->struct_size = sizeof(*args);
  args->device = -1;
}

s2rt_status s2rt_copy_check(const s2rt_bundle *bundle,
                            const s2rt_copy_args *args, int arch) {
  return guarded([&] { return checkCopy(bundle, args, arch); });
}

s2rt_status s2rt_copy(s2rt_bundle *bundle, const s2rt_copy_args *args,
                      s2rt_stream stream) {
  return guarded([&]() -> s2rt_status {
    s2rt_status s = checkCopy(bundle, args, 0);
    if (s != S2RT_SUCCESS)
      return s;
    if (args->count == 0)
      return ok();
    const Driver *dp;
    Launchable l;
    s = findKernel(bundle, args->device, s2::KernelKind::Copy, 0, 0, dp, l);
    if (s != S2RT_SUCCESS)
      return s;
    const Driver &d = *dp;
    // The 2 parameters of docs/bundle.md, "Copy kernel ABI", in order; one
    // CTA a segment.
    const void *segs = args->segments;
    int64_t count = args->count;
    void *params[2] = {&segs, &count};
    return launch(d, l, count, 1, 1, stream, params);
  });
}

} // extern "C"
