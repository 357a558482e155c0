// The attention tile kernels (kernels/cpu/attention) at each SIMD level against plain
// double-precision arithmetic: scores with their causal mask, the running softmax statistics,
// the weights (and their exponential, over its whole range), the weighted sum of values, the
// q4g row decoder against the reference one, and the decode row kernels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/attention/attention_tile.h"
#include "kernels/cpu/fp16.h"
#include "tests/kernels/kernel_test_util.h"

namespace strata::cpu {
namespace {

constexpr int L = kAttentionLanes;

class AttentionTile : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    k_ = attention_tile_kernels_at_level(GetParam());
    if (k_ == nullptr) GTEST_SKIP() << "this CPU (or STRATA_CPU) has no " << GetParam() << " level";
  }
  const AttentionTileKernels* k_ = nullptr;
};

TEST_P(AttentionTile, ScoresAreScaledDotProductsWithTheCausalMask) {
  std::mt19937 rng(5);
  for (int D : {8, 32, 64, 80, 128})
    for (int n_keys : {1, 3, 8, 9, 17, 64}) {
      const auto qt = test::random_normal(size_t(D) * L, rng());
      const auto keys = test::random_normal(size_t(n_keys) * D, rng());
      const float pos0 = 100, scale = 0.125f;
      float limit[L];
      for (int r = 0; r < L; ++r) limit[r] = pos0 + static_cast<float>(rng() % (n_keys + 2)) - 1;  // some see nothing
      std::vector<float> s(size_t(n_keys) * L, 7.0f);
      k_->scores(qt.data(), keys.data(), n_keys, D, scale, pos0, limit, s.data());
      for (int k = 0; k < n_keys; ++k)
        for (int r = 0; r < L; ++r) {
          const float got = s[k * L + r];
          if (pos0 + k > limit[r]) {
            EXPECT_TRUE(std::isinf(got) && got < 0) << "masked key " << k << " row " << r << " D " << D;
            continue;
          }
          double dot = 0, mag = 0;
          for (int d = 0; d < D; ++d) {
            dot += double(qt[d * L + r]) * keys[k * D + d];
            mag += std::fabs(double(qt[d * L + r]) * keys[k * D + d]);
          }
          EXPECT_NEAR(got, dot * scale, 1e-6 * D * mag * scale + 1e-30) << "key " << k << " row " << r << " D " << D;
        }
    }
}

TEST_P(AttentionTile, MaxAndSumOverTilesEqualThoseOfTheWholeRow) {
  std::mt19937 rng(9);
  const int tiles = 5, n = 13;
  // Scores that rise tile after tile (the max moves, so the sum is rescaled), with -inf holes.
  std::vector<float> all(size_t(tiles) * n * L);
  for (size_t i = 0; i < all.size(); ++i) all[i] = float(i / (n * L)) * 3.0f + test::random_normal(1, rng())[0] * 4;
  for (size_t i = 0; i < all.size(); i += 7) all[i] = -INFINITY;
  float max[L];
  double sum[L];
  for (int r = 0; r < L; ++r) max[r] = -INFINITY, sum[r] = 0;
  for (int t = 0; t < tiles; ++t) k_->max_sum(all.data() + size_t(t) * n * L, n, max, sum);
  for (int r = 0; r < L; ++r) {
    float m = -INFINITY;
    for (int k = 0; k < tiles * n; ++k) m = std::max(m, all[k * L + r]);
    double expect = 0;
    for (int k = 0; k < tiles * n; ++k) expect += std::exp(double(all[k * L + r]) - m);
    EXPECT_EQ(max[r], m) << "row " << r;
    EXPECT_NEAR(sum[r], expect, 1e-6 * expect) << "row " << r;
  }
}

TEST_P(AttentionTile, WeightsAreNormalizedExponentialsWithinTwoUlps) {
  // One score per lane and key across the whole range the kernel sees (x - max <= 0), plus
  // values below -87, which may give 0, and -inf (masked keys), which must.
  const int n = 4096;
  std::vector<float> s(size_t(n) * L);
  for (int i = 0; i < n * L; ++i) s[i] = -90.0f * float(i) / float(n * L - 1);
  for (int r = 0; r < L; r += 3) s[r] = -INFINITY;
  std::vector<float> x = s;
  float max[L], inv[L];
  for (int r = 0; r < L; ++r) max[r] = 0.0f, inv[r] = 1.0f;
  k_->weights(s.data(), n, max, inv, false);
  for (int i = 0; i < n * L; ++i) {
    if (std::isinf(x[i])) {
      EXPECT_EQ(s[i], 0.0f) << "exp(-inf)";
      continue;
    }
    if (x[i] < -87.0f) {
      EXPECT_TRUE(s[i] >= 0.0f && s[i] < 2e-38f) << "exp(" << x[i] << ") = " << s[i];
      continue;
    }
    const double e = std::exp(double(x[i]));
    ASSERT_NEAR(s[i], e, 2.5e-7 * e) << "exp(" << x[i] << ")";
  }
  // With a max and a normalization, and rounded to f16.
  std::mt19937 rng(3);
  const int k = 20;
  auto raw = test::random_normal(size_t(k) * L, rng(), 3.0f);
  for (int r = 0; r < L; ++r) max[r] = 9.0f, inv[r] = 0.3f + 0.01f * r;
  std::vector<float> w = raw;
  k_->weights(w.data(), k, max, inv, true);
  for (int i = 0; i < k * L; ++i) {
    const double exact = std::exp(double(raw[i]) - 9.0) * inv[i % L];
    EXPECT_EQ(w[i], fp16_to_fp32(fp32_to_fp16(w[i]))) << "not an f16 value";
    // Half an f16 step: 2^-11 relative, or 2^-25 absolute among the subnormals (below 2^-14).
    EXPECT_NEAR(w[i], exact, exact / 2048 + std::ldexp(1.0, -25) + 1e-6 * exact) << "weight " << i;
  }
}

TEST_P(AttentionTile, AccumulateAddsWeightedValues) {
  std::mt19937 rng(21);
  for (int D : {8, 36, 64, 128})
    for (int n_keys : {1, 5, 64}) {
      const auto p = test::random_normal(size_t(n_keys) * L, rng());
      const auto values = test::random_normal(size_t(n_keys) * D, rng());
      auto ot = test::random_normal(size_t(D) * L, rng());
      const auto before = ot;
      k_->accumulate(p.data(), values.data(), n_keys, D, ot.data());
      for (int d = 0; d < D; ++d)
        for (int r = 0; r < L; ++r) {
          double expect = before[d * L + r], mag = std::fabs(expect);
          for (int k = 0; k < n_keys; ++k) {
            expect += double(p[k * L + r]) * values[k * D + d];
            mag += std::fabs(double(p[k * L + r]) * values[k * D + d]);
          }
          EXPECT_NEAR(ot[d * L + r], expect, 1e-6 * (n_keys + 1) * mag) << "d " << d << " row " << r << " D " << D;
        }
    }
}

TEST_P(AttentionTile, Q4gRowsDecodeAsTheReferenceDoes) {
  const AttentionTileKernels* ref = attention_tile_kernels_at_level("reference");
  std::mt19937 rng(17);
  for (int group : {16, 32, 64, 128})
    for (int n : {group, 4 * group}) {
      const size_t bytes = size_t(n / group) * (4 + group / 2);
      std::vector<uint8_t> row(bytes);
      for (auto& b : row) b = static_cast<uint8_t>(rng());
      for (size_t g = 0; g < bytes; g += 4 + group / 2) {  // finite minimum and scale
        const uint16_t lo = fp32_to_fp16(-1.5f + float(rng() % 100) / 40), sc = fp32_to_fp16(float(rng() % 100) / 400);
        std::memcpy(&row[g], &lo, 2);
        std::memcpy(&row[g + 2], &sc, 2);
      }
      std::vector<float> got(n, NAN), expect(n, NAN);
      k_->q4g_to_float(row.data(), got.data(), n, group);
      ref->q4g_to_float(row.data(), expect.data(), n, group);
      for (int i = 0; i < n; ++i)  // a fused multiply-add may round once where the reference rounds twice
        ASSERT_NEAR(got[i], expect[i], 4e-7 * (std::fabs(expect[i]) + 4)) << "group " << group << " element " << i;
    }
}

TEST_P(AttentionTile, RowScoresAreScaledDotProductsOfEachRow) {
  std::mt19937 rng(31);
  for (int D : {16, 64, 80, 128})
    for (int rows = 1; rows <= kAttentionDecodeRows; ++rows)
      for (int n_keys : {1, 5, 16, 17, 40}) {
        const auto q = test::random_normal(size_t(rows) * D, rng());
        const auto keys = test::random_normal(size_t(n_keys) * D, rng());
        const int64_t stride = n_keys + 3;
        std::vector<float> s(size_t(rows) * stride, 7.0f);
        k_->row_scores(q.data(), rows, keys.data(), n_keys, D, 0.25f, s.data(), stride);
        for (int r = 0; r < rows; ++r) {
          for (int k = 0; k < n_keys; ++k) {
            double dot = 0, mag = 0;
            for (int d = 0; d < D; ++d) {
              dot += double(q[r * D + d]) * keys[k * D + d];
              mag += std::fabs(double(q[r * D + d]) * keys[k * D + d]);
            }
            EXPECT_NEAR(s[r * stride + k], dot * 0.25, 1e-6 * D * mag) << "row " << r << " key " << k << " D " << D;
          }
          for (int64_t k = n_keys; k < stride; ++k) EXPECT_EQ(s[r * stride + k], 7.0f) << "wrote past the keys";
        }
      }
}

TEST_P(AttentionTile, RowSoftmaxMatchesADoublePrecisionSoftmax) {
  std::mt19937 rng(41);
  for (int64_t n : {1, 7, 16, 64, 100, 1000}) {
    for (bool round : {false, true}) {
      const auto x = test::random_normal(size_t(n), rng(), 3.0f);
      std::vector<float> p = x;
      k_->row_softmax(p.data(), n, round);
      const double max = *std::max_element(x.begin(), x.end());
      double sum = 0;
      for (float v : x) sum += std::exp(v - max);
      for (int64_t k = 0; k < n; ++k) {
        const double exact = std::exp(x[k] - max) / sum;
        const double tol = round ? exact / 2048 + std::ldexp(1.0, -25) + 1e-6 * exact : 1e-6 * exact;
        EXPECT_NEAR(p[k], exact, tol) << "n " << n << " key " << k << (round ? " rounded" : "");
        if (round) {
          EXPECT_EQ(p[k], fp16_to_fp32(fp32_to_fp16(p[k]))) << "not an f16 value";
        }
      }
    }
  }
}

TEST_P(AttentionTile, RowAccumulateAddsWeightedValuesToEachRow) {
  std::mt19937 rng(43);
  for (int D : {16, 64, 80, 128})
    for (int rows = 1; rows <= kAttentionDecodeRows; ++rows)
      for (int n_keys : {1, 9, 64}) {
        const int64_t stride = n_keys + 2;
        const auto p = test::random_normal(size_t(rows) * stride, rng());
        const auto values = test::random_normal(size_t(n_keys) * D, rng());
        auto o = test::random_normal(size_t(rows) * D, rng());
        const auto before = o;
        k_->row_accumulate(p.data(), rows, stride, values.data(), n_keys, D, o.data());
        for (int r = 0; r < rows; ++r)
          for (int d = 0; d < D; ++d) {
            double expect = before[r * D + d], mag = std::fabs(expect);
            for (int k = 0; k < n_keys; ++k) {
              expect += double(p[r * stride + k]) * values[k * D + d];
              mag += std::fabs(double(p[r * stride + k]) * values[k * D + d]);
            }
            EXPECT_NEAR(o[r * D + d], expect, 1e-6 * (n_keys + 1) * mag) << "row " << r << " d " << d << " D " << D;
          }
      }
}

INSTANTIATE_TEST_SUITE_P(Levels, AttentionTile, ::testing::Values("reference", "avx2", "avx512"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace strata::cpu
