// Tensor element types as numbered in GGUF (the ggml type ids), and their block geometry.
//
// A quantized row of n elements is n / block_elems blocks of block_bytes each; n must be a
// multiple of block_elems. The id values are part of the GGUF file format: never renumber.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace strata {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;  // as llama.cpp spells it: "q4_K", "f16", ...
  uint32_t block_elems;   // elements per block (1 for plain types)
  uint32_t block_bytes;   // bytes per block
  bool is_quantized;
  bool has_kernels;       // dequantize / dot product implemented in kernels/cpu
};

// Traits of a known type id, or nullopt for an id this build does not know (an error for
// the caller to report with its own context: file, tensor, offset).
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t id);

// Traits of a type known to be valid (asserts otherwise).
const TensorTypeTraits& traits_of(TensorType type);

// Bytes taken by a row of n elements; n must be a multiple of block_elems.
inline uint64_t row_bytes(TensorType type, uint64_t n) {
  const auto& t = traits_of(type);
  return n / t.block_elems * t.block_bytes;
}

std::string_view tensor_type_name(TensorType type);

// Parses a type name as the CLI accepts it ("q4_0", "Q4_0", "q4_k", "f16", "bf16", ...).
std::optional<TensorType> parse_tensor_type(std::string_view name);

}  // namespace strata
