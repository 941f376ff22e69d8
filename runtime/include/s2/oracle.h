/*===- oracle.h - C entry point to the pattern oracle ---------------------===*
 *
 * A C view of s2::Pattern's reference semantics, for tools and GPU checks
 * written in other languages (the Python checks load it with ctypes). The
 * pattern comes from its serialised text (what a bundle carries).
 *
 *===----------------------------------------------------------------------===*/

#ifndef S2C_RUNTIME_INCLUDE_S2_ORACLE_H
#define S2C_RUNTIME_INCLUDE_S2_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct s2_oracle s2_oracle;

/* Parses a serialised pattern. Returns 0 and sets *out on success; otherwise
 * returns non-zero and writes a message into err (when errlen > 0). */
int s2_oracle_create(const char *text, size_t len, s2_oracle **out, char *err,
                     size_t errlen);
void s2_oracle_destroy(s2_oracle *o);

int64_t s2_oracle_heads(const s2_oracle *o);
int64_t s2_oracle_kv_heads(const s2_oracle *o);
int64_t s2_oracle_block(const s2_oracle *o);
int s2_oracle_causal(const s2_oracle *o);

/* 1 when key block j is visible from query block i for head h, else 0. */
int s2_oracle_block_visible(const s2_oracle *o, int64_t h, int64_t i,
                            int64_t j);

/* Writes the block mask of head h (nq x nk, row-major, 1 = visible). */
void s2_oracle_block_mask(const s2_oracle *o, int64_t h, int64_t nq, int64_t nk,
                          uint8_t *out);

/* Writes rows [r0, r1) of head h's token mask for a query of sq rows over sk
 * keys (bottom-right aligned), row-major (r1 - r0) x sk. */
void s2_oracle_token_mask_rows(const s2_oracle *o, int64_t h, int64_t sq,
                               int64_t sk, int64_t r0, int64_t r1,
                               uint8_t *out);

/* Number of visible (query, key) pairs of head h for sq x sk. */
int64_t s2_oracle_count_pairs(const s2_oracle *o, int64_t h, int64_t sq,
                              int64_t sk);

#ifdef __cplusplus
}
#endif

#endif /* S2C_RUNTIME_INCLUDE_S2_ORACLE_H */
