// The quality cost of compressed weights: the same tokens are fed (teacher forcing) through the
// uncompressed model and the compressed one, and each position's next-token distributions are
// compared: mean KL(reference || compressed) and how often the greedy token agrees.
#pragma once

#include <cstdint>
#include <span>

namespace strata {

class Model;
class ThreadPool;

struct WeightQuality {
  double mean_kl = 0;
  double greedy_agreement = 0;  // 0..1
  int64_t positions = 0;
};

// `tokens` must hold at least 2 tokens and fit both models' context.
WeightQuality compare_weights(const Model& reference, const Model& compressed, std::span<const int32_t> tokens,
                              ThreadPool& pool);

}  // namespace strata
