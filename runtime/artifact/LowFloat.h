//===- LowFloat.h - bf16 and f16 elements to and from f32 ----------*- C++ -*-===//
//
// The runtime's conversions for buffers of the low precisions
// (kiln-assign-precision): widening is exact, narrowing rounds to nearest,
// ties to even, as the kernels' stores (arith.truncf) and the reference
// evaluator do. Header-only, free of LLVM.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_ARTIFACT_LOWFLOAT_H
#define KILN_ARTIFACT_LOWFLOAT_H

#include "runtime/artifact/DType.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace kiln {

/// An f32's bits and back (std::bit_cast before C++20).
inline uint32_t bitsOf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}
inline float floatWithBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline float bf16ToFloat(uint16_t h) { return floatWithBits(uint32_t(h) << 16); }

inline uint16_t floatToBf16(float f) {
  uint32_t bits = bitsOf(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((bits >> 16) | 0x40); // NaN stays a (quiet) NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

// IEEE half by bit manipulation: GCC 12 turns _Float16 conversions into
// libgcc calls unless the whole runtime is built for F16C.
inline float f16ToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) // zero or subnormal: mant · 2^-24, exact in f32
    return floatWithBits(bitsOf(float(mant) * 5.9604644775390625e-8f) | sign);
  if (exp == 31)
    return floatWithBits(sign | 0x7f800000u | (mant << 13));
  return floatWithBits(sign | ((exp + 112) << 23) | (mant << 13));
}

inline uint16_t floatToF16(float f) {
  uint32_t x = bitsOf(f);
  uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u)
    return sign | 0x7e00u; // NaN
  if (x >= 0x477ff000u)    // 65520 and up round to infinity
    return sign | 0x7c00u;
  if (x < 0x38800000u) // below 2^-14: a subnormal (or zero) half, ties to even
    return sign | uint16_t(std::nearbyint(floatWithBits(x) * 16777216.0f));
  x += 0xfffu + ((x >> 13) & 1u); // round the 13 dropped bits, ties to even
  return sign | uint16_t((x - (112u << 23)) >> 13);
}

/// Element `i` of a float buffer of dtype `d` (f32, bf16 or f16), as f32.
inline float floatAt(const void *data, DType d, int64_t i) {
  const auto *h = static_cast<const uint16_t *>(data);
  switch (d) {
  case DType::BF16:
    return bf16ToFloat(h[i]);
  case DType::F16:
    return f16ToFloat(h[i]);
  default:
    return static_cast<const float *>(data)[i];
  }
}

/// Stores `x` as element `i` of a float buffer of dtype `d`, rounded.
inline void setFloatAt(void *data, DType d, int64_t i, float x) {
  auto *h = static_cast<uint16_t *>(data);
  switch (d) {
  case DType::BF16:
    h[i] = floatToBf16(x);
    return;
  case DType::F16:
    h[i] = floatToF16(x);
    return;
  default:
    static_cast<float *>(data)[i] = x;
  }
}

} // namespace kiln

#endif // KILN_ARTIFACT_LOWFLOAT_H
