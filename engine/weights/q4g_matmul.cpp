#include "engine/weights/q4g_matmul.h"

#include <algorithm>

#include "engine/threads/thread_pool.h"

namespace strata {

void Q4gMatMul::run(const TensorRef& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const int64_t n_in = w.cols(), n_out = w.rows(), blocks = n_in / 32;
  const uint64_t w_row = q4g_row_bytes(n_in);
  if (static_cast<int64_t>(xq_.size()) < blocks * n_tokens) {
    xq_.reserve(blocks * n_tokens);  // exactly: memory accounting counts capacity
    xq_.resize(blocks * n_tokens);
  }
  for (int64_t t = 0; t < n_tokens; ++t) q4g_quantize_activation(x + t * n_in, xq_.data() + t * blocks, n_in);
  const int64_t grain = std::max<int64_t>(1, std::min<int64_t>(64, n_out / (pool.size() * 8)));
  pool.parallel_for(n_out, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const uint8_t* wr = w.data + r * w_row;
      for (int64_t t = 0; t < n_tokens; ++t) y[t * n_out + r] = q4g_dot(n_in, wr, xq_.data() + t * blocks);
    }
  });
}

}  // namespace strata
