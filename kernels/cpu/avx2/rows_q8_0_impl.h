// The decode multi-row loop (TypeKernels::vec_dot_rows) of the 32-element block types against
// Q8_0 activations, shared by the AVX2 and AVX-512 files and parameterized by `Dot`, the dot of
// weight bytes with signed activation bytes in groups of four into int32 lanes:
//   static __m256i add(__m256i sum, __m256i w, __m256i x).
// Include only from files compiled with AVX2 (or wider) flags; everything is static inline.
//
// Four rows per pass share the activation's loads and per-block work:
// - the weights are made unsigned (`kOffset`: Q4_0's nibble is q + 8, Q8_0's q xor 0x80 is
//   q + 128) and the offset is taken back by starting the sum at -offset * sum(x), computed once
//   per activation block for the four rows (kOffset 0: signed weights, a Dot with the sign trick);
// - the fp16 scales of eight blocks are gathered and converted at once, multiplied by the eight
//   activation scales, and each block takes its lane with one permute;
// - while four rows are multiplied, the same bytes of later rows are prefetched (row_prefetch.h).
// Results equal the reference up to float summation order (tests/kernels/test_vec_dot_rows.cpp).
#pragma once

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/row_prefetch.h"
#include "kernels/cpu/row_quarters.h"

namespace strata::cpu::detail {

static constexpr int kDecodeRows = 4;

static inline __m256i rows_load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// The fp16 field at offset 0 of eight consecutive blocks of `Block`, as floats.
template <typename Block>
static inline __m256 gather_scales8(const Block* b) {
  const __m256i offsets = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(static_cast<int>(sizeof(Block))));
  const __m256i dwords = _mm256_i32gather_epi32(reinterpret_cast<const int*>(b), offsets, 1);
  // The low half of each dword is the fp16: pack them into eight words (packus works per 128-bit
  // lane, the permute joins the lanes' results).
  const __m256i words = _mm256_and_si256(dwords, _mm256_set1_epi32(0xFFFF));
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(words, words), 0x08);
  return _mm256_cvtph_ps(_mm256_castsi256_si128(packed));
}

#ifdef __AVX512VNNI__
// The Dot of the AVX-512 files: one vpdpbusd.
struct DotVnni {
  static __m256i add(__m256i sum, __m256i w, __m256i x) { return _mm256_dpbusd_epi32(sum, w, x); }
};
#endif

// -offset * (sum of each group of four activation bytes): the start that turns dot(q + offset, x)
// into dot(q, x).
template <class Dot, int kOffset>
static inline __m256i offset_correction(__m256i x) {
  if constexpr (kOffset == 0) {
    return _mm256_setzero_si256();
  } else {
    const __m256i offset = _mm256_set1_epi8(static_cast<char>(kOffset));
    return _mm256_sub_epi32(_mm256_setzero_si256(), Dot::add(_mm256_setzero_si256(), offset, x));
  }
}

// The rows of four runs (row_quarters.h); `weights(block)`: the block's 32 weights as bytes
// q + kOffset.
template <class Dot, int kOffset, typename Block, typename Weights>
static inline void streams_with_q8_0(int64_t n, const RowStreams& streams, const void* x, Weights weights) {
  constexpr int kRows = kDecodeRows;
  const int64_t nb = n / 32;
  const auto* y = static_cast<const BlockQ8_0*>(x);
  const RowPrefetch prefetch = quarter_prefetch();
  for (int64_t step = 0; step < streams.steps; ++step) {
    const Block* a[kRows];
    for (int r = 0; r < kRows; ++r) a[r] = reinterpret_cast<const Block*>(streams.row(step, r));
    __m256 acc[kRows];
    for (auto& v : acc) v = _mm256_setzero_ps();
    int64_t b0 = 0;
    for (; b0 + 8 <= nb; b0 += 8) {
      const __m256 dy = gather_scales8(y + b0);
      __m256 scale[kRows];
      for (int r = 0; r < kRows; ++r) {
        scale[r] = _mm256_mul_ps(gather_scales8(a[r] + b0), dy);
        prefetch(a[r] + b0, 8 * sizeof(Block));
      }
      for (int j = 0; j < 8; ++j) {
        const __m256i xq = rows_load256(y[b0 + j].qs);
        const __m256i start = offset_correction<Dot, kOffset>(xq);
        const __m256i lane = _mm256_set1_epi32(j);
        for (int r = 0; r < kRows; ++r) {
          const __m256i p = Dot::add(start, weights(a[r][b0 + j]), xq);
          acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_permutevar8x32_ps(scale[r], lane), acc[r]);
        }
      }
    }
    for (; b0 < nb; ++b0) {  // the last blocks of a row that is not a multiple of eight
      const __m256i xq = rows_load256(y[b0].qs);
      const __m256i start = offset_correction<Dot, kOffset>(xq);
      for (int r = 0; r < kRows; ++r) {
        const __m256i p = Dot::add(start, weights(a[r][b0]), xq);
        const float s = half_to_float(a[r][b0].d) * half_to_float(y[b0].d);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(s), acc[r]);
      }
    }
    for (int r = 0; r < kRows; ++r) *streams.result(step, r) = hsum_ps(acc[r]);
  }
}

// `rows` rows `stride` bytes apart: by quarters, then the fewer than four left one at a time with
// the same arithmetic.
template <class Dot, int kOffset, typename Block, typename Weights>
static inline void rows_with_q8_0(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows,
                                  Weights weights) {
  streams_with_q8_0<Dot, kOffset, Block>(n, row_quarters(w, stride, out, rows), x, weights);
  const int64_t nb = n / 32;
  const auto* y = static_cast<const BlockQ8_0*>(x);
  for (int64_t r0 = quarters_end(rows); r0 < rows; ++r0) {
    const auto* a = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + r0 * stride);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i xq = rows_load256(y[b].qs);
      const __m256i p = Dot::add(offset_correction<Dot, kOffset>(xq), weights(a[b]), xq);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(a[b].d) * half_to_float(y[b].d)),
                            acc);
    }
    out[r0] = hsum_ps(acc);
  }
}

}  // namespace strata::cpu::detail
