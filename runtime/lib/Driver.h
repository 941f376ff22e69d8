//===- Driver.h - The CUDA driver, opened at run time (internal) ----------===//
//
// Internal to libs2rt (never installed): the driver's entry points are looked
// up with dlsym in libcuda.so.1 (or $S2RT_LIBCUDA) under their versioned
// names (cuda.h's macros map cuMemAlloc to cuMemAlloc_v2 and so on), and
// cuda.h supplies only types and prototypes. Also here: the thread-local
// last-error message behind s2rt_last_error(), the status helpers every
// entry point returns through, the S2RT_CU check macro that names a failing
// call and its cuGetErrorName, and primary-context helpers. Runtime.cpp (the
// C API) and the sequence-parallel executor build on this.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_RUNTIME_LIB_DRIVER_H
#define S2C_RUNTIME_LIB_DRIVER_H

#include "s2rt.h"

#include <cuda.h>

#include <string>

namespace s2rt_detail {

/// Every driver entry point the runtime uses, with its cuda.h prototype.
/// Add a name here and it is declared in Driver, looked up by loadDriver
/// (a driver that lacks it is refused) and must be faked in
/// runtime/testing/FakeCuda.cpp.
#define S2RT_DRIVER_FUNCTIONS(X)                                               \
  X(cuInit)                                                                    \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)                                                          \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease)                                                 \
  X(cuCtxGetCurrent)                                                           \
  X(cuCtxSetCurrent)                                                           \
  X(cuCtxGetDevice)                                                            \
  X(cuCtxPushCurrent)                                                          \
  X(cuCtxPopCurrent)                                                           \
  X(cuCtxSynchronize)                                                          \
  X(cuModuleLoadDataEx)                                                        \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuFuncSetAttribute)                                                        \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemcpyHtoD)                                                              \
  X(cuMemcpyDtoH)                                                              \
  X(cuMemcpyAsync)                                                             \
  X(cuMemcpy2DAsync)                                                           \
  X(cuMemcpyHtoDAsync)                                                         \
  X(cuMemcpyDtoHAsync)                                                         \
  X(cuMemsetD8Async)                                                           \
  X(cuMemsetD32Async)                                                          \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy)                                                           \
  X(cuStreamSynchronize)                                                       \
  X(cuStreamWaitEvent)                                                         \
  X(cuEventCreate)                                                             \
  X(cuEventDestroy)                                                            \
  X(cuEventRecord)                                                             \
  X(cuEventSynchronize)                                                        \
  X(cuEventElapsedTime)                                                        \
  X(cuLaunchKernel)

/// Driver entry points the runtime uses when the driver has them and does
/// without otherwise: declared in Driver and looked up by loadDriver like
/// the others, but null (not an error) in a driver that lacks them. Check
/// before calling. Fake them in runtime/testing/FakeCuda.cpp too.
///  - cuTensorMapEncodeTiled (CUDA 12): the K/V tensor maps of forward
///    kernels of kernel ABI 3 (docs/bundle.md); without it those kernels
///    run with tma = 0.
#define S2RT_OPTIONAL_DRIVER_FUNCTIONS(X) X(cuTensorMapEncodeTiled)

/// The loaded driver: one function pointer per S2RT_DRIVER_FUNCTIONS and
/// S2RT_OPTIONAL_DRIVER_FUNCTIONS entry, named as in cuda.h (call
/// d.cuMemAlloc(...) as you would cuMemAlloc).
struct Driver {
  void *handle = nullptr;
#define S2RT_DECLARE(fn) decltype(&::fn) fn = nullptr;
  S2RT_DRIVER_FUNCTIONS(S2RT_DECLARE)
  S2RT_OPTIONAL_DRIVER_FUNCTIONS(S2RT_DECLARE)
#undef S2RT_DECLARE
};

/// Loads libcuda ($S2RT_LIBCUDA, else libcuda.so.1), looks every entry
/// point up (the optional ones may come back null) and calls cuInit, once
/// per process. A failure is not cached, so
/// a later call retries; a success is (the driver is never unloaded, so
/// `out` stays valid). Thread-safe.
s2rt_status loadDriver(const Driver *&out);

/// The driver when loadDriver has succeeded before, else null.
const Driver *loadedDriver();

/// "<call> failed: CUDA_ERROR_X (description)".
std::string cuMessage(const Driver &d, const char *call, CUresult r);

/// Records `message` as this thread's last error and returns `status`.
s2rt_status fail(s2rt_status status, std::string message);

/// Clears this thread's last error and returns S2RT_SUCCESS.
s2rt_status ok();

/// This thread's last error message (what s2rt_last_error returns).
std::string &lastError();

/// The status for a failed driver call: S2RT_ERROR_OUT_OF_MEMORY for
/// CUDA_ERROR_OUT_OF_MEMORY, else S2RT_ERROR_CUDA.
s2rt_status cudaStatus(CUresult r);

/// Runs a driver call; on failure records "<call> failed: CUDA_ERROR_X (...)"
/// and returns S2RT_ERROR_CUDA (S2RT_ERROR_OUT_OF_MEMORY for an allocation
/// failure) from the enclosing function.
#define S2RT_CU(d, call)                                                       \
  do {                                                                         \
    CUresult s2rtResult = (d).call;                                            \
    if (s2rtResult != CUDA_SUCCESS)                                            \
      return ::s2rt_detail::fail(                                              \
          ::s2rt_detail::cudaStatus(s2rtResult),                               \
          ::s2rt_detail::cuMessage((d), #call, s2rtResult));                   \
  } while (0)

/// The device a call with device argument `device` runs on: `device` when
/// non-negative, else the device of this thread's current context, else 0.
/// `current` receives the current context (null when none).
s2rt_status resolveDevice(const Driver &d, int device, int &resolved,
                          CUcontext &current);

/// The primary context of `device` (checked against the device count),
/// retained once per process and device and kept for the process lifetime,
/// so callers never release it. Thread-safe.
s2rt_status primaryContext(const Driver &d, int device, CUcontext &ctx);

/// Makes the primary context of `device` current on this thread
/// (cuCtxSetCurrent, which replaces the top of the thread's context stack,
/// as cudaSetDevice does) and returns it in `ctx` when non-null.
s2rt_status setCurrentDevice(const Driver &d, int device,
                             CUcontext *ctx = nullptr);

/// Makes `ctx` current for the scope's lifetime: pushes it when another
/// context (or none) is current and pops it on destruction; does nothing
/// when it is already current. Check status() after construction.
class ContextScope {
public:
  ContextScope(const Driver &d, CUcontext ctx);
  ~ContextScope();
  ContextScope(const ContextScope &) = delete;
  ContextScope &operator=(const ContextScope &) = delete;
  /// S2RT_SUCCESS, or the failed cuCtxGetCurrent / cuCtxPushCurrent (with
  /// the message recorded).
  s2rt_status status() const { return st; }

private:
  const Driver &d;
  bool pushed = false;
  s2rt_status st = S2RT_SUCCESS;
};

} // namespace s2rt_detail

#endif // S2C_RUNTIME_LIB_DRIVER_H
