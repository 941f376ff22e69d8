//===- s2rt.hpp - C++ RAII wrapper over the s2rt C API --------------------===//
//
// A header-only, move-only owner of an s2rt_bundle plus small value types.
// It adds no failure modes of its own: every call returns an s2rt::Status
// carrying the C status and its message, so it works with or without
// exceptions.
//
//   s2rt::Bundle b;
//   s2rt::Status s = s2rt::Bundle::loadFile("w.s2m", b);
//   if (!s) { std::cerr << s.message << "\n"; return 1; }
//   s2rt_forward_args a = s2rt::Bundle::forwardArgs();
//   ... fill a ...
//   s = b.forward(a, stream);
//
// Sequence-parallel pieces: set a.query_pos / a.key_begin / a.key_end for a
// partial result over a key window, then fold partials together with
// b.merge(s2rt::Bundle::mergeArgs() filled in, stream); b.copy(...) packs
// and unpacks messages with the bundle's copy kernel when b.hasCopyKernel().
//
//===----------------------------------------------------------------------===//

#ifndef S2C_RUNTIME_INCLUDE_S2RT_HPP
#define S2C_RUNTIME_INCLUDE_S2RT_HPP

#include "s2rt.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace s2rt {

/// A status and, on failure, the message s2rt_last_error() gave.
struct Status {
  s2rt_status code = S2RT_SUCCESS;
  std::string message;

  Status() = default;
  /// Captures the thread's last error message when `c` is a failure.
  explicit Status(s2rt_status c)
      : code(c), message(c == S2RT_SUCCESS ? "" : s2rt_last_error()) {}
  bool ok() const { return code == S2RT_SUCCESS; }
  explicit operator bool() const { return ok(); }
  const char *name() const { return s2rt_status_name(code); }
};

/// A kernel of a bundle (copied strings, safe after the bundle is gone).
struct KernelInfo {
  std::string name;
  std::string target;
  s2rt_dtype dtype = S2RT_DTYPE_BF16;
  int headDim = 0;
  int blockM = 0;
  int blockN = 0;
  int threads = 0;
  int sharedBytes = 0;
  bool hasPtx = false;
  bool hasCubin = false;
  /// S2RT_KERNEL_FORWARD or S2RT_KERNEL_MERGE.
  int kind = S2RT_KERNEL_FORWARD;
};

/// Owns one loaded bundle; destroys it (and its device modules) on scope
/// exit. Move-only.
class Bundle {
public:
  Bundle() = default;
  ~Bundle() { s2rt_bundle_destroy(handle); }
  Bundle(const Bundle &) = delete;
  Bundle &operator=(const Bundle &) = delete;
  Bundle(Bundle &&o) noexcept : handle(o.handle) { o.handle = nullptr; }
  Bundle &operator=(Bundle &&o) noexcept {
    if (this != &o) {
      s2rt_bundle_destroy(handle);
      handle = o.handle;
      o.handle = nullptr;
    }
    return *this;
  }

  static Status loadFile(const std::string &path, Bundle &out) {
    s2rt_bundle *h = nullptr;
    Status s(s2rt_bundle_load_file(path.c_str(), &h));
    if (s)
      out.reset(h);
    return s;
  }
  static Status loadMemory(const void *data, size_t size, Bundle &out) {
    s2rt_bundle *h = nullptr;
    Status s(s2rt_bundle_load_memory(data, size, &h));
    if (s)
      out.reset(h);
    return s;
  }

  /// Arguments initialised by s2rt_forward_args_init.
  static s2rt_forward_args forwardArgs() {
    s2rt_forward_args a;
    s2rt_forward_args_init(&a);
    return a;
  }

  /// Arguments initialised by s2rt_merge_args_init.
  static s2rt_merge_args mergeArgs() {
    s2rt_merge_args a;
    s2rt_merge_args_init(&a);
    return a;
  }

  /// Arguments initialised by s2rt_copy_args_init.
  static s2rt_copy_args copyArgs() {
    s2rt_copy_args a;
    s2rt_copy_args_init(&a);
    return a;
  }

  bool valid() const { return handle != nullptr; }
  s2rt_bundle *get() const { return handle; }
  /// Gives up ownership.
  s2rt_bundle *release() {
    s2rt_bundle *h = handle;
    handle = nullptr;
    return h;
  }
  void reset(s2rt_bundle *h = nullptr) {
    if (h != handle)
      s2rt_bundle_destroy(handle);
    handle = h;
  }

  std::string patternName() const { return s2rt_bundle_pattern_name(handle); }
  std::string patternText() const { return s2rt_bundle_pattern_text(handle); }
  int64_t heads() const { return s2rt_bundle_heads(handle); }
  int64_t kvHeads() const { return s2rt_bundle_kv_heads(handle); }
  int64_t block() const { return s2rt_bundle_block(handle); }
  bool causal() const { return s2rt_bundle_causal(handle) != 0; }
  int64_t blockM() const { return s2rt_bundle_block_m(handle); }
  int64_t blockN() const { return s2rt_bundle_block_n(handle); }
  int64_t maxSeqLen() const { return s2rt_bundle_max_seq_len(handle); }
  bool supports(s2rt_dtype dtype, int headDim) const {
    return s2rt_bundle_supports(handle, dtype, headDim) != 0;
  }

  std::vector<KernelInfo> kernels() const {
    std::vector<KernelInfo> out;
    int n = s2rt_bundle_num_kernels(handle);
    for (int i = 0; i < n; ++i) {
      s2rt_kernel_info k;
      if (s2rt_bundle_kernel_info(handle, i, &k) != S2RT_SUCCESS)
        continue;
      KernelInfo ki;
      ki.name = k.name;
      ki.target = k.target;
      ki.dtype = k.dtype;
      ki.headDim = k.head_dim;
      ki.blockM = k.block_m;
      ki.blockN = k.block_n;
      ki.threads = k.threads;
      ki.sharedBytes = k.shared_bytes;
      ki.hasPtx = k.has_ptx != 0;
      ki.hasCubin = k.has_cubin != 0;
      ki.kind = k.kind;
      out.push_back(std::move(ki));
    }
    return out;
  }

  /// Loads the modules for `device` (call outside CUDA-graph capture).
  Status prepare(int device) const {
    return Status(s2rt_bundle_prepare(handle, device));
  }
  Status check(const s2rt_forward_args &a, int arch = 0) const {
    return Status(s2rt_forward_check(handle, &a, arch));
  }
  Status forward(const s2rt_forward_args &a, s2rt_stream stream) const {
    return Status(s2rt_forward(handle, &a, stream));
  }
  Status checkMerge(const s2rt_merge_args &a, int arch = 0) const {
    return Status(s2rt_merge_check(handle, &a, arch));
  }
  /// Folds (a.part_out, a.part_lse) into (a.out, a.lse) by log-sum-exp.
  Status merge(const s2rt_merge_args &a, s2rt_stream stream) const {
    return Status(s2rt_merge(handle, &a, stream));
  }
  /// Whether the bundle has a copy kernel for compute capability `arch` (0:
  /// for some architecture).
  bool hasCopyKernel(int arch = 0) const {
    return s2rt_bundle_has_copy_kernel(handle, arch) != 0;
  }
  Status checkCopy(const s2rt_copy_args &a, int arch = 0) const {
    return Status(s2rt_copy_check(handle, &a, arch));
  }
  /// Copies a.count segments (docs/bundle.md, "Copy kernel ABI") in one
  /// launch.
  Status copy(const s2rt_copy_args &a, s2rt_stream stream) const {
    return Status(s2rt_copy(handle, &a, stream));
  }

private:
  s2rt_bundle *handle = nullptr;
};

} // namespace s2rt

#endif // S2C_RUNTIME_INCLUDE_S2RT_HPP
