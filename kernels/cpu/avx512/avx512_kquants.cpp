// AVX-512 VNNI dot products of Q4_K / Q5_K / Q6_K with Q8_K: 64 values per step.
//
// K-quant values are unsigned (0..31 or 0..63) and come with a small integer scale per sub-block,
// so the step is vpmaddubsw (unsigned value x signed activation, pairs summed into int16: at most
// 63 * 127 * 2, no saturation) followed by vpdpwssd (int16 pairs times the sub-block's scale,
// accumulated in int32) — exactly the integer the reference computes. The mins (Q4_K, Q5_K) and
// the -32 offset (Q6_K) go through the activation block sums bsums as in the AVX2 variant.
#include <cassert>
#include <cstring>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/row_prefetch.h"
#include "kernels/cpu/row_quarters.h"

namespace strata::cpu::detail {
namespace {

inline __m256i load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// pshufb masks (vpshufb works within each 128-bit lane, so sources hold the same 8 int16 values
// in all four lanes). kScale32[c]: int16 value 2c in 256-bit half 0, 2c + 1 in half 1 (a 32-element
// sub-block is 16 int16 lanes after vpmaddubsw). kScale16[r]: value 4r + L in 128-bit lane L
// (16-element sub-blocks are 8 int16 lanes).
struct alignas(64) Bytes64 {
  int8_t v[64];
};

constexpr Bytes64 scale32(int c) {
  Bytes64 b{};
  for (int i = 0; i < 64; ++i) b.v[i] = static_cast<int8_t>(2 * (2 * c + i / 32) + (i & 1));
  return b;
}

constexpr Bytes64 scale16(int r) {
  Bytes64 b{};
  for (int i = 0; i < 64; ++i) b.v[i] = static_cast<int8_t>(2 * (4 * r + i / 16) + (i & 1));
  return b;
}

constexpr Bytes64 kScale32[4] = {scale32(0), scale32(1), scale32(2), scale32(3)};
constexpr Bytes64 kScale16[2] = {scale16(0), scale16(1)};

inline __m512i shuffle(__m512i v, const Bytes64& mask) { return _mm512_shuffle_epi8(v, _mm512_load_si512(mask.v)); }

// Decode streams every weight row once from memory, row after row; the hardware prefetcher
// restarts at each 4 KiB page, so ask for the bytes of one block ~1 KiB ahead (past the row's
// end: the next row) explicitly.
template <typename Block>
inline void prefetch_ahead(const Block* p) {
  for (size_t off = 0; off < sizeof(Block); off += 64)
    _mm_prefetch(reinterpret_cast<const char*>(p) + 1024 + off, _MM_HINT_T0);
}

// The activation block's 256 values as four 64-byte vectors, shared by every weight row.
struct ActBlock {
  __m512i q[4];
  explicit ActBlock(const BlockQ8_K& y) {
    for (int c = 0; c < 4; ++c) q[c] = load512(y.qs + 64 * c);
  }
};

// Q4_K and Q5_K, one super-block: `values(b, c)` gives chunk c's 64 unsigned values (elements
// 64c..64c+63: sub-blocks 2c and 2c + 1). Adds d-scaled sums to acc and dmin-scaled mins to acc_m.
template <typename Block, typename Values>
inline void kquant_block_with_mins(const Block& a, const BlockQ8_K& y, const ActBlock& yq, Values values, __m512& acc,
                                   __m256& acc_m) {
  const __m128i sc_m = unpack_q4k_scales_128(a.scales);
  const __m512i sc16 = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sc_m));  // sc[0..7] as int16, 4 times
  const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sc_m, sc_m));
  const __m256i mins = _mm256_madd_epi16(m16, load256(y.bsums));
  __m512i sumi = _mm512_setzero_si512();
  for (int c = 0; c < 4; ++c) {
    const __m512i p = _mm512_maddubs_epi16(values(a, c), yq.q[c]);
    sumi = _mm512_dpwssd_epi32(sumi, p, shuffle(sc16, kScale32[c]));
  }
  acc = _mm512_fmadd_ps(_mm512_set1_ps(half_to_float(a.d) * y.d), _mm512_cvtepi32_ps(sumi), acc);
  acc_m = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(a.dmin) * y.d), _mm256_cvtepi32_ps(mins), acc_m);
}

template <typename Block, typename Values>
float dot_kquant_with_mins(int64_t n, const Block* a, const BlockQ8_K* y, Values values) {
  __m512 acc = _mm512_setzero_ps();
  __m256 acc_m = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    prefetch_ahead(a + i);
    kquant_block_with_mins(a[i], y[i], ActBlock(y[i]), values, acc, acc_m);
  }
  return _mm512_reduce_add_ps(acc) - hsum_ps(acc_m);
}

// Decode: kRows weight rows against one activation row (TypeKernels::vec_dot_rows), sharing the
// activation loads; while four rows are multiplied, the same bytes of later rows are prefetched
// (row_prefetch.h). Rows left over at the end go through `one_row`.
constexpr int kRows = 4;

template <typename Block, typename Act, typename Step, typename OneRow>
void kquant_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows, Step step,
                 OneRow one_row) {
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const auto* base = static_cast<const uint8_t*>(w);
  const RowPrefetch prefetch(stride, kRows);
  int64_t r0 = 0;
  for (; r0 + kRows <= rows; r0 += kRows) {
    const Block* a[kRows];
    for (int r = 0; r < kRows; ++r) a[r] = reinterpret_cast<const Block*>(base + (r0 + r) * stride);
    __m512 acc[kRows];
    __m256 acc_m[kRows];
    for (int r = 0; r < kRows; ++r) {
      acc[r] = _mm512_setzero_ps();
      acc_m[r] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      const Act yq(y[i]);
      for (int r = 0; r < kRows; ++r) {
        prefetch(a[r] + i, sizeof(Block));
        step(a[r][i], y[i], yq, acc[r], acc_m[r]);
      }
    }
    for (int r = 0; r < kRows; ++r) out[r0 + r] = _mm512_reduce_add_ps(acc[r]) - hsum_ps(acc_m[r]);
  }
  for (; r0 < rows; ++r0) out[r0] = one_row(n, base + r0 * stride, x);
}

// The 32 bytes at p in both halves, the upper half shifted right by 4 bits: low nibbles of
// qs[32c..] (elements 64c + l) then high nibbles (64c + 32 + l).
inline __m512i nibbles_64(const uint8_t* p) {
  const __m512i q = _mm512_broadcast_i64x4(load256(p));
  const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
  return _mm512_and_si512(_mm512_srlv_epi16(q, shift), _mm512_set1_epi8(0x0F));
}

float q4_k_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK_K == 0);
  return dot_kquant_with_mins(n, static_cast<const BlockQ4_K*>(w), static_cast<const BlockQ8_K*>(x),
                              [](const BlockQ4_K& b, int c) { return nibbles_64(b.qs + 32 * c); });
}

// Q4_K for decode, in fewer instructions than kquant_block_with_mins, since decode is bound by
// them on this type:
// - The activation is arranged once per super-block for all rows so that one 64-byte load of
//   nibbles serves two chunks: nibble bytes 64h..64h+63 hold, in their low nibbles, values
//   128h + 0..31 and 128h + 64..95, in their high nibbles 128h + 32..63 and 128h + 96..127. That
//   is one shift and two masks per 128 values instead of two shifts and two masks.
// - The 12 packed scale bytes are unpacked with vector shifts and masks, not scalar code.
// - The four rows' scales and d come first, then their dots: the first loads of a step touch all
//   four streams, so their misses overlap (as in avx512_rows_q8_0.cpp). Zen 5, 2048-wide rows:
//   41.4 -> 45.3 GB/s in L2 on one core, 54.5 -> 58.7 from DRAM with two; tg128 89 -> 93.
struct ActBlockQ4K {
  __m512i q[4];  // q[2h]: values 128h + 0..31 | 64..95; q[2h + 1]: 128h + 32..63 | 96..127
  explicit ActBlockQ4K(const BlockQ8_K& y) {
    for (int h = 0; h < 2; ++h) {
      const int8_t* v = y.qs + 128 * h;
      q[2 * h] = _mm512_inserti64x4(_mm512_castsi256_si512(load256(v)), load256(v + 64), 1);
      q[2 * h + 1] = _mm512_inserti64x4(_mm512_castsi256_si512(load256(v + 32)), load256(v + 96), 1);
    }
  }
};

// vpshufb mask: int16 scale a in 256-bit half 0, b in half 1 (see kScale32).
constexpr Bytes64 scale_pair(int a, int b) {
  Bytes64 m{};
  for (int i = 0; i < 64; ++i) m.v[i] = static_cast<int8_t>(2 * (i < 32 ? a : b) + (i & 1));
  return m;
}

// Sub-blocks of q[k] of ActBlockQ4K: (0, 2), (1, 3), (4, 6), (5, 7).
constexpr Bytes64 kScaleQ4K[4] = {scale_pair(0, 2), scale_pair(1, 3), scale_pair(4, 6), scale_pair(5, 7)};

// unpack_q4k_scales_128 with vector operations: [sc_lo, sc_hi, m_lo, m_hi] from the dwords w0, w1,
// w2 of the 12 scale bytes (the 16-byte load also reads the first 4 bytes of qs, ignored).
inline __m128i unpack_q4k_scales_vec(const uint8_t* scales) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales));
  // [w0 & 3F, w2 & 0F, w1 & 3F, (w2 >> 4) & 0F] | [0, (w0 >> 2) & 30, 0, (w1 >> 2) & 30]
  const __m128i low = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)), _mm_setr_epi32(0, 0, 0, 4)),
                                    _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
  const __m128i high = _mm_and_si128(_mm_srli_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0)), 2),
                                     _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
  return _mm_or_si128(low, high);
}

// One row's super-block: its unpacked scales and mins, and [d, dmin] times the activation's
// scale (for the four rows' min term).
inline __m128i q4_k_block_scales(const BlockQ4_K& a, const BlockQ8_K& y, __m128& dd) {
  // d and dmin (adjacent fp16) converted together, times the activation's scale.
  uint32_t d_dmin;
  std::memcpy(&d_dmin, &a.d, 4);
  dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d_dmin))), _mm_set1_ps(y.d));
  return unpack_q4k_scales_vec(a.scales);
}

// One row's super-block without its min term: d * sum_j sc[j] * dot_j into acc.
inline void q4_k_block_decode(const BlockQ4_K& a, const ActBlockQ4K& yq, __m128i sc_m, __m128 dd, __m512& acc) {
  const __m512i sc16 = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sc_m));
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512i sumi = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) {
    const __m512i q = load512(a.qs + 64 * h);
    const __m512i lo = _mm512_and_si512(q, low4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
    sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(lo, yq.q[2 * h]), shuffle(sc16, kScaleQ4K[2 * h]));
    sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(hi, yq.q[2 * h + 1]), shuffle(sc16, kScaleQ4K[2 * h + 1]));
  }
  acc = _mm512_fmadd_ps(_mm512_broadcastss_ps(dd), _mm512_cvtepi32_ps(sumi), acc);
}

// The min terms of the four rows at once: dmin * sum_j m[j] * (bsums[2j] + bsums[2j+1]), one
// 128-bit lane per row (its mins as int16 times the activation's 32-value sums), instead of a
// widening, a multiply-add, a conversion and an FMA per row.
inline void q4_k_mins4(const __m128i sc_m[4], const __m128 dd[4], __m512i pair_sums, __m512& acc_m) {
  const __m128i m01 = _mm_unpackhi_epi64(sc_m[0], sc_m[1]), m23 = _mm_unpackhi_epi64(sc_m[2], sc_m[3]);
  const __m512i m16 = _mm512_cvtepu8_epi16(_mm256_inserti128_si256(_mm256_castsi128_si256(m01), m23, 1));
  const __m512i mins = _mm512_madd_epi16(m16, pair_sums);  // row r: int32 lanes 4r..4r+3
  // [dmin0, dmin1, dmin2, dmin3] (times the activation's scale), each into its row's four lanes.
  const __m128 dmin = _mm_movehl_ps(_mm_unpacklo_ps(dd[2], dd[3]), _mm_unpacklo_ps(dd[0], dd[1]));
  const __m512i row_of_lane = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  acc_m = _mm512_fmadd_ps(_mm512_permutexvar_ps(row_of_lane, _mm512_castps128_ps512(dmin)), _mm512_cvtepi32_ps(mins),
                          acc_m);
}

// The rows of four runs (row_quarters.h: a call's quarters, or decode's streams).
void q4_k_streams(int64_t n, const RowStreams& streams, const void* x) {
  static_assert(kRows == 4, "q4_k_mins4 takes four rows");
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const RowPrefetch prefetch = quarter_prefetch();
  for (int64_t step = 0; step < streams.steps; ++step) {
    const BlockQ4_K* a[kRows];
    __m512 acc[kRows];
    for (int r = 0; r < kRows; ++r) {
      a[r] = reinterpret_cast<const BlockQ4_K*>(streams.row(step, r));
      acc[r] = _mm512_setzero_ps();
    }
    __m512 acc_m = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      const ActBlockQ4K yq(y[i]);
      // bsums[2j] + bsums[2j+1] (the sums of 32-value sub-block j, at most 4064) as int16, in
      // every 128-bit lane.
      const __m256i pairs = _mm256_madd_epi16(load256(y[i].bsums), _mm256_set1_epi16(1));
      const __m512i pair_sums = _mm512_broadcast_i32x4(
          _mm_packs_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1)));
      __m128i sc_m[kRows];
      __m128 dd[kRows];
      // The four rows' scales first: their first loads touch all four streams early.
      for (int r = 0; r < kRows; ++r) {
        prefetch(a[r] + i, sizeof(BlockQ4_K));
        sc_m[r] = q4_k_block_scales(a[r][i], y[i], dd[r]);
      }
      for (int r = 0; r < kRows; ++r) q4_k_block_decode(a[r][i], yq, sc_m[r], dd[r], acc[r]);
      q4_k_mins4(sc_m, dd, pair_sums, acc_m);
    }
    alignas(64) float mins[16];
    _mm512_store_ps(mins, acc_m);
    for (int r = 0; r < kRows; ++r)
      *streams.result(step, r) =
          _mm512_reduce_add_ps(acc[r]) - (mins[4 * r] + mins[4 * r + 1] + mins[4 * r + 2] + mins[4 * r + 3]);
  }
}

void q4_k_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK_K == 0);
  q4_k_streams(n, row_quarters(w, stride, out, rows), x);
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t r = quarters_end(rows); r < rows; ++r) out[r] = q4_k_vec_dot(n, base + r * stride, x);
}

void q4_k_vec_dot_streams(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4],
                          int64_t steps) {
  assert(n % kQK_K == 0);
  q4_k_streams(n, row_streams(w, stride, out, steps), x);
}

float q5_k_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK_K == 0);
  const __m512i bit4 = _mm512_set1_epi8(0x10);
  return dot_kquant_with_mins(n, static_cast<const BlockQ5_K*>(w), static_cast<const BlockQ8_K*>(x),
                              [&](const BlockQ5_K& b, int c) {
                                // Bit 4 of element 64c + l is bit 2c of qh[l], of 64c + 32 + l bit 2c + 1.
                                const __m512i qh = _mm512_broadcast_i64x4(load256(b.qh));
                                const __m512i select = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * c))),
                                                                          _mm256_set1_epi8(static_cast<char>(2 << (2 * c))), 1);
                                const __mmask64 high = _mm512_test_epi8_mask(qh, select);
                                return _mm512_or_si512(nibbles_64(b.qs + 32 * c), _mm512_maskz_mov_epi8(high, bit4));
                              });
}

// Q6_K's activation block: ActBlock, and the sums of its 16-value groups negated (int16), for
// the -32 of the weights' stored q + 32.
struct ActBlockQ6K : ActBlock {
  __m256i neg_bsums;
  explicit ActBlockQ6K(const BlockQ8_K& y)
      : ActBlock(y), neg_bsums(_mm256_sub_epi16(_mm256_setzero_si256(), load256(y.bsums))) {}
};

// Q6_K, one super-block: sum_k sc[k] * sum q qx - 32 * sum_k sc[k] * bsums[k], q unsigned 0..63,
// added to acc scaled by d.
// - The sum starts at the second term: sc * 32 (at most 4096) against the negated bsums (at most
//   2048) in one vpdpwssd.
// - Each 64 values' 6-bit q take the bits 4-5 from qh masked once (bits 0-1 and 4-5 kept) and
//   the low four from ql with a bit select (vpternlogd): five operations per 128 values where
//   masks, shifts and ors took eight. Decode kernel in L2, one Zen 5 core: 52.4 -> 56.6 GB/s.
inline void q6_k_block(const BlockQ6_K& a, const BlockQ8_K& y, const ActBlockQ6K& yq, __m512& acc) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), qh_bits = _mm512_set1_epi8(0x33);
  const __m512i qh_shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  const __m256i sc16_256 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.scales)));
  // Scales 0-7 (half 0) and 8-15 (half 1) as int16, repeated in every 128-bit lane.
  const __m512i sc16[2] = {_mm512_broadcast_i32x4(_mm256_castsi256_si128(sc16_256)),
                           _mm512_broadcast_i32x4(_mm256_extracti128_si256(sc16_256, 1))};
  __m512i sumi = _mm512_zextsi256_si512(
      _mm256_dpwssd_epi32(_mm256_setzero_si256(), _mm256_slli_epi16(sc16_256, 5), yq.neg_bsums));
  constexpr int kSelect = 0xE4;  // vpternlogd: c ? a : b, bit by bit
  for (int h = 0; h < 2; ++h) {
    const __m512i ql = load512(a.ql + 64 * h);
    // qh[l] in the lower half, qh[l] >> 2 in the upper: bits 0-1 / 4-5 then belong to
    // elements l / 64 + l (lower) and 32 + l / 96 + l (upper).
    const __m512i qh = _mm512_and_si512(
        _mm512_srlv_epi16(_mm512_broadcast_i64x4(load256(a.qh + 32 * h)), qh_shift), qh_bits);
    // Bits shifted across bytes by the 16-bit shifts land only where the select takes the other
    // operand.
    const __m512i qa = _mm512_ternarylogic_epi32(ql, _mm512_slli_epi16(qh, 4), low4, kSelect);
    const __m512i qb = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), qh, low4, kSelect);
    const __m512i pa = _mm512_maddubs_epi16(qa, yq.q[2 * h]);
    const __m512i pb = _mm512_maddubs_epi16(qb, yq.q[2 * h + 1]);
    sumi = _mm512_dpwssd_epi32(sumi, pa, shuffle(sc16[h], kScale16[0]));
    sumi = _mm512_dpwssd_epi32(sumi, pb, shuffle(sc16[h], kScale16[1]));
  }
  acc = _mm512_fmadd_ps(_mm512_set1_ps(half_to_float(a.d) * y.d), _mm512_cvtepi32_ps(sumi), acc);
}

float q6_k_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK_K == 0);
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    prefetch_ahead(a + i);
    q6_k_block(a[i], y[i], ActBlockQ6K(y[i]), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

void q6_k_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK_K == 0);
  // acc_m stays zero: Q6_K has no mins.
  kquant_rows<BlockQ6_K, ActBlockQ6K>(
      n, w, stride, x, out, rows,
      [](const BlockQ6_K& a, const BlockQ8_K& y, const ActBlockQ6K& yq, __m512& acc, __m256&) {
        q6_k_block(a, y, yq, acc);
      },
      q6_k_vec_dot);
}

}  // namespace

void add_avx512_kquants(KernelTable& t) {
  slot(t, TensorType::Q4_K).vec_dot = q4_k_vec_dot;
  slot(t, TensorType::Q5_K).vec_dot = q5_k_vec_dot;
  slot(t, TensorType::Q6_K).vec_dot = q6_k_vec_dot;
  slot(t, TensorType::Q4_K).vec_dot_rows = q4_k_vec_dot_rows;
  slot(t, TensorType::Q4_K).vec_dot_streams = q4_k_vec_dot_streams;
  slot(t, TensorType::Q6_K).vec_dot_rows = q6_k_vec_dot_rows;
}

}  // namespace strata::cpu::detail
