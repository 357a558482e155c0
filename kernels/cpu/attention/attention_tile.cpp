// The scalar reference of the attention tiles, and the choice of level. See attention_tile.h.
#include "kernels/cpu/attention/attention_tile.h"

#include <cmath>
#include <cstring>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernels.h"

namespace strata::cpu {
namespace detail {
AttentionTileKernels attention_tile_avx2();
AttentionTileKernels attention_tile_avx512();
void q4g_to_float_reference(const uint8_t* src, float* dst, int n, int group);
}  // namespace detail

namespace {

constexpr int L = kAttentionLanes;

void ref_scores(const float* qt, const float* keys, int n_keys, int D, float scale, float key_pos0, const float* limit,
                float* s) {
  for (int k = 0; k < n_keys; ++k)
    for (int r = 0; r < L; ++r) {
      float dot = 0;
      for (int d = 0; d < D; ++d) dot += qt[d * L + r] * keys[static_cast<int64_t>(k) * D + d];
      s[k * L + r] = key_pos0 + static_cast<float>(k) <= limit[r] ? dot * scale : -INFINITY;
    }
}

void ref_max_sum(const float* s, int n_keys, float* max, double* sum) {
  for (int r = 0; r < L; ++r) {
    float m = max[r];
    for (int k = 0; k < n_keys; ++k) m = std::fmax(m, s[k * L + r]);
    if (m > max[r]) sum[r] *= std::exp(static_cast<double>(max[r]) - m);
    for (int k = 0; k < n_keys; ++k) sum[r] += std::exp(s[k * L + r] - m);
    max[r] = m;
  }
}

void ref_weights(float* s, int n_keys, const float* max, const float* inv_sum, bool round_f16) {
  for (int k = 0; k < n_keys; ++k)
    for (int r = 0; r < L; ++r) {
      const float p = std::exp(s[k * L + r] - max[r]) * inv_sum[r];
      s[k * L + r] = round_f16 ? fp16_to_fp32(fp32_to_fp16(p)) : p;
    }
}

void ref_accumulate(const float* p, const float* values, int n_keys, int D, float* ot) {
  for (int d = 0; d < D; ++d)
    for (int k = 0; k < n_keys; ++k)
      for (int r = 0; r < L; ++r) ot[d * L + r] += p[k * L + r] * values[static_cast<int64_t>(k) * D + d];
}

void ref_row_scores(const float* q, int rows, const float* keys, int n_keys, int D, float scale, float* s,
                    int64_t s_stride) {
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < n_keys; ++k) {
      float dot = 0;
      for (int d = 0; d < D; ++d) dot += q[r * D + d] * keys[static_cast<int64_t>(k) * D + d];
      s[r * s_stride + k] = dot * scale;
    }
}

void ref_row_softmax(float* s, int64_t n, bool round_f16) {
  float max = -INFINITY;
  for (int64_t k = 0; k < n; ++k) max = std::fmax(max, s[k]);
  double sum = 0;
  for (int64_t k = 0; k < n; ++k) sum += (s[k] = std::exp(s[k] - max));
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t k = 0; k < n; ++k) {
    const float p = s[k] * inv;
    s[k] = round_f16 ? fp16_to_fp32(fp32_to_fp16(p)) : p;
  }
}

void ref_row_accumulate(const float* p, int rows, int64_t p_stride, const float* values, int n_keys, int D, float* o) {
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < n_keys; ++k)
      for (int d = 0; d < D; ++d) o[r * D + d] += p[r * p_stride + k] * values[static_cast<int64_t>(k) * D + d];
}

}  // namespace

void detail::q4g_to_float_reference(const uint8_t* src, float* y, int n, int group) {
  for (int g0 = 0; g0 < n; g0 += group) {
    uint16_t lo16, scale16;
    std::memcpy(&lo16, src, 2);
    std::memcpy(&scale16, src + 2, 2);
    const float lo = fp16_to_fp32(lo16), scale = fp16_to_fp32(scale16);
    const uint8_t* q = src + 4;
    for (int i = 0; i < group; i += 2) {
      y[g0 + i] = lo + scale * static_cast<float>(q[i / 2] & 0x0F);
      y[g0 + i + 1] = lo + scale * static_cast<float>(q[i / 2] >> 4);
    }
    src += 4 + group / 2;
  }
}

namespace {

struct Levels {
  AttentionTileKernels reference{ref_scores,     ref_max_sum,     ref_weights,       ref_accumulate,
                                 detail::q4g_to_float_reference, ref_row_scores, ref_row_softmax, ref_row_accumulate};
  AttentionTileKernels avx2{}, avx512{};
};

const Levels& levels() {
  static const Levels l = [] {
    Levels v;
#if defined(STRATA_KERNELS_X86)
    if (kernels_at_level(TensorType::F32, "avx2")) v.avx2 = detail::attention_tile_avx2();
    if (kernels_at_level(TensorType::F32, "avx512")) v.avx512 = detail::attention_tile_avx512();
#endif
    return v;
  }();
  return l;
}

}  // namespace

const AttentionTileKernels* attention_tile_kernels_at_level(std::string_view level) {
  const Levels& l = levels();
  const AttentionTileKernels* t = level == "reference" ? &l.reference
                                  : level == "avx2"    ? &l.avx2
                                  : level == "avx512"  ? &l.avx512
                                                       : nullptr;
  return t && t->scores ? t : nullptr;
}

const AttentionTileKernels& attention_tile_kernels() {
  static const AttentionTileKernels& best = *attention_tile_kernels_at_level(kernel_level_name());
  return best;
}

}  // namespace strata::cpu
