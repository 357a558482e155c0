// Value types, the builder the parser uses, and Value's construction functions.
#include "engine/gguf/gguf_value.h"

#include <bit>

#include "engine/core/error.h"
#include "engine/gguf/gguf_value_detail.h"

namespace strata::gguf {

using detail::ValueBuilder;
using detail::ValuePayload;

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::U8: return "u8";
    case ValueType::I8: return "i8";
    case ValueType::U16: return "u16";
    case ValueType::I16: return "i16";
    case ValueType::U32: return "u32";
    case ValueType::I32: return "i32";
    case ValueType::F32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::U64: return "u64";
    case ValueType::I64: return "i64";
    case ValueType::F64: return "f64";
  }
  return "?";
}

std::optional<ValueType> value_type_from_id(uint32_t id) {
  if (id > static_cast<uint32_t>(ValueType::F64)) return std::nullopt;
  return static_cast<ValueType>(id);
}

uint32_t value_type_size(ValueType type) {
  switch (type) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::STRING: case ValueType::ARRAY: return 0;
  }
  return 0;
}

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::U16: case ValueType::I16:
    case ValueType::U32: case ValueType::I32: case ValueType::U64: case ValueType::I64:
      return true;
    default:
      return false;
  }
}

bool is_numeric_type(ValueType t) { return is_integer_type(t) || t == ValueType::F32 || t == ValueType::F64; }

namespace {

template <typename T>
Value typed_array(ValueType t, std::span<const T> v) {
  std::string raw(reinterpret_cast<const char*>(v.data()), v.size_bytes());
  return ValueBuilder::raw_array(t, v.size(), std::move(raw));
}

}  // namespace

// ---- builder ---------------------------------------------------------------------------------

Value ValueBuilder::scalar(ValueType type, uint64_t bits, Origin origin) {
  Value v;
  v.type_ = type;
  v.bits_ = bits;
  v.origin_ = std::move(origin);
  return v;
}

Value ValueBuilder::string(std::string s, Origin origin) {
  Value v;
  v.type_ = ValueType::STRING;
  auto p = std::make_shared<ValuePayload>();
  p->bytes = std::move(s);
  v.payload_ = std::move(p);
  v.origin_ = std::move(origin);
  return v;
}

Value ValueBuilder::raw_array(ValueType element_type, uint64_t count, std::string raw, Origin origin) {
  Value v;
  v.type_ = ValueType::ARRAY;
  v.array_type_ = element_type;
  v.bits_ = count;
  if (count > 0) {
    auto p = std::make_shared<ValuePayload>();
    p->bytes = std::move(raw);
    v.payload_ = std::move(p);
  }
  v.origin_ = std::move(origin);
  return v;
}

Value ValueBuilder::string_array(std::string blob, std::vector<uint64_t> ends, Origin origin) {
  Value v;
  v.type_ = ValueType::ARRAY;
  v.array_type_ = ValueType::STRING;
  v.bits_ = ends.size();
  if (!ends.empty()) {
    auto p = std::make_shared<ValuePayload>();
    p->bytes = std::move(blob);
    p->ends = std::move(ends);
    v.payload_ = std::move(p);
  }
  v.origin_ = std::move(origin);
  return v;
}

Value ValueBuilder::array_of_arrays(std::vector<Value> items, Origin origin) {
  Value v;
  v.type_ = ValueType::ARRAY;
  v.array_type_ = ValueType::ARRAY;
  v.bits_ = items.size();
  if (!items.empty()) {
    auto p = std::make_shared<ValuePayload>();
    p->items = std::move(items);
    v.payload_ = std::move(p);
  }
  v.origin_ = std::move(origin);
  return v;
}

// ---- construction ----------------------------------------------------------------------------

Value::Value() = default;

Value Value::u8(uint8_t v) { return ValueBuilder::scalar(ValueType::U8, v); }
Value Value::i8(int8_t v) { return ValueBuilder::scalar(ValueType::I8, static_cast<uint8_t>(v)); }
Value Value::u16(uint16_t v) { return ValueBuilder::scalar(ValueType::U16, v); }
Value Value::i16(int16_t v) { return ValueBuilder::scalar(ValueType::I16, static_cast<uint16_t>(v)); }
Value Value::u32(uint32_t v) { return ValueBuilder::scalar(ValueType::U32, v); }
Value Value::i32(int32_t v) { return ValueBuilder::scalar(ValueType::I32, static_cast<uint32_t>(v)); }
Value Value::u64(uint64_t v) { return ValueBuilder::scalar(ValueType::U64, v); }
Value Value::i64(int64_t v) { return ValueBuilder::scalar(ValueType::I64, static_cast<uint64_t>(v)); }
Value Value::f32(float v) { return ValueBuilder::scalar(ValueType::F32, std::bit_cast<uint32_t>(v)); }
Value Value::f64(double v) { return ValueBuilder::scalar(ValueType::F64, std::bit_cast<uint64_t>(v)); }
Value Value::boolean(bool v) { return ValueBuilder::scalar(ValueType::BOOL, v ? 1 : 0); }
Value Value::string(std::string v) { return ValueBuilder::string(std::move(v)); }

Value Value::array(std::span<const uint8_t> v) { return typed_array(ValueType::U8, v); }
Value Value::array(std::span<const int8_t> v) { return typed_array(ValueType::I8, v); }
Value Value::array(std::span<const uint16_t> v) { return typed_array(ValueType::U16, v); }
Value Value::array(std::span<const int16_t> v) { return typed_array(ValueType::I16, v); }
Value Value::array(std::span<const uint32_t> v) { return typed_array(ValueType::U32, v); }
Value Value::array(std::span<const int32_t> v) { return typed_array(ValueType::I32, v); }
Value Value::array(std::span<const uint64_t> v) { return typed_array(ValueType::U64, v); }
Value Value::array(std::span<const int64_t> v) { return typed_array(ValueType::I64, v); }
Value Value::array(std::span<const float> v) { return typed_array(ValueType::F32, v); }
Value Value::array(std::span<const double> v) { return typed_array(ValueType::F64, v); }

Value Value::bool_array(const std::vector<bool>& v) {
  std::string raw(v.size(), '\0');
  for (size_t i = 0; i < v.size(); ++i) raw[i] = v[i] ? 1 : 0;
  return ValueBuilder::raw_array(ValueType::BOOL, v.size(), std::move(raw));
}

Value Value::string_array(std::span<const std::string> v) {
  std::vector<std::string_view> views(v.begin(), v.end());
  return string_array(std::span<const std::string_view>(views));
}

Value Value::string_array(std::span<const std::string_view> v) {
  std::string blob;
  std::vector<uint64_t> ends;
  ends.reserve(v.size());
  for (auto s : v) {
    blob.append(s);
    ends.push_back(blob.size());
  }
  return ValueBuilder::string_array(std::move(blob), std::move(ends));
}

Value Value::array_of_arrays(std::vector<Value> items) {
  for (const auto& item : items)
    if (!item.is_array())
      throw Error(ErrorKind::InvalidArgument, "Value::array_of_arrays: an element is " +
                                                  std::string(value_type_name(item.type_)) + ", not an array");
  return ValueBuilder::array_of_arrays(std::move(items));
}

Value Value::empty_array(ValueType element_type) {
  if (element_type == ValueType::STRING) return ValueBuilder::string_array({}, {});
  if (element_type == ValueType::ARRAY) return ValueBuilder::array_of_arrays({});
  return ValueBuilder::raw_array(element_type, 0, {});
}

Value Value::raw_array(ValueType element_type, std::span<const uint8_t> raw) {
  const uint32_t size = value_type_size(element_type);
  if (size == 0)
    throw Error(ErrorKind::InvalidArgument, "Value::raw_array: element type " +
                                                std::string(value_type_name(element_type)) + " has no fixed size");
  if (raw.size() % size != 0)
    throw Error(ErrorKind::InvalidArgument, "Value::raw_array: " + std::to_string(raw.size()) +
                                                " bytes is not a whole number of " +
                                                std::string(value_type_name(element_type)) + " elements");
  if (element_type == ValueType::BOOL)
    for (uint8_t b : raw)
      if (b > 1) throw Error(ErrorKind::InvalidArgument, "Value::raw_array: a bool byte is not 0 or 1");
  std::string bytes(reinterpret_cast<const char*>(raw.data()), raw.size());
  return ValueBuilder::raw_array(element_type, raw.size() / size, std::move(bytes));
}

}  // namespace strata::gguf
