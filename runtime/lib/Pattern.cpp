//===- Pattern.cpp - Pattern semantics, validation and serialisation ------===//
//
// The single reference evaluator of a pattern's meaning (the oracle) and the
// text form a bundle carries. Kept deliberately simple and obviously right:
// every faster representation elsewhere (schedules, kernels) is tested
// against these functions.
//
//===----------------------------------------------------------------------===//

#include "s2/Pattern.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace s2 {

const char *ruleKindName(RuleKind kind) {
  switch (kind) {
  case RuleKind::Dense:
    return "dense";
  case RuleKind::Local:
    return "local";
  case RuleKind::Stride:
    return "stride";
  case RuleKind::Sink:
    return "sink";
  case RuleKind::Global:
    return "global";
  case RuleKind::Dilated:
    return "dilated";
  case RuleKind::Blocks:
    return "blocks";
  }
  return "?";
}

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::Any:
    return "any";
  case DType::BF16:
    return "bf16";
  case DType::F16:
    return "f16";
  }
  return "?";
}

static int64_t posMod(int64_t a, int64_t m) {
  int64_t r = a % m;
  return r < 0 ? r + m : r;
}

static bool ruleAllows(const Pattern &p, const Rule &r, int64_t h, int64_t i,
                       int64_t j) {
  int64_t d = i - j;
  switch (r.kind) {
  case RuleKind::Dense:
    return true;
  case RuleKind::Local:
    return p.causal ? (d >= 0 && d < r.n) : (d > -r.n && d < r.n);
  case RuleKind::Stride:
    return posMod(j + r.shift[h], r.step) == 0;
  case RuleKind::Sink:
    return j < r.n;
  case RuleKind::Global:
    return std::binary_search(r.set.begin(), r.set.end(), i) ||
           std::binary_search(r.set.begin(), r.set.end(), j);
  case RuleKind::Dilated: {
    int64_t ad = p.causal ? d : (d < 0 ? -d : d);
    return ad >= 0 && ad < r.n * r.step && ad % r.step == 0;
  }
  case RuleKind::Blocks:
    return std::binary_search(r.blocks.begin(), r.blocks.end(),
                              std::make_pair(i, j));
  }
  return false;
}

bool blockVisible(const Pattern &p, int64_t h, int64_t i, int64_t j) {
  if (h < 0 || h >= p.heads || i < 0 || j < 0)
    return false;
  if (p.causal && j > i)
    return false;
  for (const Rule &r : p.rules)
    if (r.appliesTo(h, i) && ruleAllows(p, r, h, i, j))
      return true;
  return false;
}

bool tokenVisible(const Pattern &p, int64_t h, int64_t qpos, int64_t kpos) {
  if (qpos < 0 || kpos < 0)
    return false;
  if (p.causal && kpos > qpos)
    return false;
  return blockVisible(p, h, qpos / p.block, kpos / p.block);
}

std::vector<uint8_t> blockMask(const Pattern &p, int64_t h, int64_t nq,
                               int64_t nk) {
  std::vector<uint8_t> m(size_t(nq * nk), 0);
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t j = 0; j < nk; ++j)
      m[size_t(i * nk + j)] = blockVisible(p, h, i, j) ? 1 : 0;
  return m;
}

std::vector<uint8_t> tokenMask(const Pattern &p, int64_t h, int64_t sq,
                               int64_t sk) {
  std::vector<uint8_t> m(size_t(sq * sk), 0);
  int64_t off = sk - sq;
  for (int64_t r = 0; r < sq; ++r)
    for (int64_t k = 0; k < sk; ++k)
      m[size_t(r * sk + k)] = tokenVisible(p, h, r + off, k) ? 1 : 0;
  return m;
}

int64_t countVisiblePairs(const Pattern &p, int64_t h, int64_t sq, int64_t sk) {
  // Block by block: count the tokens of each visible block pair, trimming
  // the causal diagonal and the sequence ends exactly.
  int64_t off = sk - sq;
  int64_t b = p.block;
  int64_t total = 0;
  int64_t nqb = (sk + b - 1) / b;
  for (int64_t i = off / b; i < nqb; ++i) {
    int64_t q0 = std::max(i * b, off), q1 = std::min((i + 1) * b, sk);
    for (int64_t j = 0; j * b < sk; ++j) {
      if (!blockVisible(p, h, i, j))
        continue;
      int64_t k0 = j * b, k1 = std::min((j + 1) * b, sk);
      for (int64_t q = q0; q < q1; ++q) {
        int64_t hi = p.causal ? std::min(k1, q + 1) : k1;
        if (hi > k0)
          total += hi - k0;
      }
    }
  }
  return total;
}

std::string validatePattern(const Pattern &p) {
  std::ostringstream os;
  if (p.heads < 1 || p.heads > Limits::kMaxHeads)
    return "heads must be in 1.." + std::to_string(Limits::kMaxHeads);
  if (p.kvHeads < 1 || p.kvHeads > p.heads || p.heads % p.kvHeads != 0)
    return "kv_heads must divide heads";
  if (p.block < Limits::kMinBlock || p.block > Limits::kMaxBlock ||
      (p.block & (p.block - 1)) != 0)
    return "block must be a power of two in 16..256";
  if (p.headDim != 0 && p.headDim != 64 && p.headDim != 128)
    return "head_dim must be 64 or 128";
  for (size_t k = 0; k < p.rules.size(); ++k) {
    const Rule &r = p.rules[k];
    std::string where = "rule " + std::to_string(k) + ": ";
    if (int64_t(r.heads.size()) != p.heads)
      return where + "head set has the wrong size";
    if (r.qBegin < 0 || r.qBegin > Limits::kMaxBlockIndex ||
        (r.qEnd >= 0 &&
         (r.qEnd <= r.qBegin || r.qEnd > Limits::kMaxBlockIndex)))
      return where + "bad query block range";
    switch (r.kind) {
    case RuleKind::Dense:
      break;
    case RuleKind::Local:
    case RuleKind::Sink:
      if (r.n < 1 || r.n > Limits::kMaxBlockIndex)
        return where + "block count out of range";
      break;
    case RuleKind::Stride:
      if (r.step < 1 || r.step > Limits::kMaxBlockIndex)
        return where + "stride out of range";
      if (int64_t(r.shift.size()) != p.heads)
        return where + "shift table has the wrong size";
      for (int64_t s : r.shift)
        if (s < -Limits::kMaxBlockIndex || s > Limits::kMaxBlockIndex)
          return where + "shift out of range";
      break;
    case RuleKind::Dilated:
      if (r.n < 1 || r.step < 1 || r.n > Limits::kMaxBlockIndex ||
          r.step > Limits::kMaxBlockIndex ||
          r.n * r.step > Limits::kMaxBlockIndex)
        return where + "dilated window out of range";
      break;
    case RuleKind::Global:
      if (r.set.empty())
        return where + "empty global set";
      for (size_t x = 0; x < r.set.size(); ++x)
        if (r.set[x] < 0 || r.set[x] > Limits::kMaxBlockIndex ||
            (x > 0 && r.set[x] <= r.set[x - 1]))
          return where + "global set must be sorted, unique, in range";
      break;
    case RuleKind::Blocks:
      if (r.blocks.empty() ||
          int64_t(r.blocks.size()) > Limits::kMaxExplicitBlocks)
        return where + "bad explicit block count";
      for (size_t x = 0; x < r.blocks.size(); ++x) {
        auto b = r.blocks[x];
        if (b.first < 0 || b.second < 0 || b.first > Limits::kMaxBlockIndex ||
            b.second > Limits::kMaxBlockIndex ||
            (x > 0 && !(r.blocks[x - 1] < b)))
          return where + "explicit blocks must be sorted, unique, in range";
      }
      break;
    }
  }
  return "";
}

int64_t shardShift(const Pattern &p, int64_t h, int64_t stride,
                   int64_t offset) {
  int64_t step = std::max<int64_t>(1, stride / p.heads);
  return p.kvHeadOf(h) * step + offset;
}

//===----------------------------------------------------------------------===//
// Serialisation
//===----------------------------------------------------------------------===//
//
// s2pattern 1
// name <identifier>
// settings <heads> <kv_heads> <block> <causal 0|1> <head_dim> <dtype>
// rule <kind> <qBegin> <qEnd> <n> <step> <line> <col>
//   heads <count> <h>...          (the heads the rule applies to)
//   shift <h>:<s>...              (stride only; listed heads only)
//   set <count> <g>...            (global only)
//   blocks <count> <i> <j>...     (blocks only)
// end

static const char *kMagic = "s2pattern";
static const int kVersion = 1;

std::string serializePattern(const Pattern &p) {
  std::ostringstream os;
  os << kMagic << ' ' << kVersion << '\n';
  os << "name " << (p.name.empty() ? "_" : p.name) << '\n';
  os << "settings " << p.heads << ' ' << p.kvHeads << ' ' << p.block << ' '
     << (p.causal ? 1 : 0) << ' ' << p.headDim << ' ' << dtypeName(p.dtype)
     << '\n';
  for (const Rule &r : p.rules) {
    os << "rule " << ruleKindName(r.kind) << ' ' << r.qBegin << ' ' << r.qEnd
       << ' ' << r.n << ' ' << r.step << ' ' << r.loc.line << ' ' << r.loc.col
       << '\n';
    int64_t count = 0;
    for (uint8_t m : r.heads)
      count += m ? 1 : 0;
    os << "heads " << count;
    for (size_t h = 0; h < r.heads.size(); ++h)
      if (r.heads[h])
        os << ' ' << h;
    os << '\n';
    if (r.kind == RuleKind::Stride) {
      os << "shift";
      for (size_t h = 0; h < r.heads.size(); ++h)
        if (r.heads[h])
          os << ' ' << r.shift[h];
      os << '\n';
    }
    if (r.kind == RuleKind::Global) {
      os << "set " << r.set.size();
      for (int64_t g : r.set)
        os << ' ' << g;
      os << '\n';
    }
    if (r.kind == RuleKind::Blocks) {
      os << "blocks " << r.blocks.size();
      for (auto b : r.blocks)
        os << ' ' << b.first << ' ' << b.second;
      os << '\n';
    }
  }
  os << "end\n";
  return os.str();
}

namespace {
/// A strict whitespace tokenizer over the serialised text.
struct Reader {
  std::istringstream in;
  std::string error;
  explicit Reader(const std::string &t) : in(t) {}
  bool word(std::string &w) {
    if (!(in >> w)) {
      error = "unexpected end of pattern description";
      return false;
    }
    return true;
  }
  bool expect(const char *w) {
    std::string got;
    if (!word(got))
      return false;
    if (got != w) {
      error = std::string("expected '") + w +
              "' in pattern description, got '" + got + "'";
      return false;
    }
    return true;
  }
  bool integer(int64_t &v, int64_t lo, int64_t hi) {
    std::string w;
    if (!word(w))
      return false;
    char *end = nullptr;
    errno = 0;
    long long x = std::strtoll(w.c_str(), &end, 10);
    if (errno != 0 || end == w.c_str() || *end != '\0' || x < lo || x > hi) {
      error = "bad integer '" + w + "' in pattern description";
      return false;
    }
    v = x;
    return true;
  }
};
} // namespace

bool deserializePattern(const std::string &text, Pattern &out,
                        std::string &error) {
  Reader rd(text);
  Pattern p;
  int64_t version = 0;
  const int64_t big = Limits::kMaxBlockIndex;
  auto fail = [&]() {
    error = rd.error;
    return false;
  };
  if (!rd.expect(kMagic) || !rd.integer(version, 0, 1 << 20))
    return fail();
  if (version != kVersion) {
    error =
        "unsupported pattern description version " + std::to_string(version);
    return false;
  }
  if (!rd.expect("name") || !rd.word(p.name))
    return fail();
  int64_t causal = 0, headDim = 0;
  std::string dtype;
  if (!rd.expect("settings") || !rd.integer(p.heads, 1, Limits::kMaxHeads) ||
      !rd.integer(p.kvHeads, 1, Limits::kMaxHeads) ||
      !rd.integer(p.block, 1, Limits::kMaxBlock) || !rd.integer(causal, 0, 1) ||
      !rd.integer(headDim, 0, 1024) || !rd.word(dtype))
    return fail();
  p.causal = causal != 0;
  p.headDim = headDim;
  if (dtype == "any")
    p.dtype = DType::Any;
  else if (dtype == "bf16")
    p.dtype = DType::BF16;
  else if (dtype == "f16")
    p.dtype = DType::F16;
  else {
    error = "unknown dtype '" + dtype + "' in pattern description";
    return false;
  }
  while (true) {
    std::string w;
    if (!rd.word(w))
      return fail();
    if (w == "end")
      break;
    if (w != "rule") {
      error =
          "expected 'rule' or 'end' in pattern description, got '" + w + "'";
      return false;
    }
    if (p.rules.size() >= 1u << 16) {
      error = "too many rules in pattern description";
      return false;
    }
    Rule r;
    std::string kind;
    int64_t line = 0, col = 0;
    if (!rd.word(kind) || !rd.integer(r.qBegin, 0, big) ||
        !rd.integer(r.qEnd, -1, big) || !rd.integer(r.n, 0, big) ||
        !rd.integer(r.step, 0, big) || !rd.integer(line, 0, INT32_MAX) ||
        !rd.integer(col, 0, INT32_MAX))
      return fail();
    r.loc = {int32_t(line), int32_t(col)};
    static const RuleKind kinds[] = {
        RuleKind::Dense,  RuleKind::Local,   RuleKind::Stride, RuleKind::Sink,
        RuleKind::Global, RuleKind::Dilated, RuleKind::Blocks};
    bool found = false;
    for (RuleKind k : kinds)
      if (kind == ruleKindName(k)) {
        r.kind = k;
        found = true;
      }
    if (!found) {
      error = "unknown rule kind '" + kind + "' in pattern description";
      return false;
    }
    int64_t count = 0;
    if (!rd.expect("heads") || !rd.integer(count, 0, p.heads))
      return fail();
    r.heads.assign(size_t(p.heads), 0);
    std::vector<int64_t> listed;
    for (int64_t x = 0; x < count; ++x) {
      int64_t h = 0;
      if (!rd.integer(h, 0, p.heads - 1))
        return fail();
      r.heads[size_t(h)] = 1;
      listed.push_back(h);
    }
    if (r.kind == RuleKind::Stride) {
      r.shift.assign(size_t(p.heads), 0);
      if (!rd.expect("shift"))
        return fail();
      for (int64_t h : listed)
        if (!rd.integer(r.shift[size_t(h)], -big, big))
          return fail();
    }
    if (r.kind == RuleKind::Global) {
      if (!rd.expect("set") || !rd.integer(count, 1, 1 << 20))
        return fail();
      for (int64_t x = 0; x < count; ++x) {
        int64_t g = 0;
        if (!rd.integer(g, 0, big))
          return fail();
        r.set.push_back(g);
      }
    }
    if (r.kind == RuleKind::Blocks) {
      if (!rd.expect("blocks") ||
          !rd.integer(count, 1, Limits::kMaxExplicitBlocks))
        return fail();
      for (int64_t x = 0; x < count; ++x) {
        int64_t i = 0, j = 0;
        if (!rd.integer(i, 0, big) || !rd.integer(j, 0, big))
          return fail();
        r.blocks.emplace_back(i, j);
      }
    }
    p.rules.push_back(std::move(r));
  }
  std::string v = validatePattern(p);
  if (!v.empty()) {
    error = "invalid pattern description: " + v;
    return false;
  }
  out = std::move(p);
  return true;
}

} // namespace s2
