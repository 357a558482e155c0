// y = W x for a batch of activation rows, on the thread pool.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model/weight_store.h"

namespace strata {

class ThreadPool;

class MatMul {
 public:
  // x: [n_tokens][w.cols()] floats; y: [n_tokens][w.rows()] floats.
  // The activations are first converted to the weight type's dot-product format (8-bit blocks
  // for quantized weights, f16 for f16 weights), as llama.cpp does, so results agree with it.
  void run(const TensorRef& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);
  // Bytes held for converted activations.
  uint64_t scratch_bytes() const { return xq_.capacity(); }

 private:
  std::vector<uint8_t> xq_;  // converted activations, reused across calls
};

}  // namespace strata
