/*===- s2rt.h - C API of the s2c runtime ----------------------------------===*
 *
 * Loads a compiled sparse-attention bundle (.s2m, see docs/bundle.md) and
 * launches its forward kernels (optionally over one window of keys, for
 * sequence parallelism) and its log-sum-exp merge kernels through the CUDA
 * driver API. libcuda.so.1 is opened with dlopen on first use (override the
 * path with the environment variable S2RT_LIBCUDA), so a program linked
 * against this library runs on a machine without a GPU and gets
 * S2RT_ERROR_NO_DRIVER instead of a link error. Every function returns a
 * status; on failure, s2rt_last_error() returns a message for the calling
 * thread. Nothing aborts.
 *
 * S2RT_TMA=0 in the environment makes forward kernels of kernel ABI 3 copy
 * K and V with cp.async instead of TMA (tma = 0 and no tensor maps, as on a
 * driver without cuTensorMapEncodeTiled; docs/bundle.md, "Kernel ABI
 * (forward, version 3)"), with the same results: for A/B runs and
 * debugging. It is read when a bundle is prepared for a device
 * (s2rt_bundle_prepare, or the first launch there), once per bundle and
 * device; any other value, or none, leaves TMA on where it applies.
 *
 * Contexts: the runtime uses each device's primary context (the one the CUDA
 * runtime and PyTorch use). Streams passed to s2rt_forward and s2rt_merge
 * must belong to it.
 *
 * CUDA graphs: s2rt_bundle_prepare(bundle, device) loads the modules and
 * uploads the bundle's tables for a device. After that, s2rt_forward and
 * s2rt_merge do no allocation, synchronisation or module loading, so they
 * can be captured (the first launch of a shape on a kernel of ABI 3 encodes
 * its K/V tensor maps, host work only, and caches them). A launch on a
 * device that was not prepared prepares it first (which is not allowed
 * during stream capture).
 *
 *===----------------------------------------------------------------------===*/

#ifndef S2C_RUNTIME_INCLUDE_S2RT_H
#define S2C_RUNTIME_INCLUDE_S2RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define S2RT_VERSION_MAJOR 0
#define S2RT_VERSION_MINOR 1

#if defined(_WIN32)
#define S2RT_API
#else
#define S2RT_API __attribute__((visibility("default")))
#endif

typedef enum s2rt_status {
  S2RT_SUCCESS = 0,
  /** A null pointer, a bad shape, stride, alignment or option. */
  S2RT_ERROR_INVALID_ARGUMENT = 1,
  /** The bundle is corrupt, truncated or oversize. */
  S2RT_ERROR_INVALID_BUNDLE = 2,
  /** The bundle's format or kernel ABI version is not this runtime's. */
  S2RT_ERROR_VERSION_MISMATCH = 3,
  /** The bundle file could not be read. */
  S2RT_ERROR_IO = 4,
  /** libcuda.so.1 could not be loaded (no NVIDIA driver on this machine). */
  S2RT_ERROR_NO_DRIVER = 5,
  /** The bundle has no kernel for this dtype, head dim or device. */
  S2RT_ERROR_UNSUPPORTED = 6,
  /** A CUDA driver call failed; the message names it. */
  S2RT_ERROR_CUDA = 7,
  S2RT_ERROR_OUT_OF_MEMORY = 8,
  /** Keeps the enum 32-bit wide for any value a caller passes. */
  S2RT_STATUS_FORCE_INT32 = 0x7fffffff,
} s2rt_status;

typedef enum s2rt_dtype {
  S2RT_DTYPE_BF16 = 1,
  S2RT_DTYPE_F16 = 2,
  S2RT_DTYPE_FORCE_INT32 = 0x7fffffff,
} s2rt_dtype;

/** Same type as CUstream from cuda.h (no cuda.h needed here). */
typedef struct CUstream_st *s2rt_stream;

typedef struct s2rt_bundle s2rt_bundle;

/** "S2RT_SUCCESS", "S2RT_ERROR_INVALID_ARGUMENT", ... */
S2RT_API const char *s2rt_status_name(s2rt_status status);
/** The message of the last failing call on this thread ("" if none). Valid
 * until the next s2rt call on this thread. */
S2RT_API const char *s2rt_last_error(void);

/** Loads libcuda and calls cuInit. Not needed before other calls (they do
 * it); useful to ask whether a driver is there. */
S2RT_API s2rt_status s2rt_init(void);
/** Number of CUDA devices (0 and S2RT_ERROR_NO_DRIVER without a driver). */
S2RT_API s2rt_status s2rt_device_count(int *count);

/* ---- Bundles ------------------------------------------------------------ */

S2RT_API s2rt_status s2rt_bundle_load_file(const char *path, s2rt_bundle **out);
/** Copies what it needs; `data` may be freed afterwards. */
S2RT_API s2rt_status s2rt_bundle_load_memory(const void *data, size_t size,
                                             s2rt_bundle **out);
/** Unloads the modules and frees the device tables. Accepts null. Must not
 * run concurrently with other calls on the same bundle. */
S2RT_API void s2rt_bundle_destroy(s2rt_bundle *bundle);

/** Pattern metadata. The strings live as long as the bundle. Null bundle:
 * "" and 0. */
S2RT_API const char *s2rt_bundle_pattern_name(const s2rt_bundle *bundle);
/** The pattern's s2::serializePattern text (s2/oracle.h reads it). */
S2RT_API const char *s2rt_bundle_pattern_text(const s2rt_bundle *bundle);
S2RT_API int64_t s2rt_bundle_heads(const s2rt_bundle *bundle);
S2RT_API int64_t s2rt_bundle_kv_heads(const s2rt_bundle *bundle);
S2RT_API int64_t s2rt_bundle_block(const s2rt_bundle *bundle);
S2RT_API int s2rt_bundle_causal(const s2rt_bundle *bundle);
/** Tile sizes (query rows per CTA, keys per step). */
S2RT_API int64_t s2rt_bundle_block_m(const s2rt_bundle *bundle);
S2RT_API int64_t s2rt_bundle_block_n(const s2rt_bundle *bundle);
/** Longest key length a table-backed schedule supports; 0 = any. */
S2RT_API int64_t s2rt_bundle_max_seq_len(const s2rt_bundle *bundle);
/** Value of a free-form manifest setting, or null. */
S2RT_API const char *s2rt_bundle_setting(const s2rt_bundle *bundle,
                                         const char *key);

/** What a kernel computes (s2rt_kernel_info::kind). */
typedef enum s2rt_kernel_kind {
  /** The attention forward pass (s2rt_forward). */
  S2RT_KERNEL_FORWARD = 0,
  /** The log-sum-exp merge of two partial results (s2rt_merge). */
  S2RT_KERNEL_MERGE = 1,
  /** The segment copy (s2rt_copy); its dtype and head dim (0) mean
   * nothing. */
  S2RT_KERNEL_COPY = 2,
} s2rt_kernel_kind;

typedef struct s2rt_kernel_info {
  const char *name;
  /** "sm_80", "sm_90a", ... */
  const char *target;
  s2rt_dtype dtype;
  int head_dim;
  int block_m;
  int block_n;
  int threads;
  int shared_bytes;
  int abi_version;
  int has_ptx;
  int has_cubin;
  /** S2RT_KERNEL_FORWARD (0), S2RT_KERNEL_MERGE (1) or S2RT_KERNEL_COPY
   * (2). */
  int kind;
} s2rt_kernel_info;

S2RT_API int s2rt_bundle_num_kernels(const s2rt_bundle *bundle);
S2RT_API s2rt_status s2rt_bundle_kernel_info(const s2rt_bundle *bundle,
                                             int index, s2rt_kernel_info *out);
/** 1 when some forward kernel of the bundle has this dtype and head dim (on
 * some architecture), else 0. */
S2RT_API int s2rt_bundle_supports(const s2rt_bundle *bundle, s2rt_dtype dtype,
                                  int head_dim);
/** 1 when the bundle has a copy kernel (s2rt_copy) that runs on a device
 * of compute capability `arch` (10*major + minor; 0: on some
 * architecture), else 0. Bundles written before the copy kernel ABI have
 * none: callers fall back to their own copies. Needs no GPU. */
S2RT_API int s2rt_bundle_has_copy_kernel(const s2rt_bundle *bundle, int arch);
/** The forward kernel s2rt_forward would run for a device of compute
 * capability `arch` (10*major + minor, e.g. 90), and whether it would use
 * its cubin (1) or JIT its PTX (0). Needs no GPU. */
S2RT_API s2rt_status s2rt_bundle_select_kernel(const s2rt_bundle *bundle,
                                               int arch, s2rt_dtype dtype,
                                               int head_dim, int *index,
                                               int *uses_cubin);

/** Loads every kernel the device will use (one forward and one merge kernel
 * per dtype and head dim, and the copy kernel), sets their shared-memory limits
 * and uploads the tables, in the device's primary context. Call it outside
 * CUDA-graph capture. Idempotent. */
S2RT_API s2rt_status s2rt_bundle_prepare(s2rt_bundle *bundle, int device);

/* ---- Forward ------------------------------------------------------------ */

/** Arguments of s2rt_forward. Initialise with s2rt_forward_args_init, then
 * set the fields. Tensors are addressed as in docs/bundle.md: element
 * (b, s, h, d) of q at q + b*q_stride[0] + s*q_stride[1] + h*q_stride[2] + d
 * (strides in elements, head dim contiguous), likewise k, v (KV head index)
 * and out; lse is float32, element (b, h, s) at lse + b*lse_stride[0] +
 * h*lse_stride[1] + s. */
typedef struct s2rt_forward_args {
  /** sizeof(s2rt_forward_args), set by s2rt_forward_args_init. */
  size_t struct_size;
  const void *q;
  const void *k;
  const void *v;
  void *out;
  /** Optional (null): log-sum-exp of each row, natural log. */
  float *lse;
  /** Sequences (packed: cu_seqlens_q/k have batch + 1 entries). */
  int64_t batch;
  /** Query and key lengths (sq <= sk; the queries are the last sq positions
   * unless query_pos says otherwise). Packed: the largest sequence
   * lengths. */
  int64_t seqlen_q;
  int64_t seqlen_k;
  /** Query heads in this launch and the first pattern head they are. */
  int64_t heads;
  int64_t head_offset;
  int64_t head_dim;
  s2rt_dtype dtype;
  /** (batch, seq, head) strides in elements. */
  int64_t q_stride[3];
  int64_t k_stride[3];
  int64_t v_stride[3];
  int64_t o_stride[3];
  /** (batch, head) strides of lse in elements. */
  int64_t lse_stride[2];
  /** Softmax scale; 0 means 1/sqrt(head_dim). */
  float softmax_scale;
  /** Packed variable-length batch: int32[batch + 1] device arrays of
   * row offsets into batch-less q/o and k/v (both or neither). */
  const int32_t *cu_seqlens_q;
  const int32_t *cu_seqlens_k;
  /** Device ordinal; -1 means the device of the current context (or 0). */
  int device;
  /** Absolute position of query row 0 among the seqlen_k key positions:
   * the queries are positions [query_pos, query_pos + seqlen_q), which must
   * lie inside [0, seqlen_k). -1 (the default) means seqlen_k - seqlen_q
   * (bottom-right alignment). */
  int64_t query_pos;
  /** Key window: only keys at absolute positions [key_begin, key_end) are
   * read and attended to, giving a partial (out, lse) for s2rt_merge. k and
   * v still address key p at k + p*k_stride[1] (they may point before their
   * allocation as long as the window is inside it). key_begin is a multiple
   * of the bundle's block_n; key_end is one too, or seqlen_k. Defaults 0 and
   * -1 (= seqlen_k): all keys. Packed launches take the defaults of
   * query_pos, key_begin and key_end. */
  int64_t key_begin;
  int64_t key_end;
} s2rt_forward_args;

S2RT_API void s2rt_forward_args_init(s2rt_forward_args *args);

/** Checks every argument, then launches the forward kernel on `stream`
 * (null: the legacy default stream of the primary context). Launches
 * nothing and succeeds when seqlen_q is 0. A key window that holds no key
 * is launched: its rows get out 0 and lse -inf. */
S2RT_API s2rt_status s2rt_forward(s2rt_bundle *bundle,
                                  const s2rt_forward_args *args,
                                  s2rt_stream stream);

/** Runs every host-side check of s2rt_forward (shapes, strides, alignment,
 * dtype, head dim, query position, key window) without a GPU; the
 * architecture is checked as for a device of compute capability `arch` (0:
 * skip that check). */
S2RT_API s2rt_status s2rt_forward_check(const s2rt_bundle *bundle,
                                        const s2rt_forward_args *args,
                                        int arch);

/* ---- Merge -------------------------------------------------------------- */

/** Arguments of s2rt_merge: folds a partial attention result (part_out,
 * part_lse) over one set of keys into (out, lse) over a disjoint set, in
 * place, by log-sum-exp (docs/bundle.md, "Merge kernel ABI"). Element
 * (b, s, h, d) of out at out + b*o_stride[0] + s*o_stride[1] +
 * h*o_stride[2] + d, likewise part_out with part_o_stride; lse and part_lse
 * are float32, element (b, h, s) at lse + b*lse_stride[0] +
 * h*lse_stride[1] + s. Initialise with s2rt_merge_args_init. */
typedef struct s2rt_merge_args {
  /** sizeof(s2rt_merge_args), set by s2rt_merge_args_init. */
  size_t struct_size;
  /** In/out, 16-byte aligned. */
  void *out;
  /** In/out, 4-byte aligned. */
  float *lse;
  /** The partial result folded in (read only). */
  const void *part_out;
  const float *part_lse;
  int64_t batch;
  /** Rows per sequence (0: nothing to do). */
  int64_t rows;
  int64_t heads;
  int64_t head_dim;
  s2rt_dtype dtype;
  /** (batch, seq, head) strides in elements, multiples of 8. */
  int64_t o_stride[3];
  /** (batch, head) strides in elements. */
  int64_t lse_stride[2];
  int64_t part_o_stride[3];
  int64_t part_lse_stride[2];
  /** Device ordinal; -1 means the device of the current context (or 0). */
  int device;
} s2rt_merge_args;

S2RT_API void s2rt_merge_args_init(s2rt_merge_args *args);

/** Checks every argument, then launches the bundle's merge kernel for the
 * dtype and head dim on `stream`, grid (ceil(rows / block_m), heads,
 * batch). Launches nothing and succeeds when rows is 0. */
S2RT_API s2rt_status s2rt_merge(s2rt_bundle *bundle,
                                const s2rt_merge_args *args,
                                s2rt_stream stream);

/** Runs every host-side check of s2rt_merge without a GPU; the
 * architecture is checked as for a device of compute capability `arch` (0:
 * skip that check). */
S2RT_API s2rt_status s2rt_merge_check(const s2rt_bundle *bundle,
                                      const s2rt_merge_args *args, int arch);

/* ---- Copy --------------------------------------------------------------- */

/** Arguments of s2rt_copy: a list of 2-D byte segments copied by one kernel
 * launch (docs/bundle.md, "Copy kernel ABI"). Segment i is the six int64
 * words segments[6*i .. 6*i+5]: source address, destination address
 * (absolute device addresses), rows, row bytes, source pitch, destination
 * pitch (bytes); it copies row r's row_bytes bytes from src + r*src_pitch
 * to dst + r*dst_pitch. The addresses, row bytes and pitches must be
 * multiples of 16 and the segments must not overlap each other's
 * destinations or a source and a destination; rows or row bytes 0 copies
 * nothing. The kernel reads the array on the device, so the runtime cannot
 * check these: breaking them is undefined behaviour. Initialise with
 * s2rt_copy_args_init. */
typedef struct s2rt_copy_args {
  /** sizeof(s2rt_copy_args), set by s2rt_copy_args_init. */
  size_t struct_size;
  /** Device pointer, 8-byte aligned, 6 int64 per segment; read by the
   * kernel while it runs (keep it alive until the stream gets there). */
  const int64_t *segments;
  /** Segments, in [0, 2^31). */
  int64_t count;
  /** Device ordinal; -1 means the device of the current context (or 0). */
  int device;
} s2rt_copy_args;

S2RT_API void s2rt_copy_args_init(s2rt_copy_args *args);

/** Checks the arguments, then launches the bundle's copy kernel for the
 * device (exact-architecture cubin, else PTX as for s2rt_forward) on
 * `stream`, grid (count, 1, 1), one CTA a segment. Launches nothing and
 * succeeds when count is 0. S2RT_ERROR_UNSUPPORTED when the bundle has no
 * copy kernel (see s2rt_bundle_has_copy_kernel). */
S2RT_API s2rt_status s2rt_copy(s2rt_bundle *bundle, const s2rt_copy_args *args,
                               s2rt_stream stream);

/** Runs every host-side check of s2rt_copy without a GPU; the architecture
 * is checked as for a device of compute capability `arch` (0: skip that
 * check). */
S2RT_API s2rt_status s2rt_copy_check(const s2rt_bundle *bundle,
                                     const s2rt_copy_args *args, int arch);

#ifdef __cplusplus
}
#endif

#endif /* S2C_RUNTIME_INCLUDE_S2RT_H */
