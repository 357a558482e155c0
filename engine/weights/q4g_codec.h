// FlexGen-style group-wise 4-bit weights ("q4g"): each row is cut into groups of 64 elements,
// each stored as an f16 minimum, an f16 scale and 32 bytes of 4-bit codes (element 2i in the
// low nibble of byte i), value = min + scale * code: 36 bytes per 64 elements, 4.5 bits each.
// The group layout is the KV cache's q4g (engine/kv/kv_format), so one codec could serve both.
//
// FlexGen groups weights along the output dimension; we group along each row (the input
// dimension) instead, so that a row's dot product with an 8-bit activation row runs in integer
// arithmetic, group by group, like ggml's quantized types. The size and the error bound per
// element (scale / 2) are the same.
#pragma once

#include <cstdint>

namespace strata {

inline constexpr int64_t kQ4gGroup = 64;
inline constexpr uint64_t kQ4gGroupBytes = 4 + kQ4gGroup / 2;

inline uint64_t q4g_row_bytes(int64_t n) { return uint64_t(n / kQ4gGroup) * kQ4gGroupBytes; }

// n must be a multiple of kQ4gGroup.
void q4g_encode_row(const float* x, uint8_t* dst, int64_t n);
void q4g_decode_row(const uint8_t* src, float* y, int64_t n);

// An activation row in 8-bit blocks of 32 (ggml's q8_0 rounding) with each block's code sum,
// which the asymmetric minimum needs: sum_i (min + s q_i) d a_i = min d sum(a) + s d sum(q a).
struct Q4gActivationBlock {
  float d;
  int32_t sum;
  int8_t q[32];
};
void q4g_quantize_activation(const float* x, Q4gActivationBlock* dst, int64_t n);
float q4g_dot(int64_t n, const uint8_t* w, const Q4gActivationBlock* x);

}  // namespace strata
