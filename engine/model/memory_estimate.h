// What a context will cost, before it is allocated: weights, KV cache, scratch. The same
// arithmetic as the allocations themselves (SequenceKvCache pages, Decoder buffers), so a
// prediction can be checked against the allocation counters.
#pragma once

#include <cstdint>

#include "engine/kv/kv_format.h"

namespace strata {

class Model;

struct MemoryEstimate {
  int64_t context = 0;
  KvFormat kv;
  uint64_t weights_bytes = 0;   // tensor data of the model file (mapped)
  uint64_t kv_bytes = 0;        // pages holding `context` tokens
  uint64_t scratch_bytes = 0;   // decoder activations for batches of `batch` tokens, and logits
  uint64_t total_bytes = 0;
  double kv_bytes_per_token = 0;
};

// `batch`: tokens per forward pass (prompts are processed in batches of at most 512).
// `page_tokens`: the KV page size (SequenceKvCache::kDefaultPageTokens by default).
// `threads`: the decoder's pool size; each thread keeps its own packed GEMM panels.
MemoryEstimate estimate_memory(const Model& model, int64_t context, KvType kv, int64_t batch = 512,
                               int64_t page_tokens = 256, int threads = 1);

}  // namespace strata
