//===- TestPatterns.h - Patterns shared by the unit tests -----------------===//
//
// Builders for the patterns the property tests use: the S2 local-stride
// pattern, and random valid patterns of every rule kind.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_TEST_UNIT_TESTPATTERNS_H
#define S2C_TEST_UNIT_TESTPATTERNS_H

#include "s2/Pattern.h"

#include <algorithm>
#include <random>
#include <set>
#include <utility>

namespace s2test {

/// A rule of `kind` applying to every head of `p`.
inline s2::Rule makeRule(const s2::Pattern &p, s2::RuleKind kind) {
  s2::Rule r;
  r.kind = kind;
  r.heads.assign(size_t(p.heads), 1);
  return r;
}

/// Dense attention on every head (causal unless said otherwise).
inline s2::Pattern densePattern(int64_t heads, int64_t block,
                                bool causal = true) {
  s2::Pattern p;
  p.name = "dense";
  p.heads = p.kvHeads = heads;
  p.block = block;
  p.causal = causal;
  p.rules = {makeRule(p, s2::RuleKind::Dense)};
  return p;
}

/// S2 local-stride: `window` local blocks plus a stride with the published
/// shard shift, on every head.
inline s2::Pattern s2Pattern(int64_t heads, int64_t block, bool causal,
                             int64_t window, int64_t stride) {
  s2::Pattern p;
  p.name = "s2";
  p.heads = p.kvHeads = heads;
  p.block = block;
  p.causal = causal;
  s2::Rule l = makeRule(p, s2::RuleKind::Local);
  l.n = window;
  s2::Rule s = makeRule(p, s2::RuleKind::Stride);
  s.step = stride;
  s.shift.resize(size_t(heads));
  for (int64_t h = 0; h < heads; ++h)
    s.shift[size_t(h)] = s2::shardShift(p, h, stride, 0);
  p.rules = {l, s};
  return p;
}

struct RandomPatternOptions {
  int64_t maxHeads = 5;
  /// Blocks are 16 << [0, maxBlockLog2].
  int maxBlockLog2 = 4;
  /// Rule parameters reach about this many tokens.
  int64_t maxTokens = 2000;
  /// Include explicit `blocks` rules (table-backed schedules).
  bool allowBlocks = true;
  /// Sometimes give even head counts two KV heads (GQA groups of several).
  bool gqaPairs = false;
};

/// A random valid pattern using every rule kind.
inline s2::Pattern randomPattern(std::mt19937_64 &rng,
                                 const RandomPatternOptions &o = {}) {
  using s2::RuleKind;
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  s2::Pattern p;
  p.name = "r";
  p.heads = uni(1, o.maxHeads);
  p.kvHeads = uni(0, 1) ? p.heads : 1;
  if (o.gqaPairs && p.heads % 2 == 0 && uni(0, 1))
    p.kvHeads = 2;
  p.block = int64_t(16) << uni(0, o.maxBlockLog2);
  p.causal = uni(0, 1);
  int64_t maxBlocks = std::max<int64_t>(2, o.maxTokens / p.block);
  int nrules = int(uni(1, 4));
  for (int k = 0; k < nrules; ++k) {
    s2::Rule r = makeRule(p, RuleKind(uni(0, o.allowBlocks ? 6 : 5)));
    for (auto &m : r.heads)
      m = uni(0, 4) != 0;
    if (uni(0, 3) == 0) {
      r.qBegin = uni(0, maxBlocks / 2);
      if (uni(0, 1))
        r.qEnd = r.qBegin + uni(1, maxBlocks);
    }
    switch (r.kind) {
    case RuleKind::Dense:
      break;
    case RuleKind::Local:
      r.n = uni(1, 6);
      break;
    case RuleKind::Stride:
      r.step = uni(1, 12);
      r.shift.resize(size_t(p.heads));
      for (auto &s : r.shift)
        s = uni(-20, 20);
      break;
    case RuleKind::Sink:
      r.n = uni(1, 5);
      break;
    case RuleKind::Global: {
      std::set<int64_t> g;
      for (int64_t x = uni(1, 4); x > 0; --x)
        g.insert(uni(0, maxBlocks));
      r.set.assign(g.begin(), g.end());
      break;
    }
    case RuleKind::Dilated:
      r.n = uni(1, 4);
      r.step = uni(1, 4);
      break;
    case RuleKind::Blocks: {
      std::set<std::pair<int64_t, int64_t>> bs;
      for (int64_t x = uni(1, 12); x > 0; --x)
        bs.insert({uni(0, maxBlocks), uni(0, maxBlocks)});
      r.blocks.assign(bs.begin(), bs.end());
      break;
    }
    }
    p.rules.push_back(r);
  }
  return p;
}

} // namespace s2test

#endif // S2C_TEST_UNIT_TESTPATTERNS_H
