// The dispatcher: type mapping, tables, levels, and the STRATA_CPU cap.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/kernels/kernel_test_util.h"

namespace strata::cpu {
namespace {

TEST(Dispatch, VecDotTypeFollowsLlamaCpp) {
  EXPECT_EQ(vec_dot_type(TensorType::F32), TensorType::F32);
  EXPECT_EQ(vec_dot_type(TensorType::F16), TensorType::F16);
  EXPECT_EQ(vec_dot_type(TensorType::BF16), TensorType::BF16);
  EXPECT_EQ(vec_dot_type(TensorType::Q4_0), TensorType::Q8_0);
  EXPECT_EQ(vec_dot_type(TensorType::Q5_0), TensorType::Q8_0);
  EXPECT_EQ(vec_dot_type(TensorType::Q8_0), TensorType::Q8_0);
  EXPECT_EQ(vec_dot_type(TensorType::Q4_1), TensorType::Q8_1);
  EXPECT_EQ(vec_dot_type(TensorType::Q5_1), TensorType::Q8_1);
  EXPECT_EQ(vec_dot_type(TensorType::Q4_K), TensorType::Q8_K);
  EXPECT_EQ(vec_dot_type(TensorType::Q5_K), TensorType::Q8_K);
  EXPECT_EQ(vec_dot_type(TensorType::Q6_K), TensorType::Q8_K);
}

TEST(Dispatch, EveryTypeWithKernelsHasAFullTableAtEveryLevel) {
  for (TensorType t : test::all_kernel_types()) {
    EXPECT_TRUE(traits_of(t).has_kernels) << tensor_type_name(t);
    const bool activation_only = t == TensorType::Q8_1 || t == TensorType::Q8_K;
    for (const char* level : {"reference", "avx2", "avx512"}) {
      const TypeKernels* k = kernels_at_level(t, level);
      if (k == nullptr) continue;
      EXPECT_NE(k->to_float, nullptr) << tensor_type_name(t) << " " << level;
      EXPECT_NE(k->from_float, nullptr) << tensor_type_name(t) << " " << level;
      EXPECT_EQ(k->vec_dot == nullptr, activation_only) << tensor_type_name(t) << " " << level;
    }
    EXPECT_EQ(&kernels_for(t), kernels_at_level(t, kernel_level_name()));
    EXPECT_EQ(&reference_kernels(t), kernels_at_level(t, "reference"));
  }
}

TEST(Dispatch, TypesWithoutKernelsGetEmptyTables) {
  for (TensorType t : {TensorType::Q2_K, TensorType::Q3_K, TensorType::I8, TensorType::F64}) {
    EXPECT_FALSE(traits_of(t).has_kernels);
    EXPECT_EQ(reference_kernels(t).to_float, nullptr);
    EXPECT_EQ(kernels_for(t).vec_dot, nullptr);
  }
}

TEST(Dispatch, LevelsAreConsistentWithFeatures) {
  const CpuFeatures& f = cpu_features();
  const std::string_view level = kernel_level_name();
  std::printf("[ info ] kernel level %s (avx2 %d fma %d f16c %d avx512f %d bw %d vl %d vnni %d bf16 %d avxvnni %d)\n",
              std::string(level).c_str(), f.avx2, f.fma, f.f16c, f.avx512f, f.avx512bw, f.avx512vl, f.avx512vnni,
              f.avx512bf16, f.avxvnni);
  EXPECT_TRUE(level == "reference" || level == "avx2" || level == "avx512");
  EXPECT_NE(kernels_at_level(TensorType::Q4_0, "reference"), nullptr);
  EXPECT_EQ(kernels_at_level(TensorType::Q4_0, "sse9"), nullptr);
  EXPECT_EQ(kernels_at_level(TensorType::Q4_0, "avx2") != nullptr, f.avx2 && f.fma && f.f16c);
  if (kernels_at_level(TensorType::Q4_0, "avx512") != nullptr) {
    EXPECT_NE(kernels_at_level(TensorType::Q4_0, "avx2"), nullptr);
    EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni);
    EXPECT_EQ(level, "avx512");
  }
}

// STRATA_CPU caps the level. The check runs in a fresh process (death-test "threadsafe" style
// re-executes the binary), where the kernels have not been chosen yet.
TEST(DispatchDeathTest, StrataCpuCapsTheLevel) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const char* outer = std::getenv("STRATA_CPU");  // restored below: later tests obey it
  const std::string saved = outer != nullptr ? outer : "";
  ::setenv("STRATA_CPU", "reference", 1);
  EXPECT_EXIT(
      {
        const bool ok = kernel_level_name() == "reference" && !cpu_features().avx2 &&
                        kernels_at_level(TensorType::Q4_0, "avx2") == nullptr;
        std::_Exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  ::setenv("STRATA_CPU", "avx2", 1);
  EXPECT_EXIT(
      {
        const bool ok = kernel_level_name() != "avx512" && !cpu_features().avx512f &&
                        kernels_at_level(TensorType::Q4_0, "avx512") == nullptr;
        std::_Exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  if (outer != nullptr)
    ::setenv("STRATA_CPU", saved.c_str(), 1);
  else
    ::unsetenv("STRATA_CPU");
}

}  // namespace
}  // namespace strata::cpu
