// AVX-512 VNNI multi-row dot products (vec_dot_rows) of Q4_0 and Q8_0 weights with Q8_0
// activations: the decode matrix-vector product, four weight rows against one activation row.
//
// Why not vec_dot per row: a 32-element block holds only one vpdpbusd of work, and the single-row
// kernel spends more on each block's float scale (two fp16 conversions, a multiply, a broadcast)
// and on the sign trick than on the dot itself, so Q4_0 decode was bound by instructions, not by
// memory. The shared loop (avx2/rows_q8_0_impl.h) runs here with vpdpbusd; Q4_0 has its own
// 512-bit loop below.
#include <cassert>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/avx2/rows_q8_0_impl.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"

namespace strata::cpu::detail {
namespace {

constexpr int kRows = kDecodeRows;

inline __m256i load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

struct DotVnni {
  static __m256i add(__m256i sum, __m256i w, __m256i x) { return _mm256_dpbusd_epi32(sum, w, x); }
};

// Q4_0 is the type where decode is bound by instructions the most, so its rows take two blocks per
// 512-bit step: the 16 nibble bytes of blocks b and b + 1 become one vector [b low nibbles,
// b + 1 low, b high, b + 1 high] with one shift and one mask, against the two activation blocks
// arranged the same way (once, for all four rows). The eight fp16 scales of a group come out of
// the group's first 128 bytes with one two-source word permute instead of a gather.
void q4_0_rows_paired(int64_t nb, const BlockQ4_0* const* a, const BlockQ8_0* y, uint64_t stride, float* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(8);
  // 64-bit lanes of [x_b | x_b+1]: x_b values 0-15, x_b+1 values 0-15, x_b 16-31, x_b+1 16-31.
  const __m512i act_order = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
  // Words 0, 9, 18, ..., 63 of the first 128 bytes of eight blocks: their scales (18 bytes apart).
  const __m512i scale_words = _mm512_setr_epi32(0x00090000, 0x001B0012, 0x002D0024, 0x003F0036, 0, 0, 0, 0, 0, 0,
                                                0, 0, 0, 0, 0, 0);
  const RowPrefetch prefetch(stride, kRows);
  __m512 acc[kRows];
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (int64_t b0 = 0; b0 < nb; b0 += 8) {
    const __m256 dy = gather_scales8(y + b0);
    __m512 scale[kRows];
    for (int r = 0; r < kRows; ++r) {
      const uint8_t* g = reinterpret_cast<const uint8_t*>(a[r] + b0);
      const __m512i words = _mm512_permutex2var_epi16(_mm512_loadu_si512(g), scale_words, _mm512_loadu_si512(g + 64));
      scale[r] = _mm512_castps256_ps512(_mm256_mul_ps(_mm256_cvtph_ps(_mm512_castsi512_si128(words)), dy));
      prefetch(g, 8 * sizeof(BlockQ4_0));
    }
    for (int j = 0; j < 8; j += 2) {
      const int64_t b = b0 + j;
      const __m512i xq = _mm512_permutex2var_epi64(_mm512_castsi256_si512(load256(y[b].qs)), act_order,
                                                   _mm512_castsi256_si512(load256(y[b + 1].qs)));
      const __m512i start =
          _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, xq));
      // Lanes 0-3 and 8-11 take block b's scale, 4-7 and 12-15 block b + 1's.
      const __m512i lane = _mm512_setr_epi32(j, j, j, j, j + 1, j + 1, j + 1, j + 1, j, j, j, j, j + 1, j + 1, j + 1, j + 1);
      for (int r = 0; r < kRows; ++r) {
        const __m256i q = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[r][b].qs))),
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[r][b + 1].qs)), 1);
        const __m512i nibbles =
            _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1), low4);
        const __m512i p = _mm512_dpbusd_epi32(start, nibbles, xq);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(lane, scale[r]), acc[r]);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

void q4_0_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK4_0 == 0);
  const int64_t nb = n / kQK4_0;
  const auto unpack = [](const BlockQ4_0& b) { return unpack_nibbles_32(b.qs); };
  int64_t r0 = 0;
  if (nb % 8 == 0) {  // every row shape of the models; other lengths take the general path
    for (; r0 + kRows <= rows; r0 += kRows) {
      const BlockQ4_0* a[kRows];
      for (int r = 0; r < kRows; ++r)
        a[r] = reinterpret_cast<const BlockQ4_0*>(static_cast<const uint8_t*>(w) + (r0 + r) * stride);
      q4_0_rows_paired(nb, a, static_cast<const BlockQ8_0*>(x), stride, out + r0);
    }
  }
  rows_with_q8_0<DotVnni, 8, BlockQ4_0>(n, static_cast<const uint8_t*>(w) + r0 * stride, stride, x, out + r0,
                                        rows - r0, unpack);
}

void q8_0_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK8_0 == 0);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  rows_with_q8_0<DotVnni, 0x80, BlockQ8_0>(n, w, stride, x, out, rows,
                                           [&](const BlockQ8_0& b) { return _mm256_xor_si256(load256(b.qs), flip); });
}

}  // namespace

void add_avx512_rows_q4_q8(KernelTable& t) {
  slot(t, TensorType::Q4_0).vec_dot_rows = q4_0_vec_dot_rows;
  slot(t, TensorType::Q8_0).vec_dot_rows = q8_0_vec_dot_rows;
}

}  // namespace strata::cpu::detail
