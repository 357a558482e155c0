// Helpers shared by the kernel tests: random rows, byte buffers of whole rows, the type lists.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/tensor_type.h"

namespace strata::test {

// Weight types with a dot product, and every type with kernels.
inline const std::vector<TensorType>& weight_types() {
  static const std::vector<TensorType> t = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0,
                                            TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                                            TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
  return t;
}

inline std::vector<TensorType> block_weight_types() {
  std::vector<TensorType> t;
  for (TensorType w : weight_types())
    if (traits_of(w).block_elems > 1) t.push_back(w);
  return t;
}

inline std::vector<TensorType> all_kernel_types() {
  std::vector<TensorType> t = weight_types();
  t.push_back(TensorType::Q8_1);
  t.push_back(TensorType::Q8_K);
  return t;
}

inline std::string type_name(TensorType t) { return std::string(tensor_type_name(t)); }

// A GTest-friendly parameter name ("q4_K", "f16").
inline std::string param_name(TensorType t) { return type_name(t); }

inline std::vector<float> random_normal(size_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Normal data whose scale changes from block to block (by up to 1e3 either way), so the
// per-block scales of the formats are exercised over a wide range.
inline std::vector<float> random_varied(size_t n, size_t block, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::uniform_real_distribution<float> exp(-3.0f, 3.0f);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i += block) {
    const float scale = std::pow(10.0f, exp(rng));
    for (size_t j = i; j < i + block && j < n; ++j) v[j] = dist(rng) * scale;
  }
  return v;
}

inline std::vector<uint8_t> row_buffer(TensorType t, int64_t n) {
  return std::vector<uint8_t>(row_bytes(t, static_cast<uint64_t>(n)));
}

inline int64_t block_elems(TensorType t) { return traits_of(t).block_elems; }

// Tolerances of a dot product, relative to sum |w_i x_i|. The reference adds one float term per
// block (a block's exact integer sum times its scales: a few roundings) or, for float types, sums
// in double; the fast variants add per block or per element in up to 64 float lanes, then reduce
// the lanes. Summing k rounded terms in float errs by at most about (k + c) * 2^-24 of the sum of
// their magnitudes, so with k the number of blocks (float types: n / 32 per lane plus the
// reduction and the tail):
inline double float_sum_bound(TensorType t, int64_t n) {
  const int64_t be = block_elems(t);
  const int64_t terms = be > 1 ? n / be : n / 32 + 32;
  return static_cast<double>(terms + 8) * 0x1p-24;
}

// `blocks` blocks of random bytes (any nibble or bit pattern, Q8_0's -128 included) whose fp16
// scales are overwritten with random values in [-2, 2], so that the sums stay finite.
inline void fill_random_blocks(TensorType t, uint8_t* w, int64_t blocks, std::mt19937& rng) {
  const size_t bb = traits_of(t).block_bytes;
  for (size_t i = 0; i < bb * static_cast<size_t>(blocks); ++i) w[i] = static_cast<uint8_t>(rng());
  std::vector<size_t> offsets;
  if (t == TensorType::Q6_K)
    offsets = {208};
  else if (t == TensorType::Q4_1 || t == TensorType::Q5_1 || t == TensorType::Q4_K || t == TensorType::Q5_K)
    offsets = {0, 2};
  else
    offsets = {0};
  std::uniform_real_distribution<float> scale(-2.0f, 2.0f);
  for (int64_t b = 0; b < blocks; ++b)
    for (size_t off : offsets) {
      const float v = scale(rng);
      uint8_t h[2];
      cpu::reference_kernels(TensorType::F16).from_float(&v, h, 1);
      std::memcpy(w + bb * b + off, h, 2);
    }
}

// Quantize with the reference, dequantize with the reference.
inline std::vector<float> round_trip(TensorType t, const std::vector<float>& x, std::vector<uint8_t>* bytes = nullptr) {
  const auto& k = cpu::reference_kernels(t);
  std::vector<uint8_t> q = row_buffer(t, static_cast<int64_t>(x.size()));
  k.from_float(x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  k.to_float(q.data(), y.data(), static_cast<int64_t>(x.size()));
  if (bytes != nullptr) *bytes = std::move(q);
  return y;
}

// An IEEE half read independently of the code under test (for hand-built blocks).
inline float half_value(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int e = (h >> 10) & 31, m = h & 1023;
  if (e == 0) return static_cast<float>(sign * std::ldexp(static_cast<double>(m), -24));
  if (e == 31) return m ? NAN : sign * INFINITY;
  return static_cast<float>(sign * std::ldexp(static_cast<double>(1024 + m), e - 25));
}

inline uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace strata::test
