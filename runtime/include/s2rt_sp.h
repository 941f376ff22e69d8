/*===- s2rt_sp.h - Sequence-parallel attention over several ranks ---------===*
 *
 * One attention forward over a sequence split across P ranks, each owning a
 * contiguous shard of q, k and v (docs/sequence-parallel.md). A plan
 * (s2/SeqParallel.h) decides which rank computes which query rows against
 * which keys, balanced by the pattern's real work; only the key/value blocks
 * a rank's queries visit travel; partial results are merged by log-sum-exp.
 *
 * Transports:
 *  - virtual ranks: all P ranks on one device in one process, messages are
 *    device-to-device copies on a stream of their own (for testing a plan on
 *    one GPU: NCCL refuses two ranks on one device);
 *  - NCCL: one rank per device, ncclSend/ncclRecv on a communication stream
 *    of each rank. libnccl.so.2 is opened with dlopen on first use (override
 *    the path with S2RT_LIBNCCL).
 * Transfers for step k+1 run while step k computes (separate streams).
 *
 * Tensors of rank r, contiguous, with L_r = s2rt_sp_shard(r) tokens:
 *   q, out: (batch, L_r, heads, head_dim)    k, v: (batch, L_r, kv_heads,
 *   head_dim)    lse: float32 (batch, heads, L_r), natural log.
 *
 *===----------------------------------------------------------------------===*/

#ifndef S2C_RUNTIME_INCLUDE_S2RT_SP_H
#define S2C_RUNTIME_INCLUDE_S2RT_SP_H

#include "s2rt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct s2rt_sp s2rt_sp;

typedef enum s2rt_sp_balance {
  /** Every rank computes its own queries (the ring's assignment). */
  S2RT_SP_BALANCE_NONE = 0,
  /** DistFlashAttn: pieces move to the rank owning their keys. */
  S2RT_SP_BALANCE_KV_OWNER = 1,
  /** Query-row suffixes move with all their pieces (a gather). */
  S2RT_SP_BALANCE_QUERY_ROWS = 2,
  /** The planner picks (s2::SpBalance::Auto). */
  S2RT_SP_BALANCE_AUTO = 3,
} s2rt_sp_balance;

typedef struct s2rt_sp_config {
  /** sizeof(s2rt_sp_config), set by s2rt_sp_config_init. */
  size_t struct_size;
  int64_t seqlen;
  int64_t ranks;
  int64_t batch;
  int64_t head_dim;
  s2rt_dtype dtype;
  /** Softmax scale; 0 means 1/sqrt(head_dim). */
  float softmax_scale;
  s2rt_sp_balance balance;
  /** 1: send every piece's whole key shard (the dense ring's traffic, for
   * comparisons) instead of the blocks its queries visit. */
  int whole_shards;
} s2rt_sp_config;

S2RT_API void s2rt_sp_config_init(s2rt_sp_config *config);

/** Plans the forward of `bundle`'s pattern over `config->ranks` ranks. The
 * bundle must outlive the plan. */
S2RT_API s2rt_status s2rt_sp_create(s2rt_bundle *bundle,
                                    const s2rt_sp_config *config,
                                    s2rt_sp **out);
S2RT_API void s2rt_sp_destroy(s2rt_sp *sp);

/** Token shard of `rank`: [*begin, *begin + *length). */
S2RT_API s2rt_status s2rt_sp_shard(const s2rt_sp *sp, int64_t rank,
                                   int64_t *begin, int64_t *length);

typedef struct s2rt_sp_stats {
  int64_t steps;
  int64_t phases;
  /** Messages and bytes sent by all ranks in one forward. */
  int64_t messages;
  int64_t bytes;
  /** Launches (attention and merge) of all ranks. */
  int64_t launches;
  /** Largest scratch memory of any rank, in bytes. */
  int64_t max_scratch_bytes;
  /** Work (tile visits) of the busiest rank and the mean. */
  int64_t max_work;
  double mean_work;
} s2rt_sp_stats;

S2RT_API s2rt_status s2rt_sp_get_stats(const s2rt_sp *sp, s2rt_sp_stats *out);

typedef struct s2rt_sp_tensors {
  const void *q;
  const void *k;
  const void *v;
  void *out;
  float *lse;
} s2rt_sp_tensors;

/** Runs every rank on `device` (ranks[r] holds rank r's tensors, all on that
 * device). Ordered after the work on `stream` and before later work on it;
 * returns without waiting. Allocates its scratch on first use. */
S2RT_API s2rt_status s2rt_sp_forward_virtual(s2rt_sp *sp,
                                             const s2rt_sp_tensors *ranks,
                                             int device, s2rt_stream stream);

/** Runs rank `rank` of an NCCL communicator `nccl_comm` (an ncclComm_t of
 * `sp`'s rank count, whose rank `rank` lives on `device`). Every rank must
 * call it with the same plan. Ordered on `stream` as above. */
S2RT_API s2rt_status s2rt_sp_forward_nccl(s2rt_sp *sp, int64_t rank,
                                          void *nccl_comm,
                                          const s2rt_sp_tensors *tensors,
                                          int device, s2rt_stream stream);

/** Convenience for one process driving several devices: ncclCommInitAll
 * over devices[0..n) into comms[0..n) (ncclComm_t each). */
S2RT_API s2rt_status s2rt_sp_nccl_init_all(int n, const int *devices,
                                           void **comms);
S2RT_API void s2rt_sp_nccl_destroy(void *comm);

#ifdef __cplusplus
}
#endif

#endif /* S2C_RUNTIME_INCLUDE_S2RT_SP_H */
