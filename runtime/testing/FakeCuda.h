//===- FakeCuda.h - Control of the fake CUDA driver used by RuntimeTest ---===//
//
// libs2rt_fakecuda.so implements the driver entry points s2rt looks up (with
// cuda.h's prototypes) on the host, with no GPU: modules and functions are
// counted handles, device memory is host memory, and every launch is recorded
// with its grid, block, shared memory and the bytes of its parameters. As
// the real driver does, the fake takes a kernel's parameters from its
// module: a PTX entry that declares them (`.entry name(.param .u64 a, ...,
// .param .align 64 .b8 m[128])`) gets exactly those; an image that does not
// declare the entry's parameters gets 29 for a forward kernel, 15 for a
// merge kernel and 2 for a copy kernel, told apart by the entry point's
// name (one containing "merge" is a merge kernel, one containing "copy" a
// copy kernel). A copy kernel launch is
// executed at once on the host (its segments array read through the host
// pointer, rows moved with memmove), so tests see its data movement; forward
// and merge launches compute nothing. Copies and
// memsets, synchronous or not, happen at once on the host (device pointers
// are host pointers); streams and events are counted handles, an event's
// "time" is the number of records before it, in milliseconds. Pointing
// S2RT_LIBCUDA at it lets the tests drive the whole launch path (prepare,
// caching, kernel choice, parameter marshalling, error paths) without a GPU.
// cuTensorMapEncodeTiled checks its arguments as the driver documents
// (CUDA_ERROR_INVALID_VALUE otherwise; CUDA_ERROR_INVALID_CONTEXT without a
// current context), records every call and writes a recognisable map
// (FakeTensorMapEncode). Built with
// FAKE_CUDA_NO_TENSOR_MAPS (libs2rt_fakecuda_cuda11.so), the fake lacks
// that entry point, as a driver older than CUDA 12 does. These functions
// configure and inspect it.
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
  /// Parameter i's bytes (8 for pointers and i64, 4 for f32 and i32; the
  /// first 8 bytes of a larger one); only the first min(numParams, 29) are
  /// set. fake_cuda_last_launch_param has every parameter whole.
  unsigned char params[29][8];
  /// As declared by the kernel's PTX, else 29 (forward kernel), 15 (merge
  /// kernel) or 2 (copy kernel).
  int numParams;
};

/// One call of cuTensorMapEncodeTiled: its arguments (arrays up to the
/// rank, at most 5) and its result. A successful call writes into the map
/// opaque[0] = globalAddress, opaque[1] = the call's 1-based index among
/// all calls since fake_cuda_reset, the rest zero.
struct FakeTensorMapEncode {
  int result;
  int dataType;
  unsigned rank;
  uint64_t globalAddress;
  uint64_t globalDim[5];
  uint64_t globalStrides[4];
  unsigned boxDim[5];
  unsigned elementStrides[5];
  int interleave;
  int swizzle;
  int l2Promotion;
  int oobFill;
  /// The map pointer was 64-byte aligned.
  int mapAligned;
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
  /// Calls of cuTensorMapEncodeTiled, failed ones included.
  int tensorMapEncodes;
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
/// Parameter `i` of the last launch: copies min(size, capacity) bytes to
/// `out` (when non-null) and returns its size, 0 when there is no such
/// parameter. `address` (when non-null) receives the host address the
/// launch passed for it (to check its alignment).
size_t fake_cuda_last_launch_param(int i, void *out, size_t capacity,
                                   uintptr_t *address);
/// Call `i` (0-based, in call order since fake_cuda_reset) of
/// cuTensorMapEncodeTiled; false when there is no such call.
int fake_cuda_tensor_map_encode(int i, FakeTensorMapEncode *out);
/// 1 when this fake has cuTensorMapEncodeTiled (0: built with
/// FAKE_CUDA_NO_TENSOR_MAPS).
int fake_cuda_has_tensor_map_encode(void);
}

#endif // S2C_RUNTIME_TESTING_FAKECUDA_H
