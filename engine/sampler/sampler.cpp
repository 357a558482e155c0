#include "engine/sampler/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "engine/core/error.h"
#include "engine/sampler/exp.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace strata {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

[[noreturn]] void bad_field(const char* field, const char* requirement, double got) {
  std::ostringstream msg;
  msg << "SamplerParams." << field << " must be " << requirement << ", got " << got;
  throw Error(ErrorKind::InvalidArgument, msg.str());
}

[[noreturn]] void bad_logit(size_t id, float value) {
  std::ostringstream msg;
  msg << "sampler: logit of token " << id << " is " << value << " (expected a finite number or -inf)";
  throw Error(ErrorKind::InvalidArgument, msg.str());
}

// The total order every selection uses: higher logit first, then lower id. Being total, it makes
// nth_element / sort results unique, hence identical across standard libraries.
struct Better {
  template <class C>
  bool operator()(const C& a, const C& b) const noexcept {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  }
};

// The largest logit. Throws for NaN or +inf anywhere and when every logit is -inf. The hot loop
// uses SSE where available: compilers do not vectorize a NaN-aware max reduction by themselves.
float checked_max(std::span<const float> logits) {
  const float* l = logits.data();
  const size_t n = logits.size();
  float mx = -kInf;
  bool bad = false;
  size_t i = 0;
#if defined(__SSE2__)
  __m128 m0 = _mm_set1_ps(-kInf), m1 = m0;
  __m128 bad0 = _mm_setzero_ps(), bad1 = bad0;
  const __m128 inf = _mm_set1_ps(kInf);
  for (; i + 8 <= n; i += 8) {
    const __m128 v0 = _mm_loadu_ps(l + i), v1 = _mm_loadu_ps(l + i + 4);
    m0 = _mm_max_ps(v0, m0);  // maxps returns its second operand when one is NaN: NaN is skipped
    m1 = _mm_max_ps(v1, m1);
    bad0 = _mm_or_ps(bad0, _mm_cmpnlt_ps(v0, inf));  // !(v < inf): NaN or +inf
    bad1 = _mm_or_ps(bad1, _mm_cmpnlt_ps(v1, inf));
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, _mm_max_ps(m0, m1));
  for (const float v : lanes) mx = v > mx ? v : mx;
  bad = _mm_movemask_ps(_mm_or_ps(bad0, bad1)) != 0;
#endif
  for (; i < n; ++i) {
    mx = l[i] > mx ? l[i] : mx;
    bad |= !(l[i] < kInf);
  }
  if (bad) {
    for (size_t j = 0; j < n; ++j) {
      if (!(l[j] < kInf)) bad_logit(j, l[j]);
    }
  }
  if (mx == -kInf) throw Error(ErrorKind::InvalidArgument, "sampler: every logit is -inf");
  return mx;
}

// Sum in double of the w[i] >= min, in a fixed order (four interleaved partial sums, then
// pairwise), so the result is the same everywhere while the loop vectorizes.
double sum_at_least(const float* w, size_t n, float min) {
  double s[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (size_t j = 0; j < 4; ++j) s[j] += w[i + j] >= min ? w[i + j] : 0.0f;
  }
  for (; i < n; ++i) s[0] += w[i] >= min ? w[i] : 0.0f;
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// Bucket of a weight in (0, 1] by its binary exponent: b for w in [2^-b, 2^(1-b)), clamped to
// buckets - 1 (which also takes 0 and subnormals).
inline int weight_bucket(float w, int buckets) {
  const int biased_exponent = static_cast<int>(std::bit_cast<uint32_t>(w) >> 23) & 0xff;
  const int b = 127 - biased_exponent;
  return b < 0 ? 0 : (b >= buckets ? buckets - 1 : b);
}

}  // namespace

void validate(const SamplerParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0) {
    bad_field("temperature", "a finite number >= 0", p.temperature);
  }
  if (!(p.top_p > 0 && p.top_p <= 1)) bad_field("top_p", "in (0, 1]", p.top_p);
  if (!(p.min_p >= 0 && p.min_p <= 1)) bad_field("min_p", "in [0, 1]", p.min_p);
  if (!std::isfinite(p.repeat_penalty) || p.repeat_penalty <= 0) {
    bad_field("repeat_penalty", "a finite number > 0", p.repeat_penalty);
  }
  if (!std::isfinite(p.frequency_penalty)) bad_field("frequency_penalty", "finite", p.frequency_penalty);
  if (!std::isfinite(p.presence_penalty)) bad_field("presence_penalty", "finite", p.presence_penalty);
  if (p.penalty_last_n < -1) bad_field("penalty_last_n", ">= -1 (-1 = whole history, 0 = off)", p.penalty_last_n);
}

int32_t argmax(std::span<const float> logits) {
  if (logits.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw Error(ErrorKind::InvalidArgument, "argmax: more logits than int32 token ids");
  }
  int32_t best = -1;
  float best_value = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float v = logits[i];
    if (std::isnan(v)) continue;
    if (best < 0 || v > best_value) {  // strict: an equal value later keeps the lower id
      best = static_cast<int32_t>(i);
      best_value = v;
    }
  }
  if (best < 0) throw Error(ErrorKind::InvalidArgument, "argmax: no logits, or all of them are NaN");
  return best;
}

Sampler::Sampler(SamplerParams params) : params_(params), rng_(params.seed) { validate(params_); }

void Sampler::reseed(uint64_t seed) {
  params_.seed = seed;
  rng_.reseed(seed);
}

std::span<const float> Sampler::apply_penalties(std::span<const float> logits, std::span<const int32_t> history) {
  const SamplerParams& p = params_;
  const bool any = p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
  if (!any || p.penalty_last_n == 0 || history.empty()) return logits;

  const size_t n = p.penalty_last_n < 0 ? history.size()
                                        : std::min(history.size(), static_cast<size_t>(p.penalty_last_n));
  const auto recent = history.last(n);
  window_.assign(recent.begin(), recent.end());
  std::sort(window_.begin(), window_.end());
  if (window_.front() < 0 || static_cast<size_t>(window_.back()) >= logits.size()) {
    const int32_t bad = window_.front() < 0 ? window_.front() : window_.back();
    throw Error(ErrorKind::InvalidArgument, "sampler: history token " + std::to_string(bad) +
                                                " is outside the vocabulary [0, " +
                                                std::to_string(logits.size()) + ")");
  }

  penalized_.assign(logits.begin(), logits.end());
  for (size_t i = 0; i < window_.size();) {
    const int32_t tok = window_[i];
    size_t j = i;
    while (j < window_.size() && window_[j] == tok) ++j;
    const float count = static_cast<float>(j - i);
    float l = penalized_[static_cast<size_t>(tok)];
    if (p.repeat_penalty != 1.0f) l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
    l -= count * p.frequency_penalty + p.presence_penalty;
    penalized_[static_cast<size_t>(tok)] = l;
    i = j;
  }
  return penalized_;
}

int32_t Sampler::prepare(std::span<const float> raw_logits, std::span<const int32_t> history) {
  if (raw_logits.empty()) throw Error(ErrorKind::InvalidArgument, "sampler: empty logits");
  if (raw_logits.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw Error(ErrorKind::InvalidArgument, "sampler: more logits than int32 token ids");
  }
  const SamplerParams& p = params_;
  const size_t n = raw_logits.size();

  // 1. penalties
  const std::span<const float> logits = apply_penalties(raw_logits, history);

  // 2. greedy: the first token holding the maximum.
  if (p.temperature == 0) {
    const float max_logit = checked_max(logits);
    return static_cast<int32_t>(std::find(logits.begin(), logits.end(), max_logit) - logits.begin());
  }

  // 3. top-k, then 4-8 on the k survivors.
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < n) {
    select_top_k(logits, static_cast<size_t>(p.top_k));
    weigh_sorted();
    return -1;
  }
  // 4-8 on the whole vocabulary.
  weigh_dense(logits, checked_max(logits));
  return -1;
}

// Fills cand_ with the k best tokens under Better, best first.
void Sampler::select_top_k(std::span<const float> logits, size_t k) {
  const size_t n = logits.size();
  cand_.clear();
  if (k <= n / 8) {
    // One scan keeping a heap of the k best seen so far, its worst at the front. A token enters
    // only if strictly better than that worst one; since ids grow along the scan, an equal logit
    // never is (the tie goes to the lower id), so `v <= threshold` skips it. That test is also
    // false for NaN and true for -inf, so only entering tokens need the NaN/+inf check.
    cand_.reserve(k);
    float threshold = -kInf;
    for (size_t i = 0; i < n; ++i) {
      const float v = logits[i];
      if (v <= threshold) continue;
      if (std::isnan(v) || v == kInf) bad_logit(i, v);
      if (cand_.size() < k) {
        cand_.push_back({v, static_cast<int32_t>(i), 0.0f});
        std::push_heap(cand_.begin(), cand_.end(), Better{});
        if (cand_.size() == k) threshold = cand_.front().logit;
      } else {
        std::pop_heap(cand_.begin(), cand_.end(), Better{});
        cand_.back() = {v, static_cast<int32_t>(i), 0.0f};
        std::push_heap(cand_.begin(), cand_.end(), Better{});
        threshold = cand_.front().logit;
      }
    }
  } else {
    cand_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const float v = logits[i];
      if (std::isnan(v) || v == kInf) bad_logit(i, v);
      if (v != -kInf) cand_.push_back({v, static_cast<int32_t>(i), 0.0f});
    }
    if (k < cand_.size()) {
      std::nth_element(cand_.begin(), cand_.begin() + static_cast<ptrdiff_t>(k), cand_.end(), Better{});
      cand_.resize(k);
    }
  }
  if (cand_.empty()) throw Error(ErrorKind::InvalidArgument, "sampler: every logit is -inf");
  std::sort(cand_.begin(), cand_.end(), Better{});
}

// Steps 4-8 on cand_ (sorted best first, non-empty).
void Sampler::weigh_sorted() {
  const float max_logit = cand_.front().logit;
  // Division rather than a reciprocal: 1/T overflows for tiny T, and inf * 0 would be NaN.
  const float temperature = params_.temperature;
  double total = 0;
  for (Candidate& c : cand_) {
    c.w = exp_nonpositive((c.logit - max_logit) / temperature);
    total += c.w;
  }
  double cum = 0;
  if (params_.top_p < 1) scan_top_p(0, static_cast<double>(params_.top_p) * total, cum);
  finish_sorted();
}

// Step 6 on cand_[from, end), which must be sorted and follow the tokens already summed in cum:
// keeps the prefix that brings cum to target and returns true, or returns false if none does.
bool Sampler::scan_top_p(size_t from, double target, double& cum) {
  for (size_t i = from; i < cand_.size(); ++i) {
    cum += cand_[i].w;
    if (cum >= target) {
      cand_.resize(i + 1);
      return true;
    }
  }
  return false;
}

// Appends the tokens with weight in [lo, hi) (and > 0) to cand_, sorts them, and scans them for
// the top-p cut as scan_top_p does. The weights are those of weights_.
bool Sampler::collect_and_scan(std::span<const float> logits, float lo, float hi, double target, double& cum) {
  const float* w = weights_.data();
  const size_t n = logits.size();
  const size_t from = cand_.size();
  auto take = [&](size_t i) {
    if (w[i] >= lo && w[i] < hi && w[i] > 0) cand_.push_back({logits[i], static_cast<int32_t>(i), w[i]});
  };
  size_t i = 0;
#if defined(__SSE2__)
  // Most tokens are outside the band: test eight at a time and skip the block when none is in.
  const __m128 vlo = _mm_set1_ps(lo), vhi = _mm_set1_ps(hi), zero = _mm_setzero_ps();
  auto in_band = [&](__m128 v) {
    return _mm_and_ps(_mm_and_ps(_mm_cmpge_ps(v, vlo), _mm_cmplt_ps(v, vhi)), _mm_cmpgt_ps(v, zero));
  };
  for (; i + 8 <= n; i += 8) {
    const __m128 any = _mm_or_ps(in_band(_mm_loadu_ps(w + i)), in_band(_mm_loadu_ps(w + i + 4)));
    if (_mm_movemask_ps(any) == 0) continue;
    for (size_t j = i; j < i + 8; ++j) take(j);
  }
#endif
  for (; i < n; ++i) take(i);
  std::sort(cand_.begin() + static_cast<ptrdiff_t>(from), cand_.end(), Better{});
  return scan_top_p(from, target, cum);
}

// Steps 7-8 once cand_ holds the top-p set (or everything, when top-p did not cut).
void Sampler::finish_sorted() {
  if (params_.min_p > 0) {
    const float min_w = params_.min_p;  // w = p / p_max
    std::erase_if(cand_, [min_w](const Candidate& c) { return c.w < min_w; });
  }
  dense_ = false;
  kept_weight_ = 0;
  for (const Candidate& c : cand_) kept_weight_ += c.w;
}

// Steps 4-8 without top-k: weights of the whole vocabulary.
void Sampler::weigh_dense(std::span<const float> logits, float max_logit) {
  const SamplerParams& p = params_;
  const size_t n = logits.size();
  weights_.resize(n);
  float* w = weights_.data();
  const float* l = logits.data();
  const float temperature = p.temperature;
  for (size_t i = 0; i < n; ++i) w[i] = exp_nonpositive((l[i] - max_logit) / temperature);  // -inf -> 0
  const double total = sum_at_least(w, n, 0.0f);

  // A token is kept when its weight is positive (masked and underflowed tokens are not) and, with
  // min-p, at least min_p (w = p / p_max).
  keep_min_ = p.min_p > 0 ? p.min_p : std::numeric_limits<float>::denorm_min();

  if (p.top_p >= 1) {
    dense_ = true;
    kept_weight_ = p.min_p > 0 ? sum_at_least(w, n, keep_min_) : total;
    return;
  }

  // Top-p needs the tokens in decreasing order, but only down to the cut, and the tokens of a
  // weight band [lo, hi) follow all tokens of higher bands in that order. So bands are collected,
  // sorted and scanned one after the other until the mass is reached: first w >= 2^-10 (a peaked
  // distribution usually ends there), then, guided by a histogram of the remaining mass by binary
  // exponent, down to one power of two below where the cut must lie, then whatever is left (only
  // when rounding made the histogram's sums disagree with the scan's).
  const double target = static_cast<double>(p.top_p) * total;
  cand_.clear();
  double cum = 0;
  constexpr float kFirstBand = 0x1p-10f;
  if (!collect_and_scan(logits, kFirstBand, 2.0f, target, cum)) {
    constexpr int kBuckets = 64;
    double mass[4][kBuckets] = {};  // four interleaved histograms: no store-to-load chain on one bucket
    for (size_t i = 0; i < n; ++i) {
      if (w[i] < kFirstBand) mass[i & 3][weight_bucket(w[i], kBuckets)] += w[i];
    }
    double cum_mass = cum;
    float lo = 0.0f;
    for (int b = 10; b < kBuckets - 1; ++b) {
      cum_mass += (mass[0][b] + mass[1][b]) + (mass[2][b] + mass[3][b]);
      if (cum_mass >= target) {
        lo = std::ldexp(1.0f, -(b + 1));
        break;
      }
    }
    if (!collect_and_scan(logits, lo, kFirstBand, target, cum) && lo > 0) {
      collect_and_scan(logits, 0.0f, lo, target, cum);
    }
  }
  finish_sorted();
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  const int32_t chosen = prepare(logits, history);
  if (chosen >= 0) return chosen;

  // 9. draw: the first kept token whose cumulative weight exceeds u * kept_weight_.
  const double u = rng_.uniform() * kept_weight_;
  double cum = 0;
  int32_t last_kept = -1;
  if (dense_) {
    const float* w = weights_.data();
    for (size_t i = 0; i < weights_.size(); ++i) {
      if (!(w[i] >= keep_min_)) continue;
      cum += w[i];
      last_kept = static_cast<int32_t>(i);
      if (u < cum) return last_kept;
    }
  } else {
    for (const Candidate& c : cand_) {
      if (!(c.w > 0)) continue;
      cum += c.w;
      last_kept = c.id;
      if (u < cum) return last_kept;
    }
  }
  return last_kept;  // u rounded up to kept_weight_
}

std::span<const TokenProb> Sampler::distribution(std::span<const float> logits, std::span<const int32_t> history) {
  dist_.clear();
  const int32_t chosen = prepare(logits, history);
  if (chosen >= 0) {
    dist_.push_back({chosen, 1.0});
  } else if (dense_) {
    for (size_t i = 0; i < weights_.size(); ++i) {
      if (weights_[i] >= keep_min_) dist_.push_back({static_cast<int32_t>(i), weights_[i] / kept_weight_});
    }
  } else {
    dist_.reserve(cand_.size());
    for (const Candidate& c : cand_) dist_.push_back({c.id, c.w / kept_weight_});
  }
  return dist_;
}

}  // namespace strata
