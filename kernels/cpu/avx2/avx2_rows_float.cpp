// AVX2 multi-row dot products (vec_dot_rows) of F32, F16 and BF16 weights, for decode on CPUs
// without AVX-512: the loop of rows_float_impl.h with 256-bit steps. F16 and BF16 activations are
// widened to floats once per call; the weights are widened 8 at a time (vcvtph2ps, or a shift
// for bf16) and multiplied in float.
#include <immintrin.h>

#include <vector>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/avx2/rows_float_impl.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"

namespace strata::cpu::detail {
namespace {

// The parts of a Step (rows_float_impl.h) every 256-bit float step shares.
struct Ymm8 {
  using V = __m256;
  using X = float;
  static constexpr int kElems = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static float sum(V v) { return hsum_ps(v); }
  static float scalar_x(float v) { return v; }
};

inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m256 widen_f16(const uint16_t* p) { return _mm256_cvtph_ps(load128(p)); }
inline __m256 widen_bf16(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
}

struct F32Step : Ymm8 {
  using W = float;
  static V dot(V acc, const float* w, const float* x) {
    return _mm256_fmadd_ps(_mm256_loadu_ps(w), _mm256_loadu_ps(x), acc);
  }
  static float scalar_w(float v) { return v; }
};

struct F16Step : Ymm8 {
  using W = uint16_t;
  static V dot(V acc, const uint16_t* w, const float* x) {
    return _mm256_fmadd_ps(widen_f16(w), _mm256_loadu_ps(x), acc);
  }
  static float scalar_w(uint16_t v) { return fp16_to_fp32(v); }
};

struct BF16Step : Ymm8 {
  using W = uint16_t;
  static V dot(V acc, const uint16_t* w, const float* x) {
    return _mm256_fmadd_ps(widen_bf16(w), _mm256_loadu_ps(x), acc);
  }
  static float scalar_w(uint16_t v) { return bf16_to_fp32(v); }
};

// The activation widened to floats, once per call, into a buffer each thread keeps.
template <class Widen, class Scalar>
const float* widened(int64_t n, const void* x, Widen widen, Scalar scalar) {
  thread_local std::vector<float> buf;
  if (buf.size() < static_cast<size_t>(n)) buf.resize(static_cast<size_t>(n));
  const auto* h = static_cast<const uint16_t*>(x);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(buf.data() + i, widen(h + i));
  for (; i < n; ++i) buf[i] = scalar(h[i]);
  return buf.data();
}

void f32_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  float_rows<F32Step>(n, w, stride, static_cast<const float*>(x), out, rows);
}

void f16_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  float_rows<F16Step>(n, w, stride, widened(n, x, widen_f16, fp16_to_fp32), out, rows);
}

void bf16_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  float_rows<BF16Step>(n, w, stride, widened(n, x, widen_bf16, bf16_to_fp32), out, rows);
}

}  // namespace

void add_avx2_rows_float(KernelTable& t) {
  slot(t, TensorType::F32).vec_dot_rows = f32_rows;
  slot(t, TensorType::F16).vec_dot_rows = f16_rows;
  slot(t, TensorType::BF16).vec_dot_rows = bf16_rows;
}

}  // namespace strata::cpu::detail
