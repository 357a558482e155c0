// AVX2 kernels of the K-quants: Q4_K / Q5_K / Q6_K dot products with Q8_K and the Q8_K
// activation quantizer (bit-exact with the reference).
//
// Each super-block's integer sum is computed exactly as in the reference (maddubs of unsigned
// weight values with signed activations into int16, madd with the sub-block scales into int32),
// then scaled once by d_w * d_x. The -dmin * m (Q4_K, Q5_K) and -32 (Q6_K) terms use the
// activation block sums bsums instead of touching the values again.
#include <cassert>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/row_prefetch.h"

namespace strata::cpu::detail {
namespace {

inline __m256i load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// pshufb masks that fill every int16 lane with int16 lane j of the same 128-bit lane.
struct alignas(32) Bytes32 {
  int8_t v[32];
};

constexpr Bytes32 repeat_lane16(int j) {
  Bytes32 b{};
  for (int i = 0; i < 32; ++i) b.v[i] = static_cast<int8_t>(2 * j + (i & 1));
  return b;
}

constexpr Bytes32 kRepeatLane16[8] = {repeat_lane16(0), repeat_lane16(1), repeat_lane16(2), repeat_lane16(3),
                                      repeat_lane16(4), repeat_lane16(5), repeat_lane16(6), repeat_lane16(7)};

inline __m256i repeat_lane(__m256i v, int j) {
  return _mm256_shuffle_epi8(v, _mm256_load_si256(reinterpret_cast<const __m256i*>(kRepeatLane16[j].v)));
}

// Q4_K and Q5_K: `values(b, c, lo, hi)` gives chunk c's (64 elements) two vectors of 32 unsigned
// values: elements 64c..64c+31 (sub-block 2c) and 64c+32..64c+63 (sub-block 2c+1).
template <typename Block, typename Values>
float dot_kquant_with_mins(int64_t n, const Block* a, const BlockQ8_K* y, Values values) {
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_m = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const __m128i sc_m = unpack_q4k_scales_128(a[i].scales);
    const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc_m));  // sc[0..7] as int16, twice
    // sum_j m[j] * (bsums[2j] + bsums[2j+1]): each min repeated for the two 16-element bsums of
    // its 32-element sub-block.
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sc_m, sc_m));
    const __m256i mins = _mm256_madd_epi16(m16, load256(y[i].bsums));
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      __m256i lo, hi;
      values(a[i], c, lo, hi);
      const __m256i p0 = _mm256_maddubs_epi16(lo, load256(y[i].qs + 64 * c));
      const __m256i p1 = _mm256_maddubs_epi16(hi, load256(y[i].qs + 64 * c + 32));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, repeat_lane(sc16, 2 * c)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, repeat_lane(sc16, 2 * c + 1)));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(a[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
    acc_m = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(a[i].dmin) * y[i].d), _mm256_cvtepi32_ps(mins), acc_m);
  }
  return hsum_ps(acc) - hsum_ps(acc_m);
}

float q4_k_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK_K == 0);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  return dot_kquant_with_mins(n, static_cast<const BlockQ4_K*>(w), static_cast<const BlockQ8_K*>(x),
                              [&](const BlockQ4_K& b, int c, __m256i& lo, __m256i& hi) {
                                const __m256i q = load256(b.qs + 32 * c);
                                lo = _mm256_and_si256(q, low4);
                                hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
                              });
}

// Decode (vec_dot_rows): four Q4_K rows against one activation row. The activation's 256 values
// are loaded once per super-block for the four rows; while they are multiplied, the same bytes of
// later rows are prefetched (row_prefetch.h). Per row the arithmetic is q4_k_vec_dot's.
constexpr int kRows = 4;

struct ActQ4K {
  __m256i q[8];  // values 32j..32j+31
  __m256i bsums;
  explicit ActQ4K(const BlockQ8_K& y) {
    for (int j = 0; j < 8; ++j) q[j] = load256(y.qs + 32 * j);
    bsums = load256(y.bsums);
  }
};

inline void q4_k_block_decode(const BlockQ4_K& a, float yd, const ActQ4K& y, __m256& acc, __m256& acc_m) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m128i sc_m = unpack_q4k_scales_128(a.scales);
  const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc_m));
  const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sc_m, sc_m));
  const __m256i mins = _mm256_madd_epi16(m16, y.bsums);
  __m256i sumi = _mm256_setzero_si256();
  for (int c = 0; c < 4; ++c) {
    const __m256i q = load256(a.qs + 32 * c);
    const __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(q, low4), y.q[2 * c]);
    const __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4), y.q[2 * c + 1]);
    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, repeat_lane(sc16, 2 * c)));
    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, repeat_lane(sc16, 2 * c + 1)));
  }
  acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(a.d) * yd), _mm256_cvtepi32_ps(sumi), acc);
  acc_m = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(a.dmin) * yd), _mm256_cvtepi32_ps(mins), acc_m);
}

void q4_k_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK_K == 0);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const auto* base = static_cast<const uint8_t*>(w);
  const RowPrefetch prefetch(stride, kRows);
  int64_t r0 = 0;
  for (; r0 + kRows <= rows; r0 += kRows) {
    const BlockQ4_K* a[kRows];
    __m256 acc[kRows], acc_m[kRows];
    for (int r = 0; r < kRows; ++r) {
      a[r] = reinterpret_cast<const BlockQ4_K*>(base + (r0 + r) * stride);
      acc[r] = acc_m[r] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      const ActQ4K act(y[i]);
      for (int r = 0; r < kRows; ++r) {
        prefetch(a[r] + i, sizeof(BlockQ4_K));
        q4_k_block_decode(a[r][i], y[i].d, act, acc[r], acc_m[r]);
      }
    }
    for (int r = 0; r < kRows; ++r) out[r0 + r] = hsum_ps(acc[r]) - hsum_ps(acc_m[r]);
  }
  for (; r0 < rows; ++r0) out[r0] = q4_k_vec_dot(n, base + r0 * stride, x);
}

float q5_k_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK_K == 0);
  const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  return dot_kquant_with_mins(n, static_cast<const BlockQ5_K*>(w), static_cast<const BlockQ8_K*>(x),
                              [&](const BlockQ5_K& b, int c, __m256i& lo, __m256i& hi) {
                                const __m256i q = load256(b.qs + 32 * c);
                                // Bit 2c of qh[l] is bit 4 of element 64c + l, bit 2c + 1 that of 64c + 32 + l.
                                const __m256i h = _mm256_srl_epi16(load256(b.qh), _mm_cvtsi32_si128(2 * c));
                                const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(h, one), 4);
                                const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4);
                                lo = _mm256_or_si256(_mm256_and_si256(q, low4), h0);
                                hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4), h1);
                              });
}

// Shuffle masks that turn the 16 int8 Q6_K scales into the pair (sc[2k], sc[2k+1]), each
// repeated 8 times: the int16 multipliers for 32 elements after maddubs.
alignas(16) constexpr int8_t kScalePairMasks[8][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},         {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},         {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
    {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9},         {10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13}, {14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15},
};

inline __m256i scale_pair(__m128i scales, int k) {
  const __m128i mask = _mm_load_si128(reinterpret_cast<const __m128i*>(kScalePairMasks[k]));
  return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, mask));
}

// Q6_K: sum_k sc[k] * sum (q - 32) qx = sum_k sc[k] * sum q qx - 32 * sum_k sc[k] * bsums[k],
// with q unsigned (0..63) so that maddubs applies.
float q6_k_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK_K == 0);
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const __m128i scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales));
    const __m256i bias = _mm256_madd_epi16(_mm256_cvtepi8_epi16(scales), load256(y[i].bsums));
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load256(a[i].ql + 64 * h), ql1 = load256(a[i].ql + 64 * h + 32);
      const __m256i qh = load256(a[i].qh + 32 * h);
      // The two high bits of quarter r sit in bits 2r..2r+1 of qh; move them to bits 4-5.
      const __m256i q0 = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45));
      const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                         _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
      const int8_t* yq = y[i].qs + 128 * h;
      const __m256i p0 = _mm256_maddubs_epi16(q0, load256(yq));
      const __m256i p1 = _mm256_maddubs_epi16(q1, load256(yq + 32));
      const __m256i p2 = _mm256_maddubs_epi16(q2, load256(yq + 64));
      const __m256i p3 = _mm256_maddubs_epi16(q3, load256(yq + 96));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, scale_pair(scales, 4 * h + 0)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, scale_pair(scales, 4 * h + 1)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p2, scale_pair(scales, 4 * h + 2)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p3, scale_pair(scales, 4 * h + 3)));
    }
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(bias, 5));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(a[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum_ps(acc);
}

// ggml's Q8_K rule (see the reference): the scale comes from the first value of largest
// magnitude, rounding is to nearest even (vcvtps2dq in the default MXCSR mode).
void q8_k_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK_K == 0);
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* x = src + i * kQK_K;
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < kQK_K; k += 8) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + k)));
    const float amax = hmax_ps(m);
    if (amax == 0.0f) {
      b[i] = BlockQ8_K{};
      continue;
    }
    float max = 0.0f;
    const __m256 target = _mm256_set1_ps(amax);
    for (int k = 0; k < kQK_K; k += 8) {
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + k)), target, _CMP_EQ_OQ));
      if (hit != 0) {
        max = x[k + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i top = _mm256_set1_epi32(127);
    auto q = [&](int k) { return _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + k))), top); };
    for (int base = 0; base < kQK_K; base += 128) {
      __m256i group_sums[4];
      for (int r = 0; r < 4; ++r) {
        const int k = base + 32 * r;
        const __m256i packed = pack_epi32_to_epi8(q(k), q(k + 8), q(k + 16), q(k + 24));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs + k), packed);
        // 4 int32 lanes per 16-value group: lanes 0-3 group k/16, lanes 4-7 group k/16 + 1.
        group_sums[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), packed), _mm256_set1_epi16(1));
      }
      // Two rounds of hadd leave, per 128-bit lane, the sums of groups 0,2,4,6 (low lane) and
      // 1,3,5,7 (high lane) of these 128 values; interleave the lanes and narrow to int16.
      const __m256i r = _mm256_hadd_epi32(_mm256_hadd_epi32(group_sums[0], group_sums[1]),
                                          _mm256_hadd_epi32(group_sums[2], group_sums[3]));
      const __m256i ordered = _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      const __m128i sums16 = _mm_packs_epi32(_mm256_castsi256_si128(ordered), _mm256_extracti128_si256(ordered, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].bsums + base / 16), sums16);
    }
    b[i].d = 1.0f / iscale;
  }
}

}  // namespace

void add_avx2_kquants(KernelTable& t) {
  slot(t, TensorType::Q4_K).vec_dot = q4_k_vec_dot;
  slot(t, TensorType::Q5_K).vec_dot = q5_k_vec_dot;
  slot(t, TensorType::Q6_K).vec_dot = q6_k_vec_dot;
  slot(t, TensorType::Q4_K).vec_dot_rows = q4_k_vec_dot_rows;
  slot(t, TensorType::Q8_K).from_float = q8_k_from_float;
}

}  // namespace strata::cpu::detail
