// y = W x for a q4g weight matrix (engine/weights/q4g_codec.h): activations are quantized to
// 8-bit blocks once per row, then each weight row's dot product runs group by group.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model/weight_store.h"
#include "engine/weights/q4g_codec.h"

namespace strata {

class ThreadPool;

class Q4gMatMul {
 public:
  // x: [n_tokens][w.cols()] floats; y: [n_tokens][w.rows()] floats. w.codec must be Q4G.
  void run(const TensorRef& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);
  uint64_t scratch_bytes() const { return xq_.capacity() * sizeof(Q4gActivationBlock); }

 private:
  std::vector<Q4gActivationBlock> xq_;
};

}  // namespace strata
