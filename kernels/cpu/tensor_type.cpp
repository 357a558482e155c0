#include "kernels/cpu/tensor_type.h"

#include <array>
#include <cassert>
#include <cctype>
#include <string>

namespace strata {
namespace {

constexpr std::array kTraits = {
    TensorTypeTraits{TensorType::F32, "f32", 1, 4, false, true},
    TensorTypeTraits{TensorType::F16, "f16", 1, 2, false, true},
    TensorTypeTraits{TensorType::Q4_0, "q4_0", 32, 18, true, true},
    TensorTypeTraits{TensorType::Q4_1, "q4_1", 32, 20, true, true},
    TensorTypeTraits{TensorType::Q5_0, "q5_0", 32, 22, true, true},
    TensorTypeTraits{TensorType::Q5_1, "q5_1", 32, 24, true, true},
    TensorTypeTraits{TensorType::Q8_0, "q8_0", 32, 34, true, true},
    TensorTypeTraits{TensorType::Q8_1, "q8_1", 32, 36, true, true},
    TensorTypeTraits{TensorType::Q2_K, "q2_K", 256, 84, true, false},
    TensorTypeTraits{TensorType::Q3_K, "q3_K", 256, 110, true, false},
    TensorTypeTraits{TensorType::Q4_K, "q4_K", 256, 144, true, true},
    TensorTypeTraits{TensorType::Q5_K, "q5_K", 256, 176, true, true},
    TensorTypeTraits{TensorType::Q6_K, "q6_K", 256, 210, true, true},
    TensorTypeTraits{TensorType::Q8_K, "q8_K", 256, 292, true, true},
    TensorTypeTraits{TensorType::I8, "i8", 1, 1, false, false},
    TensorTypeTraits{TensorType::I16, "i16", 1, 2, false, false},
    TensorTypeTraits{TensorType::I32, "i32", 1, 4, false, false},
    TensorTypeTraits{TensorType::I64, "i64", 1, 8, false, false},
    TensorTypeTraits{TensorType::F64, "f64", 1, 8, false, false},
    TensorTypeTraits{TensorType::BF16, "bf16", 1, 2, false, true},
};

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t id) {
  for (const auto& t : kTraits)
    if (static_cast<uint32_t>(t.type) == id) return t;
  return std::nullopt;
}

const TensorTypeTraits& traits_of(TensorType type) {
  for (const auto& t : kTraits)
    if (t.type == type) return t;
  assert(false && "traits_of: unknown TensorType");
  return kTraits[0];
}

std::string_view tensor_type_name(TensorType type) { return traits_of(type).name; }

std::optional<TensorType> parse_tensor_type(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& t : kTraits) {
    std::string tn(t.name);
    for (auto& c : tn) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (tn == lower) return t.type;
  }
  return std::nullopt;
}

}  // namespace strata
