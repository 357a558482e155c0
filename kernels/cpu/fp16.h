// IEEE half (f16) and bfloat16 (bf16) conversions, scalar, bit-exact.
//
// fp32 -> f16 and fp32 -> bf16 round to nearest, ties to even; overflow gives infinity; f16
// subnormals are produced and read exactly; NaN stays NaN (quieted, sign and top payload bits
// kept: what F16C's vcvtps2ph and ggml's bf16 conversion do).
//
// The functions are `static inline` on purpose: files compiled with AVX2 / AVX-512 flags include
// this header, and an ordinary inline function would be one COMDAT symbol shared with baseline
// files; the linker could keep the AVX-512 copy and baseline code would then fault on an older CPU.
#pragma once

#include <bit>
#include <cstdint>

namespace strata::cpu {

static inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;  // biased by 15
  uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mant << 13));  // inf / NaN
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);  // +-0
    // Subnormal: mant * 2^-24. Shift until the implicit bit appears; each shift is one less
    // in the exponent.
    exp = 1;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    mant &= 0x3FFu;
  }
  // Rebias 15 -> 127 (exp is unsigned; a subnormal's exp may have gone to 0 or wrapped below,
  // the addition brings it back into range).
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

static inline uint16_t fp32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u)  // NaN: quiet it, keep the top 9 payload bits
    return static_cast<uint16_t>(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));
  if (abs >= 0x477FF000u)  // >= 65520 (65504 + half an ulp, a tie that goes to even = inf)
    return static_cast<uint16_t>(sign | 0x7C00u);
  if (abs >= 0x38800000u) {  // >= 2^-14: a normal half
    // Rebias the exponent 127 -> 15, then drop 13 mantissa bits rounding to nearest even;
    // a carry out of the mantissa correctly bumps the exponent.
    const uint32_t rebased = abs - (112u << 23);
    return static_cast<uint16_t>(sign | ((rebased + 0xFFFu + ((rebased >> 13) & 1u)) >> 13));
  }
  // Subnormal half: the value in units of 2^-24, rounded to nearest even.
  const uint32_t e = abs >> 23;
  if (e < 102) return sign;  // < 2^-25: rounds to zero
  const uint32_t m = (abs & 0x7FFFFFu) | 0x800000u;  // value = m * 2^(e - 150)
  const uint32_t shift = 126 - e;                     // 14..24
  uint32_t r = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (r & 1u))) ++r;  // may become 0x400, the smallest normal
  return static_cast<uint16_t>(sign | r);
}

static inline float bf16_to_fp32(uint16_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

static inline uint16_t fp32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  // Round to nearest even on the 16 dropped bits; overflow carries into infinity.
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace strata::cpu
