// exp_nonpositive: e^x for x <= 0 in plain float arithmetic, for the sampler's softmax weights.
//
// Why not std::exp: (1) the libm's last bit differs between C libraries, and the sampler promises
// the same choices on every platform; (2) glibc's exp costs ~6 ns a call here, ~0.9 ms per token
// for a 150k vocabulary, while this version has no call and no table, so a loop over the
// vocabulary vectorizes (4 lanes on baseline x86-64; ~4x faster than glibc's expf).
//
// Method: x = k ln2 + r with k = round(x / ln2) and |r| <= ln2 / 2 (Cody-Waite: ln2 split in a
// high part with trailing zero bits, so k * kLn2Hi is exact), e^r by its Taylor series to degree
// 7 (truncation error < 6e-9 relative), and 2^k put directly into the exponent bits. Measured
// error <= 1 ulp. For x < -87 (e^x < 1.7e-38, where floats stop being normal) and for -inf the
// result is 0; x must not be NaN. Float precision is ample for sampling weights; the sampler sums
// them in double.
//
// Determinism needs IEEE float arithmetic without contraction into FMA and without -ffast-math:
// the sampler's sources are built with -ffp-contract=off, and with -fno-trapping-math, which
// changes no result but lets GCC turn the two selects into blends and vectorize loops calling this.
#pragma once

#include <bit>
#include <cstdint>

namespace strata {

inline float exp_nonpositive(float x) noexcept {
  constexpr float kLog2e = 0x1.715476p0f;
  constexpr float kLn2Hi = 0x1.62e4p-1f;     // 17 significant bits: k * kLn2Hi is exact for |k| < 2^7
  constexpr float kLn2Lo = 0x1.7f7d1cp-20f;  // ln 2 - kLn2Hi
  constexpr float kRound = 0x1.8p23f;        // adding it rounds to an integer (round-to-nearest-even)
  constexpr float kMin = -87.0f;
  const float xc = x < kMin ? kMin : x;
  const float t = xc * kLog2e + kRound;  // kRound + k exactly, k = round(x / ln2) in [-126, 0]
  const float kd = t - kRound;
  const float r = (xc - kd * kLn2Hi) - kd * kLn2Lo;
  float p = 1.0f / 5040.0f;  // 1/7!
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // t's significand ends in k (its ulp is 1), so integer arithmetic on the bits recovers k without
  // a float-to-int conversion.
  const uint32_t k_plus_bias = std::bit_cast<uint32_t>(t) - std::bit_cast<uint32_t>(kRound) + 127;
  const float scale = std::bit_cast<float>(k_plus_bias << 23);  // 2^k, a normal number for k >= -126
  return x < kMin ? 0.0f : p * scale;
}

}  // namespace strata
