//===- SpExec.cpp - Programs of sequence-parallel plans -------------------===//
//
// buildSpProgram lowers an SpPlan to per-rank copies, launches, merges and
// per-phase messages (s2/SpExec.h describes the phases); runSpProgram walks a
// program on an SpDevice. Both are plain C++: no CUDA, no MLIR.
//
//===----------------------------------------------------------------------===//

#include "s2/SpExec.h"

#include <algorithm>
#include <array>
#include <map>
#include <tuple>

namespace s2 {

SpDevice::~SpDevice() = default;

bool SpDevice::copyBatch(int64_t rank, const std::vector<Copy> &copies) {
  for (const Copy &c : copies)
    if (!copy(rank, c.dst, c.dstPitch, c.src, c.srcPitch, c.width, c.height))
      return false;
  return true;
}

namespace {

/// A destination of attention outputs whose rows may be written directly
/// while no earlier launch or merge has touched them.
struct Dest {
  SpRef o, lse;
  int64_t oStride[3] = {}, lseStride[2] = {};
  /// Absolute position of row 0 and the tile of that row.
  int64_t rowPos = 0;
  int64_t tile0 = 0;
  std::vector<bool> written;
};

struct Builder {
  const SpPlan &plan;
  SpShape shape;
  bool wholeShards;
  SpProgram &out;
  int64_t P, B, H, Hkv, D, eb, bm, bn, S;

  Builder(const SpPlan &plan, const SpShape &shape, bool wholeShards,
          SpProgram &out)
      : plan(plan), shape(shape), wholeShards(wholeShards), out(out) {
    P = plan.config.ranks;
    B = shape.batch;
    H = plan.heads;
    Hkv = plan.kvHeads;
    D = shape.headDim;
    eb = shape.elementBytes;
    bm = plan.config.tiles.blockM;
    bn = plan.config.tiles.blockN;
    S = plan.config.seqLen;
  }

  int64_t sb(int64_t r) const { return plan.shardBegin[size_t(r)]; }
  int64_t se(int64_t r) const { return plan.shardBegin[size_t(r + 1)]; }
  int64_t len(int64_t r) const { return se(r) - sb(r); }

  int32_t newBuffer(int64_t rank, int64_t bytes) {
    auto &v = out.ranks[size_t(rank)].scratchBytes;
    v.push_back(std::max<int64_t>(bytes, 16));
    return int32_t(kSpFirstScratch + int64_t(v.size()) - 1);
  }
  void growBuffer(int64_t rank, int32_t id, int64_t bytes) {
    int64_t &b =
        out.ranks[size_t(rank)].scratchBytes[size_t(id - kSpFirstScratch)];
    b = std::max(b, bytes);
  }

  /// Token rows [a, e) of one KV head g of shard j.
  struct Chunk {
    int64_t g, a, e;
  };
  std::vector<Chunk> chunksOf(const SpPiece &pc) const {
    std::vector<Chunk> cs;
    int64_t j = pc.kvRank;
    if (wholeShards) {
      for (int64_t g = 0; g < Hkv; ++g)
        if (len(j) > 0)
          cs.push_back({g, sb(j), se(j)});
      return cs;
    }
    for (const SpBlockRange &r : pc.kvBlocks) {
      int64_t a = std::max(r.tileBegin * bn, sb(j));
      int64_t e = std::min(r.tileEnd * bn, se(j));
      if (a < e)
        cs.push_back({r.kvHead, a, e});
    }
    return cs;
  }

  bool build(std::string &error) {
    if (B < 1 || D < 8 || D % 8 != 0 || eb != 2) {
      error = "unsupported shape: batch " + std::to_string(B) + ", head dim " +
              std::to_string(D) + ", element bytes " + std::to_string(eb) +
              " (expected batch >= 1, head dim a "
              "multiple of 8, 2-byte elements)";
      return false;
    }
    if (P < 1 || int64_t(plan.shardBegin.size()) != P + 1) {
      error = "malformed plan";
      return false;
    }
    out.plan = plan;
    out.shape = shape;
    out.ranks.assign(size_t(P), SpRankProgram());
    out.shardLen.clear();
    int64_t maxLen = 0;
    for (int64_t r = 0; r < P; ++r) {
      out.shardLen.push_back(len(r));
      maxLen = std::max(maxLen, len(r));
    }
    // Phases: steps (keys, values and queries of step s arrive in phase s)
    // plus two (outputs of step s leave in phase s + 2).
    out.phases = plan.steps + 2;
    for (SpRankProgram &rp : out.ranks)
      rp.iterations.assign(size_t(out.phases), SpIteration());
    out.messages.assign(size_t(out.phases), {});

    // Every rank's own output starts as the merge identity.
    for (int64_t r = 0; r < P; ++r)
      out.ranks[size_t(r)].init.push_back(
          {{kSpO, 0}, {kSpLse, 0}, B * len(r) * H * D * eb, B * H * len(r)});

    // Staging per rank and parity (ids made now, sizes grown below).
    std::vector<std::array<int32_t, 2>> stageSend(static_cast<size_t>(P)),
        stageRecv(static_cast<size_t>(P));
    std::vector<std::array<std::vector<int64_t>, 2>> sendUse(
        static_cast<size_t>(P)),
        recvUse(static_cast<size_t>(P));
    for (int64_t r = 0; r < P; ++r)
      for (int par = 0; par < 2; ++par) {
        stageSend[size_t(r)][par] = newBuffer(r, 16);
        stageRecv[size_t(r)][par] = newBuffer(r, 16);
        sendUse[size_t(r)][par].assign(size_t(out.phases), 0);
        recvUse[size_t(r)][par].assign(size_t(out.phases), 0);
      }
    auto take = [&](std::vector<int64_t> &use, int64_t phase, int64_t bytes) {
      int64_t off = use[size_t(phase)];
      use[size_t(phase)] += (bytes + 15) / 16 * 16;
      return off;
    };
    // K/V shard buffers per rank and parity: (B, Hkv, maxLen, D) for K then
    // the same for V, one per piece of a step with remote keys.
    int64_t kvHalf = B * Hkv * maxLen * D * eb;
    std::vector<std::array<std::vector<int32_t>, 2>> kvPool(
        static_cast<size_t>(P));
    std::map<std::pair<int64_t, int64_t>, int64_t> kvPoolUsed; // (rank, phase)

    // Queries and outputs of (owner, computeRank, tile range).
    struct Moved {
      int64_t owner, rank, t0, t1, qPhase, outPhase;
      int32_t qBuf = -1, partBuf = -1, recvBuf = -1;
      int64_t rows = 0, oBytes = 0;
      size_t dest = 0;
    };
    std::vector<Moved> moved;
    for (const SpTransfer &tr : plan.transfers)
      if (tr.kind == SpTransferKind::Query) {
        Moved m{tr.src, tr.dst, tr.qTileBegin, tr.qTileEnd, tr.step, -1};
        moved.push_back(m);
      }
    for (const SpTransfer &tr : plan.transfers)
      if (tr.kind == SpTransferKind::Output)
        for (Moved &m : moved)
          if (m.owner == tr.dst && m.rank == tr.src && m.t0 == tr.qTileBegin &&
              m.t1 == tr.qTileEnd)
            m.outPhase = tr.step + 2;

    std::vector<Dest> dests;
    // Dest 0..P-1: the ranks' own outputs.
    for (int64_t r = 0; r < P; ++r) {
      Dest d;
      d.o = {kSpO, 0};
      d.lse = {kSpLse, 0};
      d.oStride[0] = len(r) * H * D;
      d.oStride[1] = H * D;
      d.oStride[2] = D;
      d.lseStride[0] = H * len(r);
      d.lseStride[1] = len(r);
      d.rowPos = sb(r);
      d.tile0 = sb(r) / bm;
      d.written.assign(size_t((len(r) + bm - 1) / bm), false);
      dests.push_back(d);
    }
    for (Moved &m : moved) {
      if (m.outPhase < 0) {
        errorText = "plan has a query transfer without its output";
        break;
      }
      int64_t qa = m.t0 * bm, qb = std::min(m.t1 * bm, se(m.owner));
      m.rows = qb - qa;
      m.oBytes = B * m.rows * H * D * eb;
      int64_t lseBytes = B * H * m.rows * 4;
      m.qBuf = newBuffer(m.rank, m.oBytes);
      m.partBuf = newBuffer(m.rank, m.oBytes + lseBytes);
      m.recvBuf = newBuffer(m.owner, m.oBytes + lseBytes);
      out.ranks[size_t(m.rank)].init.push_back(
          {{m.partBuf, 0}, {m.partBuf, m.oBytes}, m.oBytes, B * H * m.rows});
      // Queries: packed on the owner, received straight into qBuf.
      int64_t par = m.qPhase % 2;
      int64_t off = take(sendUse[size_t(m.owner)][par], m.qPhase, m.oBytes);
      SpCopy cp;
      cp.dst = {stageSend[size_t(m.owner)][par], off};
      cp.src = {kSpQ, (qa - sb(m.owner)) * H * D * eb};
      cp.dstPitch = m.rows * H * D * eb;
      cp.srcPitch = len(m.owner) * H * D * eb;
      cp.width = m.rows * H * D * eb;
      cp.height = B;
      packAt(m.owner, m.qPhase).push_back(cp);
      out.messages[size_t(m.qPhase)].push_back({m.owner,
                                                m.rank,
                                                cp.dst,
                                                {m.qBuf, 0},
                                                m.oBytes,
                                                SpTransferKind::Query});
      // Outputs: sent from partBuf, merged by the owner on arrival.
      out.messages[size_t(m.outPhase)].push_back({m.rank,
                                                  m.owner,
                                                  {m.partBuf, 0},
                                                  {m.recvBuf, 0},
                                                  m.oBytes + lseBytes,
                                                  SpTransferKind::Output});
      SpMerge mg;
      mg.o = {kSpO, (qa - sb(m.owner)) * H * D * eb};
      mg.lse = {kSpLse, (qa - sb(m.owner)) * 4};
      mg.oStride[0] = len(m.owner) * H * D;
      mg.oStride[1] = H * D;
      mg.oStride[2] = D;
      mg.lseStride[0] = H * len(m.owner);
      mg.lseStride[1] = len(m.owner);
      mg.in = {m.recvBuf, 0};
      mg.inLse = {m.recvBuf, m.oBytes};
      mg.inStride[0] = m.rows * H * D;
      mg.inStride[1] = H * D;
      mg.inStride[2] = D;
      mg.inLseStride[0] = H * m.rows;
      mg.inLseStride[1] = m.rows;
      mg.rows = m.rows;
      mg.batch = B;
      mg.heads = H;
      pendingMerges.push_back({m.owner, m.outPhase, mg, qa});
      Dest d;
      d.o = {m.partBuf, 0};
      d.lse = {m.partBuf, m.oBytes};
      d.oStride[0] = m.rows * H * D;
      d.oStride[1] = H * D;
      d.oStride[2] = D;
      d.lseStride[0] = H * m.rows;
      d.lseStride[1] = m.rows;
      d.rowPos = qa;
      d.tile0 = m.t0;
      d.written.assign(size_t(m.t1 - m.t0), false);
      m.dest = dests.size();
      dests.push_back(d);
    }
    if (!errorText.empty()) {
      error = errorText;
      return false;
    }

    // Scratch for launches whose rows were already written.
    std::vector<int64_t> maxRows(static_cast<size_t>(P), 0);
    for (const SpPiece &pc : plan.pieces)
      maxRows[size_t(pc.computeRank)] = std::max(
          maxRows[size_t(pc.computeRank)],
          std::min(pc.qTileEnd * bm, se(pc.owner)) - pc.qTileBegin * bm);
    std::vector<int32_t> scratch(static_cast<size_t>(P));
    std::vector<int64_t> scratchLse(static_cast<size_t>(P));
    for (int64_t r = 0; r < P; ++r) {
      scratchLse[size_t(r)] = B * maxRows[size_t(r)] * H * D * eb;
      scratch[size_t(r)] =
          newBuffer(r, scratchLse[size_t(r)] + B * H * maxRows[size_t(r)] * 4);
    }

    // Walk the iterations in program order: received merges first, then the
    // step's launches, so direct writes never overwrite merged rows.
    std::vector<size_t> order(plan.pieces.size());
    for (size_t x = 0; x < order.size(); ++x)
      order[x] = x;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return plan.pieces[a].step < plan.pieces[b].step;
    });
    size_t next = 0;
    for (int64_t k = 0; k < out.phases; ++k) {
      for (const PendingMerge &pm : pendingMerges)
        if (pm.phase == k) {
          out.ranks[size_t(pm.rank)]
              .iterations[size_t(k)]
              .mergeReceived.push_back(pm.merge);
          markWritten(dests[size_t(pm.rank)], pm.rowPos, pm.merge.rows);
        }
      for (; next < order.size() && plan.pieces[order[next]].step == k;
           ++next) {
        const SpPiece &pc = plan.pieces[order[next]];
        int64_t c = pc.computeRank, j = pc.kvRank, o = pc.owner;
        int64_t qa = pc.qTileBegin * bm, qb = std::min(pc.qTileEnd * bm, se(o));
        if (qa >= qb)
          continue;
        SpAttention at;
        at.seqQ = qb - qa;
        at.seqK = S;
        at.queryPos = qa;
        at.keyBegin = sb(j);
        at.keyEnd = se(j);
        at.batch = B;
        at.heads = H;
        // Queries.
        if (o == c) {
          at.q = {kSpQ, (qa - sb(o)) * H * D * eb};
          at.qStride[0] = len(o) * H * D;
        } else {
          const Moved *m = findMoved(moved, o, c, pc.qTileBegin, pc.qTileEnd);
          if (!m) {
            error = "plan has a moved piece without its query transfer";
            return false;
          }
          at.q = {m->qBuf, (qa - m->t0 * bm) * H * D * eb};
          at.qStride[0] = m->rows * H * D;
        }
        at.qStride[1] = H * D;
        at.qStride[2] = D;
        // Keys and values, addressed by absolute position.
        if (j == c) {
          at.k = {kSpK, -sb(c) * Hkv * D * eb};
          at.v = {kSpV, -sb(c) * Hkv * D * eb};
          for (int64_t *st : {at.kStride, at.vStride}) {
            st[0] = len(c) * Hkv * D;
            st[1] = Hkv * D;
            st[2] = D;
          }
        } else {
          int64_t par = k % 2;
          int64_t &used = kvPoolUsed[{c, k}];
          auto &pool = kvPool[size_t(c)][par];
          if (used == int64_t(pool.size()))
            pool.push_back(newBuffer(c, 2 * kvHalf));
          int32_t buf = pool[size_t(used++)];
          at.k = {buf, -sb(j) * D * eb};
          at.v = {buf, kvHalf - sb(j) * D * eb};
          for (int64_t *st : {at.kStride, at.vStride}) {
            st[0] = Hkv * len(j) * D;
            st[1] = D;
            st[2] = len(j) * D;
          }
          // The message: per batch and chunk, K rows then V rows.
          std::vector<Chunk> cs = chunksOf(pc);
          int64_t bytes = 0;
          for (const Chunk &ch : cs)
            bytes += 2 * B * (ch.e - ch.a) * D * eb;
          if (bytes == 0)
            continue; // nothing visited: the piece adds nothing
          int64_t sOff = take(sendUse[size_t(j)][par], k, bytes);
          int64_t rOff = take(recvUse[size_t(c)][par], k, bytes);
          int32_t sBuf = stageSend[size_t(j)][par];
          int32_t rBuf = stageRecv[size_t(c)][par];
          out.messages[size_t(k)].push_back({j,
                                             c,
                                             {sBuf, sOff},
                                             {rBuf, rOff},
                                             bytes,
                                             SpTransferKind::KeyValue});
          std::vector<SpCopy> &pk = packAt(j, k);
          std::vector<SpCopy> &up =
              out.ranks[size_t(c)].iterations[size_t(k)].unpack;
          int64_t off = 0;
          for (int64_t b = 0; b < B; ++b)
            for (const Chunk &ch : cs)
              for (int t = 0; t < 2; ++t) {
                int64_t rowsBytes = (ch.e - ch.a) * D * eb;
                SpCopy p;
                p.dst = {sBuf, sOff + off};
                p.src = {t == 0 ? kSpK : kSpV,
                         ((b * len(j) + (ch.a - sb(j))) * Hkv + ch.g) * D * eb};
                p.dstPitch = D * eb;
                p.srcPitch = Hkv * D * eb;
                p.width = D * eb;
                p.height = ch.e - ch.a;
                pk.push_back(p);
                SpCopy u;
                u.dst = {buf, t * kvHalf +
                                  ((b * Hkv + ch.g) * len(j) + (ch.a - sb(j))) *
                                      D * eb};
                u.src = {rBuf, rOff + off};
                u.dstPitch = u.srcPitch = u.width = rowsBytes;
                u.height = 1;
                up.push_back(u);
                off += rowsBytes;
              }
        }
        // Outputs: straight into the destination while its rows are fresh,
        // else into scratch and merged.
        Dest &d = o == c
                      ? dests[size_t(c)]
                      : dests[findMoved(moved, o, c, pc.qTileBegin, pc.qTileEnd)
                                  ->dest];
        int64_t r0 = qa - d.rowPos;
        bool fresh = true;
        for (int64_t t = pc.qTileBegin; t < pc.qTileEnd; ++t)
          if (d.written[size_t(t - d.tile0)])
            fresh = false;
        std::vector<SpCompute> &cmp =
            out.ranks[size_t(c)].iterations[size_t(k)].compute;
        if (fresh) {
          at.o = {d.o.id, d.o.offset + r0 * H * D * eb};
          at.lse = {d.lse.id, d.lse.offset + r0 * 4};
          std::copy(d.oStride, d.oStride + 3, at.oStride);
          std::copy(d.lseStride, d.lseStride + 2, at.lseStride);
          cmp.push_back({SpCompute::Attention, at, {}});
        } else {
          int64_t rows = qb - qa;
          at.o = {scratch[size_t(c)], 0};
          at.lse = {scratch[size_t(c)], scratchLse[size_t(c)]};
          at.oStride[0] = rows * H * D;
          at.oStride[1] = H * D;
          at.oStride[2] = D;
          at.lseStride[0] = H * rows;
          at.lseStride[1] = rows;
          cmp.push_back({SpCompute::Attention, at, {}});
          SpMerge mg;
          mg.o = {d.o.id, d.o.offset + r0 * H * D * eb};
          mg.lse = {d.lse.id, d.lse.offset + r0 * 4};
          std::copy(d.oStride, d.oStride + 3, mg.oStride);
          std::copy(d.lseStride, d.lseStride + 2, mg.lseStride);
          mg.in = at.o;
          mg.inLse = at.lse;
          std::copy(at.oStride, at.oStride + 3, mg.inStride);
          std::copy(at.lseStride, at.lseStride + 2, mg.inLseStride);
          mg.rows = rows;
          mg.batch = B;
          mg.heads = H;
          SpCompute m;
          m.kind = SpCompute::Merge;
          m.merge = mg;
          cmp.push_back(m);
        }
        markWritten(d, qa, qb - qa);
      }
    }
    if (next != order.size()) {
      error = "plan has a piece at step " +
              std::to_string(plan.pieces[order[next]].step) + " of " +
              std::to_string(plan.steps);
      return false;
    }
    // Staging sizes: the largest phase of each parity.
    for (int64_t r = 0; r < P; ++r)
      for (int par = 0; par < 2; ++par) {
        int64_t s = 0, rc = 0;
        for (int64_t p = 0; p < out.phases; ++p) {
          s = std::max(s, sendUse[size_t(r)][par][size_t(p)]);
          rc = std::max(rc, recvUse[size_t(r)][par][size_t(p)]);
        }
        growBuffer(r, stageSend[size_t(r)][par], s);
        growBuffer(r, stageRecv[size_t(r)][par], rc);
      }
    out.scratchTotal.clear();
    for (const SpRankProgram &rp : out.ranks) {
      int64_t t = 0;
      for (int64_t b : rp.scratchBytes)
        t += b;
      out.scratchTotal.push_back(t);
    }
    return true;
  }

  std::vector<SpCopy> &packAt(int64_t rank, int64_t phase) {
    SpRankProgram &rp = out.ranks[size_t(rank)];
    return phase == 0 ? rp.prologuePack : rp.iterations[size_t(phase - 1)].pack;
  }

  void markWritten(Dest &d, int64_t rowPos, int64_t rows) {
    int64_t t0 = rowPos / bm, t1 = (rowPos + rows + bm - 1) / bm;
    for (int64_t t = t0; t < t1; ++t)
      d.written[size_t(t - d.tile0)] = true;
  }

  template <typename M>
  static const M *findMoved(const std::vector<M> &moved, int64_t owner,
                            int64_t rank, int64_t t0, int64_t t1) {
    for (const M &m : moved)
      if (m.owner == owner && m.rank == rank && m.t0 <= t0 && t1 <= m.t1)
        return &m;
    return nullptr;
  }

  struct PendingMerge {
    int64_t rank, phase;
    SpMerge merge;
    int64_t rowPos;
  };
  std::vector<PendingMerge> pendingMerges;
  std::string errorText;
};

} // namespace

bool buildSpProgram(const SpPlan &plan, const SpShape &shape, bool wholeShards,
                    SpProgram &out, std::string &error) {
  out = SpProgram();
  Builder b(plan, shape, wholeShards, out);
  return b.build(error);
}

bool runSpProgram(const SpProgram &program,
                  const std::vector<int64_t> &localRanks, SpDevice &dev,
                  std::string &error) {
  int64_t P = int64_t(program.ranks.size());
  std::vector<bool> local(size_t(P), false);
  for (int64_t r : localRanks) {
    if (r < 0 || r >= P) {
      error = "local rank " + std::to_string(r) + " out of range 0.." +
              std::to_string(P - 1);
      return false;
    }
    local[size_t(r)] = true;
  }
  auto at = [&](int64_t rank, const SpRef &ref) {
    return dev.buffer(rank, ref.id) + ref.offset;
  };
  auto fail = [&]() {
    error = dev.error.empty() ? "device operation failed" : dev.error;
    return false;
  };
  std::vector<SpDevice::Copy> batch;
  auto copies = [&](int64_t r, const std::vector<SpCopy> &cs) {
    if (cs.empty())
      return true;
    batch.clear();
    for (const SpCopy &c : cs)
      batch.push_back({at(r, c.dst), at(r, c.src), c.dstPitch, c.srcPitch,
                       c.width, c.height});
    return dev.copyBatch(r, batch);
  };
  auto merge = [&](int64_t r, const SpMerge &m) {
    return dev.merge(r, m, at(r, m.o), reinterpret_cast<float *>(at(r, m.lse)),
                     at(r, m.in), reinterpret_cast<float *>(at(r, m.inLse)));
  };
  auto exchange = [&](int64_t phase) {
    std::vector<SpDevice::Transfer> ts;
    for (const SpMessage &m : program.messages[size_t(phase)])
      if (local[size_t(m.src)] || local[size_t(m.dst)])
        ts.push_back({&m, local[size_t(m.src)] ? at(m.src, m.send) : nullptr,
                      local[size_t(m.dst)] ? at(m.dst, m.receive) : nullptr});
    return dev.exchange(phase, ts);
  };

  for (int64_t r : localRanks) {
    const SpRankProgram &rp = program.ranks[size_t(r)];
    for (const SpFill &f : rp.init)
      if (!dev.fill(r, at(r, f.o), f.bytes,
                    reinterpret_cast<float *>(at(r, f.lse)), f.count))
        return fail();
    if (!copies(r, rp.prologuePack) || !dev.markPacked(r, 0))
      return fail();
  }
  if (program.phases > 0 && !exchange(0))
    return fail();
  for (int64_t k = 0; k < program.phases; ++k) {
    for (int64_t r : localRanks) {
      const SpIteration &it = program.ranks[size_t(r)].iterations[size_t(k)];
      if (!dev.waitPhase(r, k) || !copies(r, it.unpack))
        return fail();
      for (const SpMerge &m : it.mergeReceived)
        if (!merge(r, m))
          return fail();
      if (k + 1 < program.phases &&
          (!copies(r, it.pack) || !dev.markPacked(r, k + 1)))
        return fail();
      for (const SpCompute &c : it.compute) {
        bool ok;
        if (c.kind == SpCompute::Attention) {
          const SpAttention &a = c.attention;
          ok = dev.attention(r, a, at(r, a.q), at(r, a.k), at(r, a.v),
                             at(r, a.o),
                             reinterpret_cast<float *>(at(r, a.lse)));
        } else {
          ok = merge(r, c.merge);
        }
        if (!ok)
          return fail();
      }
    }
    if (k + 1 < program.phases && !exchange(k + 1))
      return fail();
  }
  return true;
}

} // namespace s2
