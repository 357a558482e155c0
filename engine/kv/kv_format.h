// How K and V rows are stored: f16, q8_0 (ggml's 8-bit blocks of 32), or q4g (FlexGen-style
// group-wise 4-bit: groups of `group` contiguous elements along the head dimension, each with an
// f16 minimum and an f16 scale, values rounded to 0..15; 4.5 bits per element at group 64).
// A row is one token's K (or V) of one KV head: head_dim elements.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata {

enum class KvType { F16, Q8_0, Q4G };

struct KvFormat {
  KvType type = KvType::F16;
  int group = 64;  // q4g only: elements per group (clamped to head_dim by make())

  // A format for rows of head_dim elements. Throws Error(InvalidArgument) naming the problem
  // when the type cannot store such rows (q8_0 needs head_dim % 32 == 0; q4g needs head_dim a
  // multiple of the group, which must be even).
  static KvFormat make(KvType type, int head_dim, int group = 64);

  // Bytes of one stored row of head_dim elements.
  uint64_t row_bytes(int head_dim) const;
  // Average bytes per element (for memory estimates): 2, 34/32, or (group/2 + 4)/group.
  double bytes_per_element() const;
};

std::string_view kv_type_name(KvType type);                     // "f16", "q8_0", "q4g"
std::optional<KvType> parse_kv_type(std::string_view name);      // accepts those names

// Converts one row. `n` = head_dim.
void kv_encode_row(const KvFormat& f, const float* src, void* dst, int n);
void kv_decode_row(const KvFormat& f, const void* src, float* dst, int n);

}  // namespace strata
