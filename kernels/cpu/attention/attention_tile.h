// The inner loops of attention, over a tile of up to 16 query rows at once: one row per vector
// lane (16 floats are one AVX-512 register, two AVX2 ones). The engine (engine/decode/attention)
// gathers the rows — the tokens of a block times the query heads one KV head serves — decodes a
// run of K or V rows to f32, and calls these; here they become register-blocked multiply-adds
// where each key element, broadcast, serves all 16 rows.
//
// Layouts, for a tile of n_keys keys and head size D:
//   qt     [D][16]       the queries, transposed: element d of row r at qt[d * 16 + r]
//   keys   [n_keys][D]   decoded K rows (values likewise)
//   s      [n_keys][16]  scores, then softmax weights: key k of row r at s[k * 16 + r]
//   ot     [D][16]       the output, transposed like qt
//
// Decoding one token gives a tile only as many rows as a KV head has query heads (4 for a
// llama-1b shape), which would leave most lanes idle. The row kernels serve that case: each query
// row is dotted with 16 keys at once (the 16 sums reduced together), and its softmax runs along
// its own scores. Their layouts:
//   q      [rows][D]     rows <= kAttentionDecodeRows, D a multiple of 16
//   s      row r's scores (then weights) for keys 0.. at s + r * s_stride
//   o      [rows][D]
#pragma once

#include <cstdint>
#include <string_view>

namespace strata::cpu {

inline constexpr int kAttentionLanes = 16;
inline constexpr int kAttentionDecodeRows = 4;

struct AttentionTileKernels {
  // s[k][r] = scale * sum_d qt[d][r] * keys[k][d], or -inf where key_pos0 + k > limit[r] (the
  // causal mask: limit[r] is the last position row r may see).
  void (*scores)(const float* qt, const float* keys, int n_keys, int head_dim, float scale, float key_pos0,
                 const float* limit, float* s);
  // The running softmax statistics of each row, updated with a tile of scores:
  // max[r] = max(max[r], s[k][r] over k); sum[r] = sum over every score seen so far of
  // exp(score - max[r]) (rescaled when the max grows). Start with max = -inf, sum = 0.
  void (*max_sum)(const float* s, int n_keys, float* max, double* sum);
  // In place: s[k][r] = exp(s[k][r] - max[r]) * inv_sum[r], rounded to the nearest f16 value
  // when round_f16 (so the weights match what an f16 matrix product would see).
  void (*weights)(float* s, int n_keys, const float* max, const float* inv_sum, bool round_f16);
  // ot[d][r] += sum_k p[k][r] * values[k][d].
  void (*accumulate)(const float* p, const float* values, int n_keys, int head_dim, float* ot);
  // Decodes n elements of a q4g KV row (engine/kv/kv_format.h): groups of `group` elements, each
  // an f16 minimum, an f16 scale, then group/2 bytes of nibbles (element 2i in the low nibble of
  // byte i); value = minimum + scale * nibble. The attention of q4g KV decodes every K row twice
  // and every V row once per task, so this is on its hot path.
  void (*q4g_to_float)(const uint8_t* src, float* dst, int n, int group);

  // Decode: s[r * s_stride + k] = scale * sum_d q[r][d] * keys[k][d] for r < rows, k < n_keys.
  void (*row_scores)(const float* q, int rows, const float* keys, int n_keys, int head_dim, float scale, float* s,
                     int64_t s_stride);
  // In place over one row of n scores: the softmax, as max_sum then weights compute it (the sum of
  // the float exponentials taken in double), rounded to f16 when round_f16.
  void (*row_softmax)(float* s, int64_t n, bool round_f16);
  // o[r][d] += sum_k p[r * p_stride + k] * values[k][d] for r < rows.
  void (*row_accumulate)(const float* p, int rows, int64_t p_stride, const float* values, int n_keys, int head_dim,
                         float* o);
};

// The fastest level this CPU supports (see kernels.h: kernel_level_name, STRATA_CPU).
const AttentionTileKernels& attention_tile_kernels();
// One level ("reference", "avx2", "avx512"), or nullptr where unavailable. For tests.
const AttentionTileKernels* attention_tile_kernels_at_level(std::string_view level);

}  // namespace strata::cpu
