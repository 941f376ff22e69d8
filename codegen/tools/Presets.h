//===- Presets.h - Hand-built patterns and schedules for kernel tests -----===//
//
// Small patterns with schedules written by hand (not by s2-tile), so that the
// kernel builder can be tested and its PTX produced on its own:
//   causal   dense causal attention: one Range span [0, hi(t)) per tile
//   s2       S2 shard pattern (local L + stride V, DKernel shift): a Range
//            for the window and a Progression below it, residue per head
//   s2dense  S2 heads [0, H/2) and dense causal heads [H/2, H): two groups
//   dense    dense bidirectional attention: one Range span [0, nkt)
//   masked   the s2 pattern at block 32 under 64-wide tiles: one Range span
//            over the causal prefix marked `masked` (per-element predicate)
//   table    sink + local at block 64 as a Table span (one CSR row per tile)
//
//===----------------------------------------------------------------------===//

#ifndef S2C_CODEGEN_TOOLS_PRESETS_H
#define S2C_CODEGEN_TOOLS_PRESETS_H

#include "s2/Pattern.h"
#include "s2/Schedule.h"

#include <string>

namespace s2c {
namespace presets {

struct Params {
  int64_t heads = 4;
  int64_t kvHeads = 4;
  int64_t block = 64;
  int64_t local = 4;
  int64_t stride = 4;
  int64_t blockM = 64;
  int64_t blockN = 64;
  /// Table preset: query tiles covered.
  int64_t tableRows = 64;
};

inline s2::Rule ruleForAll(const s2::Pattern &p, s2::RuleKind kind) {
  s2::Rule r;
  r.kind = kind;
  r.heads.assign(size_t(p.heads), 1);
  r.shift.assign(size_t(p.heads), 0);
  return r;
}

inline s2::AffineBound aff(int64_t a, int64_t b, int64_t c) {
  s2::AffineBound x;
  x.a = a;
  x.b = b;
  x.c = c;
  return x;
}

inline std::vector<int64_t> allHeads(const s2::Pattern &p) {
  std::vector<int64_t> hs;
  for (int64_t h = 0; h < p.heads; ++h)
    hs.push_back(h);
  return hs;
}

/// The S2 pattern: local window L blocks plus stride V with the DKernel
/// shard shift (offset 0).
inline s2::Pattern s2Pattern(const Params &q) {
  s2::Pattern p;
  p.name = "s2";
  p.heads = q.heads;
  p.kvHeads = q.kvHeads;
  p.block = q.block;
  p.causal = true;
  s2::Rule local = ruleForAll(p, s2::RuleKind::Local);
  local.n = q.local;
  s2::Rule stride = ruleForAll(p, s2::RuleKind::Stride);
  stride.step = q.stride;
  for (int64_t h = 0; h < p.heads; ++h)
    stride.shift[size_t(h)] = s2::shardShift(p, h, q.stride, 0);
  p.rules = {local, stride};
  return p;
}

/// Patterns for building kernels from s2::buildSchedule output: S2 with
/// GQA at blocks 64 and 16, and every other rule kind (sink, dilated,
/// global, explicit blocks) at block 32, causal and not.
inline std::vector<s2::Pattern> scheduleBuilderPatterns() {
  std::vector<s2::Pattern> pats;
  presets::Params q;
  q.heads = 8;
  q.kvHeads = 2;
  q.stride = 16;
  q.local = 2;
  pats.push_back(presets::s2Pattern(q));
  q.block = 16;
  pats.push_back(presets::s2Pattern(q));
  {
    s2::Pattern p = presets::s2Pattern(q);
    p.block = 32;
    s2::Rule sink = presets::ruleForAll(p, s2::RuleKind::Sink);
    sink.n = 1;
    s2::Rule dil = presets::ruleForAll(p, s2::RuleKind::Dilated);
    dil.n = 3;
    dil.step = 2;
    s2::Rule glob = presets::ruleForAll(p, s2::RuleKind::Global);
    glob.set = {5};
    s2::Rule blocks = presets::ruleForAll(p, s2::RuleKind::Blocks);
    blocks.blocks = {{9, 1}, {12, 7}};
    p.rules = {sink, dil, glob, blocks};
    pats.push_back(p);
    p.causal = false;
    pats.push_back(p);
  }
  return pats;
}

/// Builds the preset `name`; returns false for an unknown name.
inline bool build(const std::string &name, const Params &q, s2::Pattern &p,
                  s2::Schedule &s) {
  s = s2::Schedule();
  s.tiles.blockM = q.blockM;
  s.tiles.blockN = q.blockN;
  s2::HeadGroup g;
  s2::Phase ph;
  if (name == "causal" || name == "dense") {
    p = s2::Pattern();
    p.name = name;
    p.heads = q.heads;
    p.kvHeads = q.kvHeads;
    p.block = q.block;
    p.causal = name == "causal";
    p.rules = {ruleForAll(p, s2::RuleKind::Dense)};
    s2::Span all;
    all.kind = s2::SpanKind::Range;
    // Causal: key tiles [0, floor((BM*t + BM - 1) / BN) + 1).
    if (p.causal)
      all.hi = {aff(q.blockM, q.blockM - 1 + q.blockN, q.blockN)};
    ph.spans = {all};
  } else if (name == "s2" && (q.block != q.blockM || q.block != q.blockN)) {
    // Blocks unlike tiles: the causal prefix as one masked Range (a correct
    // superset; s2::buildSchedule gives the tight schedule).
    p = s2Pattern(q);
    s2::Span all;
    all.kind = s2::SpanKind::Range;
    all.hi = {aff(q.blockM, q.blockM - 1 + q.blockN, q.blockN)};
    all.masked = true;
    ph.spans = {all};
  } else if (name == "s2") {
    // Tiles equal to pattern blocks: query tile t is block t.
    p = s2Pattern(q);
    s2::Span window;
    window.kind = s2::SpanKind::Range;
    window.lo = {aff(1, -(q.local - 1), 1)};
    window.hi = {aff(1, 1, 1)};
    s2::Span prog;
    prog.kind = s2::SpanKind::Progression;
    prog.step = q.stride;
    prog.hi = {aff(1, -(q.local - 1), 1)};
    prog.residue.assign(size_t(p.heads), 0);
    for (int64_t h = 0; h < p.heads; ++h) {
      int64_t shift = p.rules[1].shift[size_t(h)];
      prog.residue[size_t(h)] = ((-shift) % q.stride + q.stride) % q.stride;
    }
    ph.spans = {window, prog};
  } else if (name == "s2dense") {
    // S2 heads [0, H/2) plus dense causal heads [H/2, H), two head groups
    // (DKernel puts the dense heads last).
    if (q.block != q.blockM || q.block != q.blockN || q.heads < 2)
      return false;
    p = s2Pattern(q);
    p.name = "s2dense";
    int64_t half = q.heads / 2;
    s2::Rule dense = ruleForAll(p, s2::RuleKind::Dense);
    for (int64_t h = 0; h < p.heads; ++h) {
      bool s2Head = h < half;
      p.rules[0].heads[size_t(h)] = s2Head;
      p.rules[1].heads[size_t(h)] = s2Head;
      if (!s2Head)
        p.rules[1].shift[size_t(h)] = 0;
      dense.heads[size_t(h)] = !s2Head;
    }
    p.rules.push_back(dense);
    s2::Span window;
    window.kind = s2::SpanKind::Range;
    window.lo = {aff(1, -(q.local - 1), 1)};
    window.hi = {aff(1, 1, 1)};
    s2::Span prog;
    prog.kind = s2::SpanKind::Progression;
    prog.step = q.stride;
    prog.hi = {aff(1, -(q.local - 1), 1)};
    prog.residue.assign(size_t(p.heads), 0);
    s2::HeadGroup g0, g1;
    for (int64_t h = 0; h < p.heads; ++h) {
      if (h < half) {
        int64_t shift = p.rules[1].shift[size_t(h)];
        prog.residue[size_t(h)] = ((-shift) % q.stride + q.stride) % q.stride;
        g0.heads.push_back(h);
      } else {
        g1.heads.push_back(h);
      }
    }
    s2::Phase p0, p1;
    p0.spans = {window, prog};
    s2::Span all;
    all.kind = s2::SpanKind::Range;
    all.hi = {aff(1, 1, 1)};
    p1.spans = {all};
    g0.phases = {p0};
    g1.phases = {p1};
    s.causal = true;
    s.groups = {g0, g1};
    return true;
  } else if (name == "masked") {
    // Pattern blocks of `block` (e.g. 32) under wider tiles: a superset span
    // over the causal prefix, with the pattern evaluated per element.
    p = s2Pattern(q);
    p.name = "masked";
    s2::Span all;
    all.kind = s2::SpanKind::Range;
    all.hi = {aff(q.blockM, q.blockM - 1 + q.blockN, q.blockN)};
    all.masked = true;
    ph.spans = {all};
  } else if (name == "table") {
    // Sink (first block) + local 1 at tiles = blocks, as one CSR row per
    // query tile: {0, t} (or {0} for t = 0).
    if (q.block != q.blockM || q.block != q.blockN)
      return false;
    p = s2::Pattern();
    p.name = "table";
    p.heads = q.heads;
    p.kvHeads = q.kvHeads;
    p.block = q.block;
    p.causal = true;
    s2::Rule sink = ruleForAll(p, s2::RuleKind::Sink);
    sink.n = 1;
    s2::Rule local = ruleForAll(p, s2::RuleKind::Local);
    local.n = 1;
    p.rules = {sink, local};
    s2::TileTable tt;
    tt.rowPtr.push_back(0);
    for (int64_t t = 0; t < q.tableRows; ++t) {
      tt.cols.push_back(0);
      if (t > 0)
        tt.cols.push_back(t);
      tt.rowPtr.push_back(int64_t(tt.cols.size()));
    }
    s.tables = {tt};
    s.maxSeqLen = q.tableRows * q.blockM;
    s2::Span tab;
    tab.kind = s2::SpanKind::Table;
    tab.table = 0;
    ph.spans = {tab};
  } else {
    return false;
  }
  s.causal = p.causal;
  g.heads = allHeads(p);
  g.phases = {ph};
  s.groups = {g};
  return true;
}

} // namespace presets
} // namespace s2c

#endif // S2C_CODEGEN_TOOLS_PRESETS_H
