//===- PatternStats.cpp - Analyses of a sparse-attention pattern -*- C++ -*-=//
//
// Density, coverage, empty rows and KV-cache behaviour of an s2::Pattern.
// Density and coverage evaluate the oracle (s2::blockVisible,
// s2::countVisiblePairs) at a sequence length; empty rows and the KV-cache
// fraction use closed forms per rule that hold for every query block (see
// PatternStats.h for the argument).
//
//===----------------------------------------------------------------------===//

#include "dialect/Analysis/PatternStats.h"

#include <algorithm>
#include <limits>
#include <map>

using namespace s2c;

static int64_t posMod(int64_t a, int64_t m) {
  int64_t r = a % m;
  return r < 0 ? r + m : r;
}

int64_t s2c::numBlocks(const s2::Pattern &p, int64_t seqLen) {
  if (p.block <= 0 || seqLen <= 0)
    return 0;
  return (seqLen + p.block - 1) / p.block;
}

std::string s2c::checkAnalysisLength(const s2::Pattern &p, int64_t seqLen) {
  if (seqLen < 1)
    return "expected a sequence length of at least 1 token, got " +
           std::to_string(seqLen);
  if (seqLen > s2::Limits::kMaxBlockIndex * s2::Limits::kMinBlock)
    return "sequence length " + std::to_string(seqLen) +
           " is past the largest block index";
  int64_t nb = numBlocks(p, seqLen);
  // nb <= 2^24, heads <= 1024: the product below fits in 64 bits.
  if (nb * nb > (int64_t(1) << 31) / std::max<int64_t>(1, p.heads))
    return "sequence length " + std::to_string(seqLen) +
           " is too long to analyse (" + std::to_string(nb) + " blocks for " +
           std::to_string(p.heads) +
           " heads); expected at most 2^31 block pairs over all heads";
  return "";
}

DensityStats s2c::computeDensity(const s2::Pattern &p, int64_t seqLen) {
  DensityStats s;
  s.seqLen = seqLen;
  s.referencePairs = p.causal ? seqLen * (seqLen + 1) / 2 : seqLen * seqLen;
  int64_t total = 0;
  for (int64_t h = 0; h < p.heads; ++h) {
    int64_t v = s2::countVisiblePairs(p, h, seqLen, seqLen);
    s.visiblePairs.push_back(v);
    s.density.push_back(s.referencePairs ? double(v) / s.referencePairs : 0);
    total += v;
  }
  if (s.referencePairs && p.heads)
    s.overall = double(total) / (double(s.referencePairs) * double(p.heads));
  return s;
}

CoverageStats s2c::computeCoverage(const s2::Pattern &p, int64_t seqLen) {
  CoverageStats c;
  c.numBlocks = numBlocks(p, seqLen);
  int64_t nb = c.numBlocks;
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t j = 0; j < (p.causal ? i + 1 : nb); ++j) {
      bool seen = false;
      for (int64_t h = 0; h < p.heads && !seen; ++h)
        seen = s2::blockVisible(p, h, i, j);
      if (seen)
        continue;
      ++c.uncovered;
      if (c.sample.size() < 8)
        c.sample.emplace_back(i, j);
    }
  return c;
}

std::vector<std::pair<int64_t, int64_t>>
s2c::emptyRowsOfHead(const s2::Pattern &p, int64_t h) {
  const int64_t inf = std::numeric_limits<int64_t>::max();
  // Query-block intervals [lo, hi) where the head sees some key block j <= i.
  std::vector<std::pair<int64_t, int64_t>> seen;
  for (const s2::Rule &r : p.rules) {
    if (h < 0 || h >= int64_t(r.heads.size()) || !r.heads[size_t(h)])
      continue;
    int64_t hi = r.qEnd < 0 ? inf : r.qEnd;
    auto add = [&](int64_t threshold) {
      int64_t lo = std::max(r.qBegin, threshold);
      if (lo < hi)
        seen.emplace_back(lo, hi);
    };
    switch (r.kind) {
    case s2::RuleKind::Dense:
    case s2::RuleKind::Local:
    case s2::RuleKind::Sink:
    case s2::RuleKind::Dilated:
      // j = i (local, dilated), j = 0 (sink) or any j (dense).
      add(0);
      break;
    case s2::RuleKind::Stride:
      if (r.step > 0 && size_t(h) < r.shift.size())
        add(posMod(-r.shift[size_t(h)], r.step));
      break;
    case s2::RuleKind::Global:
      if (!r.set.empty())
        add(r.set.front());
      break;
    case s2::RuleKind::Blocks:
      for (auto [i, j] : r.blocks)
        if (j <= i && i >= r.qBegin && i < hi)
          seen.emplace_back(i, i + 1);
      break;
    }
  }
  std::sort(seen.begin(), seen.end());
  std::vector<std::pair<int64_t, int64_t>> empty;
  int64_t next = 0; // first row not known to be seen
  for (auto [lo, hi] : seen) {
    if (lo > next)
      empty.emplace_back(next, lo);
    next = std::max(next, hi);
    if (next == inf)
      return empty;
  }
  empty.emplace_back(next, -1);
  return empty;
}

std::vector<EmptyRows> s2c::findEmptyRows(const s2::Pattern &p) {
  std::vector<EmptyRows> groups;
  std::map<std::vector<std::pair<int64_t, int64_t>>, size_t> index;
  for (int64_t h = 0; h < p.heads; ++h) {
    auto ranges = emptyRowsOfHead(p, h);
    if (ranges.empty())
      continue;
    auto it = index.find(ranges);
    if (it == index.end()) {
      index.emplace(ranges, groups.size());
      groups.push_back({{h}, std::move(ranges)});
    } else {
      groups[it->second].heads.push_back(h);
    }
  }
  return groups;
}

/// Whether some query block i in [lo, hi) (all >= j) sees key block j
/// through rule r (causal patterns).
static bool laterQueryUses(const s2::Rule &r, int64_t h, int64_t j, int64_t lo,
                           int64_t hi) {
  switch (r.kind) {
  case s2::RuleKind::Dense:
    return true;
  case s2::RuleKind::Local:
    return std::max(j, lo) < std::min(j + r.n, hi);
  case s2::RuleKind::Stride:
    return r.step > 0 && size_t(h) < r.shift.size() &&
           posMod(j + r.shift[size_t(h)], r.step) == 0;
  case s2::RuleKind::Sink:
    return j < r.n;
  case s2::RuleKind::Global:
    if (std::binary_search(r.set.begin(), r.set.end(), j))
      return true;
    for (int64_t g : r.set)
      if (g >= lo && g < hi)
        return true;
    return false;
  case s2::RuleKind::Dilated: {
    if (r.step <= 0)
      return false;
    // Query blocks j + k*step for k in [0, n).
    int64_t k0 = lo > j ? (lo - j + r.step - 1) / r.step : 0;
    return k0 < r.n && j + k0 * r.step < hi;
  }
  case s2::RuleKind::Blocks:
    for (auto [i, jj] : r.blocks)
      if (jj == j && i >= lo && i < hi)
        return true;
    return false;
  }
  return false;
}

KvCacheStats s2c::computeKvCache(const s2::Pattern &p, int64_t seqLen) {
  KvCacheStats k;
  k.applicable = p.causal;
  k.numBlocks = numBlocks(p, seqLen);
  if (!k.applicable)
    return k;
  const int64_t inf = std::numeric_limits<int64_t>::max();
  int64_t nb = k.numBlocks;
  for (int64_t h = 0; h < p.heads; ++h) {
    // Efficiency: the users of key block j are a run [j, e).
    std::vector<uint8_t> mask = s2::blockMask(p, h, nb, nb);
    KvCacheStats::Violation v;
    for (int64_t j = 0; j < nb && v.keyBlock < 0; ++j) {
      int64_t gap = -1;
      for (int64_t i = j; i < nb; ++i) {
        bool used = mask[size_t(i * nb + j)] != 0;
        if (!used && gap < 0)
          gap = i;
        if (used && gap >= 0) {
          v = {j, gap, i};
          break;
        }
      }
    }
    k.efficient.push_back(v.keyBlock < 0 ? 1 : 0);
    k.violation.push_back(v);
    // Kept blocks: key blocks some query block >= nb - 1 still sees.
    int64_t kept = 0;
    for (int64_t j = 0; j < nb; ++j) {
      bool keep = false;
      for (const s2::Rule &r : p.rules) {
        if (h >= int64_t(r.heads.size()) || !r.heads[size_t(h)])
          continue;
        int64_t lo = std::max(r.qBegin, nb - 1);
        int64_t hi = r.qEnd < 0 ? inf : r.qEnd;
        if (lo < hi && laterQueryUses(r, h, j, lo, hi)) {
          keep = true;
          break;
        }
      }
      kept += keep ? 1 : 0;
    }
    k.keptBlocks.push_back(kept);
    k.fraction.push_back(nb ? double(kept) / double(nb) : 0);
  }
  return k;
}

std::string s2c::formatIndexSet(const std::vector<int64_t> &v) {
  std::string out;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1)
      ++j;
    if (i)
      out += ", ";
    if (j - i >= 2) {
      out += std::to_string(v[i]) + " to " + std::to_string(v[j]);
    } else {
      out += std::to_string(v[i]);
      if (j > i)
        out += ", " + std::to_string(v[j]);
    }
    i = j + 1;
  }
  return out;
}

std::string
s2c::formatRanges(const std::vector<std::pair<int64_t, int64_t>> &ranges) {
  std::string out;
  for (auto [lo, hi] : ranges) {
    if (!out.empty())
      out += ", ";
    out += "[" + std::to_string(lo) + ", " +
           (hi < 0 ? std::string("end") : std::to_string(hi)) + ")";
  }
  return out;
}
