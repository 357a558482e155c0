// Rounding helpers of the reference quantizers; each names the rule ggml uses where it matters.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace strata::cpu::detail {

// Round to nearest, ties to even, for |v| < 2^22: adding 1.5 * 2^23 leaves the integer in the
// low mantissa bits, rounded by the FPU's default mode. (ggml's nearest_int.)
static inline int nearest_int(float v) {
  const float shifted = v + 12582912.0f;
  return static_cast<int>(std::bit_cast<uint32_t>(shifted) & 0x007FFFFFu) - 0x00400000;
}

// nearest_int(v) clamped to [lo, hi]; safe for any finite v (clamps before rounding).
// (std::min / max rather than fmin / fmax, which are library calls without -ffast-math.)
static inline int nearest_int_clamped(float v, int lo, int hi) {
  const float c = std::min(std::max(v, static_cast<float>(lo)), static_cast<float>(hi));
  return nearest_int(c);
}

// Round to nearest, ties away from zero (C roundf), as ggml's Q8_0 / Q8_1 quantizers.
static inline int round_away(float v) { return static_cast<int>(std::round(v)); }

}  // namespace strata::cpu::detail
