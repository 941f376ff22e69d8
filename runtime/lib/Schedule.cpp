//===- Schedule.cpp - Closed-form tiled schedules and MergeQ --------------===//
//
// Builds the per-head-group key-tile schedule of a pattern (s2/Schedule.h).
//
// How it works. Query tiles are cut into phases at every point where the
// set of rules applying to a tile's rows changes (query-range scopes, global
// rows). Within a phase each rule contributes "pieces" in key-tile space:
// ranges whose bounds are closed-form in t (windows, sinks, global columns,
// dense) and progressions (strides), each visited-and-masked or known full,
// plus "full hints" (sub-ranges every row sees completely). A piece is first
// written in token positions as floorDiv(a*t + b, c) * mul + add and then
// converted exactly to key tiles. The union is made disjoint by ordering all
// bounds: two bounds are compared over the phase (clamped at 0), using their
// slopes and periods to decide the order for all t; where the order changes
// the phase is split at the change point. Between consecutive ordered bounds
// the covering pieces decide the span: a range if any range covers it
// (masked unless a full piece covers it), else the union of progressions.
// Heads whose results match up to residues share a group. What cannot be
// ordered this way, and explicit `blocks` rules, fall back to a table built
// from the oracle's block mask.
//
//===----------------------------------------------------------------------===//

#include "s2/Schedule.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <numeric>

namespace s2 {

namespace {

/// "No end" for a phase while building (converted to -1 on output).
constexpr int64_t kOpenEnd = int64_t(1) << 40;
/// Limits beyond which the closed-form builder gives up on a head.
constexpr int64_t kMaxPhasesPerHead = 512;
constexpr int64_t kMaxScan = int64_t(1) << 16;
constexpr int64_t kMaxDiagonals = 64;
constexpr int64_t kMaxProgressionPeriod = 4096;
constexpr size_t kMaxGlobalBlocks = 2048;

int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }
int64_t posMod(int64_t a, int64_t m) {
  int64_t r = a % m;
  return r < 0 ? r + m : r;
}
bool isPow2(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }

AffineBound constant(int64_t v) {
  AffineBound e;
  e.add = v;
  return e;
}

/// Brings a bound to a canonical form so that equal functions mostly get
/// equal representations.
AffineBound normalize(AffineBound e) {
  if (e.a == 0 || e.mul == 0)
    return constant(floorDiv(e.b, e.c) * e.mul + e.add);
  if (e.a % e.c == 0 && e.b % e.c == 0) {
    AffineBound r;
    r.a = e.a / e.c * e.mul;
    r.add = e.b / e.c * e.mul + e.add;
    return r;
  }
  // floor((g*a'*t + b) / (g*c')) == floor((a'*t + floor(b/g)) / c').
  if (e.a > 0) {
    int64_t g = std::gcd(e.a, e.c);
    e.a /= g;
    e.c /= g;
    e.b = floorDiv(e.b, g);
    if (e.c == 1) {
      AffineBound r;
      r.a = e.a * e.mul;
      r.add = e.b * e.mul + e.add;
      return r;
    }
  }
  // Move whole multiples of c out of b.
  int64_t q = floorDiv(e.b, e.c);
  e.b -= q * e.c;
  e.add += q * e.mul;
  return e;
}

/// The key tile holding token position e (ceil: the first tile starting at
/// or after e). Fails when the result is not one AffineBound.
bool toTile(AffineBound e, int64_t bn, bool ceil, AffineBound &out) {
  e = normalize(e);
  if (e.mul % bn == 0) {
    AffineBound r = e;
    r.mul = e.mul / bn;
    r.add = ceil ? ceilDiv(e.add, bn) : floorDiv(e.add, bn);
    out = normalize(r);
    return true;
  }
  if (bn % e.mul == 0 && e.add % e.mul == 0) {
    int64_t q = bn / e.mul;
    AffineBound r;
    r.a = e.a;
    r.b = e.b + e.c * (e.add / e.mul + (ceil ? q - 1 : 0));
    r.c = e.c * q;
    out = normalize(r);
    return true;
  }
  return false;
}

enum class CmpKind { Ok, Split, Fail };
struct Cmp {
  CmpKind kind = CmpKind::Ok;
  int rel = 0; // -1: x <= y, 0: equal, 1: x >= y (for all t in the phase)
  int64_t split = 0;
};

int64_t clamped(const AffineBound &e, int64_t t) {
  return std::max<int64_t>(0, e.eval(t));
}

/// Compares max(0, x(t)) with max(0, y(t)) over t in [t0, t1).
Cmp compareBounds(const AffineBound &x, const AffineBound &y, int64_t t0,
                  int64_t t1) {
  Cmp res;
  int64_t scanEnd = t1, tailFrom = t1; // the tail [tailFrom, t1) must agree
  if (t1 - t0 > 256) {
    long double sx = (long double)x.a * x.mul / x.c;
    long double sy = (long double)y.a * y.mul / y.c;
    long double ox = (long double)x.b * x.mul / x.c + x.add;
    long double oy = (long double)y.b * y.mul / y.c + y.add;
    auto nonNeg = [&](long double s, long double o, int64_t m) -> int64_t {
      if (s <= 0)
        return t0;
      long double v = std::ceil((m - o) / s) + 1;
      return v > 1e15L ? kOpenEnd : std::max<int64_t>(t0, (int64_t)v);
    };
    int64_t ts = std::max(nonNeg(sx, ox, x.mul), nonNeg(sy, oy, y.mul));
    bool sameSlope = (__int128)x.a * x.mul * y.c == (__int128)y.a * y.mul * x.c;
    int64_t len;
    if (sameSlope) {
      auto per = [](const AffineBound &e) {
        return e.a == 0 ? int64_t(1) : e.c / std::gcd(e.a, e.c);
      };
      len = std::lcm(per(x), per(y));
    } else {
      long double need = (std::fabs((double)(ox - oy)) + x.mul + y.mul) /
                         std::fabs((double)(sx - sy));
      if (need > 1e15L) {
        res.kind = CmpKind::Fail;
        return res;
      }
      ts = std::max<int64_t>(ts, t0 + (int64_t)std::ceil(need) + 1);
      len = 1;
    }
    if (ts - t0 + len > kMaxScan) {
      res.kind = CmpKind::Fail;
      return res;
    }
    scanEnd = std::min(t1, ts + len);
    tailFrom = ts; // [ts, scanEnd) represents everything after it
    if (scanEnd == t1)
      tailFrom = t1;
  }
  // Walk back from the end while the relation stays consistent.
  bool le = true, ge = true;
  int64_t t = scanEnd - 1;
  for (; t >= t0; --t) {
    int64_t d = clamped(x, t) - clamped(y, t);
    bool nle = le && d <= 0, nge = ge && d >= 0;
    if (!nle && !nge)
      break;
    le = nle;
    ge = nge;
  }
  if (t + 1 > tailFrom) {
    res.kind = CmpKind::Fail; // the asymptotic region is inconsistent
    return res;
  }
  res.rel = (le && ge) ? 0 : (le ? -1 : 1);
  if (t >= t0) {
    res.kind = CmpKind::Split;
    res.split = t + 1;
  }
  return res;
}

/// A contribution in key-tile space for one phase of one head.
struct Piece {
  bool prog = false;
  /// Full hint: marks its (range) tiles fully visible, visits nothing.
  bool hint = false;
  bool full = false;
  std::vector<AffineBound> lo, hi;
  int64_t step = 1, run = 1, residue = 0;
};

/// The query rows of a tile a rule applies to: block-aligned token bounds
/// [A, Z) of the row blocks, the causal end (one past the last row) and
/// whether these are all the tile's rows.
struct RowSet {
  AffineBound A, Z, rowEnd;
  bool all = true;
};

struct Builder {
  const Pattern &p;
  int64_t bm, bn, b;
  int64_t head = 0;
  /// The phase being built: query tiles [t0, t1).
  int64_t t0 = 0, t1 = 0;
  std::vector<Piece> pieces;
  bool failed = false;
  /// Causal strides over blocks finer than BLOCK_N leave the diagonal key
  /// tile to resolveDiagonals (residue, stride, rows).
  struct Diagonal {
    int64_t residue, stride;
    RowSet rows;
  };
  std::vector<Diagonal> diagonals;
  /// Spans appended after the union (diagonal tiles), and a phase split
  /// requested while deciding them (0: none).
  std::vector<Span> extra;
  int64_t splitAt = 0;

  Builder(const Pattern &p, const TileConfig &t)
      : p(p), bm(t.blockM), bn(t.blockN), b(p.block) {}

  AffineBound tf(AffineBound e) {
    AffineBound r;
    if (!toTile(e, bn, false, r))
      failed = true;
    return r;
  }
  AffineBound tc(AffineBound e) {
    AffineBound r;
    if (!toTile(e, bn, true, r))
      failed = true;
    return r;
  }
  static AffineBound plus(AffineBound e, int64_t d) {
    e.add += d;
    return e;
  }

  void addRange(AffineBound lo, AffineBound hi, bool full, bool hint,
                const RowSet &rs) {
    Piece pc;
    pc.lo = {lo};
    pc.hi = {hi};
    pc.full = full;
    pc.hint = hint;
    push(pc, rs);
  }
  void push(Piece pc, const RowSet &rs) {
    if (p.causal)
      pc.hi.push_back(tc(rs.rowEnd));
    // Drop pieces that are empty for every t (constant bounds only).
    bool allConst = true;
    for (auto &e : pc.lo)
      allConst &= e.a == 0;
    for (auto &e : pc.hi)
      allConst &= e.a == 0;
    if (allConst) {
      int64_t lo = 0, hi = INT64_MAX;
      for (auto &e : pc.lo)
        lo = std::max(lo, e.eval(0));
      for (auto &e : pc.hi)
        hi = std::min(hi, e.eval(0));
      if (lo >= hi)
        return;
    }
    pieces.push_back(std::move(pc));
  }

  void addDense(const RowSet &rs) {
    Piece pc;
    pc.full = rs.all;
    push(pc, rs);
  }

  void addRule(const Rule &r, const RowSet &rs) {
    switch (r.kind) {
    case RuleKind::Dense:
      addDense(rs);
      return;
    case RuleKind::Local:
      if (p.causal) {
        addRange(tf(plus(rs.A, -(r.n - 1) * b)), tc(rs.Z), false, false, rs);
        if (rs.all)
          addRange(tc(plus(rs.Z, -r.n * b)), tc(rs.Z), true, true, rs);
      } else {
        addRange(tf(plus(rs.A, -(r.n - 1) * b)), tc(plus(rs.Z, (r.n - 1) * b)),
                 false, false, rs);
        if (rs.all)
          addRange(tc(plus(rs.Z, -r.n * b)), tf(plus(rs.A, r.n * b)), true,
                   true, rs);
      }
      return;
    case RuleKind::Stride:
      addStride(r, rs);
      return;
    case RuleKind::Sink: {
      AffineBound end = constant(r.n * b);
      addRange(constant(0), tc(end), false, false, rs);
      if (rs.all)
        addRange(constant(0), tf(end), true, true, rs);
      return;
    }
    case RuleKind::Global: {
      if (r.set.size() > kMaxGlobalBlocks) {
        failed = true;
        return;
      }
      // Columns: runs of consecutive global blocks.
      for (size_t x = 0; x < r.set.size();) {
        size_t y = x + 1;
        while (y < r.set.size() && r.set[y] == r.set[y - 1] + 1)
          ++y;
        AffineBound s = constant(r.set[x] * b),
                    e = constant((r.set[y - 1] + 1) * b);
        // Causal: columns starting after the last row are invisible (phases
        // are cut where BM * (t + 1) passes each column start).
        if (p.causal && s.add >= rs.rowEnd.eval(t0)) {
          x = y;
          continue;
        }
        addRange(tf(s), tc(e), false, false, rs);
        if (rs.all)
          addRange(tc(s), tf(e), true, true, rs);
        x = y;
      }
      return;
    }
    case RuleKind::Dilated: {
      int64_t lo = p.causal ? 0 : -(r.n - 1);
      if (r.n - lo > kMaxDiagonals) {
        failed = true;
        return;
      }
      // Full only when all rows lie in one block (b >= BM).
      bool oneBlock = b >= bm;
      for (int64_t m = lo; m < r.n; ++m) {
        int64_t delta = m * r.step * b;
        addRange(tf(plus(rs.A, -delta)), tc(plus(rs.Z, -delta)), false, false,
                 rs);
        if (rs.all && oneBlock)
          addRange(tc(plus(rs.A, -delta)), tf(plus(rs.Z, -delta)), true, true,
                   rs);
      }
      return;
    }
    case RuleKind::Blocks:
      failed = true;
      return;
    }
  }

  void addStride(const Rule &r, const RowSet &rs) {
    int64_t v = r.step;
    int64_t res = posMod(-r.shift[size_t(head)], v);
    if (v == 1) {
      addDense(rs);
      return;
    }
    if (b >= bn) {
      int64_t c = b / bn;
      Piece pc;
      pc.prog = true;
      pc.step = c * v;
      pc.run = c;
      pc.residue = c * res;
      pc.full = rs.all;
      push(pc, rs);
      return;
    }
    int64_t rr = bn / b; // blocks per key tile
    // Causal: a key tile before the diagonal one lies wholly before the last
    // row, but when the rows end inside a key tile (BM < BN), the stride's
    // block in the diagonal tile may come after the last row; that tile is
    // then decided by resolveDiagonals.
    std::vector<AffineBound> cap;
    bool aligned = rs.rowEnd.a == 0 ? rs.rowEnd.add % bn == 0 : bm % bn == 0;
    if (p.causal && !aligned) {
      cap.push_back(tf(plus(rs.rowEnd, -1)));
      diagonals.push_back({res, v, rs});
    }
    if (v <= rr) {
      Piece pc; // every key tile holds a visible block column
      pc.full = false;
      pc.hi = cap;
      push(pc, rs);
      return;
    }
    int64_t g = std::gcd(v, rr);
    int64_t period = v / g;
    for (int64_t m = 0; m < rr / g; ++m) {
      Piece pc;
      pc.prog = true;
      pc.step = period;
      pc.run = 1;
      pc.residue = posMod(floorDiv(res + m * v, rr), period);
      pc.full = false;
      pc.hi = cap;
      push(pc, rs);
    }
  }

  /// True when some visit range covers key tile kd(t) for every t of the
  /// phase.
  bool covered(const AffineBound &kd) {
    AffineBound next = plus(kd, 1);
    for (const Piece &pc : pieces) {
      if (pc.hint || pc.prog)
        continue;
      bool ok = true;
      for (const AffineBound &lo : pc.lo) {
        Cmp c = compareBounds(lo, kd, t0, t1);
        ok &= c.kind == CmpKind::Ok && c.rel <= 0;
      }
      for (const AffineBound &hi : pc.hi) {
        Cmp c = compareBounds(hi, next, t0, t1);
        ok &= c.kind == CmpKind::Ok && c.rel >= 0;
      }
      if (ok)
        return true;
    }
    return false;
  }

  /// Decides the diagonal key tile kd of causal fine strides: nothing to do
  /// when a range covers kd for every t of the phase; otherwise, when every
  /// other piece stays below kd, a separate span [max(kd, hs - 1), hs) where
  /// hs - 1 is the key tile of the stride's last block at or before the last
  /// row. It is kept out of the bound ordering (hs - kd changes sign
  /// periodically) and appended after the union.
  void resolveDiagonals() {
    std::vector<Diagonal> open;
    for (const Diagonal &d : diagonals)
      if (!covered(tf(plus(d.rows.rowEnd, -1))))
        open.push_back(d);
    if (open.size() > 1) {
      failed = true;
      return;
    }
    for (const Diagonal &d : open) {
      AffineBound kd = tf(plus(d.rows.rowEnd, -1));
      if (failed)
        return;
      for (const Piece &pc : pieces) {
        if (pc.hint)
          continue;
        bool below = false;
        for (const AffineBound &hi : pc.hi) {
          Cmp c = compareBounds(hi, kd, t0, t1);
          if (c.kind == CmpKind::Split) {
            splitAt = c.split;
            return;
          }
          below |= c.kind == CmpKind::Ok && c.rel <= 0;
        }
        if (!below) {
          failed = true;
          return;
        }
      }
      // The last stride block x* <= L = (rowEnd - 1) / b is
      // V * floor((rowEnd - 1 - R*b) / (b*V)) + R.
      const AffineBound &e = d.rows.rowEnd;
      AffineBound xs;
      if (e.a == 0) {
        int64_t last = floorDiv(e.add - 1, b);
        int64_t x = last - posMod(last - d.residue, d.stride);
        xs = constant(x * b);
      } else if (e.c == 1 && e.mul == 1 && e.b == 0) {
        xs.a = e.a;
        xs.b = e.add - 1 - d.residue * b;
        xs.c = b * d.stride;
        xs.mul = d.stride * b;
        xs.add = d.residue * b;
      } else {
        failed = true;
        return;
      }
      AffineBound hs = plus(tf(xs), 1);
      Span sp;
      sp.kind = SpanKind::Range;
      sp.lo = {kd, plus(hs, -1)};
      sp.hi = {hs};
      sp.masked = true;
      sp.residue.assign(size_t(p.heads), 0);
      extra.push_back(sp);
    }
  }
};

/// Output of one elementary interval: spans without bounds.
using Cell = std::vector<Span>;

struct PhaseResult {
  CmpKind kind = CmpKind::Ok;
  int64_t split = 0;
  std::vector<Span> spans;
};

bool spanStructEq(const Span &a, const Span &b, bool withResidue) {
  if (a.kind != b.kind || a.lo != b.lo || a.hi != b.hi || a.step != b.step ||
      a.run != b.run || a.table != b.table || a.masked != b.masked)
    return false;
  return !withResidue || a.residue == b.residue;
}

/// Orders the pieces' bounds over [t0, t1) and emits disjoint spans.
PhaseResult unionPieces(const std::vector<Piece> &pieces, int64_t t0,
                        int64_t t1, int64_t heads, int64_t head) {
  PhaseResult out;
  std::vector<AffineBound> bounds = {constant(0)};
  auto idOf = [&](const AffineBound &e) {
    for (size_t i = 0; i < bounds.size(); ++i)
      if (bounds[i] == e)
        return int(i);
    bounds.push_back(e);
    return int(bounds.size() - 1);
  };
  std::vector<std::vector<int>> loIds(pieces.size()), hiIds(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    for (auto &e : pieces[i].lo)
      loIds[i].push_back(idOf(e));
    for (auto &e : pieces[i].hi)
      hiIds[i].push_back(idOf(e));
  }
  size_t n = bounds.size();
  std::vector<std::vector<int>> rel(n, std::vector<int>(n, 0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      Cmp c = compareBounds(bounds[i], bounds[j], t0, t1);
      if (c.kind != CmpKind::Ok) {
        out.kind = c.kind;
        out.split = c.split;
        return out;
      }
      rel[i][j] = c.rel;
      rel[j][i] = -c.rel;
    }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int x, int y) { return rel[size_t(x)][size_t(y)] < 0; });
  std::vector<int> level(n, 0);
  std::vector<int> rep; // representative bound of each level
  for (size_t k = 0; k < n; ++k) {
    int id = order[k];
    if (k == 0 || rel[size_t(order[k - 1])][size_t(id)] != 0)
      rep.push_back(id);
    level[size_t(id)] = int(rep.size() - 1);
  }
  // Prefer the simplest representative (the constant 0 first).
  for (size_t k = 0; k < n; ++k) {
    int id = order[k];
    int &r = rep[size_t(level[size_t(id)])];
    const AffineBound &cur = bounds[size_t(r)], &cand = bounds[size_t(id)];
    if (r != 0 && (id == 0 || (cand.a == 0 && cur.a != 0) ||
                   (cand.a != 0 && cur.a != 0 && cand.c < cur.c)))
      r = id;
  }
  int nl = int(rep.size());
  std::vector<Cell> cells(static_cast<size_t>(nl));
  std::vector<std::vector<size_t>> cover(static_cast<size_t>(nl));
  for (size_t i = 0; i < pieces.size(); ++i) {
    int lo = 0, hi = nl;
    for (int id : loIds[i])
      lo = std::max(lo, level[size_t(id)]);
    for (int id : hiIds[i])
      hi = std::min(hi, level[size_t(id)]);
    for (int s = lo; s < hi; ++s)
      cover[size_t(s)].push_back(i);
  }
  for (int s = 0; s < nl; ++s) {
    bool visitRange = false, full = false;
    std::vector<const Piece *> progs;
    for (size_t i : cover[size_t(s)]) {
      const Piece &pc = pieces[i];
      if (pc.hint)
        full = true;
      else if (!pc.prog) {
        visitRange = true;
        full |= pc.full;
      } else
        progs.push_back(&pc);
    }
    Cell &cell = cells[size_t(s)];
    Span sp;
    sp.residue.assign(size_t(heads), 0);
    if (visitRange) {
      sp.kind = SpanKind::Range;
      sp.masked = !full;
      cell.push_back(sp);
      continue;
    }
    if (progs.empty())
      continue;
    if (progs.size() == 1) {
      sp.kind = SpanKind::Progression;
      sp.step = progs[0]->step;
      sp.run = progs[0]->run;
      sp.residue[size_t(head)] = progs[0]->residue;
      sp.masked = !progs[0]->full;
      cell.push_back(sp);
      continue;
    }
    int64_t per = 1;
    for (const Piece *pc : progs) {
      per = std::lcm(per, pc->step);
      if (per > kMaxProgressionPeriod) {
        out.kind = CmpKind::Fail;
        return out;
      }
    }
    std::vector<int8_t> state(size_t(per), -1); // -1 none, 0 masked, 1 full
    for (const Piece *pc : progs)
      for (int64_t base = pc->residue; base < per + pc->residue;
           base += pc->step)
        for (int64_t x = 0; x < pc->run; ++x) {
          int8_t &st = state[size_t(posMod(base + x, per))];
          st = std::max<int8_t>(st, pc->full ? 1 : 0);
        }
    bool all = std::all_of(state.begin(), state.end(),
                           [](int8_t v) { return v >= 0; });
    if (all) {
      sp.kind = SpanKind::Range;
      sp.masked = std::any_of(state.begin(), state.end(),
                              [](int8_t v) { return v == 0; });
      cell.push_back(sp);
      continue;
    }
    for (int64_t r = 0; r < per;) {
      if (state[size_t(r)] < 0) {
        ++r;
        continue;
      }
      int64_t e = r + 1;
      while (e < per && state[size_t(e)] == state[size_t(r)])
        ++e;
      Span q = sp;
      q.kind = SpanKind::Progression;
      q.step = per;
      q.run = e - r;
      q.residue[size_t(head)] = r;
      q.masked = state[size_t(r)] == 0;
      cell.push_back(q);
      r = e;
    }
  }
  // Merge neighbouring cells with equal output, then attach bounds.
  auto cellEq = [](const Cell &x, const Cell &y) {
    if (x.size() != y.size())
      return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!spanStructEq(x[i], y[i], true))
        return false;
    return true;
  };
  for (int s = 0; s < nl;) {
    int e = s + 1;
    while (e < nl && cellEq(cells[size_t(e)], cells[size_t(s)]))
      ++e;
    for (Span sp : cells[size_t(s)]) {
      const AffineBound &lo = bounds[size_t(rep[size_t(s)])];
      if (!(lo.a == 0 && lo.add <= 0))
        sp.lo = {lo};
      if (e < nl)
        sp.hi = {bounds[size_t(rep[size_t(e)])]};
      out.spans.push_back(sp);
    }
    s = e;
  }
  return out;
}

/// The closed-form phases of one head; false when it needs a table.
bool buildHead(const Pattern &p, const TileConfig &tiles, int64_t h,
               std::vector<Phase> &phases) {
  const int64_t bm = tiles.blockM, b = p.block;
  // Breakpoints in query tiles where the rules applying to rows change.
  std::vector<int64_t> cuts = {0};
  auto cutAt = [&](int64_t tok) {
    cuts.push_back(floorDiv(tok, bm));
    cuts.push_back(ceilDiv(tok, bm));
  };
  for (const Rule &r : p.rules) {
    if (!r.heads[size_t(h)])
      continue;
    cutAt(r.qBegin * b);
    if (r.qEnd >= 0)
      cutAt(r.qEnd * b);
    if (r.kind == RuleKind::Global) {
      if (r.set.size() > kMaxGlobalBlocks)
        return false;
      for (int64_t g : r.set) {
        cutAt(g * b);
        cutAt((g + 1) * b);
      }
    }
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  if (int64_t(cuts.size()) > kMaxPhasesPerHead)
    return false;

  std::vector<std::pair<int64_t, int64_t>> todo;
  for (size_t k = 0; k < cuts.size(); ++k)
    todo.emplace_back(cuts[k], k + 1 < cuts.size() ? cuts[k + 1] : kOpenEnd);
  std::reverse(todo.begin(), todo.end());
  std::vector<Phase> built;
  while (!todo.empty()) {
    auto [t0, t1] = todo.back();
    todo.pop_back();
    Builder bld(p, tiles);
    bld.head = h;
    bld.t0 = t0;
    bld.t1 = t1;
    int64_t r0 = t0 * bm, r1 = r0 + bm; // rows of tile t0
    RowSet all;
    all.all = true;
    all.A = normalize({bm, 0, b, b, 0});
    all.Z = normalize({bm, bm - 1, b, b, b});
    all.rowEnd = normalize({bm, 0, 1, 1, bm});
    auto partial = [&](int64_t blo, int64_t bhi) { // blocks [blo, bhi)
      RowSet rs;
      rs.all = false;
      rs.A = constant(blo * b);
      rs.Z = constant(bhi * b);
      rs.rowEnd = constant(std::min(bhi * b, r1));
      return rs;
    };
    for (const Rule &r : p.rules) {
      if (!r.heads[size_t(h)])
        continue;
      int64_t s0 = r.qBegin * b, s1 = r.qEnd < 0 ? INT64_MAX : r.qEnd * b;
      int64_t lo = std::max(s0, r0), hi = std::min(s1, r1);
      if (lo >= hi)
        continue;
      bool whole = lo == r0 && hi == r1;
      if (!whole && t1 - t0 != 1)
        return false; // cuts guarantee this; be safe
      RowSet rs = whole ? all : partial(lo / b, ceilDiv(hi, b));
      bld.addRule(r, rs);
      if (r.kind == RuleKind::Global) {
        // Global rows: the rows of this tile in global blocks see all keys.
        int64_t i0 = lo / b, i1 = ceilDiv(hi, b);
        for (int64_t i = i0; i < i1;) {
          if (!std::binary_search(r.set.begin(), r.set.end(), i)) {
            ++i;
            continue;
          }
          int64_t j = i + 1;
          while (j < i1 && std::binary_search(r.set.begin(), r.set.end(), j))
            ++j;
          bool rowsAll = whole && i == i0 && j == i1;
          if (!rowsAll && t1 - t0 != 1)
            return false;
          bld.addDense(rowsAll ? all : partial(i, j));
          i = j;
        }
      }
    }
    bld.resolveDiagonals();
    if (bld.failed)
      return false;
    PhaseResult pr;
    if (bld.splitAt > t0 && bld.splitAt < t1) {
      pr.kind = CmpKind::Split;
      pr.split = bld.splitAt;
    } else {
      pr = unionPieces(bld.pieces, t0, t1, p.heads, h);
      pr.spans.insert(pr.spans.end(), bld.extra.begin(), bld.extra.end());
    }
    if (pr.kind == CmpKind::Fail)
      return false;
    if (pr.kind == CmpKind::Split) {
      todo.emplace_back(pr.split, t1);
      todo.emplace_back(t0, pr.split);
      if (int64_t(built.size() + todo.size()) > kMaxPhasesPerHead)
        return false;
      continue;
    }
    Phase ph;
    ph.tBegin = t0;
    ph.tEnd = t1;
    ph.spans = std::move(pr.spans);
    built.push_back(std::move(ph));
    if (int64_t(built.size()) > kMaxPhasesPerHead)
      return false;
  }
  // Merge neighbours with equal spans; drop empty phases.
  phases.clear();
  for (Phase &ph : built) {
    if (ph.spans.empty())
      continue;
    if (!phases.empty() && phases.back().tEnd == ph.tBegin &&
        phases.back().spans == ph.spans) {
      phases.back().tEnd = ph.tEnd;
      continue;
    }
    phases.push_back(std::move(ph));
  }
  for (Phase &ph : phases)
    if (ph.tEnd >= kOpenEnd)
      ph.tEnd = -1;
  return true;
}

/// Exact per-tile status from the oracle, one query tile at a time (the
/// block rows of that tile only): 0 not visited, 1 visited and masked, 2
/// visited and full.
struct TileOracle {
  const Pattern &p;
  int64_t h, bm, bn, b, nkb;
  int64_t rowBlock0 = 0;
  std::vector<uint8_t> rows; // block rows of the current tile, nkb each
  TileOracle(const Pattern &p, const TileConfig &t, int64_t h, int64_t nkt)
      : p(p), h(h), bm(t.blockM), bn(t.blockN), b(p.block) {
    nkb = ceilDiv(nkt * bn, b);
  }
  void setTile(int64_t t) {
    int64_t q0 = t * bm, q1 = q0 + bm;
    rowBlock0 = q0 / b;
    int64_t n = ceilDiv(q1, b) - rowBlock0;
    rows.assign(size_t(n * nkb), 0);
    for (int64_t x = 0; x < n; ++x)
      for (int64_t j = 0; j < nkb; ++j)
        rows[size_t(x * nkb + j)] = blockVisible(p, h, rowBlock0 + x, j);
  }
  int status(int64_t t, int64_t k) const {
    int64_t q0 = t * bm, q1 = q0 + bm, k0 = k * bn, k1 = k0 + bn;
    bool vis = false, full = true;
    for (int64_t i = q0 / b; i * b < q1; ++i)
      for (int64_t j = k0 / b; j * b < k1; ++j) {
        int64_t rHi = std::min(q1, (i + 1) * b);
        int64_t cLo = std::max(k0, j * b);
        if (p.causal && cLo > rHi - 1)
          continue; // every element causally hidden
        if (rows[size_t((i - rowBlock0) * nkb + j)])
          vis = true;
        else
          full = false;
      }
    return vis ? (full ? 2 : 1) : 0;
  }
};

int32_t addTable(Schedule &s, TileTable t) {
  for (size_t i = 0; i < s.tables.size(); ++i)
    if (s.tables[i].rowPtr == t.rowPtr && s.tables[i].cols == t.cols)
      return int32_t(i);
  s.tables.push_back(std::move(t));
  return int32_t(s.tables.size() - 1);
}

/// Limits on building one head's tables: block pairs evaluated, entries.
constexpr int64_t kMaxTableWork = int64_t(1) << 30;
constexpr int64_t kMaxTableEntries = int64_t(1) << 26;

bool buildTableHead(const Pattern &p, const TileConfig &tiles, int64_t h,
                    int64_t maxLen, Schedule &s, std::vector<Phase> &phases,
                    std::string &error) {
  int64_t nqt = ceilDiv(maxLen, tiles.blockM),
          nkt = ceilDiv(maxLen, tiles.blockN);
  int64_t blocks = ceilDiv(maxLen, p.block) + 2;
  if (blocks * blocks > kMaxTableWork) {
    error = "head " + std::to_string(h) + " needs a table, and one for " +
            std::to_string(maxLen) + " tokens at block " +
            std::to_string(p.block) +
            " is too large to build: expected a shorter table length";
    return false;
  }
  TileOracle o(p, tiles, h, nkt);
  TileTable full, masked;
  full.rowPtr = {0};
  masked.rowPtr = {0};
  for (int64_t t = 0; t < nqt; ++t) {
    o.setTile(t);
    if (int64_t(full.cols.size() + masked.cols.size()) > kMaxTableEntries) {
      error = "the table of head " + std::to_string(h) + " exceeds " +
              std::to_string(kMaxTableEntries) +
              " entries: expected a shorter table length";
      return false;
    }
    for (int64_t k = 0; k < nkt; ++k) {
      int st = o.status(t, k);
      if (st == 2)
        full.cols.push_back(k);
      else if (st == 1)
        masked.cols.push_back(k);
    }
    full.rowPtr.push_back(int64_t(full.cols.size()));
    masked.rowPtr.push_back(int64_t(masked.cols.size()));
  }
  Phase ph;
  ph.tBegin = 0;
  ph.tEnd = nqt;
  for (int pass = 0; pass < 2; ++pass) {
    TileTable &tt = pass == 0 ? full : masked;
    if (tt.cols.empty())
      continue;
    Span sp;
    sp.kind = SpanKind::Table;
    sp.masked = pass == 1;
    sp.residue.assign(size_t(p.heads), 0);
    sp.table = addTable(s, std::move(tt));
    ph.spans.push_back(sp);
  }
  phases.clear();
  if (!ph.spans.empty())
    phases.push_back(std::move(ph));
  return true;
}

bool phasesEqualUpToResidue(const std::vector<Phase> &x,
                            const std::vector<Phase> &y) {
  if (x.size() != y.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].tBegin != y[i].tBegin || x[i].tEnd != y[i].tEnd ||
        x[i].spans.size() != y[i].spans.size())
      return false;
    for (size_t k = 0; k < x[i].spans.size(); ++k)
      if (!spanStructEq(x[i].spans[k], y[i].spans[k], false))
        return false;
  }
  return true;
}

} // namespace

int64_t AffineBound::eval(int64_t t) const {
  return floorDiv(a * t + b, c) * mul + add;
}

const char *spanKindName(SpanKind kind) {
  switch (kind) {
  case SpanKind::Range:
    return "range";
  case SpanKind::Progression:
    return "progression";
  case SpanKind::Table:
    return "table";
  }
  return "?";
}

bool Span::contains(int64_t h, int64_t k) const {
  if (kind == SpanKind::Range)
    return true;
  if (kind != SpanKind::Progression || h < 0 || h >= int64_t(residue.size()))
    return false;
  return posMod(k - residue[size_t(h)], step) < run;
}

bool Span::operator==(const Span &o) const {
  return spanStructEq(*this, o, true);
}

bool buildSchedule(const Pattern &p, const TileConfig &tiles, Schedule &out,
                   std::string &error) {
  std::string v = validatePattern(p);
  if (!v.empty()) {
    error = "invalid pattern: " + v;
    return false;
  }
  for (int64_t x : {tiles.blockM, tiles.blockN})
    if (!isPow2(x) || x < 16 || x > 256) {
      error = "tile size " + std::to_string(x) +
              " is not supported: expected a power of two in 16..256";
      return false;
    }
  if (tiles.maxSeqLen < 0 || tiles.maxSeqLen > (int64_t(1) << 28)) {
    error = "table length " + std::to_string(tiles.maxSeqLen) +
            " is out of range: expected 0..2^28";
    return false;
  }
  Schedule s;
  s.tiles = tiles;
  s.causal = p.causal;
  s.heads = p.heads;
  int64_t maxLen =
      tiles.maxSeqLen > 0 ? tiles.maxSeqLen : TileConfig::kDefaultTableSeqLen;
  std::vector<std::vector<Phase>> perHead(size_t(p.heads));
  for (int64_t h = 0; h < p.heads; ++h) {
    bool closed = buildHead(p, tiles, h, perHead[size_t(h)]);
    if (!closed) {
      if (!buildTableHead(p, tiles, h, maxLen, s, perHead[size_t(h)], error))
        return false;
      s.maxSeqLen = maxLen;
    }
  }
  for (int64_t h = 0; h < p.heads; ++h) {
    std::vector<Phase> &ph = perHead[size_t(h)];
    HeadGroup *target = nullptr;
    for (HeadGroup &g : s.groups)
      if (phasesEqualUpToResidue(g.phases, ph)) {
        target = &g;
        break;
      }
    if (!target) {
      s.groups.push_back({{h}, ph});
      continue;
    }
    target->heads.push_back(h);
    for (size_t i = 0; i < ph.size(); ++i)
      for (size_t k = 0; k < ph[i].spans.size(); ++k)
        target->phases[i].spans[k].residue[size_t(h)] =
            ph[i].spans[k].residue[size_t(h)];
  }
  out = std::move(s);
  return true;
}

int64_t groupOf(const Schedule &s, int64_t head) {
  for (size_t g = 0; g < s.groups.size(); ++g)
    for (int64_t h : s.groups[g].heads)
      if (h == head)
        return int64_t(g);
  return -1;
}

const Phase *phaseOf(const Schedule &s, int64_t head, int64_t t) {
  int64_t g = groupOf(s, head);
  if (g < 0)
    return nullptr;
  for (const Phase &ph : s.groups[size_t(g)].phases)
    if (t >= ph.tBegin && (ph.tEnd < 0 || t < ph.tEnd))
      return &ph;
  return nullptr;
}

namespace {
template <typename F>
void forEachTile(const Schedule &s, int64_t head, int64_t t, int64_t nk,
                 F &&f) {
  const Phase *ph = phaseOf(s, head, t);
  if (!ph)
    return;
  for (const Span &sp : ph->spans) {
    if (sp.kind == SpanKind::Table) {
      if (sp.table < 0 || size_t(sp.table) >= s.tables.size())
        continue;
      const TileTable &tt = s.tables[size_t(sp.table)];
      if (t < 0 || t >= tt.rows())
        continue;
      for (int64_t x = tt.rowPtr[size_t(t)]; x < tt.rowPtr[size_t(t + 1)]; ++x)
        if (tt.cols[size_t(x)] < nk)
          f(tt.cols[size_t(x)], sp.masked);
      continue;
    }
    int64_t lo = 0, hi = nk;
    for (const AffineBound &e : sp.lo)
      lo = std::max(lo, e.eval(t));
    for (const AffineBound &e : sp.hi)
      hi = std::min(hi, e.eval(t));
    if (lo >= hi)
      continue;
    if (sp.kind == SpanKind::Range) {
      for (int64_t k = lo; k < hi; ++k)
        f(k, sp.masked);
      continue;
    }
    int64_t res =
        head < int64_t(sp.residue.size()) ? sp.residue[size_t(head)] : 0;
    int64_t base = lo - posMod(lo - res, sp.step);
    for (; base < hi; base += sp.step)
      for (int64_t x = 0; x < sp.run; ++x)
        if (base + x >= lo && base + x < hi)
          f(base + x, sp.masked);
  }
}
} // namespace

std::vector<int64_t> keyTilesOf(const Schedule &s, int64_t head, int64_t t,
                                int64_t numKeyTiles) {
  std::vector<int64_t> out;
  forEachTile(s, head, t, numKeyTiles,
              [&](int64_t k, bool) { out.push_back(k); });
  return out;
}

bool tileMasked(const Schedule &s, int64_t head, int64_t t, int64_t k,
                int64_t numKeyTiles) {
  bool m = false;
  forEachTile(s, head, t, numKeyTiles, [&](int64_t x, bool masked) {
    if (x == k)
      m = masked;
  });
  return m;
}

TransposedSchedule transposeSchedule(const Schedule &s, int64_t head,
                                     int64_t sq, int64_t sk) {
  TransposedSchedule tr;
  int64_t bm = s.tiles.blockM, bn = s.tiles.blockN;
  tr.numKeyTiles = ceilDiv(sk, bn);
  tr.firstQueryTile = floorDiv(sk - sq, bm);
  tr.numQueryTiles = ceilDiv(sk, bm);
  std::vector<std::vector<std::pair<int64_t, uint8_t>>> rows(
      size_t(tr.numKeyTiles));
  for (int64_t t = tr.firstQueryTile; t < tr.numQueryTiles; ++t)
    forEachTile(s, head, t, tr.numKeyTiles, [&](int64_t k, bool masked) {
      rows[size_t(k)].emplace_back(t, masked ? 1 : 0);
    });
  tr.rowPtr.push_back(0);
  for (auto &r : rows) {
    for (auto &[t, m] : r) {
      tr.cols.push_back(t);
      tr.masked.push_back(m);
    }
    tr.rowPtr.push_back(int64_t(tr.cols.size()));
  }
  return tr;
}

namespace {
/// Visited tiles (count, masked count) summed over the heads of each group
/// (one representative head per group, weighted by the group size).
struct Work {
  double tiles = 0, maskedTiles = 0, visiblePairs = 0;
};
Work measure(const Pattern &p, const Schedule &s, int64_t len) {
  Work w;
  int64_t nq = ceilDiv(len, s.tiles.blockM), nk = ceilDiv(len, s.tiles.blockN);
  for (const HeadGroup &g : s.groups) {
    int64_t h = g.heads.front();
    double weight = double(g.heads.size());
    for (int64_t t = 0; t < nq; ++t)
      forEachTile(s, h, t, nk, [&](int64_t, bool masked) {
        w.tiles += weight;
        w.maskedTiles += masked ? weight : 0;
      });
    w.visiblePairs += weight * double(countVisiblePairs(p, h, len, len));
  }
  return w;
}
} // namespace

double mergeWaste(const Pattern &p, const TileConfig &tiles, int64_t seqLen) {
  Schedule s;
  std::string err;
  if (seqLen <= 0 || !buildSchedule(p, tiles, s, err))
    return 1.0;
  // Tables end at maxSeqLen: measure no further.
  if (s.maxSeqLen > 0)
    seqLen = std::min(seqLen, s.maxSeqLen);
  Work w = measure(p, s, seqLen);
  double work = w.tiles * double(tiles.blockM * tiles.blockN);
  return work > 0 ? 1.0 - w.visiblePairs / work : 0.0;
}

static TileConfig chooseTilesAnyTarget(const Pattern &p, int64_t headDim) {
  // Estimated time per candidate, in units of one 64x64xD tensor-core tile:
  // tile work (BM*BN/4096), plus a fixed cost per key-tile step (loads,
  // softmax bookkeeping) and a surcharge for per-element masks. The
  // reference length is 8192 tokens. Candidates are the tile shapes the
  // mma.sync kernels are checked on the GPU with (64x64 and 128x64);
  // 128-row tiles ran 5-15% slower than 64x64 in every case of the
  // benchmark on an H200 (bench/results/*-20261126-*: dense causal and S2,
  // d64 and d128, 8k-128k) but one, so they carry that surcharge.
  TileConfig best;
  double bestCost = -1;
  int64_t len = 8192;
  (void)headDim; // the same shapes serve both head dims today
  for (int64_t bm : {128, 64})
    for (int64_t bn : {64}) {
      TileConfig tc;
      tc.blockM = bm;
      tc.blockN = bn;
      Schedule s;
      std::string err;
      if (!buildSchedule(p, tc, s, err))
        continue;
      Work w = measure(p, s, len);
      double unit = double(bm * bn) / 4096.0;
      double cost = w.tiles * (unit + 0.35) + w.maskedTiles * 0.25 * unit;
      // Fewer, larger CTAs amortise the Q load and the epilogue.
      cost += double(ceilDiv(len, bm)) * double(p.heads) * 0.5;
      if (bm == 128)
        cost *= 1.15;
      if (bestCost < 0 || cost < bestCost * 0.999) {
        bestCost = cost;
        best = tc;
      }
    }
  return best;
}

TileConfig chooseTiles(const Pattern &p, int64_t headDim, TileTarget target) {
  if (target == TileTarget::Sm90aD128) {
    // Measured on an H100 (docs/results.md, "kernel v7"), 128 x 128 against
    // 128 x 64: dense causal 1.15-1.29x and 128-token blocks 1.11-1.13x
    // (mergeWaste +0.00 at 8192 tokens), but 0.59-0.96x where 64-token
    // blocks leave key tiles half masked (+0.10 to +0.16). There 128 x 64
    // with key-tile pairs (two 64-key tiles a 128-key step) against 64 x 64
    // ("kernel v9"; H100 runs bench/results/*-20261127-0149-*, *-0220-*
    // and *-0226-v9.log), with the key tiles a 128-row query tile visits on
    // average (ScheduleTest checks these counts): S2 local 16 stride 16
    // 0.94-0.98x at 8k (19 tiles), 1.02-1.11x at 32k (32), 1.16-1.17x at
    // 128k (80); stride 64 0.94-1.22x at 8k (17), 1.07-1.12x at 32k (20.5),
    // 1.14-1.18x at 128k (33); a sliding window of 16 blocks 0.95-0.97x at
    // every length (17; the examples' run): the 128-row CTAs, one an SM, pay
    // their fixed cost over too few steps unless the keys grow with the length.
    // So pairs where a query tile visits at least 24 key tiles on average
    // at 128k tokens (long contexts are what the sparsity is for), and for
    // blocks of 64 tokens or more (smaller blocks' masks spill on 128-key
    // steps, codegen/HopperKernel.h).
    TileConfig wide, narrow;
    wide.blockM = wide.blockN = narrow.blockM = 128;
    narrow.blockN = 64;
    double w = mergeWaste(p, wide, 8192), n = mergeWaste(p, narrow, 8192);
    if (w < 1.0 && w <= n + 0.02)
      return wide;
    Schedule s;
    std::string err;
    if (p.block >= 64 && n < 1.0 && buildSchedule(p, narrow, s, err)) {
      int64_t len =
          s.maxSeqLen > 0 ? std::min<int64_t>(131072, s.maxSeqLen) : 131072;
      double perQueryTile = measure(p, s, len).tiles /
                            double(ceilDiv(len, narrow.blockM) * p.heads);
      if (perQueryTile >= 24)
        return narrow;
    }
  }
  return chooseTilesAnyTarget(p, headDim);
}

} // namespace s2
