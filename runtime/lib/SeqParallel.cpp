//===- SeqParallel.cpp - Pattern-aware sequence-parallel plans ------------===//
//
// The planner and simulator of s2/SeqParallel.h. Work is counted per query
// tile and key shard from the schedule's span bounds (closed form for ranges
// and progressions, row lengths for tables); balancing moves whole pieces or
// query-tile suffixes of pieces from the busiest rank to idle ranks; the key
// tiles a piece needs are the union of its query tiles' spans, per KV head.
//
//===----------------------------------------------------------------------===//

#include "s2/SeqParallel.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

namespace s2 {

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
int64_t posMod(int64_t a, int64_t b) { return a - floorDiv(a, b) * b; }

/// Number of k in [a, b) with (k - res) mod step < run.
int64_t progCount(int64_t a, int64_t b, int64_t res, int64_t step,
                  int64_t run) {
  if (a >= b)
    return 0;
  auto f = [&](int64_t y) {
    return floorDiv(y, step) * run + std::min(run, posMod(y, step));
  };
  return f(b - res) - f(a - res);
}

/// [lo, hi) of a range or progression span at query tile t.
void spanBounds(const Span &sp, int64_t t, int64_t nk, int64_t &lo,
                int64_t &hi) {
  lo = 0;
  hi = nk;
  for (const AffineBound &e : sp.lo)
    lo = std::max(lo, e.eval(t));
  for (const AffineBound &e : sp.hi)
    hi = std::min(hi, e.eval(t));
}

const Phase *groupPhase(const HeadGroup &g, int64_t t, const Phase *hint) {
  if (hint && t >= hint->tBegin && (hint->tEnd < 0 || t < hint->tEnd))
    return hint;
  for (const Phase &ph : g.phases)
    if (t >= ph.tBegin && (ph.tEnd < 0 || t < ph.tEnd))
      return &ph;
  return nullptr;
}

struct Planner {
  const Pattern &p;
  /// The plan being balanced and finished (balancing variants are planned
  /// on copies).
  SpPlan *planp;
  Schedule sched;
  int64_t P = 0, nq = 0, nk = 0;
  /// Key-tile boundaries of the shards (P + 1 entries).
  std::vector<int64_t> kb;
  /// work[t * P + j]: visits of query tile t into shard j's key tiles.
  std::vector<int64_t> work;
  /// Progression span -> per shard, visits of a whole shard summed over
  /// the group's heads.
  std::unordered_map<const Span *, std::vector<int64_t>> fullShard;

  Planner(const Pattern &p, SpPlan &plan) : p(p), planp(&plan) {}

  int64_t shardOfKeyTile(int64_t k) const {
    return int64_t(std::upper_bound(kb.begin(), kb.end(), k) - kb.begin()) - 1;
  }

  const std::vector<int64_t> &fullCounts(const HeadGroup &g, const Span &sp) {
    auto it = fullShard.find(&sp);
    if (it != fullShard.end())
      return it->second;
    std::vector<int64_t> c(size_t(P), 0);
    for (int64_t j = 0; j < P; ++j)
      for (int64_t h : g.heads) {
        int64_t res =
            h < int64_t(sp.residue.size()) ? sp.residue[size_t(h)] : 0;
        c[size_t(j)] +=
            progCount(kb[size_t(j)], kb[size_t(j + 1)], res, sp.step, sp.run);
      }
    return fullShard.emplace(&sp, std::move(c)).first->second;
  }

  void countWork() {
    work.assign(size_t(nq * P), 0);
    for (const HeadGroup &g : sched.groups) {
      int64_t gh = int64_t(g.heads.size());
      const Phase *ph = nullptr;
      for (int64_t t = 0; t < nq; ++t) {
        ph = groupPhase(g, t, ph);
        if (!ph)
          continue;
        int64_t *row = &work[size_t(t * P)];
        for (const Span &sp : ph->spans) {
          if (sp.kind == SpanKind::Table) {
            if (sp.table < 0 || size_t(sp.table) >= sched.tables.size())
              continue;
            const TileTable &tt = sched.tables[size_t(sp.table)];
            if (t >= tt.rows())
              continue;
            for (int64_t x = tt.rowPtr[size_t(t)]; x < tt.rowPtr[size_t(t + 1)];
                 ++x)
              if (tt.cols[size_t(x)] < nk)
                row[shardOfKeyTile(tt.cols[size_t(x)])] += gh;
            continue;
          }
          int64_t lo, hi;
          spanBounds(sp, t, nk, lo, hi);
          if (lo >= hi)
            continue;
          for (int64_t j = shardOfKeyTile(lo); j < P && kb[size_t(j)] < hi;
               ++j) {
            int64_t a = std::max(lo, kb[size_t(j)]);
            int64_t b = std::min(hi, kb[size_t(j + 1)]);
            if (a >= b)
              continue;
            if (sp.kind == SpanKind::Range) {
              row[j] += (b - a) * gh;
            } else if (a == kb[size_t(j)] && b == kb[size_t(j + 1)]) {
              row[j] += fullCounts(g, sp)[size_t(j)];
            } else {
              for (int64_t h : g.heads) {
                int64_t res =
                    h < int64_t(sp.residue.size()) ? sp.residue[size_t(h)] : 0;
                row[j] += progCount(a, b, res, sp.step, sp.run);
              }
            }
          }
        }
      }
    }
  }

  int64_t pieceWork(const SpPiece &pc) const {
    int64_t w = 0;
    for (int64_t t = pc.qTileBegin; t < pc.qTileEnd; ++t)
      w += work[size_t(t * P + pc.kvRank)];
    return w;
  }

  void balanceKvOwner() {
    SpPlan &plan = *planp;
    std::vector<int64_t> load(size_t(P), 0);
    for (const SpPiece &pc : plan.pieces)
      load[size_t(pc.computeRank)] += pc.work;
    int64_t total = 0;
    for (int64_t l : load)
      total += l;
    if (total == 0)
      return;
    // Pieces still computed by their owner, per owner (the movable ones).
    std::vector<std::vector<size_t>> own(static_cast<size_t>(P));
    for (size_t x = 0; x < plan.pieces.size(); ++x)
      own[size_t(plan.pieces[x].owner)].push_back(x);
    // A move must lower the busiest rank by at least 0.5% of the mean load
    // (smaller moves are not worth a step); cap the moves anyway.
    int64_t minGain = std::max<int64_t>(1, total / P / 200);
    int64_t maxMoves = 8 * P * P + 64;
    for (int64_t move = 0; move < maxMoves; ++move) {
      int64_t s =
          int64_t(std::max_element(load.begin(), load.end()) - load.begin());
      int64_t m =
          int64_t(std::min_element(load.begin(), load.end()) - load.begin());
      // Best move: (new max of the pair, prefers kv rank, piece, target,
      // split tile or -1 for the whole piece).
      int64_t bestMax = load[size_t(s)];
      bool bestToKv = false;
      size_t bestPiece = 0;
      int64_t bestTarget = -1, bestSplit = -1;
      for (size_t x : own[size_t(s)]) {
        const SpPiece &pc = plan.pieces[x];
        if (pc.computeRank != s || pc.owner != s || pc.kvRank == s ||
            pc.work == 0)
          continue;
        for (int64_t c : {pc.kvRank, m}) {
          if (c == s || load[size_t(c)] >= load[size_t(s)])
            continue;
          bool toKv = c == pc.kvRank;
          auto consider = [&](int64_t moved, int64_t split) {
            int64_t nm =
                std::max(load[size_t(s)] - moved, load[size_t(c)] + moved);
            // Moving to the kv rank saves the keys' transfer: prefer it
            // unless another target is better by more than 1%.
            bool better;
            if (toKv == bestToKv)
              better = nm < bestMax ||
                       (nm == bestMax && split < 0 && bestSplit >= 0);
            else if (toKv)
              better = nm < bestMax + bestMax / 100;
            else
              better = nm + nm / 100 < bestMax;
            if (better && nm <= load[size_t(s)] - minGain) {
              bestMax = nm;
              bestToKv = toKv;
              bestPiece = x;
              bestTarget = c;
              bestSplit = split;
            }
          };
          consider(pc.work, -1);
          int64_t gap = load[size_t(s)] - load[size_t(c)];
          if (pc.work > gap / 2 && pc.qTileEnd - pc.qTileBegin > 1) {
            // Move the query-tile suffix whose work is closest to gap / 2.
            int64_t want = gap / 2, acc = 0, split = -1, splitWork = 0;
            int64_t bestDiff = want;
            for (int64_t t = pc.qTileEnd - 1; t > pc.qTileBegin; --t) {
              acc += work[size_t(t * P + pc.kvRank)];
              int64_t d = acc > want ? acc - want : want - acc;
              if (acc > 0 && d < bestDiff) {
                bestDiff = d;
                split = t;
                splitWork = acc;
              }
              if (acc > want)
                break;
            }
            if (split > 0 && splitWork < pc.work)
              consider(splitWork, split);
          }
        }
      }
      if (bestTarget < 0)
        break;
      SpPiece &pc = plan.pieces[bestPiece];
      if (bestSplit < 0) {
        pc.computeRank = bestTarget;
        load[size_t(s)] -= pc.work;
        load[size_t(bestTarget)] += pc.work;
      } else {
        SpPiece moved = pc;
        moved.qTileBegin = bestSplit;
        moved.computeRank = bestTarget;
        pc.qTileEnd = bestSplit;
        pc.work = pieceWork(pc);
        moved.work = pieceWork(moved);
        load[size_t(s)] -= moved.work;
        load[size_t(bestTarget)] += moved.work;
        plan.pieces.push_back(moved);
      }
    }
  }

  /// Fills kvBlocks of `pc`: the key tiles of its kv shard that its query
  /// tiles visit, per KV head.
  void neededBlocks(SpPiece &pc, std::vector<uint64_t> &bits) {
    const SpPlan &plan = *planp;
    int64_t k0 = kb[size_t(pc.kvRank)], k1 = kb[size_t(pc.kvRank + 1)];
    int64_t n = k1 - k0, words = (n + 63) / 64;
    int64_t kvh = plan.kvHeads;
    bits.assign(size_t(words * kvh), 0);
    auto mark = [&](int64_t g, int64_t k) {
      int64_t x = k - k0;
      bits[size_t(g * words + x / 64)] |= uint64_t(1) << (x % 64);
    };
    auto markRange = [&](int64_t g, int64_t a, int64_t b) {
      for (int64_t k = a; k < b;) {
        int64_t x = k - k0;
        if (x % 64 == 0 && b - k >= 64) {
          bits[size_t(g * words + x / 64)] = ~uint64_t(0);
          k += 64;
        } else {
          mark(g, k);
          ++k;
        }
      }
    };
    std::vector<std::pair<int64_t, int64_t>> iv;
    for (const HeadGroup &g : sched.groups) {
      // Intervals per span of the group, merged over the piece's tiles.
      std::unordered_map<const Span *, std::vector<std::pair<int64_t, int64_t>>>
          spans;
      const Phase *ph = nullptr;
      for (int64_t t = pc.qTileBegin; t < pc.qTileEnd; ++t) {
        ph = groupPhase(g, t, ph);
        if (!ph)
          continue;
        for (const Span &sp : ph->spans) {
          if (sp.kind == SpanKind::Table) {
            if (sp.table < 0 || size_t(sp.table) >= sched.tables.size())
              continue;
            const TileTable &tt = sched.tables[size_t(sp.table)];
            if (t >= tt.rows())
              continue;
            for (int64_t x = tt.rowPtr[size_t(t)]; x < tt.rowPtr[size_t(t + 1)];
                 ++x) {
              int64_t k = tt.cols[size_t(x)];
              if (k >= k0 && k < k1 && k < nk)
                for (int64_t h : g.heads)
                  mark(p.kvHeadOf(h), k);
            }
            continue;
          }
          int64_t lo, hi;
          spanBounds(sp, t, nk, lo, hi);
          lo = std::max(lo, k0);
          hi = std::min(hi, k1);
          if (lo >= hi)
            continue;
          auto &v = spans[&sp];
          if (!v.empty() && lo <= v.back().second && hi >= v.back().first) {
            v.back().first = std::min(v.back().first, lo);
            v.back().second = std::max(v.back().second, hi);
          } else {
            v.emplace_back(lo, hi);
          }
        }
      }
      for (auto &[sp, v] : spans) {
        std::sort(v.begin(), v.end());
        iv.clear();
        for (auto &x : v)
          if (!iv.empty() && x.first <= iv.back().second)
            iv.back().second = std::max(iv.back().second, x.second);
          else
            iv.push_back(x);
        for (int64_t h : g.heads) {
          int64_t kvg = p.kvHeadOf(h);
          for (auto &[a, b] : iv) {
            if (sp->kind == SpanKind::Range) {
              markRange(kvg, a, b);
              continue;
            }
            int64_t res =
                h < int64_t(sp->residue.size()) ? sp->residue[size_t(h)] : 0;
            for (int64_t base = a - posMod(a - res, sp->step); base < b;
                 base += sp->step)
              markRange(kvg, std::max(a, base), std::min(b, base + sp->run));
          }
        }
      }
    }
    pc.kvBlocks.clear();
    int64_t tokens = 0, bn = plan.config.tiles.blockN, S = plan.config.seqLen;
    for (int64_t g = 0; g < kvh; ++g) {
      int64_t x = 0;
      while (x < n) {
        uint64_t w = bits[size_t(g * words + x / 64)] >> (x % 64);
        if (w == 0) {
          x = (x / 64 + 1) * 64;
          continue;
        }
        x += __builtin_ctzll(w);
        if (x >= n)
          break;
        int64_t y = x;
        while (y < n && (bits[size_t(g * words + y / 64)] >> (y % 64)) & 1)
          ++y;
        pc.kvBlocks.push_back({g, k0 + x, k0 + y});
        tokens += std::min((k0 + y) * bn, S) - (k0 + x) * bn;
        x = y;
      }
    }
    const SpConfig &cfg = plan.config;
    pc.kvBytes = pc.computeRank == pc.kvRank
                     ? 0
                     : tokens * cfg.headDim * cfg.elementBytes * 2;
  }

  /// QueryRows balancing: the busiest rank hands a suffix of the query
  /// tiles it still computes, with all their pieces, to the least busy rank.
  void balanceQueryRows() {
    SpPlan &plan = *planp;
    std::vector<int64_t> load(size_t(P), 0), rowWork(size_t(nq), 0);
    for (const SpPiece &pc : plan.pieces)
      load[size_t(pc.computeRank)] += pc.work;
    int64_t total = 0;
    for (int64_t l : load)
      total += l;
    if (total == 0)
      return;
    for (int64_t t = 0; t < nq; ++t)
      for (int64_t j = 0; j < P; ++j)
        rowWork[size_t(t)] += work[size_t(t * P + j)];
    // keep[r]: rank r still computes its query tiles [q0, keep[r]).
    std::vector<int64_t> keep(static_cast<size_t>(P));
    for (int64_t r = 0; r < P; ++r)
      keep[size_t(r)] = spQueryTiles(plan, r).second;
    int64_t minGain = std::max<int64_t>(1, total / P / 200);
    int64_t task = 0;
    for (int64_t move = 0; move < 4 * P + 16; ++move) {
      int64_t s =
          int64_t(std::max_element(load.begin(), load.end()) - load.begin());
      // The least busy rank that has not handed work away (a donor taking
      // a task would only add a step).
      int64_t c = -1;
      for (int64_t r = 0; r < P; ++r)
        if (keep[size_t(r)] == spQueryTiles(plan, r).second &&
            (c < 0 || load[size_t(r)] < load[size_t(c)]))
          c = r;
      if (c < 0 || c == s)
        break;
      int64_t q0 = spQueryTiles(plan, s).first;
      int64_t want = (load[size_t(s)] - load[size_t(c)]) / 2;
      // The suffix [a, keep) whose work is closest to want.
      int64_t acc = 0, a = -1, moved = 0, bestDiff = want;
      for (int64_t t = keep[size_t(s)] - 1; t > q0; --t) {
        acc += rowWork[size_t(t)];
        int64_t d = acc > want ? acc - want : want - acc;
        if (acc > 0 && d < bestDiff) {
          bestDiff = d;
          a = t;
          moved = acc;
        }
        if (acc > want)
          break;
      }
      if (a < 0 || std::max(load[size_t(s)] - moved, load[size_t(c)] + moved) >
                       load[size_t(s)] - minGain)
        break;
      size_t n = plan.pieces.size();
      for (size_t x = 0; x < n; ++x) {
        SpPiece &pc = plan.pieces[x];
        if (pc.owner != s || pc.computeRank != s || pc.qTileEnd <= a)
          continue;
        if (pc.qTileBegin >= a) {
          pc.computeRank = c;
          pc.task = task;
          continue;
        }
        SpPiece m = pc;
        m.qTileBegin = a;
        m.computeRank = c;
        m.task = task;
        pc.qTileEnd = a;
        pc.work = pieceWork(pc);
        m.work = pieceWork(m);
        plan.pieces.push_back(m);
      }
      // Drop pieces left without work by a split.
      plan.pieces.erase(
          std::remove_if(plan.pieces.begin(), plan.pieces.end(),
                         [](const SpPiece &x) { return x.work == 0; }),
          plan.pieces.end());
      keep[size_t(s)] = a;
      load[size_t(s)] -= moved;
      load[size_t(c)] += moved;
      ++task;
    }
  }

  /// Orders each rank's tasks into steps: its own pieces by distance to the
  /// key shard ((owner - kvRank) mod P, so the diagonal comes first and
  /// every step's own pieces form a permutation as in the ring), then the
  /// tasks it computes for others. Then lists the transfers.
  void finish() {
    SpPlan &plan = *planp;
    std::vector<uint64_t> bits;
    for (SpPiece &pc : plan.pieces)
      neededBlocks(pc, bits);
    auto key = [&](const SpPiece &x) {
      // Own diagonal first; then, for QueryRows, the (large) tasks for
      // others before the own off-diagonal pieces, so the helpers run them
      // side by side early; for KvOwner after them, so that the helpers'
      // pieces fill the steps the ring leaves idle (DistFlashAttn).
      bool helperEarly = plan.balanceUsed == SpBalance::QueryRows;
      int category = x.owner != x.computeRank ? (helperEarly ? 1 : 3)
                     : x.owner == x.kvRank    ? 0
                                              : 2;
      return std::make_tuple(x.computeRank, category, x.task,
                             posMod(x.owner - x.kvRank, P), x.owner,
                             x.qTileBegin);
    };
    std::sort(
        plan.pieces.begin(), plan.pieces.end(),
        [&](const SpPiece &a, const SpPiece &b) { return key(a) < key(b); });
    if (plan.config.packSteps) {
      // Pack each rank's own off-diagonal pieces (consecutive in distance
      // order) into tasks no larger than the largest diagonal piece (the
      // step-0 work of the busiest rank), so small sparse pieces do not
      // each cost a step while every step stays within one diagonal's work.
      int64_t cap = 0, nextTask = 0;
      for (const SpPiece &pc : plan.pieces) {
        if (pc.owner == pc.kvRank && pc.owner == pc.computeRank)
          cap = std::max(cap, pc.work);
        nextTask = std::max(nextTask, pc.task + 1);
      }
      int64_t sum = 0;
      for (size_t x = 0; x < plan.pieces.size(); ++x) {
        SpPiece &pc = plan.pieces[x];
        if (pc.owner != pc.computeRank || pc.kvRank == pc.owner)
          continue;
        bool sameRank = x > 0 &&
                        plan.pieces[x - 1].computeRank == pc.computeRank &&
                        plan.pieces[x - 1].task == nextTask - 1 &&
                        plan.pieces[x - 1].owner == pc.owner &&
                        plan.pieces[x - 1].kvRank != pc.owner;
        if (sameRank && sum + pc.work <= cap) {
          pc.task = nextTask - 1;
          sum += pc.work;
        } else {
          pc.task = nextTask++;
          sum = pc.work;
        }
      }
    }
    plan.steps = 0;
    for (size_t x = 0; x < plan.pieces.size(); ++x) {
      SpPiece &pc = plan.pieces[x];
      if (x == 0 || plan.pieces[x - 1].computeRank != pc.computeRank)
        pc.step = 0;
      else if (pc.task >= 0 && plan.pieces[x - 1].task == pc.task)
        pc.step = plan.pieces[x - 1].step;
      else
        pc.step = plan.pieces[x - 1].step + 1;
      plan.steps = std::max(plan.steps, pc.step + 1);
    }
    const SpConfig &cfg = plan.config;
    int64_t bm = cfg.tiles.blockM, S = cfg.seqLen;
    plan.transfers.clear();
    // Query tiles each rank computes for another owner, with the steps.
    struct Rows {
      int64_t t0, t1, first, last;
    };
    std::map<std::pair<int64_t, int64_t>, std::vector<Rows>> remote;
    for (size_t x = 0; x < plan.pieces.size(); ++x) {
      const SpPiece &pc = plan.pieces[x];
      if (pc.kvBytes > 0)
        plan.transfers.push_back({pc.step, pc.kvRank, pc.computeRank,
                                  SpTransferKind::KeyValue, int64_t(x),
                                  pc.qTileBegin, pc.qTileEnd, pc.kvBytes});
      if (pc.computeRank != pc.owner)
        remote[{pc.owner, pc.computeRank}].push_back(
            {pc.qTileBegin, pc.qTileEnd, pc.step, pc.step});
    }
    for (auto &[ranks, rows] : remote) {
      std::sort(rows.begin(), rows.end(),
                [](const Rows &a, const Rows &b) { return a.t0 < b.t0; });
      std::vector<Rows> merged;
      for (const Rows &r : rows)
        if (!merged.empty() && r.t0 < merged.back().t1) {
          Rows &m = merged.back();
          m.t1 = std::max(m.t1, r.t1);
          m.first = std::min(m.first, r.first);
          m.last = std::max(m.last, r.last);
        } else {
          merged.push_back(r);
        }
      for (const Rows &m : merged) {
        int64_t tokens = std::min(m.t1 * bm, S) - m.t0 * bm;
        plan.transfers.push_back(
            {m.first, ranks.first, ranks.second, SpTransferKind::Query, -1,
             m.t0, m.t1, tokens * plan.heads * cfg.headDim * cfg.elementBytes});
        plan.transfers.push_back(
            {m.last, ranks.second, ranks.first, SpTransferKind::Output, -1,
             m.t0, m.t1,
             tokens * plan.heads * (cfg.headDim * cfg.elementBytes + 4)});
      }
    }
    std::stable_sort(plan.transfers.begin(), plan.transfers.end(),
                     [](const SpTransfer &a, const SpTransfer &b) {
                       return a.step < b.step;
                     });
  }
};

} // namespace

const char *spBalanceName(SpBalance b) {
  switch (b) {
  case SpBalance::None:
    return "none";
  case SpBalance::KvOwner:
    return "kv-owner";
  case SpBalance::QueryRows:
    return "query-rows";
  case SpBalance::Auto:
    return "auto";
  }
  return "?";
}

const char *spTransferKindName(SpTransferKind kind) {
  switch (kind) {
  case SpTransferKind::KeyValue:
    return "kv";
  case SpTransferKind::Query:
    return "q";
  case SpTransferKind::Output:
    return "out";
  }
  return "?";
}

std::pair<int64_t, int64_t> spQueryTiles(const SpPlan &plan, int64_t r) {
  int64_t bm = plan.config.tiles.blockM;
  return {plan.shardBegin[size_t(r)] / bm,
          ceilDiv(plan.shardBegin[size_t(r + 1)], bm)};
}

std::pair<int64_t, int64_t> spKeyTiles(const SpPlan &plan, int64_t r) {
  int64_t bn = plan.config.tiles.blockN;
  return {plan.shardBegin[size_t(r)] / bn,
          ceilDiv(plan.shardBegin[size_t(r + 1)], bn)};
}

bool planSequenceParallel(const Pattern &p, const SpConfig &cfg, SpPlan &out,
                          std::string &error) {
  out = SpPlan();
  if (cfg.ranks < SpLimits::kMinRanks || cfg.ranks > SpLimits::kMaxRanks) {
    error = "ranks '" + std::to_string(cfg.ranks) +
            "' out of range, expected " + std::to_string(SpLimits::kMinRanks) +
            ".." + std::to_string(SpLimits::kMaxRanks);
    return false;
  }
  if (cfg.seqLen < 1 || cfg.seqLen > SpLimits::kMaxSeqLen) {
    error = "sequence length '" + std::to_string(cfg.seqLen) +
            "' out of range, expected 1.." +
            std::to_string(SpLimits::kMaxSeqLen);
    return false;
  }
  if (cfg.headDim < 1 || cfg.headDim > 1024 || cfg.elementBytes < 1 ||
      cfg.elementBytes > 8) {
    error = "head dim '" + std::to_string(cfg.headDim) + "' or element size '" +
            std::to_string(cfg.elementBytes) +
            "' out of range, expected 1..1024 and 1..8";
    return false;
  }
  Planner pl(p, out);
  TileConfig tiles = cfg.tiles;
  tiles.maxSeqLen = std::max(tiles.maxSeqLen, cfg.seqLen);
  if (!buildSchedule(p, tiles, pl.sched, error))
    return false;
  out.config = cfg;
  out.config.tiles = tiles;
  int64_t P = cfg.ranks, S = cfg.seqLen;
  int64_t bm = tiles.blockM, bn = tiles.blockN;
  pl.P = P;
  out.heads = p.heads;
  out.kvHeads = p.kvHeads > 0 ? p.kvHeads : p.heads;
  out.numQueryTiles = pl.nq = ceilDiv(S, bm);
  out.numKeyTiles = pl.nk = ceilDiv(S, bn);

  // Equal token shards, boundaries rounded to whole tiles of both kinds.
  int64_t gran = std::max(bm, bn);
  int64_t units = ceilDiv(S, gran);
  for (int64_t r = 0; r <= P; ++r)
    out.shardBegin.push_back(std::min(S, (units * r / P) * gran));
  out.shardBegin[size_t(P)] = S;
  for (int64_t r = 0; r <= P; ++r)
    pl.kb.push_back(r == P ? pl.nk : out.shardBegin[size_t(r)] / bn);

  pl.countWork();
  out.ownWork.assign(size_t(P), 0);
  out.pairWork.assign(size_t(P * P), 0);
  for (int64_t i = 0; i < P; ++i) {
    auto [t0, t1] = spQueryTiles(out, i);
    for (int64_t j = 0; j < P; ++j) {
      SpPiece pc;
      pc.owner = pc.computeRank = i;
      pc.kvRank = j;
      pc.qTileBegin = t0;
      pc.qTileEnd = t1;
      pc.work = pl.pieceWork(pc);
      out.pairWork[size_t(i * P + j)] = pc.work;
      if (pc.work == 0)
        continue;
      out.ownWork[size_t(i)] += pc.work;
      out.pieces.push_back(pc);
    }
  }
  auto variant = [&](SpBalance b, SpPlan &dst) {
    dst = out;
    dst.balanceUsed = b;
    pl.planp = &dst;
    if (b == SpBalance::KvOwner)
      pl.balanceKvOwner();
    else if (b == SpBalance::QueryRows)
      pl.balanceQueryRows();
    pl.finish();
    pl.planp = &out;
  };
  if (cfg.balance != SpBalance::Auto) {
    SpPlan v;
    variant(cfg.balance, v);
    out = std::move(v);
    return true;
  }
  SpPlan a, b;
  variant(SpBalance::KvOwner, a);
  variant(SpBalance::QueryRows, b);
  SpStats sa = simulateSequenceParallel(a), sb = simulateSequenceParallel(b);
  // QueryRows only when it moves fewer bytes without a lock-step time more
  // than 10% above KvOwner's.
  bool takeB = sb.totalBytes < sa.totalBytes &&
               sb.lockstepWork * 10 <= sa.lockstepWork * 11;
  out = std::move(takeB ? b : a);
  return true;
}

SpStats simulateSequenceParallel(const SpPlan &plan) {
  SpStats st;
  int64_t P = plan.config.ranks;
  st.ranks.assign(size_t(P), SpRankStats());
  for (const SpPiece &pc : plan.pieces) {
    SpRankStats &r = st.ranks[size_t(pc.computeRank)];
    r.work += pc.work;
    r.pieces += 1;
    r.steps = std::max(r.steps, pc.step + 1);
  }
  for (const SpTransfer &tr : plan.transfers) {
    st.ranks[size_t(tr.src)].bytesSent += tr.bytes;
    st.ranks[size_t(tr.dst)].bytesReceived += tr.bytes;
    (tr.kind == SpTransferKind::KeyValue ? st.kvBytes
     : tr.kind == SpTransferKind::Query  ? st.qBytes
                                         : st.outBytes) += tr.bytes;
  }
  st.totalBytes = st.kvBytes + st.qBytes + st.outBytes;
  st.steps = plan.steps;
  std::vector<int64_t> stepWork(size_t(P * plan.steps), 0),
      stepMax(size_t(plan.steps), 0);
  for (const SpPiece &pc : plan.pieces) {
    int64_t &w = stepWork[size_t(pc.step * P + pc.computeRank)];
    w += pc.work;
    stepMax[size_t(pc.step)] = std::max(stepMax[size_t(pc.step)], w);
  }
  for (int64_t w : stepMax)
    st.lockstepWork += w;
  for (int64_t d = 0; d < P; ++d) {
    int64_t m = 0;
    for (int64_t i = 0; i < P; ++i)
      if (size_t(i * P + P - 1) < plan.pairWork.size())
        m = std::max(m, plan.pairWork[size_t(i * P + posMod(i - d, P))]);
    st.ringLockstepWork += m;
  }
  for (const SpRankStats &r : st.ranks) {
    st.totalWork += r.work;
    st.maxWork = std::max(st.maxWork, r.work);
  }
  st.meanWork = P > 0 ? double(st.totalWork) / double(P) : 0;
  st.imbalance = st.meanWork > 0 ? double(st.maxWork) / st.meanWork : 1;
  st.ringSteps = P;
  st.ringBytes = (P - 1) * plan.config.seqLen * plan.kvHeads *
                 plan.config.headDim * plan.config.elementBytes * 2;
  for (int64_t w : plan.ownWork)
    st.ringMaxWork = std::max(st.ringMaxWork, w);
  st.ringImbalance = st.meanWork > 0 ? double(st.ringMaxWork) / st.meanWork : 1;
  return st;
}

} // namespace s2
