// The eight fp16 scales of a group of eight Q8_0 blocks (34 bytes each, the scale first), as
// floats, without a gather: vpgatherdd is slow on AMD (Zen 5), and the decode kernels take a
// group's scales once per row (Q8_0 weights) or per call (Q8_0 activations of Q4_0 and Q8_0).
// Two word permutes (vpermt2w) pick words 0, 17, 34 and 51 of [g, g + 128) and of
// [g + 136, g + 264), the scales of blocks 0-3 and 4-7; the loads stay within the group's 272
// bytes. Include only from files compiled with AVX-512 BW.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace strata::cpu::detail {

// Word indices into two adjacent 64-byte loads: blocks 0-3 into words 0-3, 4-7 into words 4-7.
alignas(64) inline constexpr uint16_t kQ8_0ScalesLow[32] = {0, 17, 34, 51};
alignas(64) inline constexpr uint16_t kQ8_0ScalesHigh[32] = {0, 0, 0, 0, 0, 17, 34, 51};

static inline __m256 q8_0_group_scales(const uint8_t* g) {
  const __m512i low = _mm512_maskz_permutex2var_epi16(0x0F, _mm512_loadu_si512(g), _mm512_load_si512(kQ8_0ScalesLow),
                                                      _mm512_loadu_si512(g + 64));
  const __m512i high = _mm512_maskz_permutex2var_epi16(0xF0, _mm512_loadu_si512(g + 136),
                                                       _mm512_load_si512(kQ8_0ScalesHigh), _mm512_loadu_si512(g + 200));
  return _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_or_si512(low, high)));
}

}  // namespace strata::cpu::detail
