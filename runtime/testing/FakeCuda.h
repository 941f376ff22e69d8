//===- FakeCuda.h - Control of the fake CUDA driver used by RuntimeTest ---===//
//
// libs2rt_fakecuda.so implements the driver entry points s2rt looks up (with
// cuda.h's prototypes) on the host, with no GPU: modules and functions are
// counted handles, device memory is host memory, and every launch is recorded
// with its grid, block, shared memory and the bytes of its parameters (29
// for a forward kernel, 15 for a merge kernel, 2 for a copy kernel, told
// apart by the entry point's name: one containing "merge" is a merge
// kernel, one containing "copy" a copy kernel). A copy kernel launch is
// executed at once on the host (its segments array read through the host
// pointer, rows moved with memmove), so tests see its data movement; forward
// and merge launches compute nothing. Copies and
// memsets, synchronous or not, happen at once on the host (device pointers
// are host pointers); streams and events are counted handles, an event's
// "time" is the number of records before it, in milliseconds. Pointing
// S2RT_LIBCUDA at it lets the tests drive the whole launch path (prepare,
// caching, kernel choice, parameter marshalling, error paths) without a GPU.
// These functions configure and inspect it.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_RUNTIME_TESTING_FAKECUDA_H
#define S2C_RUNTIME_TESTING_FAKECUDA_H

#include <cstddef>
#include <cstdint>

extern "C" {

struct FakeLaunch {
  unsigned grid[3];
  unsigned block[3];
  unsigned sharedBytes;
  void *stream;
  void *function;
  /// Parameter i's bytes (8 for pointers and i64, 4 for f32 and i32);
  /// only the first numParams are set.
  unsigned char params[29][8];
  /// 29 (forward kernel), 15 (merge kernel) or 2 (copy kernel).
  int numParams;
};

struct FakeStats {
  int inits;
  int moduleLoads;
  int moduleLoadsPtx;
  int moduleLoadsCubin;
  int moduleUnloads;
  int functionLookups;
  int setAttributes;
  int lastMaxDynamicShared;
  int allocs;
  int frees;
  int copies;
  int retains;
  int releases;
  int pushes;
  int pops;
  int launches;
  /// The entry points beyond the forward path's (async copies include
  /// cuMemcpy2DAsync; copiesToHost counts cuMemcpyDtoH and
  /// cuMemcpyDtoHAsync).
  int asyncCopies;
  int copiesToHost;
  int memsets;
  int streamsCreated;
  int streamsDestroyed;
  int streamSyncs;
  int streamWaits;
  int eventsCreated;
  int eventsDestroyed;
  int eventRecords;
  int eventSyncs;
  int setCurrents;
  int ctxSyncs;
  /// Copy kernel launches executed on the host.
  int copyKernels;
};

/// Resets counters, failures and the device settings (1 device, sm_90,
/// 227 KB opt-in shared memory, no current context).
void fake_cuda_reset(void);
void fake_cuda_set_devices(int count, int major, int minor, int optinShared);
/// The next call of `function` (e.g. "cuModuleLoadDataEx") fails with `code`.
void fake_cuda_fail_next(const char *function, int code);
/// Makes a context (an opaque non-null handle) current, or none (0).
void fake_cuda_set_current(int which);
FakeStats fake_cuda_stats(void);
FakeLaunch fake_cuda_last_launch(void);
/// The bytes last copied to the device and their count.
const void *fake_cuda_last_copy(size_t *bytes);
/// The name of the last function looked up with cuModuleGetFunction.
const char *fake_cuda_last_function_name(void);
/// The entry point name of a function handle (FakeLaunch::function), or ""
/// for one the fake did not hand out.
const char *fake_cuda_function_name(const void *function);
}

#endif // S2C_RUNTIME_TESTING_FAKECUDA_H
