//===- Driver.cpp - The CUDA driver, opened at run time (internal) --------===//
//
// Loads libcuda.so.1 with dlopen, looks up every S2RT_DRIVER_FUNCTIONS entry
// under its versioned name (and the S2RT_OPTIONAL_DRIVER_FUNCTIONS, null
// when absent), calls cuInit once, and keeps the per-thread last
// error message and the process-wide primary-context references. See
// Driver.h.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace s2rt_detail {

namespace {

#define S2RT_STR_(x) #x
#define S2RT_STR(x) S2RT_STR_(x)

thread_local std::string lastErrorMessage;

std::mutex driverMutex;
Driver driver;
bool driverReady = false;

/// Primary contexts retained by primaryContext, by device ordinal.
std::mutex contextMutex;
std::map<int, CUcontext> primaryContexts;

/// An older name with the same prototype to use when a driver lacks the
/// versioned one cuda.h names (cuEventElapsedTime_v2 is new in CUDA 12.8;
/// the plain entry point has the same signature). Null when there is none.
const char *fallbackName(const char *name) {
  if (std::strcmp(name, "cuEventElapsedTime_v2") == 0)
    return "cuEventElapsedTime";
  return nullptr;
}

} // namespace

std::string &lastError() { return lastErrorMessage; }

s2rt_status fail(s2rt_status status, std::string message) {
  lastErrorMessage = std::move(message);
  return status;
}

s2rt_status ok() {
  lastErrorMessage.clear();
  return S2RT_SUCCESS;
}

s2rt_status cudaStatus(CUresult r) {
  return r == CUDA_ERROR_OUT_OF_MEMORY ? S2RT_ERROR_OUT_OF_MEMORY
                                       : S2RT_ERROR_CUDA;
}

s2rt_status loadDriver(const Driver *&out) {
  std::lock_guard<std::mutex> lock(driverMutex);
  if (driverReady) {
    out = &driver;
    return S2RT_SUCCESS;
  }
  const char *env = std::getenv("S2RT_LIBCUDA");
  std::string path = env && *env ? env : "libcuda.so.1";
  void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return fail(S2RT_ERROR_NO_DRIVER,
                "cannot load the CUDA driver '" + path +
                    "': " + (why ? why : "unknown error") +
                    " (is an NVIDIA driver installed? set S2RT_LIBCUDA to "
                    "its libcuda.so.1)");
  }
  Driver d;
  d.handle = h;
#define S2RT_LOOKUP(fn)                                                        \
  {                                                                            \
    void *sym = dlsym(h, S2RT_STR(fn));                                        \
    if (!sym && fallbackName(S2RT_STR(fn)))                                    \
      sym = dlsym(h, fallbackName(S2RT_STR(fn)));                              \
    if (!sym) {                                                                \
      dlclose(h);                                                              \
      return fail(S2RT_ERROR_NO_DRIVER,                                        \
                  "the CUDA driver '" + path +                                 \
                      "' lacks " S2RT_STR(fn) " (driver too old?)");           \
    }                                                                          \
    d.fn = reinterpret_cast<decltype(&::fn)>(sym);                             \
  }
  S2RT_DRIVER_FUNCTIONS(S2RT_LOOKUP)
#undef S2RT_LOOKUP
#define S2RT_LOOKUP_OPTIONAL(fn)                                               \
  d.fn = reinterpret_cast<decltype(&::fn)>(dlsym(h, S2RT_STR(fn)));
  S2RT_OPTIONAL_DRIVER_FUNCTIONS(S2RT_LOOKUP_OPTIONAL)
#undef S2RT_LOOKUP_OPTIONAL
  CUresult r = d.cuInit(0);
  if (r != CUDA_SUCCESS) {
    const char *name = nullptr;
    d.cuGetErrorName(r, &name);
    std::string msg = std::string("cuInit failed: ") +
                      (name ? name : "unknown CUDA error") + " (" +
                      std::to_string(int(r)) + ")";
    dlclose(h);
    return fail(r == CUDA_ERROR_NO_DEVICE ? S2RT_ERROR_NO_DRIVER
                                          : S2RT_ERROR_CUDA,
                msg);
  }
  driver = d;
  driverReady = true;
  out = &driver;
  return S2RT_SUCCESS;
}

const Driver *loadedDriver() {
  std::lock_guard<std::mutex> lock(driverMutex);
  return driverReady ? &driver : nullptr;
}

std::string cuMessage(const Driver &d, const char *call, CUresult r) {
  const char *name = nullptr, *text = nullptr;
  if (d.cuGetErrorName)
    d.cuGetErrorName(r, &name);
  if (d.cuGetErrorString)
    d.cuGetErrorString(r, &text);
  return std::string(call) + " failed: " + (name ? name : "unknown") + " (" +
         (text ? text : "no description") + ")";
}

s2rt_status resolveDevice(const Driver &d, int device, int &resolved,
                          CUcontext &current) {
  current = nullptr;
  S2RT_CU(d, cuCtxGetCurrent(&current));
  resolved = device;
  if (device < 0) {
    resolved = 0;
    if (current) {
      CUdevice dev;
      S2RT_CU(d, cuCtxGetDevice(&dev));
      resolved = int(dev);
    }
  }
  return S2RT_SUCCESS;
}

s2rt_status primaryContext(const Driver &d, int device, CUcontext &ctx) {
  std::lock_guard<std::mutex> lock(contextMutex);
  auto it = primaryContexts.find(device);
  if (it != primaryContexts.end()) {
    ctx = it->second;
    return S2RT_SUCCESS;
  }
  int count = 0;
  S2RT_CU(d, cuDeviceGetCount(&count));
  if (device < 0 || device >= count)
    return fail(S2RT_ERROR_INVALID_ARGUMENT,
                "device " + std::to_string(device) + " out of range: " +
                    std::to_string(count) + " CUDA device(s)");
  CUdevice dev;
  S2RT_CU(d, cuDeviceGet(&dev, device));
  S2RT_CU(d, cuDevicePrimaryCtxRetain(&ctx, dev));
  primaryContexts[device] = ctx;
  return S2RT_SUCCESS;
}

s2rt_status setCurrentDevice(const Driver &d, int device, CUcontext *out) {
  CUcontext ctx = nullptr;
  s2rt_status s = primaryContext(d, device, ctx);
  if (s != S2RT_SUCCESS)
    return s;
  S2RT_CU(d, cuCtxSetCurrent(ctx));
  if (out)
    *out = ctx;
  return S2RT_SUCCESS;
}

ContextScope::ContextScope(const Driver &d, CUcontext ctx) : d(d) {
  CUcontext current = nullptr;
  CUresult r = d.cuCtxGetCurrent(&current);
  if (r != CUDA_SUCCESS) {
    st = fail(cudaStatus(r), cuMessage(d, "cuCtxGetCurrent", r));
    return;
  }
  if (current == ctx)
    return;
  r = d.cuCtxPushCurrent(ctx);
  if (r != CUDA_SUCCESS) {
    st = fail(cudaStatus(r), cuMessage(d, "cuCtxPushCurrent", r));
    return;
  }
  pushed = true;
}

ContextScope::~ContextScope() {
  if (pushed) {
    CUcontext popped;
    d.cuCtxPopCurrent(&popped);
  }
}

} // namespace s2rt_detail
