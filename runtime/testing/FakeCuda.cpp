//===- FakeCuda.cpp - A host-only stand-in for libcuda.so.1 in tests ------===//
//
// Implements, with cuda.h's exact prototypes, the driver entry points that
// s2rt looks up, on the host. See FakeCuda.h.
//
//===----------------------------------------------------------------------===//

#include "FakeCuda.h"

#include <cuda.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
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
  if (std::memcmp(bytes,
                  "\x7f"
                  "ELF",
                  4) == 0)
    ++stats.moduleLoadsCubin;
  else
    ++stats.moduleLoadsPtx;
  *module = reinterpret_cast<CUmodule>(uintptr_t(0x100000 + stats.moduleLoads));
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
  for (int i = 0; i < 26; ++i)
    std::memcpy(l.params[i], kernelParams[i], (i == 21 || i == 22) ? 4 : 8);
  lastLaunch = l;
  return CUDA_SUCCESS;
}

} // extern "C"
