//===- Oracle.cpp - C entry point to the pattern oracle -------------------===//
//
// Thin C wrappers over s2::Pattern's reference semantics.
//
//===----------------------------------------------------------------------===//

#include "s2/oracle.h"
#include "s2/Pattern.h"

#include <cstring>
#include <new>
#include <vector>

struct s2_oracle {
  s2::Pattern pattern;
};

static void copyMessage(const std::string &m, char *err, size_t errlen) {
  if (!err || errlen == 0)
    return;
  size_t n = m.size() < errlen - 1 ? m.size() : errlen - 1;
  std::memcpy(err, m.data(), n);
  err[n] = '\0';
}

extern "C" int s2_oracle_create(const char *text, size_t len, s2_oracle **out,
                                char *err, size_t errlen) {
  if (!text || !out) {
    copyMessage("null argument", err, errlen);
    return 1;
  }
  *out = nullptr;
  auto *o = new (std::nothrow) s2_oracle();
  if (!o) {
    copyMessage("out of memory", err, errlen);
    return 1;
  }
  std::string error;
  if (!s2::deserializePattern(std::string(text, len), o->pattern, error)) {
    copyMessage(error, err, errlen);
    delete o;
    return 1;
  }
  *out = o;
  return 0;
}

extern "C" void s2_oracle_destroy(s2_oracle *o) { delete o; }

extern "C" int64_t s2_oracle_heads(const s2_oracle *o) {
  return o->pattern.heads;
}
extern "C" int64_t s2_oracle_kv_heads(const s2_oracle *o) {
  return o->pattern.kvHeads;
}
extern "C" int64_t s2_oracle_block(const s2_oracle *o) {
  return o->pattern.block;
}
extern "C" int s2_oracle_causal(const s2_oracle *o) {
  return o->pattern.causal ? 1 : 0;
}

extern "C" int s2_oracle_block_visible(const s2_oracle *o, int64_t h, int64_t i,
                                       int64_t j) {
  return s2::blockVisible(o->pattern, h, i, j) ? 1 : 0;
}

extern "C" void s2_oracle_block_mask(const s2_oracle *o, int64_t h, int64_t nq,
                                     int64_t nk, uint8_t *out) {
  std::vector<uint8_t> m = s2::blockMask(o->pattern, h, nq, nk);
  std::memcpy(out, m.data(), m.size());
}

extern "C" void s2_oracle_token_mask_rows(const s2_oracle *o, int64_t h,
                                          int64_t sq, int64_t sk, int64_t r0,
                                          int64_t r1, uint8_t *out) {
  const s2::Pattern &p = o->pattern;
  int64_t off = sk - sq, b = p.block;
  for (int64_t r = r0; r < r1; ++r) {
    int64_t qpos = r + off;
    uint8_t *row = out + (r - r0) * sk;
    // Evaluate once per key block, then fill its tokens.
    for (int64_t j = 0; j * b < sk; ++j) {
      bool vis = s2::blockVisible(p, h, qpos / b, j);
      int64_t k1 = (j + 1) * b < sk ? (j + 1) * b : sk;
      for (int64_t k = j * b; k < k1; ++k)
        row[k] = (vis && (!p.causal || k <= qpos)) ? 1 : 0;
    }
  }
}

extern "C" int64_t s2_oracle_count_pairs(const s2_oracle *o, int64_t h,
                                         int64_t sq, int64_t sk) {
  return s2::countVisiblePairs(o->pattern, h, sq, sk);
}
