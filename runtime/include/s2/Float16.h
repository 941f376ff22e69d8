//===- Float16.h - bf16 and f16 conversions on the host
//--------------------===//
//
// Round-to-nearest-even conversions between float and the two 16-bit
// element types the kernels take, for host-side test data and references
// (s2-sp-run, the unit tests). Infinity and NaN of bf16 pass through; f16
// overflow saturates to infinity.
//
//===----------------------------------------------------------------------===//

#ifndef S2C_RUNTIME_INCLUDE_S2_FLOAT16_H
#define S2C_RUNTIME_INCLUDE_S2_FLOAT16_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace s2 {

inline uint16_t bf16FromFloat(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  b += 0x7fff + ((b >> 16) & 1);
  return uint16_t(b >> 16);
}

inline float floatFromBf16(uint16_t h) {
  uint32_t b = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

inline uint16_t f16FromFloat(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  uint32_t sign = (b >> 16) & 0x8000u;
  int32_t exp = int32_t((b >> 23) & 0xff) - 127 + 15;
  uint32_t man = b & 0x7fffffu;
  if (exp >= 31)
    return uint16_t(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10)
      return uint16_t(sign);
    man |= 0x800000u;
    uint32_t shift = uint32_t(14 - exp);
    uint32_t h = man >> shift, rem = man & ((1u << shift) - 1),
             half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1)))
      ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = (uint32_t(exp) << 10) | (man >> 13), rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
    ++h;
  return uint16_t(sign | h);
}

inline float floatFromF16(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f,
           man = h & 0x3ffu;
  float f;
  if (exp == 0) {
    f = std::ldexp(float(man), -24);
    return sign ? -f : f;
  }
  uint32_t b = sign | ((exp == 31 ? 255 : exp - 15 + 127) << 23) | (man << 13);
  std::memcpy(&f, &b, 4);
  return f;
}

} // namespace s2

#endif // S2C_RUNTIME_INCLUDE_S2_FLOAT16_H
