//===- FakeCuda.cpp - A host-only stand-in for libcuda.so.1 in tests ------===//
//
// Implements, with cuda.h's exact prototypes, the driver entry points that
// s2rt looks up (runtime/lib/Driver.h), on the host. See FakeCuda.h.
//
//===----------------------------------------------------------------------===//

#include "FakeCuda.h"

#include <cuda.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace {

std::mutex mu;
FakeStats stats;
FakeLaunch lastLaunch;
std::string failFunction;
CUresult failCode = CUDA_SUCCESS;
int deviceCount = 1, ccMajor = 9, ccMinor = 0, optin = 227 * 1024;
thread_local std::vector<CUcontext> ctxStack;
std::string lastCopy;
std::string lastFunctionName;
/// Entry point name of every function handed out.
std::map<CUfunction, std::string> functionNames;
/// A kernel parameter as its PTX declares it: its size in bytes.
struct ParamDecl {
  size_t size;
};
/// The image text of every module (up to its first NUL byte) and the
/// parameters each function's entry declares there (empty when the image
/// does not declare them).
std::map<CUmodule, std::string> moduleImages;
std::map<CUfunction, std::vector<ParamDecl>> functionParams;
/// Every parameter of the last launch, whole, and the host address it was
/// passed at.
std::vector<std::string> lastParams;
std::vector<uintptr_t> lastParamAddresses;
/// Every cuTensorMapEncodeTiled call since the last reset.
std::vector<FakeTensorMapEncode> encodes;
/// Live streams and events (handles made up by the fake), and streams
/// destroyed since (using one is an error).
std::set<CUstream> liveStreams, deadStreams;
struct FakeEvent {
  bool recorded = false;
  long seq = 0;
};
std::map<CUevent, FakeEvent> liveEvents;
long handleCounter = 0;
long eventRecordCounter = 0;

CUcontext primaryOf(int dev) {
  return reinterpret_cast<CUcontext>(uintptr_t(0x1000 * (dev + 1)));
}
CUcontext otherContext() {
  return reinterpret_cast<CUcontext>(uintptr_t(0xdead000));
}

/// True (and clears the failure) when `fn` is set to fail now.
bool failing(const char *fn, CUresult &code) {
  if (failFunction == fn) {
    failFunction.clear();
    code = failCode;
    return true;
  }
  return false;
}

#define FAKE_FAIL(name)                                                        \
  std::lock_guard<std::mutex> lock(mu);                                        \
  {                                                                            \
    CUresult c;                                                                \
    if (failing(name, c))                                                      \
      return c;                                                                \
  }

/// FAKE_FAIL plus the real driver's refusal without a current context.
#define FAKE_FAIL_CTX(name)                                                    \
  FAKE_FAIL(name)                                                              \
  if (ctxStack.empty())                                                        \
    return CUDA_ERROR_INVALID_CONTEXT;

/// A stream argument is usable unless it was made by cuStreamCreate and
/// destroyed since (other values stand for the caller's own streams).
bool streamOk(CUstream s) { return !s || !deadStreams.count(s); }

void *hostPtr(CUdeviceptr p) { return reinterpret_cast<void *>(uintptr_t(p)); }

/// The parameters that `.entry name(...)` declares in PTX `image`: each
/// `.param [.align N] .<type> pname[[count]]`, the type's size from its bit
/// width (.u64 8 bytes, .b8 1 byte, ...). Empty when the image does not
/// declare the entry.
std::vector<ParamDecl> declaredParams(const std::string &image,
                                      const std::string &name) {
  size_t at = 0, open = std::string::npos;
  while ((at = image.find(".entry", at)) != std::string::npos) {
    size_t p = at + 6;
    while (p < image.size() && std::isspace(uint8_t(image[p])))
      ++p;
    if (image.compare(p, name.size(), name) == 0) {
      p += name.size();
      while (p < image.size() && std::isspace(uint8_t(image[p])))
        ++p;
      if (p < image.size() && image[p] == '(') {
        open = p;
        break;
      }
    }
    at = p;
  }
  std::vector<ParamDecl> out;
  if (open == std::string::npos)
    return out;
  size_t close = image.find(')', open);
  if (close == std::string::npos)
    return out;
  std::string list = image.substr(open + 1, close - open - 1);
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string decl = list.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? list.size() + 1 : comma + 1;
    if (decl.find(".param") == std::string::npos)
      continue;
    size_t elem = 0, count = 1;
    // The type: the first .<letter><digits> token after ".param".
    for (size_t p = decl.find(".param") + 6; p < decl.size(); ++p) {
      if (decl[p] != '.' || p + 2 >= decl.size())
        continue;
      char kind = decl[p + 1];
      if ((kind == 'u' || kind == 's' || kind == 'b' || kind == 'f') &&
          std::isdigit(uint8_t(decl[p + 2]))) {
        elem = size_t(std::strtoul(decl.c_str() + p + 2, nullptr, 10)) / 8;
        break;
      }
    }
    size_t bracket = decl.find('[');
    if (bracket != std::string::npos)
      count = size_t(std::strtoul(decl.c_str() + bracket + 1, nullptr, 10));
    out.push_back(ParamDecl{elem * count});
  }
  return out;
}

#ifndef FAKE_CUDA_NO_TENSOR_MAPS
/// Size in bytes of an element of `t` (0: a type the fake does not take).
size_t elementBytes(CUtensorMapDataType t) {
  switch (t) {
  case CU_TENSOR_MAP_DATA_TYPE_UINT8:
    return 1;
  case CU_TENSOR_MAP_DATA_TYPE_UINT16:
  case CU_TENSOR_MAP_DATA_TYPE_FLOAT16:
  case CU_TENSOR_MAP_DATA_TYPE_BFLOAT16:
    return 2;
  case CU_TENSOR_MAP_DATA_TYPE_UINT32:
  case CU_TENSOR_MAP_DATA_TYPE_INT32:
  case CU_TENSOR_MAP_DATA_TYPE_FLOAT32:
  case CU_TENSOR_MAP_DATA_TYPE_FLOAT32_FTZ:
  case CU_TENSOR_MAP_DATA_TYPE_TFLOAT32:
  case CU_TENSOR_MAP_DATA_TYPE_TFLOAT32_FTZ:
    return 4;
  case CU_TENSOR_MAP_DATA_TYPE_UINT64:
  case CU_TENSOR_MAP_DATA_TYPE_INT64:
  case CU_TENSOR_MAP_DATA_TYPE_FLOAT64:
    return 8;
  default:
    return 0;
  }
}
#endif

} // namespace

extern "C" {

void fake_cuda_reset(void) {
  std::lock_guard<std::mutex> lock(mu);
  stats = FakeStats();
  lastLaunch = FakeLaunch();
  failFunction.clear();
  deviceCount = 1;
  ccMajor = 9;
  ccMinor = 0;
  optin = 227 * 1024;
  ctxStack.clear();
  lastCopy.clear();
  functionNames.clear();
  moduleImages.clear();
  functionParams.clear();
  lastParams.clear();
  lastParamAddresses.clear();
  encodes.clear();
  liveStreams.clear();
  deadStreams.clear();
  liveEvents.clear();
}

void fake_cuda_set_devices(int count, int major, int minor, int optinShared) {
  std::lock_guard<std::mutex> lock(mu);
  deviceCount = count;
  ccMajor = major;
  ccMinor = minor;
  optin = optinShared;
}

void fake_cuda_fail_next(const char *function, int code) {
  std::lock_guard<std::mutex> lock(mu);
  failFunction = function;
  failCode = CUresult(code);
}

void fake_cuda_set_current(int which) {
  std::lock_guard<std::mutex> lock(mu);
  ctxStack.clear();
  if (which)
    ctxStack.push_back(which < 0 ? otherContext() : primaryOf(which - 1));
}

FakeStats fake_cuda_stats(void) {
  std::lock_guard<std::mutex> lock(mu);
  return stats;
}

FakeLaunch fake_cuda_last_launch(void) {
  std::lock_guard<std::mutex> lock(mu);
  return lastLaunch;
}

const void *fake_cuda_last_copy(size_t *bytes) {
  std::lock_guard<std::mutex> lock(mu);
  if (bytes)
    *bytes = lastCopy.size();
  return lastCopy.data();
}

const char *fake_cuda_last_function_name(void) {
  return lastFunctionName.c_str();
}

const char *fake_cuda_function_name(const void *function) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = functionNames.find(
      reinterpret_cast<CUfunction>(const_cast<void *>(function)));
  return it == functionNames.end() ? "" : it->second.c_str();
}

size_t fake_cuda_last_launch_param(int i, void *out, size_t capacity,
                                   uintptr_t *address) {
  std::lock_guard<std::mutex> lock(mu);
  if (i < 0 || size_t(i) >= lastParams.size())
    return 0;
  const std::string &p = lastParams[size_t(i)];
  if (out)
    std::memcpy(out, p.data(), std::min(p.size(), capacity));
  if (address)
    *address = lastParamAddresses[size_t(i)];
  return p.size();
}

int fake_cuda_tensor_map_encode(int i, FakeTensorMapEncode *out) {
  std::lock_guard<std::mutex> lock(mu);
  if (i < 0 || size_t(i) >= encodes.size())
    return 0;
  if (out)
    *out = encodes[size_t(i)];
  return 1;
}

int fake_cuda_has_tensor_map_encode(void) {
#ifdef FAKE_CUDA_NO_TENSOR_MAPS
  return 0;
#else
  return 1;
#endif
}

CUresult cuInit(unsigned int) {
  FAKE_FAIL("cuInit");
  ++stats.inits;
  return CUDA_SUCCESS;
}

CUresult cuGetErrorName(CUresult error, const char **pStr) {
  switch (error) {
  case CUDA_SUCCESS:
    *pStr = "CUDA_SUCCESS";
    break;
  case CUDA_ERROR_INVALID_PTX:
    *pStr = "CUDA_ERROR_INVALID_PTX";
    break;
  case CUDA_ERROR_OUT_OF_MEMORY:
    *pStr = "CUDA_ERROR_OUT_OF_MEMORY";
    break;
  case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
    *pStr = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
    break;
  case CUDA_ERROR_NOT_FOUND:
    *pStr = "CUDA_ERROR_NOT_FOUND";
    break;
  case CUDA_ERROR_INVALID_VALUE:
    *pStr = "CUDA_ERROR_INVALID_VALUE";
    break;
  case CUDA_ERROR_INVALID_HANDLE:
    *pStr = "CUDA_ERROR_INVALID_HANDLE";
    break;
  case CUDA_ERROR_INVALID_CONTEXT:
    *pStr = "CUDA_ERROR_INVALID_CONTEXT";
    break;
  case CUDA_ERROR_INVALID_DEVICE:
    *pStr = "CUDA_ERROR_INVALID_DEVICE";
    break;
  case CUDA_ERROR_NOT_READY:
    *pStr = "CUDA_ERROR_NOT_READY";
    break;
  case CUDA_ERROR_ILLEGAL_ADDRESS:
    *pStr = "CUDA_ERROR_ILLEGAL_ADDRESS";
    break;
  default:
    *pStr = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

CUresult cuGetErrorString(CUresult error, const char **pStr) {
  *pStr = error == CUDA_SUCCESS ? "no error" : "fake failure";
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count) {
  FAKE_FAIL("cuDeviceGetCount");
  *count = deviceCount;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  FAKE_FAIL("cuDeviceGet");
  if (ordinal < 0 || ordinal >= deviceCount)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice) {
  FAKE_FAIL("cuDeviceGetAttribute");
  switch (attrib) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *pi = ccMajor;
    break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *pi = ccMinor;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *pi = optin;
    break;
  default:
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev) {
  FAKE_FAIL("cuDevicePrimaryCtxRetain");
  ++stats.retains;
  *pctx = primaryOf(dev);
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice) {
  FAKE_FAIL("cuDevicePrimaryCtxRelease");
  ++stats.releases;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *pctx) {
  FAKE_FAIL("cuCtxGetCurrent");
  *pctx = ctxStack.empty() ? nullptr : ctxStack.back();
  return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice *device) {
  FAKE_FAIL("cuCtxGetDevice");
  if (ctxStack.empty())
    return CUDA_ERROR_INVALID_CONTEXT;
  CUcontext c = ctxStack.back();
  *device = c == otherContext() ? 0 : int(uintptr_t(c) / 0x1000) - 1;
  return CUDA_SUCCESS;
}

CUresult cuCtxPushCurrent(CUcontext ctx) {
  FAKE_FAIL("cuCtxPushCurrent");
  ++stats.pushes;
  ctxStack.push_back(ctx);
  return CUDA_SUCCESS;
}

CUresult cuCtxPopCurrent(CUcontext *pctx) {
  FAKE_FAIL("cuCtxPopCurrent");
  if (ctxStack.empty())
    return CUDA_ERROR_INVALID_CONTEXT;
  ++stats.pops;
  if (pctx)
    *pctx = ctxStack.back();
  ctxStack.pop_back();
  return CUDA_SUCCESS;
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                            unsigned int numOptions, CUjit_option *options,
                            void **optionValues) {
  std::lock_guard<std::mutex> lock(mu);
  CUresult c;
  if (failing("cuModuleLoadDataEx", c)) {
    // Fill the JIT error log as the driver does.
    char *log = nullptr;
    size_t size = 0;
    for (unsigned i = 0; i < numOptions; ++i) {
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
        log = static_cast<char *>(optionValues[i]);
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
        size = size_t(uintptr_t(optionValues[i]));
    }
    if (log && size > 32)
      std::strcpy(log, "ptxas fatal: fake JIT error");
    return c;
  }
  if (ctxStack.empty())
    return CUDA_ERROR_INVALID_CONTEXT;
  ++stats.moduleLoads;
  const char *bytes = static_cast<const char *>(image);
  CUmodule handle =
      reinterpret_cast<CUmodule>(uintptr_t(0x100000 + stats.moduleLoads));
  moduleImages[handle] = bytes;
  if (std::memcmp(bytes,
                  "\x7f"
                  "ELF",
                  4) == 0)
    ++stats.moduleLoadsCubin;
  else
    ++stats.moduleLoadsPtx;
  *module = handle;
  return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule) {
  FAKE_FAIL("cuModuleUnload");
  ++stats.moduleUnloads;
  return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod,
                             const char *name) {
  FAKE_FAIL("cuModuleGetFunction");
  ++stats.functionLookups;
  lastFunctionName = name;
  if (std::strcmp(name, "missing") == 0)
    return CUDA_ERROR_NOT_FOUND;
  *hfunc = reinterpret_cast<CUfunction>(uintptr_t(hmod) * 16);
  functionNames[*hfunc] = name;
  auto image = moduleImages.find(hmod);
  functionParams[*hfunc] = image == moduleImages.end()
                               ? std::vector<ParamDecl>()
                               : declaredParams(image->second, name);
  return CUDA_SUCCESS;
}

CUresult cuFuncSetAttribute(CUfunction, CUfunction_attribute attrib,
                            int value) {
  FAKE_FAIL("cuFuncSetAttribute");
  ++stats.setAttributes;
  if (attrib == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
    stats.lastMaxDynamicShared = value;
  return CUDA_SUCCESS;
}

CUresult cuMemAlloc(CUdeviceptr *dptr, size_t bytesize) {
  FAKE_FAIL("cuMemAlloc");
  ++stats.allocs;
  *dptr = CUdeviceptr(uintptr_t(std::malloc(bytesize)));
  return CUDA_SUCCESS;
}

CUresult cuMemFree(CUdeviceptr dptr) {
  FAKE_FAIL("cuMemFree");
  ++stats.frees;
  std::free(reinterpret_cast<void *>(uintptr_t(dptr)));
  return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t bytes) {
  FAKE_FAIL("cuMemcpyHtoD");
  ++stats.copies;
  std::memcpy(reinterpret_cast<void *>(uintptr_t(dst)), src, bytes);
  lastCopy.assign(static_cast<const char *>(src), bytes);
  return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy,
                        unsigned int gz, unsigned int bx, unsigned int by,
                        unsigned int bz, unsigned int sharedMemBytes,
                        CUstream hStream, void **kernelParams, void **) {
  FAKE_FAIL("cuLaunchKernel");
  ++stats.launches;
  FakeLaunch l = FakeLaunch();
  l.grid[0] = gx;
  l.grid[1] = gy;
  l.grid[2] = gz;
  l.block[0] = bx;
  l.block[1] = by;
  l.block[2] = bz;
  l.sharedBytes = sharedMemBytes;
  l.stream = hStream;
  l.function = f;
  auto name = functionNames.find(f);
  auto named = [&](const char *part) {
    return name != functionNames.end() &&
           name->second.find(part) != std::string::npos;
  };
  bool merge = named("merge"), copy = named("copy");
  // The parameters as the kernel's PTX declares them, else by kind.
  std::vector<ParamDecl> decls;
  auto declared = functionParams.find(f);
  if (declared != functionParams.end())
    decls = declared->second;
  if (decls.empty()) {
    int n = copy ? 2 : merge ? 15 : 29;
    for (int i = 0; i < n; ++i) {
      size_t size = !merge && !copy && (i == 21 || i == 22) ? 4 : 8;
      decls.push_back(ParamDecl{size});
    }
  }
  l.numParams = int(decls.size());
  lastParams.clear();
  lastParamAddresses.clear();
  for (size_t i = 0; i < decls.size(); ++i) {
    const char *p = static_cast<const char *>(kernelParams[i]);
    lastParams.emplace_back(p, decls[i].size);
    lastParamAddresses.push_back(reinterpret_cast<uintptr_t>(p));
    if (i < 29)
      std::memcpy(l.params[i], p, std::min<size_t>(decls[i].size, 8));
  }
  lastLaunch = l;
  if (copy) {
    // Run the copy kernel on the host: grid.x segments of six i64 words
    // (src, dst, rows, row bytes, src pitch, dst pitch), device pointers
    // being host pointers.
    const int64_t *segs;
    std::memcpy(&segs, kernelParams[0], sizeof(segs));
    for (unsigned s = 0; s < gx; ++s) {
      const int64_t *w = segs + 6 * size_t(s);
      for (int64_t r = 0; r < w[2]; ++r)
        std::memmove(reinterpret_cast<char *>(uintptr_t(w[1] + r * w[5])),
                     reinterpret_cast<const char *>(uintptr_t(w[0] + r * w[4])),
                     size_t(w[3]));
    }
    ++stats.copyKernels;
  }
  return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
  FAKE_FAIL("cuCtxSetCurrent");
  ++stats.setCurrents;
  if (!ctx) {
    if (!ctxStack.empty())
      ctxStack.pop_back();
  } else if (ctxStack.empty()) {
    ctxStack.push_back(ctx);
  } else {
    ctxStack.back() = ctx;
  }
  return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize(void) {
  FAKE_FAIL_CTX("cuCtxSynchronize");
  ++stats.ctxSyncs;
  return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t bytes) {
  FAKE_FAIL_CTX("cuMemcpyDtoH");
  ++stats.copiesToHost;
  std::memcpy(dst, hostPtr(src), bytes);
  return CUDA_SUCCESS;
}

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                       CUstream stream) {
  FAKE_FAIL_CTX("cuMemcpyAsync");
  if (!streamOk(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  ++stats.asyncCopies;
  std::memmove(hostPtr(dst), hostPtr(src), bytes);
  return CUDA_SUCCESS;
}

CUresult cuMemcpy2DAsync(const CUDA_MEMCPY2D *p, CUstream stream) {
  FAKE_FAIL_CTX("cuMemcpy2DAsync");
  if (!p || !streamOk(stream))
    return p ? CUDA_ERROR_INVALID_HANDLE : CUDA_ERROR_INVALID_VALUE;
  auto base = [](CUmemorytype t, const void *host, CUdeviceptr dev) {
    return t == CU_MEMORYTYPE_HOST ? static_cast<const char *>(host)
           : t == CU_MEMORYTYPE_DEVICE || t == CU_MEMORYTYPE_UNIFIED
               ? static_cast<const char *>(hostPtr(dev))
               : nullptr;
  };
  const char *src = base(p->srcMemoryType, p->srcHost, p->srcDevice);
  char *dst =
      const_cast<char *>(base(p->dstMemoryType, p->dstHost, p->dstDevice));
  if (!src || !dst || p->srcPitch < p->WidthInBytes + p->srcXInBytes ||
      p->dstPitch < p->WidthInBytes + p->dstXInBytes)
    return CUDA_ERROR_INVALID_VALUE;
  ++stats.asyncCopies;
  for (size_t y = 0; y < p->Height; ++y)
    std::memmove(dst + (p->dstY + y) * p->dstPitch + p->dstXInBytes,
                 src + (p->srcY + y) * p->srcPitch + p->srcXInBytes,
                 p->WidthInBytes);
  return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t bytes,
                           CUstream stream) {
  FAKE_FAIL_CTX("cuMemcpyHtoDAsync");
  if (!streamOk(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  ++stats.asyncCopies;
  std::memcpy(hostPtr(dst), src, bytes);
  lastCopy.assign(static_cast<const char *>(src), bytes);
  return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t bytes,
                           CUstream stream) {
  FAKE_FAIL_CTX("cuMemcpyDtoHAsync");
  if (!streamOk(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  ++stats.asyncCopies;
  ++stats.copiesToHost;
  std::memcpy(dst, hostPtr(src), bytes);
  return CUDA_SUCCESS;
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t n,
                         CUstream stream) {
  FAKE_FAIL_CTX("cuMemsetD8Async");
  if (!streamOk(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  ++stats.memsets;
  std::memset(hostPtr(dst), value, n);
  return CUDA_SUCCESS;
}

CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int value, size_t n,
                          CUstream stream) {
  FAKE_FAIL_CTX("cuMemsetD32Async");
  if (!streamOk(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  ++stats.memsets;
  auto *p = static_cast<unsigned int *>(hostPtr(dst));
  for (size_t i = 0; i < n; ++i)
    p[i] = value;
  return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *stream, unsigned int) {
  FAKE_FAIL_CTX("cuStreamCreate");
  ++stats.streamsCreated;
  *stream = reinterpret_cast<CUstream>(uintptr_t(0x5000000 + ++handleCounter));
  liveStreams.insert(*stream);
  return CUDA_SUCCESS;
}

CUresult cuStreamDestroy(CUstream stream) {
  FAKE_FAIL("cuStreamDestroy");
  if (!liveStreams.erase(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  deadStreams.insert(stream);
  ++stats.streamsDestroyed;
  return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream stream) {
  FAKE_FAIL("cuStreamSynchronize");
  if (!streamOk(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  ++stats.streamSyncs;
  return CUDA_SUCCESS;
}

CUresult cuStreamWaitEvent(CUstream stream, CUevent event, unsigned int) {
  FAKE_FAIL("cuStreamWaitEvent");
  if (!streamOk(stream) || !liveEvents.count(event))
    return CUDA_ERROR_INVALID_HANDLE;
  ++stats.streamWaits;
  return CUDA_SUCCESS;
}

CUresult cuEventCreate(CUevent *event, unsigned int) {
  FAKE_FAIL_CTX("cuEventCreate");
  ++stats.eventsCreated;
  *event = reinterpret_cast<CUevent>(uintptr_t(0xe000000 + ++handleCounter));
  liveEvents[*event] = FakeEvent();
  return CUDA_SUCCESS;
}

CUresult cuEventDestroy(CUevent event) {
  FAKE_FAIL("cuEventDestroy");
  if (!liveEvents.erase(event))
    return CUDA_ERROR_INVALID_HANDLE;
  ++stats.eventsDestroyed;
  return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent event, CUstream stream) {
  FAKE_FAIL("cuEventRecord");
  auto it = liveEvents.find(event);
  if (it == liveEvents.end() || !streamOk(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  ++stats.eventRecords;
  it->second.recorded = true;
  it->second.seq = ++eventRecordCounter;
  return CUDA_SUCCESS;
}

CUresult cuEventSynchronize(CUevent event) {
  FAKE_FAIL("cuEventSynchronize");
  if (!liveEvents.count(event))
    return CUDA_ERROR_INVALID_HANDLE;
  ++stats.eventSyncs;
  return CUDA_SUCCESS;
}

#ifndef FAKE_CUDA_NO_TENSOR_MAPS
CUresult cuTensorMapEncodeTiled(
    CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType,
    cuuint32_t tensorRank, void *globalAddress, const cuuint64_t *globalDim,
    const cuuint64_t *globalStrides, const cuuint32_t *boxDim,
    const cuuint32_t *elementStrides, CUtensorMapInterleave interleave,
    CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2Promotion,
    CUtensorMapFloatOOBfill oobFill) {
  std::lock_guard<std::mutex> lock(mu);
  ++stats.tensorMapEncodes;
  FakeTensorMapEncode e = FakeTensorMapEncode();
  e.dataType = int(tensorDataType);
  e.rank = tensorRank;
  e.globalAddress = uint64_t(reinterpret_cast<uintptr_t>(globalAddress));
  e.interleave = int(interleave);
  e.swizzle = int(swizzle);
  e.l2Promotion = int(l2Promotion);
  e.oobFill = int(oobFill);
  e.mapAligned = reinterpret_cast<uintptr_t>(tensorMap) % 64 == 0;
  bool rankOk = tensorRank >= 1 && tensorRank <= 5 && globalDim &&
                globalStrides && boxDim && elementStrides;
  if (rankOk) {
    for (cuuint32_t i = 0; i < tensorRank; ++i) {
      e.globalDim[i] = globalDim[i];
      e.boxDim[i] = boxDim[i];
      e.elementStrides[i] = elementStrides[i];
      if (i + 1 < tensorRank)
        e.globalStrides[i] = globalStrides[i];
    }
  }
  // The requirements cuda.h lists (CUDA 12-13) for the unpacked types.
  auto check = [&]() -> CUresult {
    CUresult c;
    if (failing("cuTensorMapEncodeTiled", c))
      return c;
    // The driver documents CUDA_ERROR_INVALID_CONTEXT: the fake wants one.
    if (ctxStack.empty())
      return CUDA_ERROR_INVALID_CONTEXT;
    size_t elem = elementBytes(tensorDataType);
    if (!tensorMap || !e.mapAligned || !rankOk || !elem)
      return CUDA_ERROR_INVALID_VALUE;
    if (e.globalAddress % 16 ||
        (interleave == CU_TENSOR_MAP_INTERLEAVE_32B && e.globalAddress % 32))
      return CUDA_ERROR_INVALID_VALUE;
    if (interleave > CU_TENSOR_MAP_INTERLEAVE_32B ||
        swizzle > CU_TENSOR_MAP_SWIZZLE_128B_ATOM_64B ||
        l2Promotion > CU_TENSOR_MAP_L2_PROMOTION_L2_256B ||
        oobFill > CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA)
      return CUDA_ERROR_INVALID_VALUE;
    if (interleave == CU_TENSOR_MAP_INTERLEAVE_32B &&
        swizzle != CU_TENSOR_MAP_SWIZZLE_32B)
      return CUDA_ERROR_INVALID_VALUE;
    for (cuuint32_t i = 0; i < tensorRank; ++i) {
      if (globalDim[i] == 0 || globalDim[i] > (uint64_t(1) << 32))
        return CUDA_ERROR_INVALID_VALUE;
      if (boxDim[i] == 0 || boxDim[i] > 256)
        return CUDA_ERROR_INVALID_VALUE;
      if (elementStrides[i] == 0 || elementStrides[i] > 8)
        return CUDA_ERROR_INVALID_VALUE;
      if (i + 1 < tensorRank &&
          (globalStrides[i] %
               (interleave == CU_TENSOR_MAP_INTERLEAVE_32B ? 32 : 16) ||
           globalStrides[i] >= (uint64_t(1) << 40)))
        return CUDA_ERROR_INVALID_VALUE;
    }
    uint64_t inner = uint64_t(boxDim[0]) * elem;
    if (interleave == CU_TENSOR_MAP_INTERLEAVE_NONE) {
      if (inner % 16)
        return CUDA_ERROR_INVALID_VALUE;
      uint64_t span = swizzle == CU_TENSOR_MAP_SWIZZLE_NONE  ? ~uint64_t(0)
                      : swizzle == CU_TENSOR_MAP_SWIZZLE_32B ? 32
                      : swizzle == CU_TENSOR_MAP_SWIZZLE_64B ? 64
                                                             : 128;
      if (inner > span)
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
  };
  CUresult r = check();
  e.result = int(r);
  encodes.push_back(e);
  if (r == CUDA_SUCCESS) {
    std::memset(tensorMap, 0, sizeof(*tensorMap));
    tensorMap->opaque[0] = e.globalAddress;
    tensorMap->opaque[1] = encodes.size();
  }
  return r;
}
#endif

CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
  FAKE_FAIL("cuEventElapsedTime");
  auto a = liveEvents.find(start), b = liveEvents.find(end);
  if (a == liveEvents.end() || b == liveEvents.end() || !a->second.recorded ||
      !b->second.recorded)
    return CUDA_ERROR_INVALID_HANDLE;
  *ms = float(b->second.seq - a->second.seq);
  return CUDA_SUCCESS;
}

} // extern "C"
