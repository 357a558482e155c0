// AVX-512 VNNI multi-row dot products (vec_dot_rows) of Q4_0 and Q8_0 weights with Q8_0
// activations: the decode matrix-vector product, four weight rows against one activation row.
//
// Why not vec_dot per row: a 32-element block holds only one vpdpbusd of work, and the single-row
// kernel spends more on each block's float scale (two fp16 conversions, a multiply, a broadcast)
// and on the sign trick than on the dot itself, so Q4_0 decode was bound by instructions, not by
// memory. Here
// - the weights are made unsigned (Q4_0: the nibble as is, q + 8; Q8_0: q xor 0x80, q + 128) and
//   the offset is taken back by starting vpdpbusd's accumulator at -offset * sum(x), computed once
//   per activation block for all four rows;
// - the fp16 scales of eight blocks are gathered and converted at once, multiplied by the eight
//   activation scales, and each block takes its lane with one permute;
// - the four rows share the activation loads, and their four streams keep more memory requests
//   in flight.
// Results equal the reference up to float summation order (tests/kernels/test_vec_dot.cpp).
#include <cassert>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"

namespace strata::cpu::detail {
namespace {

constexpr int kRows = 4;

inline __m256i load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// The fp16 field at offset 0 of eight consecutive blocks of `Block`, as floats.
template <typename Block>
inline __m256 gather_scales8(const Block* b) {
  const __m256i offsets = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(static_cast<int>(sizeof(Block))));
  const __m256i words = _mm256_i32gather_epi32(reinterpret_cast<const int*>(b), offsets, 1);
  return _mm256_cvtph_ps(_mm256_cvtepi32_epi16(words));  // the low half of each dword is the fp16
}

// -offset * (sum of each group of four activation bytes): the accumulator that turns
// dot(q + offset, x) into dot(q, x).
inline __m256i offset_correction(__m256i x, __m256i offset_bytes) {
  return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), offset_bytes, x));
}

// Rows are short (a few KiB) and the hardware prefetcher stops at every 4 KiB page, so while four
// rows are multiplied the same bytes of the next four rows are prefetched: they lie kRows * stride
// ahead, one group's compute time, which covers the memory latency.

// `unsigned_q(block)`: the block's 32 weights as unsigned bytes q + offset.
template <typename Block, typename Unsigned>
void rows_with_q8_0(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows,
                    uint8_t offset, Unsigned unsigned_q) {
  const int64_t nb = n / 32;
  const auto* y = static_cast<const BlockQ8_0*>(x);
  const __m256i offset_bytes = _mm256_set1_epi8(static_cast<char>(offset));
  int64_t r0 = 0;
  for (; r0 + kRows <= rows; r0 += kRows) {
    const Block* a[kRows];
    for (int r = 0; r < kRows; ++r)
      a[r] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + (r0 + r) * stride);
    __m256 acc[kRows];
    for (auto& v : acc) v = _mm256_setzero_ps();
    int64_t b0 = 0;
    for (; b0 + 8 <= nb; b0 += 8) {
      const __m256 dy = gather_scales8(y + b0);
      __m256 scale[kRows];
      for (int r = 0; r < kRows; ++r) {
        scale[r] = _mm256_mul_ps(gather_scales8(a[r] + b0), dy);
        for (size_t off = 0; off < 8 * sizeof(Block); off += 64)
          _mm_prefetch(reinterpret_cast<const char*>(a[r] + b0) + kRows * stride + off, _MM_HINT_T0);
      }
      for (int j = 0; j < 8; ++j) {
        const __m256i xq = load256(y[b0 + j].qs);
        const __m256i start = offset_correction(xq, offset_bytes);
        const __m256i lane = _mm256_set1_epi32(j);
        for (int r = 0; r < kRows; ++r) {
          const __m256i p = _mm256_dpbusd_epi32(start, unsigned_q(a[r][b0 + j]), xq);
          acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_permutexvar_ps(lane, scale[r]), acc[r]);
        }
      }
    }
    for (; b0 < nb; ++b0) {  // the last blocks of a row that is not a multiple of eight
      const __m256i xq = load256(y[b0].qs);
      const __m256i start = offset_correction(xq, offset_bytes);
      for (int r = 0; r < kRows; ++r) {
        const __m256i p = _mm256_dpbusd_epi32(start, unsigned_q(a[r][b0]), xq);
        const float s = half_to_float(a[r][b0].d) * half_to_float(y[b0].d);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(s), acc[r]);
      }
    }
    for (int r = 0; r < kRows; ++r) out[r0 + r] = hsum_ps(acc[r]);
  }
  // Fewer than four rows left: one at a time, same arithmetic.
  for (; r0 < rows; ++r0) {
    const auto* a = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + r0 * stride);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i xq = load256(y[b].qs);
      const __m256i p = _mm256_dpbusd_epi32(offset_correction(xq, offset_bytes), unsigned_q(a[b]), xq);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(a[b].d) * half_to_float(y[b].d)),
                            acc);
    }
    out[r0] = hsum_ps(acc);
  }
}

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
  __m512 acc[kRows];
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (int64_t b0 = 0; b0 < nb; b0 += 8) {
    const __m256 dy = gather_scales8(y + b0);
    __m512 scale[kRows];
    for (int r = 0; r < kRows; ++r) {
      const uint8_t* g = reinterpret_cast<const uint8_t*>(a[r] + b0);
      const __m512i words = _mm512_permutex2var_epi16(_mm512_loadu_si512(g), scale_words, _mm512_loadu_si512(g + 64));
      scale[r] = _mm512_castps256_ps512(_mm256_mul_ps(_mm256_cvtph_ps(_mm512_castsi512_si128(words)), dy));
      for (size_t off = 0; off < 8 * sizeof(BlockQ4_0); off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(g) + kRows * stride + off, _MM_HINT_T0);
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
  rows_with_q8_0<BlockQ4_0>(n, static_cast<const uint8_t*>(w) + r0 * stride, stride, x, out + r0, rows - r0, 8, unpack);
}

void q8_0_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK8_0 == 0);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  rows_with_q8_0<BlockQ8_0>(n, w, stride, x, out, rows, 0x80,
                            [&](const BlockQ8_0& b) { return _mm256_xor_si256(load256(b.qs), flip); });
}

}  // namespace

void add_avx512_rows_q4_q8(KernelTable& t) {
  slot(t, TensorType::Q4_0).vec_dot_rows = q4_0_vec_dot_rows;
  slot(t, TensorType::Q8_0).vec_dot_rows = q8_0_vec_dot_rows;
}

}  // namespace strata::cpu::detail
