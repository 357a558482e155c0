// Internal to engine/gguf: how a Value stores its data, and the builder the parser uses to make
// values from bytes it has already validated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf/gguf_value.h"

namespace strata::gguf::detail {

struct ValuePayload {
  // STRING: the string. Numeric/bool arrays: the raw little-endian elements.
  // String arrays: every string concatenated.
  std::string bytes;
  // String arrays: ends[i] is the end offset of string i in `bytes` (string i starts at ends[i-1]).
  std::vector<uint64_t> ends;
  // Arrays of arrays: the elements.
  std::vector<Value> items;
};

struct ValueOrigin {
  std::string file;
  std::string key;
  uint64_t offset = 0;  // byte offset of the key-value pair in the file
};

// Builds values from parts already validated by the caller. `origin` (may be null) is shared by
// a value and, for arrays of arrays, by its elements, so that their errors name the key.
class ValueBuilder {
 public:
  using Origin = std::shared_ptr<const ValueOrigin>;
  // bits: the scalar zero-extended from its encoded width.
  static Value scalar(ValueType type, uint64_t bits, Origin origin = nullptr);
  static Value string(std::string s, Origin origin = nullptr);
  // `raw` holds `count` elements of a fixed-size type.
  static Value raw_array(ValueType element_type, uint64_t count, std::string raw, Origin origin = nullptr);
  static Value string_array(std::string blob, std::vector<uint64_t> ends, Origin origin = nullptr);
  static Value array_of_arrays(std::vector<Value> items, Origin origin = nullptr);
  // The stored bits of a scalar (zero-extended from its encoded width), for bit-exact writing.
  static uint64_t scalar_bits(const Value& v) { return v.bits_; }
};

}  // namespace strata::gguf::detail
