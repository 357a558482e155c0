// The vectorized element-wise operations against a double-precision restatement: SiLU's AVX2
// variant (ops_isa.h) and the dispatched silu_mul, over ragged lengths and the extremes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/ops/ops.h"
#include "kernels/cpu/ops/ops_isa.h"

namespace strata {
namespace {

double silu_mul_exact(double g, double up) { return g / (1.0 + std::exp(-g)) * up; }

// Gates spread over [-100, 100] (beyond both ends of exp's float range), plus exact zeros,
// tiny values and the values where sigmoid switches form; ups of either sign.
std::vector<float> gates(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> wide(-100.0f, 100.0f), near(-6.0f, 6.0f);
  std::vector<float> g(n);
  for (int64_t i = 0; i < n; ++i) g[i] = i % 3 == 0 ? wide(rng) : near(rng);
  const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 87.5f, -87.5f, -88.0f, 20.0f, -20.0f};
  for (size_t i = 0; i < std::size(special) && i < g.size(); ++i) g[i * 7 % n] = special[i];
  return g;
}

void expect_close_to_exact(void (*silu_mul)(float*, const float*, int64_t), const char* name) {
  for (int64_t n : {1, 7, 8, 9, 31, 1000, 8192}) {
    std::vector<float> g = gates(n, static_cast<uint32_t>(n)), up(n);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    for (float& v : up) v = u(rng);
    std::vector<float> out = g;
    silu_mul(out.data(), up.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double want = silu_mul_exact(g[i], up[i]);
      // A few ulp of the result. Where e^-g leaves the float range (g < -87) both forms give 0
      // or nearly, and the exact value is below 1e-35: such a product contributes nothing.
      const double tol = 4e-7 * std::fabs(want) + 1e-35;
      ASSERT_NEAR(out[i], want, tol) << name << ", n " << n << ", gate " << g[i] << ", up " << up[i];
    }
  }
}

TEST(Ops, ScalarSiluMulMatchesTheExactValue) { expect_close_to_exact(cpu::detail::silu_mul_scalar, "scalar"); }

TEST(Ops, DispatchedSiluMulMatchesTheExactValue) { expect_close_to_exact(cpu::silu_mul, "dispatched"); }

TEST(Ops, Avx2SiluMulMatchesTheExactValue) {
#ifdef __x86_64__
  if (!(cpu::cpu_features().avx2 && cpu::cpu_features().fma)) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  expect_close_to_exact(cpu::detail::silu_mul_avx2, "avx2");
#else
  GTEST_SKIP() << "AVX2 kernels exist only on x86-64 builds";
#endif
}

TEST(Ops, SiluMulKeepsInfinitiesAndNaNsAsTheScalarFormulaDoes) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> g = {inf, -inf, std::nanf(""), 2.0f, inf, -inf, 0.5f, -0.5f, 3.0f};
  const std::vector<float> up(g.size(), 1.0f);
  std::vector<float> want = g;
  cpu::detail::silu_mul_scalar(want.data(), up.data(), static_cast<int64_t>(want.size()));
  cpu::silu_mul(g.data(), up.data(), static_cast<int64_t>(g.size()));
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(g[i])) << "element " << i;
    else
      EXPECT_FLOAT_EQ(g[i], want[i]) << "element " << i;
  }
}

}  // namespace
}  // namespace strata
