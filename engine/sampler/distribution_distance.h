// How far one model's next-token distributions are from a reference's, position by position:
// the mean KL(reference || other) of their softmaxes and how often their greedy tokens agree.
// Used to judge lossy storage (quantized KV: `strata eval-kv`; compressed weights:
// `strata eval-weights`).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace strata {

class DistributionDistance {
 public:
  // Adds one position: the two models' logits over the same vocabulary.
  void add(std::span<const float> reference, std::span<const float> other);

  int64_t positions() const { return positions_; }
  double mean_kl() const { return positions_ ? kl_sum_ / double(positions_) : 0.0; }
  double greedy_agreement() const { return positions_ ? double(agree_) / double(positions_) : 0.0; }

 private:
  double kl_sum_ = 0;
  int64_t agree_ = 0, positions_ = 0;
  std::vector<double> lp_, lq_;  // log-softmax scratch, kept between calls
};

}  // namespace strata
