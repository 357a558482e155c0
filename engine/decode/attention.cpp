#include "engine/decode/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/threads/thread_pool.h"
#include "kernels/cpu/attention/attention_tile.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernels.h"

namespace strata {
namespace {

constexpr int kLanes = cpu::kAttentionLanes;
constexpr int kKeyTile = 64;  // K/V rows decoded at a time: 2 x 16 KiB of f32 for head size 64

// One task: `tokens` consecutive tokens times `heads` query heads of one KV head, one row each of
// the 16 lanes of the tile kernels (cpu/attention/attention_tile.h).
struct Task {
  int64_t first_token = 0;
  int tokens = 0;
  int kv_head = 0;
  int first_head = 0;  // within the KV head's group
  int heads = 0;
};

// A thread's buffers: queries and output transposed ([head_dim][16]), the scores of every key
// ([n_keys][16]; [rows][n_keys] in decode), a tile of decoded K and V rows, and each row's softmax
// statistics.
struct Scratch {
  std::vector<float> qt, ot, s, keys, values;
  std::vector<uint16_t> half;  // decode's query rows rounded to f16
  alignas(64) float limit[kLanes], max[kLanes], inv_sum[kLanes];
  double sum[kLanes];
  void size_for(int head_dim) {
    qt.resize(size_t(head_dim) * kLanes);
    ot.resize(size_t(head_dim) * kLanes);
    keys.resize(size_t(kKeyTile) * head_dim);
    values.resize(size_t(kKeyTile) * head_dim);
  }
};

// Decodes rows j0 .. j0 + n - 1 of one head of a span to f32: in one call when the rows are
// adjacent (pages store each head's rows together), else row after row.
void decode_rows(const KvFormat& format, const uint8_t* head, int64_t token_stride, int64_t j0, int n, int D,
                 float* dst) {
  const int64_t row_bytes = static_cast<int64_t>(format.row_bytes(D));
  const int runs = token_stride == row_bytes ? 1 : n;
  const int per_run = n / runs;
  for (int i = 0; i < runs; ++i) {
    const uint8_t* src = head + (j0 + i) * token_stride;
    float* out = dst + int64_t(i) * D;
    if (format.type == KvType::F16)
      cpu::kernels_for(TensorType::F16).to_float(src, out, int64_t(per_run) * D);
    else
      kv_decode_row(format, src, out, per_run * D);
  }
}

// Calls fn(span, j0, n) for each tile of at most kKeyTile stored keys below position n_keys.
template <class Fn>
void for_each_key_tile(const std::vector<KvSpan>& spans, int64_t n_keys, Fn&& fn) {
  for (const KvSpan& sp : spans) {
    const int64_t end = std::min(sp.n_tokens, n_keys - sp.first_pos);
    for (int64_t j0 = 0; j0 < end; j0 += kKeyTile) fn(sp, j0, static_cast<int>(std::min<int64_t>(kKeyTile, end - j0)));
  }
}

// Asks for the K and V rows of one KV head below position n_keys at once. Decode reads them once
// per token, long after the last token's weights pushed them out of the caches; row after row,
// each miss waited for the one before.
void prefetch_head(const std::vector<KvSpan>& spans, int64_t n_keys, int kv_head, int D) {
  for (const KvSpan& sp : spans) {
    const int64_t end = std::min(sp.n_tokens, n_keys - sp.first_pos);
    const int64_t row_bytes = static_cast<int64_t>(sp.format.row_bytes(D));
    for (const uint8_t* base : {sp.k, sp.v}) {
      const uint8_t* head = base + kv_head * sp.head_stride;
      for (int64_t j = 0; j < end; ++j) {
        const uint8_t* row = head + j * sp.token_stride;
        for (int64_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(row + off, 0, 3);
      }
    }
  }
}

// Decode: the few query rows of one token (adjacent heads at q), each dotted with the keys and
// normalized along its own row of scores ([rows][n_keys]), then the values added up. The same
// arithmetic as the tiles (attention_tile.h), arranged so that no vector lane idles.
void attend_rows(const AttentionShape& shape, const float* q, int rows, int64_t n_keys, int kv_head, bool f16,
                 const std::vector<KvSpan>& spans, Scratch& w, float* out) {
  const cpu::AttentionTileKernels& kern = cpu::attention_tile_kernels();
  const int D = shape.head_dim;
  prefetch_head(spans, n_keys, kv_head, D);
  const int64_t n_q = int64_t(rows) * D;
  if (f16) {  // the vector conversions, which round as fp32_to_fp16 does
    const cpu::TypeKernels& half = cpu::kernels_for(TensorType::F16);
    w.half.resize(static_cast<size_t>(n_q));
    half.from_float(q, w.half.data(), n_q);
    half.to_float(w.half.data(), w.qt.data(), n_q);
  } else {
    std::copy(q, q + n_q, w.qt.begin());
  }
  if (w.s.size() < size_t(n_keys) * rows) w.s.resize(size_t(n_keys) * rows);
  for_each_key_tile(spans, n_keys, [&](const KvSpan& sp, int64_t j0, int n) {
    decode_rows(sp.format, sp.k + kv_head * sp.head_stride, sp.token_stride, j0, n, D, w.keys.data());
    kern.row_scores(w.qt.data(), rows, w.keys.data(), n, D, shape.scale, w.s.data() + sp.first_pos + j0, n_keys);
  });
  for (int r = 0; r < rows; ++r) kern.row_softmax(w.s.data() + r * n_keys, n_keys, f16);
  std::fill(w.ot.begin(), w.ot.end(), 0.0f);
  for_each_key_tile(spans, n_keys, [&](const KvSpan& sp, int64_t j0, int n) {
    decode_rows(sp.format, sp.v + kv_head * sp.head_stride, sp.token_stride, j0, n, D, w.values.data());
    kern.row_accumulate(w.s.data() + sp.first_pos + j0, rows, n_keys, w.values.data(), n, D, w.ot.data());
  });
  std::copy(w.ot.begin(), w.ot.begin() + int64_t(rows) * D, out);
}

// Exact softmax attention of one task in two passes over the keys: the first computes the scores
// and each row's max and sum of exponentials, the second turns the scores into normalized weights
// and adds up the values. The scores are kept between the passes: 64 bytes per key, 2 MiB at 32k
// tokens of context, written and read once (recomputing them would cost a third more work).
// With f16 K/V, rounding follows llama.cpp's non-flash CPU path so results agree with it closely:
// the query and the softmax weights are rounded to f16 before their products.
void attend(const AttentionShape& shape, const Task& task, const float* q, int64_t q_stride, int64_t pos0,
            const std::vector<KvSpan>& spans, Scratch& w, float* out) {
  const cpu::AttentionTileKernels& kern = cpu::attention_tile_kernels();
  const int D = shape.head_dim;
  const bool f16 = spans.empty() || spans[0].format.type == KvType::F16;
  const int rows = task.tokens * task.heads;
  const int first_head = task.kv_head * (shape.n_head / shape.n_head_kv) + task.first_head;
  auto row_offset = [&](int r) {  // of row r: token r / heads, head r % heads of the task
    return (task.first_token + r / task.heads) * q_stride + int64_t(first_head + r % task.heads) * D;
  };
  if (task.tokens == 1 && rows <= cpu::kAttentionDecodeRows && D % kLanes == 0)
    return attend_rows(shape, q + row_offset(0), rows, pos0 + task.first_token + 1, task.kv_head, f16, spans, w,
                       out + row_offset(0));
  std::fill(w.qt.begin(), w.qt.end(), 0.0f);
  for (int r = 0; r < rows; ++r) {
    const float* qr = q + row_offset(r);
    for (int d = 0; d < D; ++d) w.qt[d * kLanes + r] = f16 ? cpu::fp16_to_fp32(cpu::fp32_to_fp16(qr[d])) : qr[d];
  }
  for (int r = 0; r < kLanes; ++r) {
    // Unused lanes see every key (their scores are zeros, and ignored).
    w.limit[r] = r < rows ? static_cast<float>(pos0 + task.first_token + r / task.heads) : INFINITY;
    w.max[r] = -INFINITY;
    w.sum[r] = 0;
  }
  const int64_t n_keys = pos0 + task.first_token + task.tokens;
  if (w.s.size() < size_t(n_keys) * kLanes) w.s.resize(size_t(n_keys) * kLanes);
  auto scores_of = [&](const KvSpan& sp, int64_t j0) { return w.s.data() + (sp.first_pos + j0) * kLanes; };
  for_each_key_tile(spans, n_keys, [&](const KvSpan& sp, int64_t j0, int n) {
    decode_rows(sp.format, sp.k + task.kv_head * sp.head_stride, sp.token_stride, j0, n, D, w.keys.data());
    kern.scores(w.qt.data(), w.keys.data(), n, D, shape.scale, static_cast<float>(sp.first_pos + j0), w.limit,
                scores_of(sp, j0));
    kern.max_sum(scores_of(sp, j0), n, w.max, w.sum);
  });
  for (int r = 0; r < kLanes; ++r) w.inv_sum[r] = static_cast<float>(1.0 / w.sum[r]);
  std::fill(w.ot.begin(), w.ot.end(), 0.0f);
  for_each_key_tile(spans, n_keys, [&](const KvSpan& sp, int64_t j0, int n) {
    float* p = scores_of(sp, j0);
    kern.weights(p, n, w.max, w.inv_sum, f16);
    decode_rows(sp.format, sp.v + task.kv_head * sp.head_stride, sp.token_stride, j0, n, D, w.values.data());
    kern.accumulate(p, w.values.data(), n, D, w.ot.data());
  });
  for (int r = 0; r < rows; ++r) {
    float* o = out + row_offset(r);
    for (int d = 0; d < D; ++d) o[d] = w.ot[d * kLanes + r];
  }
}

}  // namespace

void attention(const AttentionShape& s, const float* q, int64_t n_tokens, int64_t pos0,
               const std::vector<KvSpan>& spans, float* out, ThreadPool& pool) {
  const int64_t row = int64_t(s.n_head) * s.head_dim;
  const int group = s.n_head / s.n_head_kv;
  // A task takes up to 16 rows: several tokens of a whole KV group, or the heads of a part of a
  // group (one token) when the group is wider than 16 or when there would be too few tasks to
  // keep every thread busy (decode with few KV heads).
  int heads = std::min(group, kLanes);
  auto count = [&](int h) {
    const int tokens = std::max(1, kLanes / h);
    return ((n_tokens + tokens - 1) / tokens) * s.n_head_kv * ((group + h - 1) / h);
  };
  while (heads > 1 && count(heads) < int64_t{2} * pool.size()) heads = (heads + 1) / 2;
  const int tokens = static_cast<int>(std::min<int64_t>(n_tokens, std::max(1, kLanes / heads)));
  const int parts = (group + heads - 1) / heads;
  const int64_t blocks = (n_tokens + tokens - 1) / tokens;
  const int64_t per_block = int64_t(s.n_head_kv) * parts;
  // Later tokens see more keys: hand out the last blocks first so the threads finish together.
  pool.parallel_for(blocks * per_block, 1, [&](int64_t begin, int64_t end) {
    thread_local Scratch w;
    w.size_for(s.head_dim);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t block = blocks - 1 - i / per_block;
      const int part = static_cast<int>(i % per_block);
      Task t;
      t.first_token = block * tokens;
      t.tokens = static_cast<int>(std::min<int64_t>(tokens, n_tokens - t.first_token));
      t.kv_head = part / parts;
      t.first_head = (part % parts) * heads;
      t.heads = std::min(heads, group - t.first_head);
      attend(s, t, q, row, pos0, spans, w, out);
    }
  });
}

}  // namespace strata
