// Causal multi-head attention of a batch of new tokens over the KV cache (grouped-query: each
// KV head serves n_head / n_head_kv query heads).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/kv/kv_cache.h"

namespace strata {

class ThreadPool;

struct AttentionShape {
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  float scale = 0;  // usually 1 / sqrt(head_dim)
};

// q: [n_tokens][n_head * head_dim], the queries of positions pos0 .. pos0 + n_tokens - 1.
// spans: the layer's stored K/V covering positions 0 .. pos0 + n_tokens - 1 (the new tokens'
// K/V already written). out: [n_tokens][n_head * head_dim].
void attention(const AttentionShape& shape, const float* q, int64_t n_tokens, int64_t pos0,
               const std::vector<KvSpan>& spans, float* out, ThreadPool& pool);

}  // namespace strata
