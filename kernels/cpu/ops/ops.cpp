#include "kernels/cpu/ops/ops.h"

#include <cmath>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/ops/ops_isa.h"

namespace strata::cpu {
namespace detail {

void silu_mul_scalar(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace detail

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  // Accumulate in double: over thousands of elements a float sum loses digits that matter
  // when results are compared with llama.cpp, which also sums in double here.
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double var = 0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<double>(n);
  const double inv = 1.0 / std::sqrt(var + eps);
  for (int64_t i = 0; i < n; ++i) {
    float v = static_cast<float>((x[i] - mean) * inv) * w[i];
    y[i] = b ? v + b[i] : v;
  }
}

void rope(float* x, int n_heads, int head_dim, int rope_dim, const float* cos, const float* sin, bool neox) {
  const int half = rope_dim / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* head = x + static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      const int a = neox ? i : 2 * i;
      const int b = neox ? i + half : 2 * i + 1;
      const float x0 = head[a], x1 = head[b];
      head[a] = x0 * cos[i] - x1 * sin[i];
      head[b] = x0 * sin[i] + x1 * cos[i];
    }
  }
}

void silu_mul(float* gate, const float* up, int64_t n) {
#ifdef STRATA_KERNELS_X86
  static const bool avx2 = cpu_features().avx2 && cpu_features().fma;
  if (avx2) return detail::silu_mul_avx2(gate, up, n);
#endif
  detail::silu_mul_scalar(gate, up, n);
}

void gelu_mul(float* gate, const float* up, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = 0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * (g + 0.044715f * g * g * g))) * up[i];
  }
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

double softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = std::exp(x[i] - max);
    x[i] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
  return sum;
}

}  // namespace strata::cpu
