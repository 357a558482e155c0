#include "engine/weights/q4g_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/fp16.h"

namespace strata {

void q4g_encode_row(const float* x, uint8_t* dst, int64_t n) {
  for (int64_t g0 = 0; g0 < n; g0 += kQ4gGroup, dst += kQ4gGroupBytes) {
    float lo = x[g0], hi = x[g0];
    for (int64_t i = 1; i < kQ4gGroup; ++i) {
      lo = std::min(lo, x[g0 + i]);
      hi = std::max(hi, x[g0 + i]);
    }
    const uint16_t lo16 = cpu::fp32_to_fp16(lo);
    const float lo_r = cpu::fp16_to_fp32(lo16);  // codes are relative to the minimum as stored
    uint16_t scale16 = cpu::fp32_to_fp16((hi - lo_r) / 15.0f);
    // Rounding the scale down in f16 could push the maximum's code past 15; round it up instead.
    if (cpu::fp16_to_fp32(scale16) * 15.0f < hi - lo_r) ++scale16;
    const float scale = cpu::fp16_to_fp32(scale16);
    const float inv = scale > 0 ? 1.0f / scale : 0.0f;
    std::memcpy(dst, &lo16, 2);
    std::memcpy(dst + 2, &scale16, 2);
    for (int64_t i = 0; i < kQ4gGroup; i += 2) {
      const int a = std::clamp(static_cast<int>(std::lround((x[g0 + i] - lo_r) * inv)), 0, 15);
      const int b = std::clamp(static_cast<int>(std::lround((x[g0 + i + 1] - lo_r) * inv)), 0, 15);
      dst[4 + i / 2] = static_cast<uint8_t>(a | (b << 4));
    }
  }
}

void q4g_decode_row(const uint8_t* src, float* y, int64_t n) {
  for (int64_t g0 = 0; g0 < n; g0 += kQ4gGroup, src += kQ4gGroupBytes) {
    uint16_t lo16, scale16;
    std::memcpy(&lo16, src, 2);
    std::memcpy(&scale16, src + 2, 2);
    const float lo = cpu::fp16_to_fp32(lo16), scale = cpu::fp16_to_fp32(scale16);
    for (int64_t i = 0; i < kQ4gGroup; i += 2) {
      y[g0 + i] = lo + scale * static_cast<float>(src[4 + i / 2] & 0x0F);
      y[g0 + i + 1] = lo + scale * static_cast<float>(src[4 + i / 2] >> 4);
    }
  }
}

void q4g_quantize_activation(const float* x, Q4gActivationBlock* dst, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f, inv = d > 0 ? 1.0f / d : 0.0f;
    int32_t sum = 0;
    for (int i = 0; i < 32; ++i) {
      dst[b].q[i] = static_cast<int8_t>(std::lround(x[i] * inv));
      sum += dst[b].q[i];
    }
    dst[b].d = d;
    dst[b].sum = sum;
  }
}

float q4g_dot(int64_t n, const uint8_t* w, const Q4gActivationBlock* x) {
  float acc = 0;
  for (int64_t g = 0; g < n / kQ4gGroup; ++g, w += kQ4gGroupBytes, x += 2) {
    uint16_t lo16, scale16;
    std::memcpy(&lo16, w, 2);
    std::memcpy(&scale16, w + 2, 2);
    const uint8_t* codes = w + 4;
    int32_t dot0 = 0, dot1 = 0;  // sum of code * activation over each 32-element half
    for (int i = 0; i < 16; ++i) {
      dot0 += (codes[i] & 0x0F) * x[0].q[2 * i] + (codes[i] >> 4) * x[0].q[2 * i + 1];
      dot1 += (codes[16 + i] & 0x0F) * x[1].q[2 * i] + (codes[16 + i] >> 4) * x[1].q[2 * i + 1];
    }
    const float lo = cpu::fp16_to_fp32(lo16), scale = cpu::fp16_to_fp32(scale16);
    acc += lo * (x[0].d * float(x[0].sum) + x[1].d * float(x[1].sum)) +
           scale * (x[0].d * float(dot0) + x[1].d * float(dot1));
  }
  return acc;
}

}  // namespace strata
