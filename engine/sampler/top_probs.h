// The model's own distribution over the vocabulary, reduced to its K most likely tokens: what a
// client asks for with "top_probs" to inspect or score a generation. These are the probabilities
// of softmax(logits) at temperature 1, before penalties, top-k/top-p/min-p and temperature: the
// sampler's settings do not change them, so two requests with different sampling settings can be
// compared token by token.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace strata {

// Appends the k most likely tokens of `logits` to `ids` and their probabilities to `probs`, most
// likely first (ties: lower id first). k is clamped to the vocabulary size. Logits may be -inf
// (probability 0); NaN and +inf throw Error(InvalidArgument). `order` is scratch, reused between
// calls to avoid allocating per step.
void append_top_probs(std::span<const float> logits, int32_t k, std::vector<int32_t>& ids, std::vector<float>& probs,
                      std::vector<int32_t>& order);

}  // namespace strata
