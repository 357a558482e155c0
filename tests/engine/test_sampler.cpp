// Tests of strata::Sampler: each step of the pipeline against a case built so that a wrong
// implementation (wrong order, wrong formula, off-by-one boundary, library-dependent randomness)
// gives a different answer.
#include "engine/sampler/sampler.h"
#include "engine/sampler/distribution_distance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/sampler/exp.h"

namespace strata {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Parameters with every filter off: the draw follows softmax(logits / temperature) exactly.
SamplerParams plain(float temperature = 1.0f, uint64_t seed = 42) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

std::vector<float> random_logits(size_t n, uint32_t seed, float scale = 3.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> l(n);
  for (float& v : l) v = dist(rng);
  return l;
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  const double mx = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double z = 0;
  for (size_t i = 0; i < logits.size(); ++i) z += p[i] = std::exp((logits[i] - mx) / temperature);
  for (double& v : p) v /= z;
  return p;
}

// Counts of each token over `draws` calls of sample().
std::vector<int> histogram(Sampler& s, const std::vector<float>& logits, int draws,
                           const std::vector<int32_t>& history = {}) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) ++counts.at(static_cast<size_t>(s.sample(logits, history)));
  return counts;
}

// Pearson's chi-square statistic of observed counts against expected probabilities (cells with
// zero probability must have zero counts; the test checks that separately).
double chi_square(const std::vector<int>& counts, const std::vector<double>& probs, int draws) {
  double chi2 = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] == 0) continue;
    const double expected = probs[i] * draws;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  return chi2;
}

// Upper 0.1% points of the chi-square distribution by degrees of freedom.
double chi2_critical_999(int dof) {
  static const double table[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88, 29.59};
  return table[dof];
}

// ---- argmax and greedy ----------------------------------------------------------------------

TEST(Sampler, ArgmaxTakesTheLowerIdOnTiesAndSkipsNaN) {
  EXPECT_EQ(argmax(std::vector<float>{1, 3, 3, 2}), 1);
  EXPECT_EQ(argmax(std::vector<float>{5}), 0);
  EXPECT_EQ(argmax(std::vector<float>{kNegInf, kNegInf}), 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(argmax(std::vector<float>{nan, 1, 2, nan, 2}), 2);
  EXPECT_THROW(argmax(std::vector<float>{}), Error);
  EXPECT_THROW(argmax(std::vector<float>{nan}), Error);
}

TEST(Sampler, GreedyIsArgmaxWithTheTieRule) {
  SamplerParams p;  // top-k, top-p and min-p on: greedy must ignore them
  p.temperature = 0.0f;
  Sampler s(p);
  EXPECT_EQ(s.sample(std::vector<float>{0.5f, 2.0f, -1.0f, 2.0f}, {}), 1);
  EXPECT_EQ(s.sample(std::vector<float>{kNegInf, -3.0f, -3.0f}, {}), 1);
  for (uint32_t seed = 0; seed < 50; ++seed) {
    auto logits = random_logits(1000, seed);
    logits[700] = logits[300] = *std::max_element(logits.begin(), logits.end()) + 1.0f;  // a planted tie
    EXPECT_EQ(s.sample(logits, {}), 300);
    EXPECT_EQ(argmax(logits), 300);
  }
  const auto dist = s.distribution(std::vector<float>{1, 2}, {});
  ASSERT_EQ(dist.size(), 1u);
  EXPECT_EQ(dist[0].id, 1);
  EXPECT_EQ(dist[0].p, 1.0);
}

TEST(Sampler, TopKOneIsArgmaxAtAnyTemperature) {
  for (float t : {0.05f, 1.0f, 5.0f, 1000.0f}) {
    SamplerParams p;
    p.temperature = t;
    p.top_k = 1;
    p.top_p = 0.5f;
    p.min_p = 0.0f;
    Sampler s(p);
    for (uint32_t seed = 0; seed < 50; ++seed) {
      auto logits = random_logits(500, seed);
      logits[250] = logits[499] = *std::max_element(logits.begin(), logits.end()) + 0.001f;
      ASSERT_EQ(s.sample(logits, {}), 250) << "temperature " << t;
    }
  }
}

// ---- randomness -----------------------------------------------------------------------------

TEST(Sampler, GeneratorMatchesTheReferenceAlgorithm) {
  // xoshiro256** seeded through splitmix64, values from an independent implementation of the
  // published reference code: the same on every platform.
  Rng rng(0xC0FFEE);
  EXPECT_EQ(rng.next(), 0x120e99a6dde4a550ull);
  EXPECT_EQ(rng.next(), 0x8f989ef97733d4b4ull);
  EXPECT_EQ(rng.next(), 0xf0a28eb2e4fd367bull);
  EXPECT_EQ(rng.next(), 0x50c29bfe8734f5d2ull);
  Rng zero(0);
  EXPECT_EQ(zero.uniform(), static_cast<double>(0x99ec5f36cb75f2b4ull >> 11) * 0x1.0p-53);
  for (int i = 0; i < 100000; ++i) {
    const double u = zero.uniform();
    ASSERT_TRUE(u >= 0.0 && u < 1.0);
  }
}

TEST(Sampler, OwnExpIsAccurateToAboutOneUlp) {
  double worst = 0;
  for (float x = 0.0f; x > -87.0f; x -= 0.000731f) {
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(exp_nonpositive(x) - want) / want);
  }
  EXPECT_LT(worst, 1.2e-7);  // one float ulp is 2^-23 = 1.19e-7 relative
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-87.5f), 0.0f);
  EXPECT_EQ(exp_nonpositive(kNegInf), 0.0f);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDifferentSequence) {
  const auto logits = random_logits(200, 7, 1.0f);
  auto draw = [&](uint64_t seed) {
    SamplerParams p;  // the defaults: top-k 40, top-p 0.95, min-p 0.05
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 1000; ++i) out.push_back(s.sample(logits, {}));
    return out;
  };
  const auto a = draw(1), b = draw(1), c = draw(2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_GT(std::set<int32_t>(a.begin(), a.end()).size(), 5u);  // it really is random

  // reseed restarts the sequence; distribution() does not consume randomness.
  SamplerParams p;
  p.seed = 99;
  Sampler s(p);
  std::vector<int32_t> first, second;
  for (int i = 0; i < 100; ++i) first.push_back(s.sample(logits, {}));
  s.reseed(99);
  EXPECT_EQ(s.params().seed, 99u);
  for (int i = 0; i < 100; ++i) {
    s.distribution(logits, {});
    second.push_back(s.sample(logits, {}));
  }
  EXPECT_EQ(first, second);
}

TEST(Sampler, SequenceIsPinnedAcrossPlatforms) {
  // Golden draws, computed by an independent implementation of the documented algorithm (id-order
  // scan of exp((l - max) / T) weights against uniform() * total): a change here means a seed no
  // longer reproduces earlier outputs.
  const std::vector<float> logits{0.1f, 1.3f, -0.7f, 2.0f, 0.9f, 1.1f, -2.0f, 0.0f};
  Sampler s(plain(1.0f, 2024));
  std::vector<int32_t> got;
  for (int i = 0; i < 24; ++i) got.push_back(s.sample(logits, {}));
  const std::vector<int32_t> golden{0, 4, 1, 1, 4, 1, 3, 2, 3, 0, 4, 5, 5, 3, 4, 1, 0, 3, 5, 3, 3, 3, 1, 3};
  EXPECT_EQ(got, golden);
}

// ---- the distribution -----------------------------------------------------------------------

TEST(Sampler, EmpiricalDistributionMatchesSoftmaxOverTemperature) {
  const std::vector<float> logits{1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f};
  const int draws = 200'000;
  for (float t : {0.7f, 1.0f, 2.5f}) {
    Sampler s(plain(t, 7));
    const auto counts = histogram(s, logits, draws);
    const auto probs = softmax(logits, t);
    EXPECT_LT(chi_square(counts, probs, draws), chi2_critical_999(5)) << "temperature " << t;
    // The statistic is sensitive enough to notice a wrong temperature.
    const auto wrong = softmax(logits, t * 1.1);
    EXPECT_GT(chi_square(counts, wrong, draws), chi2_critical_999(5)) << "temperature " << t;

    const auto dist = s.distribution(logits, {});
    ASSERT_EQ(dist.size(), logits.size());
    for (const TokenProb& tp : dist) EXPECT_NEAR(tp.p, probs[static_cast<size_t>(tp.id)], 1e-6);  // float weights
  }
}

TEST(Sampler, MaskedTokensAreNeverChosen) {
  std::vector<float> logits{kNegInf, 0.0f, kNegInf, 0.1f};
  Sampler s(plain(5.0f));
  const auto counts = histogram(s, logits, 5000);
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(counts[2], 0);
  EXPECT_GT(counts[1], 2000);
  EXPECT_GT(counts[3], 2000);
}

TEST(Sampler, TopKNeverLeavesTheKBestAndRenormalizes) {
  const auto logits = random_logits(1000, 3, 0.5f);  // flat: without top-k, almost every draw would escape
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  const std::set<int32_t> best(order.begin(), order.begin() + 10);

  SamplerParams p = plain(3.0f);
  p.top_k = 10;
  Sampler s(p);
  std::set<int32_t> seen;
  for (int i = 0; i < 20000; ++i) {
    const int32_t tok = s.sample(logits, {});
    ASSERT_TRUE(best.count(tok)) << "token " << tok << " is not among the 10 best";
    seen.insert(tok);
  }
  EXPECT_EQ(seen, best);

  // Renormalized softmax over the k best, in decreasing order.
  const auto dist = s.distribution(logits, {});
  ASSERT_EQ(dist.size(), 10u);
  double total = 0;
  for (size_t i = 0; i < dist.size(); ++i) {
    EXPECT_EQ(dist[i].id, order[i]);
    total += dist[i].p;
  }
  EXPECT_NEAR(total, 1.0, 1e-12);

  // A large k (above n / 8, selected by nth_element rather than a heap) keeps exactly the k best.
  SamplerParams big = plain(3.0f);
  big.top_k = 500;
  Sampler s500(big);
  const auto dist500 = s500.distribution(logits, {});
  ASSERT_EQ(dist500.size(), 500u);
  for (size_t i = 0; i < dist500.size(); ++i) ASSERT_EQ(dist500[i].id, order[i]) << "rank " << i;

  // Empirically too: top_k = 3 of a small vocabulary.
  const std::vector<float> small{0.0f, 1.0f, 0.5f, 2.0f, -0.5f};
  p.top_k = 3;
  p.temperature = 1.5f;
  Sampler s3(p);
  const int draws = 100'000;
  const auto counts = histogram(s3, small, draws);
  EXPECT_EQ(counts[0] + counts[4], 0);
  const auto probs = softmax({kNegInf, 1.0f, 0.5f, 2.0f, kNegInf}, 1.5);
  EXPECT_LT(chi_square(counts, probs, draws), chi2_critical_999(2));
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingTheMass) {
  // Probabilities 0.5, 0.25, 0.15, 0.10 placed at ids 3, 0, 2, 1 (not in id order).
  const std::vector<float> logits{std::log(0.25f), std::log(0.10f), std::log(0.15f), std::log(0.5f)};
  struct Case {
    float top_p;
    std::vector<int32_t> kept;  // in decreasing probability
  };
  const std::vector<Case> cases{{0.3f, {3}}, {0.7f, {3, 0}}, {0.74f, {3, 0}}, {0.76f, {3, 0, 2}},
                                {0.89f, {3, 0, 2}}, {0.91f, {3, 0, 2, 1}}, {1.0f, {0, 1, 2, 3}}};
  for (const Case& c : cases) {
    SamplerParams p = plain(1.0f);
    p.top_p = c.top_p;
    Sampler s(p);
    const auto dist = s.distribution(logits, {});
    std::vector<int32_t> ids;
    double kept_mass = 0;
    for (const TokenProb& tp : dist) ids.push_back(tp.id);
    const std::vector<double> base{0.25, 0.10, 0.15, 0.5};
    for (int32_t id : c.kept) kept_mass += base[static_cast<size_t>(id)];
    if (c.top_p < 1.0f) {
      EXPECT_EQ(ids, c.kept) << "top_p " << c.top_p;
    } else {
      EXPECT_EQ(std::set<int32_t>(ids.begin(), ids.end()), std::set<int32_t>(c.kept.begin(), c.kept.end()));
    }
    for (const TokenProb& tp : dist) EXPECT_NEAR(tp.p, base[static_cast<size_t>(tp.id)] / kept_mass, 1e-6);

    const int draws = 40'000;
    const auto counts = histogram(s, logits, draws);
    std::vector<double> probs(4, 0.0);
    for (int32_t id : c.kept) probs[static_cast<size_t>(id)] = base[static_cast<size_t>(id)] / kept_mass;
    for (size_t id = 0; id < 4; ++id) {
      if (probs[id] == 0) {
        EXPECT_EQ(counts[id], 0) << "top_p " << c.top_p << " id " << id;
      }
    }
    if (c.kept.size() > 1) {
      EXPECT_LT(chi_square(counts, probs, draws), chi2_critical_999(static_cast<int>(c.kept.size()) - 1));
    }
  }
}

TEST(Sampler, TopPOnALargeVocabularyMatchesAFullSort) {
  // No top-k: the sampler sorts only as much as it needs; compare with a full sort.
  for (uint32_t seed : {1u, 2u, 3u}) {
    const auto logits = random_logits(50'000, seed, seed == 3 ? 0.3f : 2.5f);
    std::vector<int32_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    const auto probs = softmax(logits, 1.0);
    for (float top_p : {0.05f, 0.5f, 0.9f, 0.99f}) {
      SamplerParams p = plain(1.0f);
      p.top_p = top_p;
      Sampler s(p);
      const auto dist = s.distribution(logits, {});
      ASSERT_FALSE(dist.empty());
      double mass = 0;
      for (size_t i = 0; i < dist.size(); ++i) {
        ASSERT_EQ(dist[i].id, order[i]) << "rank " << i << " top_p " << top_p;
        mass += probs[static_cast<size_t>(order[i])];
      }
      // Smallest set: its mass reaches top_p, without the last token it does not (up to the
      // float precision of the sampler's weights).
      EXPECT_GE(mass, top_p - 1e-6);
      EXPECT_LT(mass - probs[static_cast<size_t>(order[dist.size() - 1])], top_p + 1e-6);
    }
  }
}

TEST(Sampler, TopPCutInsideALongTieOfSmallProbabilities) {
  // One token of weight 1 and 100000 tied tokens of weight e^-8 (below the first band the sampler
  // collects): the cut falls inside the tie, which is broken by id.
  const size_t n_small = 100'000;
  std::vector<float> logits(n_small + 1, -8.0f);
  logits[n_small / 2] = 0.0f;
  const double small = std::exp(-8.0), total = 1.0 + static_cast<double>(n_small) * small;
  for (float top_p : {0.5f, 0.9f}) {
    SamplerParams p = plain(1.0f);
    p.top_p = top_p;
    Sampler s(p);
    const auto dist = s.distribution(logits, {});
    const double expected_small = std::ceil((top_p * total - 1.0) / small);
    EXPECT_NEAR(static_cast<double>(dist.size() - 1), expected_small, 1.0) << "top_p " << top_p;
    ASSERT_GT(dist.size(), 2u);
    EXPECT_EQ(dist[0].id, static_cast<int32_t>(n_small / 2));
    for (size_t i = 1; i < dist.size(); ++i) {  // the lowest ids of the tie, in order, skipping the big one
      const size_t want = i - 1 < n_small / 2 ? i - 1 : i;
      ASSERT_EQ(dist[i].id, static_cast<int32_t>(want)) << "rank " << i;
    }
  }
}

TEST(Sampler, MinPExcludesTokensBelowTheThreshold) {
  // p = 0.5, 0.3, 0.11, 0.06, 0.03 at ids 4, 3, 2, 1, 0.
  const std::vector<double> base{0.03, 0.06, 0.11, 0.3, 0.5};
  std::vector<float> logits;
  for (double b : base) logits.push_back(static_cast<float>(std::log(b)));
  // Through each path of the sampler: whole vocabulary unsorted, top-k, whole vocabulary with top-p.
  for (auto [top_k, top_p] : std::vector<std::pair<int32_t, float>>{{0, 1.0f}, {4, 1.0f}, {0, 0.999f}}) {
    for (auto [min_p, n_kept] : std::vector<std::pair<float, int>>{{0.1f, 4}, {0.15f, 3}, {0.5f, 2}, {0.7f, 1}}) {
      SamplerParams p = plain(1.0f);
      p.top_k = top_k;
      p.top_p = top_p;
      p.min_p = min_p;  // keeps p >= min_p * 0.5
      Sampler s(p);
      const auto counts = histogram(s, logits, 30'000);
      for (int id = 0; id < 5; ++id) {
        const bool kept = id >= 5 - n_kept;
        if (kept) {
          EXPECT_GT(counts[static_cast<size_t>(id)], 0) << "min_p " << min_p << " id " << id << " top_k " << top_k;
        } else {
          EXPECT_EQ(counts[static_cast<size_t>(id)], 0) << "min_p " << min_p << " id " << id << " top_k " << top_k;
        }
      }
      EXPECT_EQ(s.distribution(logits, {}).size(), static_cast<size_t>(n_kept));
    }
  }
}

TEST(Sampler, TopPMassIsMeasuredBeforeMinPRemovesTokens) {
  // p = 0.5, 0.2, 0.15, 0.15 at ids 0..3. min_p = 0.35 keeps p >= 0.175: ids 0 and 1. top_p = 0.65
  // is judged on the softmax before min-p (0.5 < 0.65 <= 0.7), so ids 0 and 1 remain. Had min-p
  // renormalized first (0.714, 0.286), top-p would have stopped after id 0.
  const std::vector<float> logits{std::log(0.5f), std::log(0.2f), std::log(0.15f), std::log(0.15f)};
  for (int32_t top_k : {0, 3}) {
    SamplerParams p = plain(1.0f);
    p.top_k = top_k;
    p.top_p = 0.65f;
    p.min_p = 0.35f;
    Sampler s(p);
    const auto dist = s.distribution(logits, {});
    ASSERT_EQ(dist.size(), 2u) << "top_k " << top_k;
    EXPECT_EQ(dist[0].id, 0);
    EXPECT_EQ(dist[1].id, 1);
    EXPECT_NEAR(dist[0].p, 0.5 / 0.7, 1e-6);
  }
}

// ---- penalties ------------------------------------------------------------------------------

SamplerParams greedy_with(float repeat, float frequency, float presence, int32_t last_n = 64) {
  SamplerParams p;
  p.temperature = 0.0f;
  p.repeat_penalty = repeat;
  p.frequency_penalty = frequency;
  p.presence_penalty = presence;
  p.penalty_last_n = last_n;
  return p;
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  const std::vector<int32_t> history{0, 5, 0};
  // Positive: 2.0 / 1.1 = 1.818 < 1.9 -> token 1; 2.0 / 1.01 = 1.980 > 1.9 -> token 0 stays.
  EXPECT_EQ(Sampler(greedy_with(1.1f, 0, 0)).sample(std::vector<float>{2.0f, 1.9f, 0, 0, 0, 0}, history), 1);
  EXPECT_EQ(Sampler(greedy_with(1.01f, 0, 0)).sample(std::vector<float>{2.0f, 1.9f, 0, 0, 0, 0}, history), 0);
  // Negative: -1.0 * 1.1 = -1.1 < -1.05 -> token 1 (dividing would have kept token 0).
  EXPECT_EQ(Sampler(greedy_with(1.1f, 0, 0)).sample(std::vector<float>{-1.0f, -1.05f, -9, -9, -9, -9}, history), 1);
  // Applied once per distinct token, not per occurrence: 2.0 / 1.04 = 1.923 > 1.9 (twice: 1.849).
  EXPECT_EQ(Sampler(greedy_with(1.04f, 0, 0)).sample(std::vector<float>{2.0f, 1.9f, 0, 0, 0, 0}, history), 0);
  // A penalty < 1 rewards repeats.
  EXPECT_EQ(Sampler(greedy_with(0.5f, 0, 0)).sample(std::vector<float>{1.0f, 1.9f, 0, 0, 0, 0}, history), 0);
}

TEST(Sampler, FrequencyPenaltyScalesWithTheCount) {
  const std::vector<float> logits{3.0f, 2.0f};
  // 3 - 3 * 0.4 = 1.8 < 2 -> 1; 3 - 2 * 0.4 = 2.2 > 2 -> 0.
  EXPECT_EQ(Sampler(greedy_with(1, 0.4f, 0)).sample(logits, std::vector<int32_t>{0, 0, 0}), 1);
  EXPECT_EQ(Sampler(greedy_with(1, 0.4f, 0)).sample(logits, std::vector<int32_t>{0, 1, 0}), 0);
}

TEST(Sampler, PresencePenaltyIgnoresTheCount) {
  const std::vector<float> logits{3.0f, 2.5f};
  const std::vector<int32_t> history{0, 0, 0, 0};
  // 3 - 0.4 = 2.6 > 2.5 -> 0 (a count-scaled penalty would give 1.4); 3 - 0.6 = 2.4 -> 1.
  EXPECT_EQ(Sampler(greedy_with(1, 0, 0.4f)).sample(logits, history), 0);
  EXPECT_EQ(Sampler(greedy_with(1, 0, 0.6f)).sample(logits, history), 1);
}

TEST(Sampler, PenaltiesFollowTheFormulasExactly) {
  // With every filter off the distribution exposes the penalized logits:
  // p_i / p_j = exp(l'_i - l'_j).
  const std::vector<float> logits{1.5f, -0.5f, 0.25f, 2.0f, 0.0f};
  const std::vector<int32_t> history{3, 0, 1, 3, 3, 1, 0};  // counts: 0 -> 2, 1 -> 2, 3 -> 3
  SamplerParams p = plain(1.0f);
  p.repeat_penalty = 1.3f;
  p.frequency_penalty = 0.2f;
  p.presence_penalty = 0.1f;
  p.penalty_last_n = -1;
  Sampler s(p);
  auto pen = [&](float l, int count) {
    if (count == 0) return l;
    l = l > 0 ? l / 1.3f : l * 1.3f;
    return l - (count * 0.2f + 0.1f);
  };
  const std::vector<float> expected{pen(1.5f, 2), pen(-0.5f, 2), pen(0.25f, 0), pen(2.0f, 3), pen(0.0f, 0)};
  std::vector<double> got(5, 0.0);
  for (const TokenProb& tp : s.distribution(logits, history)) got[static_cast<size_t>(tp.id)] = tp.p;
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_NEAR(std::log(got[i] / got[4]), expected[i] - expected[4], 1e-5) << "token " << i;
  }
}

TEST(Sampler, PenaltyWindowCoversOnlyTheLastNTokens) {
  const std::vector<float> logits{3.0f, 2.5f, 0.0f};
  const std::vector<int32_t> history{0, 0, 0, 2, 2};  // token 0 only outside a window of 2
  EXPECT_EQ(Sampler(greedy_with(1, 1.0f, 0, 2)).sample(logits, history), 0);
  EXPECT_EQ(Sampler(greedy_with(1, 1.0f, 0, 3)).sample(logits, history), 1);  // 3 - 1 < 2.5
  EXPECT_EQ(Sampler(greedy_with(1, 1.0f, 0, 5)).sample(logits, history), 1);
  EXPECT_EQ(Sampler(greedy_with(1, 1.0f, 0, -1)).sample(logits, history), 1);
  EXPECT_EQ(Sampler(greedy_with(1, 1.0f, 0, 0)).sample(logits, history), 0);  // 0 disables
  EXPECT_EQ(Sampler(greedy_with(1, 1.0f, 0, 1000)).sample(logits, history), 1);
}

// ---- errors ---------------------------------------------------------------------------------

void expect_invalid_field(const SamplerParams& p, const std::string& field) {
  try {
    Sampler s(p);
    ADD_FAILURE() << "no exception for " << field;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("SamplerParams." + field), std::string::npos) << e.what();
  }
}

TEST(Sampler, ValidationNamesTheField) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  auto with = [](auto set) {
    SamplerParams p;
    set(p);
    return p;
  };
  for (float v : {nan, -0.1f, inf}) expect_invalid_field(with([&](auto& p) { p.temperature = v; }), "temperature");
  for (float v : {nan, 0.0f, -0.5f, 1.5f}) expect_invalid_field(with([&](auto& p) { p.top_p = v; }), "top_p");
  for (float v : {nan, -0.1f, 1.1f}) expect_invalid_field(with([&](auto& p) { p.min_p = v; }), "min_p");
  for (float v : {nan, 0.0f, -1.0f, inf}) {
    expect_invalid_field(with([&](auto& p) { p.repeat_penalty = v; }), "repeat_penalty");
  }
  for (float v : {nan, inf, -inf}) {
    expect_invalid_field(with([&](auto& p) { p.frequency_penalty = v; }), "frequency_penalty");
    expect_invalid_field(with([&](auto& p) { p.presence_penalty = v; }), "presence_penalty");
  }
  expect_invalid_field(with([](auto& p) { p.penalty_last_n = -2; }), "penalty_last_n");

  // The edges of every range are accepted.
  EXPECT_NO_THROW(Sampler(with([](auto& p) {
    p.temperature = 0;
    p.top_p = 1;
    p.min_p = 1;
    p.top_k = -5;
    p.penalty_last_n = -1;
    p.frequency_penalty = -2;
    p.presence_penalty = -2;
  })));
  EXPECT_NO_THROW(Sampler(with([](auto& p) { p.min_p = 0; })));
}

TEST(Sampler, BadLogitsAndHistoryAreRejected) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (float t : {0.0f, 1.0f}) {
    Sampler s(plain(t));
    EXPECT_THROW(s.sample(std::vector<float>{}, {}), Error);
    EXPECT_THROW(s.sample(std::vector<float>{1, nan, 2}, {}), Error);
    EXPECT_THROW(s.sample(std::vector<float>{1, inf, 2}, {}), Error);
    EXPECT_THROW(s.sample(std::vector<float>{kNegInf, kNegInf}, {}), Error);
    Sampler pen(greedy_with(1.1f, 0, 0));
    EXPECT_THROW(pen.sample(std::vector<float>{1, 2}, std::vector<int32_t>{0, 2}), Error);
    EXPECT_THROW(pen.sample(std::vector<float>{1, 2}, std::vector<int32_t>{-1}), Error);
  }
}

TEST(DistributionDistance, KlAndAgreementOfKnownDistributions) {
  DistributionDistance d;
  const std::vector<float> half{0.0f, 0.0f}, skewed{std::log(3.0f), 0.0f}, flipped{0.0f, std::log(3.0f)};
  d.add(half, half);  // identical: KL 0, greedy agrees
  EXPECT_DOUBLE_EQ(d.mean_kl(), 0.0);
  // (0.5, 0.5) against (0.75, 0.25): 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25).
  d.add(half, skewed);
  d.add(skewed, flipped);  // argmax 0 against 1: disagree
  const double kl_half_skewed = 0.5 * std::log(0.5 / 0.75) + 0.5 * std::log(0.5 / 0.25);
  const double kl_skewed_flipped = 0.75 * std::log(0.75 / 0.25) + 0.25 * std::log(0.25 / 0.75);
  EXPECT_NEAR(d.mean_kl(), (kl_half_skewed + kl_skewed_flipped) / 3, 1e-6);
  EXPECT_DOUBLE_EQ(d.greedy_agreement(), 2.0 / 3.0);
  EXPECT_EQ(d.positions(), 3);
  EXPECT_THROW(d.add(half, std::vector<float>{0.0f}), Error);
}

}  // namespace
}  // namespace strata
