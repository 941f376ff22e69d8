//===- SpExec.h - Running a sequence-parallel plan ------------------------===//
//
// Turns a plan of s2/SeqParallel.h into a program: per rank and step, the
// copies that pack and unpack messages, the attention launches (a piece is
// one launch: its owner's query rows against the key window of one shard),
// the log-sum-exp merges of partial results, and per phase the point-to-point
// messages. The program is plain data (tested on a CPU); an SpDevice runs it:
// the CUDA device in s2/SpCuda.h (single-GPU virtual ranks or NCCL), or the
// host device of the unit tests.
//
// Layout of each rank's shard (all contiguous, row-major):
//   q, o: (batch, L_r, heads, head_dim)   k, v: (batch, L_r, kv_heads, D)
//   lse:  float32 (batch, heads, L_r)
// with L_r the rank's shard length (SpPlan::shardBegin).
//
// Phases and overlap. Iteration k of a rank: wait for phase k's messages;
// unpack the key/values received for step k and merge the partial outputs
// received; pack the sends of phase k+1 and mark them ready; compute step k.
// Phase k+1's messages (keys, values and queries for step k+1, outputs of
// step k-1) travel while step k computes. Phase p's receive buffers are
// reused by phase p+2 only, which starts after step p has been computed.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_RUNTIME_INCLUDE_S2_SPEXEC_H
#define S2C_RUNTIME_INCLUDE_S2_SPEXEC_H

#include "s2/SeqParallel.h"

#include <cstdint>
#include <string>
#include <vector>

namespace s2 {

/// A rank's memory: buffer `id` at byte `offset` (may be negative for key
/// and value windows addressed by absolute position; see docs/bundle.md).
/// Ids below kSpFirstScratch are the caller's shard tensors.
struct SpRef {
  int32_t id = -1;
  int64_t offset = 0;
};

enum SpBufferId : int32_t {
  kSpQ = 0,
  kSpK = 1,
  kSpV = 2,
  kSpO = 3,
  kSpLse = 4,
  kSpFirstScratch = 5,
};

/// `height` rows of `width` bytes, rows `srcPitch` / `dstPitch` bytes apart.
struct SpCopy {
  SpRef dst, src;
  int64_t dstPitch = 0, srcPitch = 0, width = 0, height = 1;
};

/// One forward launch (docs/bundle.md, ABI 2): strides in elements.
struct SpAttention {
  SpRef q, k, v, o, lse;
  int64_t qStride[3] = {}, kStride[3] = {}, vStride[3] = {}, oStride[3] = {};
  int64_t lseStride[2] = {};
  int64_t seqQ = 0, seqK = 0, queryPos = 0, keyBegin = 0, keyEnd = 0;
  int64_t batch = 1, heads = 1;
};

/// Merge (in, inLse) into (o, lse), `rows` rows of every head and batch.
struct SpMerge {
  SpRef o, lse, in, inLse;
  int64_t oStride[3] = {}, lseStride[2] = {}, inStride[3] = {};
  int64_t inLseStride[2] = {};
  int64_t rows = 0, batch = 1, heads = 1;
};

/// Sets `bytes` bytes at o to zero and `count` floats at lse to -inf (the
/// identity of the merge).
struct SpFill {
  SpRef o, lse;
  int64_t bytes = 0, count = 0;
};

struct SpCompute {
  enum Kind : uint8_t { Attention, Merge } kind = Attention;
  SpAttention attention;
  SpMerge merge;
};

/// One point-to-point message of a phase.
struct SpMessage {
  int64_t src = 0, dst = 0;
  SpRef send;    // on src
  SpRef receive; // on dst
  int64_t bytes = 0;
  SpTransferKind kind = SpTransferKind::KeyValue;
};

/// What rank r does in iteration k (see the file comment).
struct SpIteration {
  std::vector<SpCopy> unpack;
  std::vector<SpMerge> mergeReceived;
  std::vector<SpCopy> pack;
  std::vector<SpCompute> compute;
};

struct SpRankProgram {
  /// Bytes of each scratch buffer (id kSpFirstScratch + i).
  std::vector<int64_t> scratchBytes;
  /// Run before everything else, in order: the fills, then the packing of
  /// phase 0's sends.
  std::vector<SpFill> init;
  std::vector<SpCopy> prologuePack;
  /// One per phase (iteration k waits for phase k).
  std::vector<SpIteration> iterations;
};

/// Shapes of the tensors a program moves.
struct SpShape {
  int64_t batch = 1;
  int64_t headDim = 128;
  int64_t elementBytes = 2;
};

struct SpProgram {
  SpPlan plan;
  SpShape shape;
  int64_t phases = 0;
  std::vector<SpRankProgram> ranks;
  /// messages[p]: phase p's messages, in the order both sides post them.
  std::vector<std::vector<SpMessage>> messages;
  /// Shard lengths L_r.
  std::vector<int64_t> shardLen;
  /// Scratch bytes per rank, summed (for reports).
  std::vector<int64_t> scratchTotal;
};

/// Builds the program of `plan`. `wholeShards`: send every piece's whole key
/// shard instead of the blocks it visits (the dense ring's traffic, for
/// comparisons). Returns false with a message on unsupported input.
bool buildSpProgram(const SpPlan &plan, const SpShape &shape, bool wholeShards,
                    SpProgram &out, std::string &error);

/// Where a program runs. Every call of one rank is ordered after the
/// previous calls of that rank (a stream); waitPhase orders a rank after
/// phase p's messages to and from it; exchange runs phase p after every
/// involved local rank's markPacked(p).
class SpDevice {
public:
  virtual ~SpDevice();
  /// Base address of buffer `id` of `rank` (caller tensors or scratch).
  virtual char *buffer(int64_t rank, int32_t id) = 0;
  virtual bool fill(int64_t rank, void *o, int64_t bytes, float *lse,
                    int64_t count) = 0;
  virtual bool copy(int64_t rank, char *dst, int64_t dstPitch, const char *src,
                    int64_t srcPitch, int64_t width, int64_t height) = 0;
  /// A copy with resolved addresses.
  struct Copy {
    char *dst;
    const char *src;
    int64_t dstPitch, srcPitch, width, height;
  };
  /// The copies of one pack or unpack list, in order (they never overlap).
  /// The default calls copy() for each; a device may do them in one launch.
  virtual bool copyBatch(int64_t rank, const std::vector<Copy> &copies);
  /// q..lse are resolved addresses; the rest as in `a`.
  virtual bool attention(int64_t rank, const SpAttention &a, const char *q,
                         const char *k, const char *v, char *o, float *lse) = 0;
  virtual bool merge(int64_t rank, const SpMerge &m, char *o, float *lse,
                     const char *in, const float *inLse) = 0;
  virtual bool markPacked(int64_t rank, int64_t phase) = 0;
  virtual bool waitPhase(int64_t rank, int64_t phase) = 0;
  /// The messages of phase p with a local sender or receiver; addresses
  /// resolved (send on src, receive on dst).
  struct Transfer {
    const SpMessage *message;
    const char *send;
    char *receive;
  };
  virtual bool exchange(int64_t phase, const std::vector<Transfer> &t) = 0;
  std::string error;
};

/// Runs `program` for the ranks in `localRanks` (all ranks for virtual
/// ranks on one device, the process's own rank with NCCL) on `device`.
/// Enqueues everything; the device decides when it completes.
bool runSpProgram(const SpProgram &program,
                  const std::vector<int64_t> &localRanks, SpDevice &device,
                  std::string &error);

} // namespace s2

#endif // S2C_RUNTIME_INCLUDE_S2_SPEXEC_H
