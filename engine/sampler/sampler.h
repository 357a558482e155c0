// Sampler: chooses the next token from a vector of logits.
//
// Pipeline, in this order (each step is skipped when its parameter disables it):
//   1. penalties    over the last penalty_last_n tokens of the history, per distinct token t with
//                   count c in that window:  l = l > 0 ? l / repeat_penalty : l * repeat_penalty;
//                   then  l -= c * frequency_penalty + presence_penalty   (llama.cpp / OpenAI semantics)
//   2. greedy       temperature == 0: return argmax (ties -> lower id); no randomness is used
//   3. top-k        keep the k highest logits (ties -> lower id), k = top_k
//   4. temperature  l / temperature
//   5. softmax      over the tokens kept by top-k
//   6. top-p        keep the smallest prefix of tokens, by decreasing probability, whose mass >= top_p
//   7. min-p        keep tokens with p >= min_p * p_max
//   8. renormalize  over the kept tokens, and
//   9. draw         one uniform double in [0, 1) from the sampler's own generator per call.
//
// Determinism: ties are always broken by token id; the generator (rng.h), the conversion of its
// bits to a double and exp (exp.h) are our own; sums run in a fixed order; and sampler.cpp is built
// without FMA contraction. So the same seed, parameters, logits and history give the same tokens
// with every compiler, standard library and CPU doing IEEE single/double arithmetic (not x87).
//
// Precision: weights exp((l - l_max) / T) are floats (relative error ~1e-7; weights below e^-87,
// i.e. tokens 1e38 times less likely than the best, are 0 and never drawn); sums and the
// probabilities of distribution() are doubles.
//
// Cost for a vocabulary of n = 152k tokens (CPU time on one core of a 2.1 GHz Xeon, SSE2 build):
//   greedy: one vectorized scan for the maximum and NaN/+inf check                       ~60 us
//   top-k (the default 40): one scan keeping a heap of the k best (nth_element when
//     k > n/8), then everything else on k tokens only                                     ~75 us
//   no top-k: our own vectorized exp over all n (see exp.h), then either a draw in id
//     order (~0.3 ms) or, for top-p, sorting only the weight bands that can hold the cut:
//     ~0.3 ms for a peaked distribution, ~0.9 ms for N(0, 3^2) logits (~2k tokens kept).
// Penalties add a copy of the logits and a sort of the window.
//
// A Sampler keeps scratch buffers and its generator: use one per sequence, from one thread at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampler/rng.h"

namespace strata {

struct SamplerParams {
  float temperature = 0.8f;        // 0: greedy (argmax; ties go to the lower id). Finite, >= 0.
  int32_t top_k = 40;              // <= 0: disabled
  float top_p = 0.95f;             // in (0, 1]; 1: disabled
  float min_p = 0.05f;             // in [0, 1]; 0: disabled (keep tokens with p >= min_p * p_max)
  float repeat_penalty = 1.0f;     // > 0; 1: disabled. logit > 0 ? logit / penalty : logit * penalty
  float frequency_penalty = 0.0f;  // finite; logit -= count * frequency_penalty
  float presence_penalty = 0.0f;   // finite; logit -= (count > 0) * presence_penalty
  int32_t penalty_last_n = 64;     // window of recent tokens for all penalties; 0 disables, -1 = whole history
  uint64_t seed = 0xC0FFEE;        // same seed + same logits -> same choices, on every platform
};

// Throws strata::Error(InvalidArgument) naming the first field that is out of range, e.g.
// "SamplerParams.top_p must be in (0, 1], got 1.5".
void validate(const SamplerParams& params);

// A token and its probability in the final (renormalized) distribution.
struct TokenProb {
  int32_t id;
  double p;
};

class Sampler {
 public:
  explicit Sampler(SamplerParams params);  // validate(params), then seeds the generator

  // Chooses the next token from raw logits (one per vocabulary entry) given the tokens so far
  // (prompt + generated), which only the penalties read. Logits may be -inf (masked tokens);
  // NaN or +inf, all -inf, an empty vector, or a history token inside the penalty window that is
  // not in [0, logits.size()) throw strata::Error(InvalidArgument).
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

  // The distribution sample() would draw from for these inputs: the kept tokens and their
  // renormalized probabilities, in the order the draw scans them (decreasing probability when
  // top-k cuts (0 < top_k < vocabulary size) or top-p is on, else by id). Greedy sampling gives
  // one token with p = 1. Does not advance the generator. The view is valid until the next call
  // on this Sampler.
  std::span<const TokenProb> distribution(std::span<const float> logits, std::span<const int32_t> history);

  void reseed(uint64_t seed);  // restarts the generator's sequence as a new Sampler with this seed would
  const SamplerParams& params() const noexcept { return params_; }

 private:
  struct Candidate {
    float logit;  // after penalties, before temperature
    int32_t id;
    float w;      // exp((logit - max_logit) / temperature): the probability up to normalization
  };

  // Steps 1-8. Returns the token when the choice is already made (greedy), else -1 with the kept
  // tokens described by dense_, cand_ / weights_, keep_min_ and kept_weight_ (below).
  int32_t prepare(std::span<const float> logits, std::span<const int32_t> history);
  std::span<const float> apply_penalties(std::span<const float> logits, std::span<const int32_t> history);
  void select_top_k(std::span<const float> logits, size_t k);
  void weigh_sorted();
  void weigh_dense(std::span<const float> logits, float max_logit);
  bool scan_top_p(size_t from, double target, double& cum);
  bool collect_and_scan(std::span<const float> logits, float lo, float hi, double target, double& cum);
  void finish_sorted();

  SamplerParams params_;
  Rng rng_;

  // The outcome of prepare(). Sorted: the kept tokens are cand_, best first. Dense (nothing had
  // to be sorted): weights_ holds every token's weight and the kept tokens are those with
  // weight >= keep_min_, in id order. kept_weight_ is the sum of the kept weights.
  bool dense_ = false;
  float keep_min_ = 0;
  double kept_weight_ = 0;

  std::vector<float> penalized_;  // copy of the logits when a penalty applies
  std::vector<int32_t> window_;   // the penalty window, sorted to count repeats
  std::vector<Candidate> cand_;
  std::vector<float> weights_;
  std::vector<TokenProb> dist_;
};

// Index of the largest logit; ties go to the lower id and NaN is never chosen. Throws
// strata::Error(InvalidArgument) for an empty vector or one that is all NaN.
int32_t argmax(std::span<const float> logits);

}  // namespace strata
