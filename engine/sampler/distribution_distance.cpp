#include "engine/sampler/distribution_distance.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/sampler/sampler.h"

namespace strata {
namespace {

// log-softmax of one row, in double for a stable KL.
void log_softmax(std::span<const float> logits, std::vector<double>& out) {
  double max = logits[0];
  for (float x : logits) max = std::max(max, double(x));
  double sum = 0;
  for (float x : logits) sum += std::exp(x - max);
  const double log_z = max + std::log(sum);
  out.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - log_z;
}

}  // namespace

void DistributionDistance::add(std::span<const float> reference, std::span<const float> other) {
  if (reference.empty() || reference.size() != other.size())
    throw Error(ErrorKind::InvalidArgument, "DistributionDistance: logits of different or empty vocabularies");
  log_softmax(reference, lp_);
  log_softmax(other, lq_);
  double kl = 0;
  for (size_t i = 0; i < lp_.size(); ++i) kl += std::exp(lp_[i]) * (lp_[i] - lq_[i]);
  kl_sum_ += kl;
  agree_ += argmax(reference) == argmax(other);
  ++positions_;
}

}  // namespace strata
