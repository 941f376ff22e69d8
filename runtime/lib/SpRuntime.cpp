//===- SpRuntime.cpp - Sequence-parallel forward over CUDA and NCCL -------===//
//
// Implements s2rt_sp.h: plans with s2/SeqParallel.h, lowers the plan to a
// program (s2/SpExec.h) and runs it on a CUDA SpDevice whose attention and
// merge launches go through s2rt_forward / s2rt_merge. Each rank has a
// compute stream; messages travel on a communication stream (one shared by
// all virtual ranks, or one per NCCL rank) ordered by per-phase events, so
// the transfers of step k+1 overlap the launches of step k. libnccl is
// opened with dlopen; its few entry points are declared here (the NCCL ABI
// is stable), so building needs no nccl.h.
//
//===----------------------------------------------------------------------===//

#include "s2rt_sp.h"

#include "Driver.h"
#include "s2/SpExec.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

using namespace s2rt_detail;

namespace {

//===----------------------------------------------------------------------===//
// NCCL, loaded at run time
//===----------------------------------------------------------------------===//

typedef struct ncclComm *ncclComm_t;
typedef int ncclResult_t; // ncclSuccess = 0
constexpr int kNcclInt8 = 0;

struct Nccl {
  ncclResult_t (*ncclCommInitAll)(ncclComm_t *, int, const int *) = nullptr;
  ncclResult_t (*ncclCommDestroy)(ncclComm_t) = nullptr;
  ncclResult_t (*ncclSend)(const void *, size_t, int, int, ncclComm_t,
                           CUstream) = nullptr;
  ncclResult_t (*ncclRecv)(void *, size_t, int, int, ncclComm_t,
                           CUstream) = nullptr;
  ncclResult_t (*ncclGroupStart)() = nullptr;
  ncclResult_t (*ncclGroupEnd)() = nullptr;
  const char *(*ncclGetErrorString)(ncclResult_t) = nullptr;
};

std::mutex ncclMutex;
Nccl nccl;
bool ncclReady = false;

s2rt_status loadNccl(const Nccl *&out) {
  std::lock_guard<std::mutex> lock(ncclMutex);
  if (ncclReady) {
    out = &nccl;
    return S2RT_SUCCESS;
  }
  const char *env = std::getenv("S2RT_LIBNCCL");
  std::string path = env && *env ? env : "libnccl.so.2";
  void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return fail(S2RT_ERROR_NO_DRIVER,
                "cannot load NCCL '" + path +
                    "': " + (why ? why : "unknown error") +
                    " (set S2RT_LIBNCCL to a libnccl.so.2)");
  }
  Nccl n;
#define S2RT_NCCL(fn)                                                          \
  *reinterpret_cast<void **>(&n.fn) = dlsym(h, #fn);                           \
  if (!n.fn) {                                                                 \
    dlclose(h);                                                                \
    return fail(S2RT_ERROR_NO_DRIVER, "NCCL '" + path + "' lacks " #fn);       \
  }
  S2RT_NCCL(ncclCommInitAll)
  S2RT_NCCL(ncclCommDestroy)
  S2RT_NCCL(ncclSend)
  S2RT_NCCL(ncclRecv)
  S2RT_NCCL(ncclGroupStart)
  S2RT_NCCL(ncclGroupEnd)
  S2RT_NCCL(ncclGetErrorString)
#undef S2RT_NCCL
  nccl = n;
  ncclReady = true;
  out = &nccl;
  return S2RT_SUCCESS;
}

std::string ncclMessage(const Nccl &n, const char *call, ncclResult_t r) {
  const char *s = n.ncclGetErrorString(r);
  return std::string(call) + " failed: " + (s ? s : "unknown NCCL error") +
         " (" + std::to_string(r) + ")";
}

} // namespace

//===----------------------------------------------------------------------===//
// The plan object
//===----------------------------------------------------------------------===//

struct RankState {
  int device = -1;
  CUcontext ctx = nullptr;
  CUstream compute = nullptr, comm = nullptr;
  std::vector<CUdeviceptr> scratch;
  std::vector<CUevent> packed, commDone;
  CUevent start = nullptr, computeDone = nullptr, commEnd = nullptr;
  s2rt_sp_tensors tensors{};
  /// Segment descriptors of the copy kernel (6 i64 each): room for every
  /// pack and unpack of one forward, filled from descUsed on.
  CUdeviceptr desc = 0;
  int64_t descCapacity = 0, descUsed = 0;
  std::vector<int64_t> descHost;
};

namespace {

/// Largest segment one CTA of the copy kernel copies.
constexpr int64_t kSegmentBytes = 64 * 1024;

/// Appends the segments of one copy (split so no segment exceeds
/// kSegmentBytes) to `out` (6 i64 each), or only counts them.
int64_t appendSegments(const char *dst, const char *src, int64_t dstPitch,
                       int64_t srcPitch, int64_t width, int64_t height,
                       std::vector<int64_t> *out) {
  int64_t n = 0;
  auto seg = [&](int64_t dOff, int64_t sOff, int64_t rows, int64_t bytes) {
    ++n;
    if (out)
      out->insert(out->end(), {int64_t(uintptr_t(src)) + sOff,
                               int64_t(uintptr_t(dst)) + dOff, rows, bytes,
                               srcPitch, dstPitch});
  };
  if (width >= kSegmentBytes || height == 1) {
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; x += kSegmentBytes)
        seg(y * dstPitch + x, y * srcPitch + x, 1,
            std::min(kSegmentBytes, width - x));
  } else {
    int64_t rowsPer = std::max<int64_t>(1, kSegmentBytes / width);
    for (int64_t y = 0; y < height; y += rowsPer)
      seg(y * dstPitch, y * srcPitch, std::min(rowsPer, height - y), width);
  }
  return n;
}

} // namespace

struct s2rt_sp {
  s2rt_bundle *bundle = nullptr;
  s2rt_sp_config config{};
  s2::Pattern pattern;
  s2::SpProgram program;
  s2::SpStats stats;
  std::vector<RankState> ranks;
  /// Virtual ranks: the shared communication stream and its phase events.
  std::mutex virtualMutex;
  CUstream virtualComm = nullptr;
  std::vector<CUevent> virtualDone;
  int virtualDevice = -1;
  /// Whether the bundle has a segment-copy kernel (else one driver copy per
  /// pack/unpack entry).
  bool copyKernel = false;
};

namespace {

/// Creates the streams, events and scratch of rank r on `device` once.
s2rt_status prepareRank(const Driver &d, s2rt_sp *sp, int64_t r, int device,
                        bool ownComm) {
  RankState &st = sp->ranks[size_t(r)];
  if (st.device == device)
    return S2RT_SUCCESS;
  if (st.device >= 0)
    return fail(S2RT_ERROR_INVALID_ARGUMENT,
                "rank " + std::to_string(r) + " was prepared on device " +
                    std::to_string(st.device) + ", not " +
                    std::to_string(device));
  s2rt_status s = setCurrentDevice(d, device, &st.ctx);
  if (s != S2RT_SUCCESS)
    return s;
  S2RT_CU(d, cuStreamCreate(&st.compute, CU_STREAM_NON_BLOCKING));
  if (ownComm)
    S2RT_CU(d, cuStreamCreate(&st.comm, CU_STREAM_NON_BLOCKING));
  const s2::SpProgram &pg = sp->program;
  st.packed.assign(size_t(pg.phases), nullptr);
  st.commDone.assign(size_t(pg.phases), nullptr);
  for (int64_t p = 0; p < pg.phases; ++p) {
    S2RT_CU(d, cuEventCreate(&st.packed[size_t(p)], CU_EVENT_DISABLE_TIMING));
    S2RT_CU(d, cuEventCreate(&st.commDone[size_t(p)], CU_EVENT_DISABLE_TIMING));
  }
  S2RT_CU(d, cuEventCreate(&st.start, CU_EVENT_DISABLE_TIMING));
  S2RT_CU(d, cuEventCreate(&st.computeDone, CU_EVENT_DISABLE_TIMING));
  S2RT_CU(d, cuEventCreate(&st.commEnd, CU_EVENT_DISABLE_TIMING));
  for (int64_t bytes : pg.ranks[size_t(r)].scratchBytes) {
    CUdeviceptr p = 0;
    S2RT_CU(d, cuMemAlloc(&p, size_t(bytes)));
    st.scratch.push_back(p);
  }
  if (sp->copyKernel) {
    // Segments of one forward: the widths and heights are fixed by the
    // program (only the addresses change between calls).
    const s2::SpRankProgram &rp = pg.ranks[size_t(r)];
    int64_t n = 0;
    auto count = [&](const std::vector<s2::SpCopy> &cs) {
      for (const s2::SpCopy &c : cs)
        n += appendSegments(nullptr, nullptr, c.dstPitch, c.srcPitch, c.width,
                            c.height, nullptr);
    };
    count(rp.prologuePack);
    for (const s2::SpIteration &it : rp.iterations) {
      count(it.unpack);
      count(it.pack);
    }
    st.descCapacity = n;
    if (n > 0)
      S2RT_CU(d, cuMemAlloc(&st.desc, size_t(n) * 6 * sizeof(int64_t)));
  }
  st.device = device;
  return S2RT_SUCCESS;
}

/// Virtual ranks: every rank on `device`, plus the shared communication
/// stream and its phase events.
s2rt_status prepareRankSet(const Driver &d, s2rt_sp *sp, int device) {
  for (int64_t r = 0; r < int64_t(sp->ranks.size()); ++r) {
    s2rt_status s = prepareRank(d, sp, r, device, /*ownComm=*/false);
    if (s != S2RT_SUCCESS)
      return s;
  }
  if (sp->virtualComm)
    return S2RT_SUCCESS;
  S2RT_CU(d, cuStreamCreate(&sp->virtualComm, CU_STREAM_NON_BLOCKING));
  sp->virtualDone.assign(size_t(sp->program.phases), nullptr);
  for (CUevent &e : sp->virtualDone)
    S2RT_CU(d, cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
  sp->virtualDevice = device;
  return S2RT_SUCCESS;
}

/// The program's operations on CUDA: launches through s2rt_forward and
/// s2rt_merge, copies with the driver, messages as device copies (virtual
/// ranks) or NCCL point-to-point calls.
class CudaDevice : public s2::SpDevice {
public:
  CudaDevice(const Driver &d, s2rt_sp *sp, const Nccl *n, ncclComm_t comm,
             int64_t ncclRank)
      : d(d), sp(sp), n(n), comm(comm), ncclRank(ncclRank) {}

  char *buffer(int64_t rank, int32_t id) override {
    RankState &st = sp->ranks[size_t(rank)];
    switch (id) {
    case s2::kSpQ:
      return const_cast<char *>(static_cast<const char *>(st.tensors.q));
    case s2::kSpK:
      return const_cast<char *>(static_cast<const char *>(st.tensors.k));
    case s2::kSpV:
      return const_cast<char *>(static_cast<const char *>(st.tensors.v));
    case s2::kSpO:
      return static_cast<char *>(st.tensors.out);
    case s2::kSpLse:
      return reinterpret_cast<char *>(st.tensors.lse);
    default:
      return reinterpret_cast<char *>(
          uintptr_t(st.scratch[size_t(id - s2::kSpFirstScratch)]));
    }
  }
  bool fill(int64_t rank, void *o, int64_t bytes, float *lse,
            int64_t count) override {
    CUstream s = sp->ranks[size_t(rank)].compute;
    if (bytes == 0 && count == 0)
      return true;
    return cu(d.cuMemsetD8Async(dptr(o), 0, size_t(bytes), s),
              "cuMemsetD8Async") &&
           cu(d.cuMemsetD32Async(dptr(lse), 0xff800000u, size_t(count), s),
              "cuMemsetD32Async");
  }
  bool copy(int64_t rank, char *dst, int64_t dstPitch, const char *src,
            int64_t srcPitch, int64_t width, int64_t height) override {
    CUstream s = sp->ranks[size_t(rank)].compute;
    if (height == 1)
      return cu(d.cuMemcpyAsync(dptr(dst), dptr(src), size_t(width), s),
                "cuMemcpyAsync");
    CUDA_MEMCPY2D c;
    std::memset(&c, 0, sizeof c);
    c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    c.srcDevice = dptr(src);
    c.srcPitch = size_t(srcPitch);
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.dstDevice = dptr(dst);
    c.dstPitch = size_t(dstPitch);
    c.WidthInBytes = size_t(width);
    c.Height = size_t(height);
    return cu(d.cuMemcpy2DAsync(&c, s), "cuMemcpy2DAsync");
  }
  bool copyBatch(int64_t rank, const std::vector<Copy> &cs) override {
    if (!sp->copyKernel)
      return SpDevice::copyBatch(rank, cs);
    RankState &st = sp->ranks[size_t(rank)];
    st.descHost.clear();
    for (const Copy &c : cs)
      appendSegments(c.dst, c.src, c.dstPitch, c.srcPitch, c.width, c.height,
                     &st.descHost);
    int64_t n = int64_t(st.descHost.size() / 6);
    if (st.descUsed + n > st.descCapacity) {
      error = "internal error: copy segments exceed their buffer";
      return false;
    }
    CUdeviceptr at = st.desc + CUdeviceptr(st.descUsed * 6 * 8);
    if (!cu(d.cuMemcpyHtoDAsync(at, st.descHost.data(), st.descHost.size() * 8,
                                st.compute),
            "cuMemcpyHtoDAsync"))
      return false;
    st.descUsed += n;
    s2rt_copy_args a;
    s2rt_copy_args_init(&a);
    a.segments = reinterpret_cast<const int64_t *>(uintptr_t(at));
    a.count = n;
    a.device = st.device;
    return status(s2rt_copy(sp->bundle, &a, st.compute));
  }
  bool attention(int64_t rank, const s2::SpAttention &a, const char *q,
                 const char *k, const char *v, char *o, float *lse) override {
    RankState &st = sp->ranks[size_t(rank)];
    s2rt_forward_args f;
    s2rt_forward_args_init(&f);
    f.q = q;
    f.k = k;
    f.v = v;
    f.out = o;
    f.lse = lse;
    f.batch = a.batch;
    f.seqlen_q = a.seqQ;
    f.seqlen_k = a.seqK;
    f.heads = a.heads;
    f.head_offset = 0;
    f.head_dim = sp->config.head_dim;
    f.dtype = sp->config.dtype;
    for (int i = 0; i < 3; ++i) {
      f.q_stride[i] = a.qStride[i];
      f.k_stride[i] = a.kStride[i];
      f.v_stride[i] = a.vStride[i];
      f.o_stride[i] = a.oStride[i];
    }
    f.lse_stride[0] = a.lseStride[0];
    f.lse_stride[1] = a.lseStride[1];
    f.softmax_scale = sp->config.softmax_scale;
    f.device = st.device;
    f.query_pos = a.queryPos;
    f.key_begin = a.keyBegin;
    f.key_end = a.keyEnd;
    return status(s2rt_forward(sp->bundle, &f, st.compute));
  }
  bool merge(int64_t rank, const s2::SpMerge &m, char *o, float *lse,
             const char *in, const float *inLse) override {
    RankState &st = sp->ranks[size_t(rank)];
    s2rt_merge_args a;
    s2rt_merge_args_init(&a);
    a.out = o;
    a.lse = lse;
    a.part_out = in;
    a.part_lse = inLse;
    a.batch = m.batch;
    a.rows = m.rows;
    a.heads = m.heads;
    a.head_dim = sp->config.head_dim;
    a.dtype = sp->config.dtype;
    for (int i = 0; i < 3; ++i) {
      a.o_stride[i] = m.oStride[i];
      a.part_o_stride[i] = m.inStride[i];
    }
    for (int i = 0; i < 2; ++i) {
      a.lse_stride[i] = m.lseStride[i];
      a.part_lse_stride[i] = m.inLseStride[i];
    }
    a.device = st.device;
    return status(s2rt_merge(sp->bundle, &a, st.compute));
  }
  bool markPacked(int64_t rank, int64_t phase) override {
    RankState &st = sp->ranks[size_t(rank)];
    return cu(d.cuEventRecord(st.packed[size_t(phase)], st.compute),
              "cuEventRecord");
  }
  bool waitPhase(int64_t rank, int64_t phase) override {
    RankState &st = sp->ranks[size_t(rank)];
    CUevent e = n ? st.commDone[size_t(phase)] : sp->virtualDone[size_t(phase)];
    return cu(d.cuStreamWaitEvent(st.compute, e, 0), "cuStreamWaitEvent");
  }
  bool exchange(int64_t phase, const std::vector<Transfer> &ts) override {
    if (!n) {
      // Virtual ranks: after every rank packed this phase (which also
      // orders the reuse of its receive buffers), copy on the shared stream.
      CUstream s = sp->virtualComm;
      for (RankState &st : sp->ranks)
        if (!cu(d.cuStreamWaitEvent(s, st.packed[size_t(phase)], 0),
                "cuStreamWaitEvent"))
          return false;
      for (const Transfer &t : ts)
        if (!cu(d.cuMemcpyAsync(dptr(t.receive), dptr(t.send),
                                size_t(t.message->bytes), s),
                "cuMemcpyAsync"))
          return false;
      return cu(d.cuEventRecord(sp->virtualDone[size_t(phase)], s),
                "cuEventRecord");
    }
    RankState &st = sp->ranks[size_t(ncclRank)];
    if (!cu(d.cuStreamWaitEvent(st.comm, st.packed[size_t(phase)], 0),
            "cuStreamWaitEvent"))
      return false;
    if (!ts.empty()) {
      if (!nc(n->ncclGroupStart(), "ncclGroupStart"))
        return false;
      bool ok = true;
      for (const Transfer &t : ts) {
        const s2::SpMessage &m = *t.message;
        if (m.src == ncclRank)
          ok = ok && nc(n->ncclSend(t.send, size_t(m.bytes), kNcclInt8,
                                    int(m.dst), comm, st.comm),
                        "ncclSend");
        if (m.dst == ncclRank)
          ok = ok && nc(n->ncclRecv(t.receive, size_t(m.bytes), kNcclInt8,
                                    int(m.src), comm, st.comm),
                        "ncclRecv");
      }
      // Always close the group, even after a failed call.
      bool closed = nc(n->ncclGroupEnd(), "ncclGroupEnd");
      if (!ok || !closed)
        return false;
    }
    return cu(d.cuEventRecord(st.commDone[size_t(phase)], st.comm),
              "cuEventRecord");
  }

private:
  static CUdeviceptr dptr(const void *p) { return CUdeviceptr(uintptr_t(p)); }
  bool cu(CUresult r, const char *call) {
    if (r == CUDA_SUCCESS)
      return true;
    error = cuMessage(d, call, r);
    return false;
  }
  bool nc(ncclResult_t r, const char *call) {
    if (r == 0)
      return true;
    error = ncclMessage(*n, call, r);
    return false;
  }
  bool status(s2rt_status s) {
    if (s == S2RT_SUCCESS)
      return true;
    error = lastError();
    return false;
  }

  const Driver &d;
  s2rt_sp *sp;
  const Nccl *n;
  ncclComm_t comm;
  int64_t ncclRank;
};

s2rt_status checkTensors(const s2rt_sp *sp, int64_t r,
                         const s2rt_sp_tensors &t) {
  std::string who = "rank " + std::to_string(r) + ": ";
  if (sp->program.shardLen[size_t(r)] == 0)
    return S2RT_SUCCESS;
  if (!t.q || !t.k || !t.v || !t.out || !t.lse)
    return fail(S2RT_ERROR_INVALID_ARGUMENT,
                who + "q, k, v, out and lse must all be non-null (lse holds "
                      "the partial results' log-sum-exp)");
  for (const void *p : {t.q, t.k, t.v, static_cast<const void *>(t.out),
                        static_cast<const void *>(t.lse)})
    if (uintptr_t(p) % 16 != 0)
      return fail(S2RT_ERROR_INVALID_ARGUMENT,
                  who + "tensors must be 16-byte aligned");
  return S2RT_SUCCESS;
}

/// Joins the rank's streams to `user`, runs the program, joins back.
s2rt_status run(const Driver &d, s2rt_sp *sp, const std::vector<int64_t> &local,
                CudaDevice &dev, CUstream user, CUstream sharedComm) {
  for (int64_t r : local) {
    RankState &st = sp->ranks[size_t(r)];
    s2rt_status s = setCurrentDevice(d, st.device);
    if (s != S2RT_SUCCESS)
      return s;
    st.descUsed = 0;
    S2RT_CU(d, cuEventRecord(st.start, user));
    S2RT_CU(d, cuStreamWaitEvent(st.compute, st.start, 0));
    CUstream c = sharedComm ? sharedComm : st.comm;
    S2RT_CU(d, cuStreamWaitEvent(c, st.start, 0));
  }
  std::string err;
  if (!s2::runSpProgram(sp->program, local, dev, err))
    return fail(S2RT_ERROR_CUDA, err);
  for (int64_t r : local) {
    RankState &st = sp->ranks[size_t(r)];
    CUstream c = sharedComm ? sharedComm : st.comm;
    S2RT_CU(d, cuEventRecord(st.computeDone, st.compute));
    S2RT_CU(d, cuEventRecord(st.commEnd, c));
    S2RT_CU(d, cuStreamWaitEvent(user, st.computeDone, 0));
    S2RT_CU(d, cuStreamWaitEvent(user, st.commEnd, 0));
  }
  return ok();
}

#define S2RT_SP_GUARD(body)                                                    \
  try {                                                                        \
    body                                                                       \
  } catch (const std::bad_alloc &) {                                           \
    return fail(S2RT_ERROR_OUT_OF_MEMORY, "out of host memory");               \
  } catch (...) {                                                              \
    return fail(S2RT_ERROR_CUDA, "unexpected internal error");                 \
  }

} // namespace

extern "C" {

void s2rt_sp_config_init(s2rt_sp_config *c) {
  if (!c)
    return;
  std::memset(c, 0, sizeof *c);
  c->struct_size = sizeof *c;
  c->batch = 1;
  c->head_dim = 128;
  c->dtype = S2RT_DTYPE_BF16;
  c->balance = S2RT_SP_BALANCE_AUTO;
}

s2rt_status s2rt_sp_create(s2rt_bundle *bundle, const s2rt_sp_config *c,
                           s2rt_sp **out) {
  S2RT_SP_GUARD({
    if (!bundle || !c || !out)
      return fail(S2RT_ERROR_INVALID_ARGUMENT,
                  "bundle, config and out must be non-null");
    *out = nullptr;
    if (c->struct_size != sizeof(s2rt_sp_config))
      return fail(S2RT_ERROR_INVALID_ARGUMENT,
                  "s2rt_sp_config of size " + std::to_string(c->struct_size) +
                      ", expected " + std::to_string(sizeof(s2rt_sp_config)) +
                      " (initialise it with s2rt_sp_config_init)");
    if (c->batch < 1 || c->head_dim < 8 || c->head_dim % 8 != 0)
      return fail(S2RT_ERROR_INVALID_ARGUMENT,
                  "batch must be >= 1 and head_dim a positive multiple of 8");
    if (c->dtype != S2RT_DTYPE_BF16 && c->dtype != S2RT_DTYPE_F16)
      return fail(S2RT_ERROR_INVALID_ARGUMENT, "dtype must be bf16 or f16");
    if (int(c->balance) < 0 || int(c->balance) > 3)
      return fail(S2RT_ERROR_INVALID_ARGUMENT, "unknown balance");
    if (!s2rt_bundle_supports(bundle, c->dtype, int(c->head_dim)))
      return fail(S2RT_ERROR_UNSUPPORTED,
                  "the bundle has no kernel for this dtype and head dim " +
                      std::to_string(c->head_dim));
    auto sp = std::make_unique<s2rt_sp>();
    sp->bundle = bundle;
    sp->config = *c;
    std::string err;
    if (!s2::deserializePattern(s2rt_bundle_pattern_text(bundle), sp->pattern,
                                err))
      return fail(S2RT_ERROR_INVALID_BUNDLE, "bundle pattern: " + err);
    s2::SpConfig cfg;
    cfg.seqLen = c->seqlen;
    cfg.ranks = c->ranks;
    cfg.tiles.blockM = s2rt_bundle_block_m(bundle);
    cfg.tiles.blockN = s2rt_bundle_block_n(bundle);
    if (int64_t m = s2rt_bundle_max_seq_len(bundle))
      cfg.tiles.maxSeqLen = m;
    cfg.headDim = c->head_dim;
    cfg.balance = s2::SpBalance(c->balance);
    s2::SpPlan plan;
    if (!s2::planSequenceParallel(sp->pattern, cfg, plan, err))
      return fail(S2RT_ERROR_INVALID_ARGUMENT, "plan: " + err);
    s2::SpShape shape;
    shape.batch = c->batch;
    shape.headDim = c->head_dim;
    if (!s2::buildSpProgram(plan, shape, c->whole_shards != 0, sp->program,
                            err))
      return fail(S2RT_ERROR_INVALID_ARGUMENT, "program: " + err);
    sp->stats = s2::simulateSequenceParallel(sp->program.plan);
    sp->copyKernel = s2rt_bundle_has_copy_kernel(bundle, 0) != 0;
    sp->ranks.resize(size_t(c->ranks));
    *out = sp.release();
    return ok();
  })
}

void s2rt_sp_destroy(s2rt_sp *sp) {
  if (!sp)
    return;
  if (const Driver *d = loadedDriver()) {
    for (RankState &st : sp->ranks) {
      if (st.device < 0)
        continue;
      setCurrentDevice(*d, st.device);
      if (st.compute)
        d->cuStreamSynchronize(st.compute);
      if (st.comm)
        d->cuStreamSynchronize(st.comm);
      for (CUdeviceptr p : st.scratch)
        d->cuMemFree(p);
      if (st.desc)
        d->cuMemFree(st.desc);
      for (CUevent e : st.packed)
        d->cuEventDestroy(e);
      for (CUevent e : st.commDone)
        d->cuEventDestroy(e);
      for (CUevent e : {st.start, st.computeDone, st.commEnd})
        if (e)
          d->cuEventDestroy(e);
      if (st.compute)
        d->cuStreamDestroy(st.compute);
      if (st.comm)
        d->cuStreamDestroy(st.comm);
    }
    if (sp->virtualComm) {
      setCurrentDevice(*d, sp->virtualDevice);
      d->cuStreamSynchronize(sp->virtualComm);
      for (CUevent e : sp->virtualDone)
        d->cuEventDestroy(e);
      d->cuStreamDestroy(sp->virtualComm);
    }
  }
  delete sp;
}

s2rt_status s2rt_sp_shard(const s2rt_sp *sp, int64_t rank, int64_t *begin,
                          int64_t *length) {
  if (!sp || !begin || !length)
    return fail(S2RT_ERROR_INVALID_ARGUMENT, "null argument");
  if (rank < 0 || rank >= int64_t(sp->ranks.size()))
    return fail(S2RT_ERROR_INVALID_ARGUMENT,
                "rank " + std::to_string(rank) + " out of range");
  *begin = sp->program.plan.shardBegin[size_t(rank)];
  *length = sp->program.shardLen[size_t(rank)];
  return ok();
}

s2rt_status s2rt_sp_get_stats(const s2rt_sp *sp, s2rt_sp_stats *out) {
  if (!sp || !out)
    return fail(S2RT_ERROR_INVALID_ARGUMENT, "null argument");
  const s2::SpProgram &pg = sp->program;
  std::memset(out, 0, sizeof *out);
  out->steps = pg.plan.steps;
  out->phases = pg.phases;
  for (const auto &ph : pg.messages)
    for (const s2::SpMessage &m : ph) {
      ++out->messages;
      out->bytes += m.bytes;
    }
  for (size_t r = 0; r < pg.ranks.size(); ++r) {
    for (const s2::SpIteration &it : pg.ranks[r].iterations)
      out->launches += int64_t(it.compute.size() + it.mergeReceived.size());
    out->max_scratch_bytes =
        std::max(out->max_scratch_bytes, pg.scratchTotal[r]);
  }
  out->max_work = sp->stats.maxWork;
  out->mean_work = sp->stats.meanWork;
  return ok();
}

s2rt_status s2rt_sp_forward_virtual(s2rt_sp *sp, const s2rt_sp_tensors *ranks,
                                    int device,
                                    s2rt_stream stream){S2RT_SP_GUARD({
  if (!sp || !ranks)
    return fail(S2RT_ERROR_INVALID_ARGUMENT, "null argument");
  const Driver *dp;
  s2rt_status s = loadDriver(dp);
  if (s != S2RT_SUCCESS)
    return s;
  const Driver &d = *dp;
  std::lock_guard<std::mutex> lock(sp->virtualMutex);
  int64_t P = int64_t(sp->ranks.size());
  for (int64_t r = 0; r < P; ++r) {
    s = checkTensors(sp, r, ranks[r]);
    if (s != S2RT_SUCCESS)
      return s;
  }
  CUcontext current;
  int dev;
  s = resolveDevice(d, device, dev, current);
  if (s != S2RT_SUCCESS)
    return s;
  if (sp->virtualDevice >= 0 && sp->virtualDevice != dev)
    return fail(S2RT_ERROR_INVALID_ARGUMENT,
                "this plan runs its virtual ranks on device " +
                    std::to_string(sp->virtualDevice));
  s = prepareRankSet(d, sp, dev);
  if (s != S2RT_SUCCESS)
    return s;
  std::vector<int64_t> all;
  for (int64_t r = 0; r < P; ++r) {
    sp->ranks[size_t(r)].tensors = ranks[r];
    all.push_back(r);
  }
  CudaDevice cd(d, sp, nullptr, nullptr, -1);
  s = run(d, sp, all, cd, reinterpret_cast<CUstream>(stream), sp->virtualComm);
  if (current)
    d.cuCtxSetCurrent(current);
  return s;
})}

s2rt_status s2rt_sp_forward_nccl(s2rt_sp *sp, int64_t rank, void *ncclComm,
                                 const s2rt_sp_tensors *tensors, int device,
                                 s2rt_stream stream){S2RT_SP_GUARD({
  if (!sp || !ncclComm || !tensors)
    return fail(S2RT_ERROR_INVALID_ARGUMENT, "null argument");
  if (rank < 0 || rank >= int64_t(sp->ranks.size()))
    return fail(S2RT_ERROR_INVALID_ARGUMENT,
                "rank " + std::to_string(rank) + " out of range");
  s2rt_status s = checkTensors(sp, rank, *tensors);
  if (s != S2RT_SUCCESS)
    return s;
  const Driver *dp;
  s = loadDriver(dp);
  if (s != S2RT_SUCCESS)
    return s;
  const Nccl *n;
  s = loadNccl(n);
  if (s != S2RT_SUCCESS)
    return s;
  const Driver &d = *dp;
  CUcontext current;
  int dev;
  s = resolveDevice(d, device, dev, current);
  if (s != S2RT_SUCCESS)
    return s;
  s = prepareRank(d, sp, rank, dev, /*ownComm=*/true);
  if (s != S2RT_SUCCESS)
    return s;
  sp->ranks[size_t(rank)].tensors = *tensors;
  CudaDevice cd(d, sp, n, static_cast<ncclComm_t>(ncclComm), rank);
  s = run(d, sp, {rank}, cd, reinterpret_cast<CUstream>(stream), nullptr);
  if (current)
    d.cuCtxSetCurrent(current);
  return s;
})}

s2rt_status s2rt_sp_nccl_init_all(int n, const int *devices, void **comms) {
  if (n < 1 || !devices || !comms)
    return fail(S2RT_ERROR_INVALID_ARGUMENT, "null argument or n < 1");
  const Nccl *nc;
  s2rt_status s = loadNccl(nc);
  if (s != S2RT_SUCCESS)
    return s;
  std::vector<ncclComm_t> cs(size_t(n), nullptr);
  ncclResult_t r = nc->ncclCommInitAll(cs.data(), n, devices);
  if (r != 0)
    return fail(S2RT_ERROR_CUDA, ncclMessage(*nc, "ncclCommInitAll", r));
  for (int i = 0; i < n; ++i)
    comms[i] = cs[size_t(i)];
  return ok();
}

void s2rt_sp_nccl_destroy(void *comm) {
  const Nccl *nc;
  if (comm && loadNccl(nc) == S2RT_SUCCESS)
    nc->ncclCommDestroy(static_cast<ncclComm_t>(comm));
}

} // extern "C"
