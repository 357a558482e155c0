#include "engine/sampler/top_probs.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/error.h"

namespace strata {

void append_top_probs(std::span<const float> logits, int32_t k, std::vector<int32_t>& ids, std::vector<float>& probs,
                      std::vector<int32_t>& order) {
  const size_t n = logits.size();
  if (n == 0 || k <= 0) return;
  const size_t kk = std::min(n, static_cast<size_t>(k));
  float max = -INFINITY;
  for (float l : logits) {
    if (std::isnan(l) || l == INFINITY) throw Error(ErrorKind::InvalidArgument, "top_probs: the logits hold NaN or +inf");
    max = std::max(max, l);
  }
  if (max == -INFINITY) throw Error(ErrorKind::InvalidArgument, "top_probs: every logit is -inf");
  // The normalizer over the whole vocabulary, in double and in id order (deterministic).
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);

  order.resize(n);
  std::iota(order.begin(), order.end(), 0);
  auto better = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  if (kk < n) {
    std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kk), order.end(), better);
  }
  std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kk), better);
  for (size_t i = 0; i < kk; ++i) {
    const int32_t id = order[i];
    ids.push_back(id);
    probs.push_back(static_cast<float>(std::exp(static_cast<double>(logits[id]) - max) / sum));
  }
}

}  // namespace strata
