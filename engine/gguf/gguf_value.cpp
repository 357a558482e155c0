// Value's accessors, conversions, errors and display. Construction is in gguf_value_build.cpp.
#include "engine/gguf/gguf_value.h"

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "engine/core/error.h"
#include "engine/gguf/gguf_text.h"
#include "engine/gguf/gguf_value_detail.h"

static_assert(std::endian::native == std::endian::little, "GGUF values are read in place as little-endian");

namespace strata::gguf {

namespace {

// Types the integer accessors read: the integers, and bool as 0 / 1.
bool reads_as_integer(ValueType t) { return is_integer_type(t) || t == ValueType::BOOL; }

// A numeric value decoded from its zero-extended bits.
struct Num {
  enum Kind { Unsigned, Signed, Float } kind;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
};

Num decode(ValueType t, uint64_t bits) {
  switch (t) {
    case ValueType::U8: case ValueType::U16: case ValueType::U32: case ValueType::U64: case ValueType::BOOL:
      return {Num::Unsigned, bits};
    case ValueType::I8: return {Num::Signed, 0, static_cast<int8_t>(bits)};
    case ValueType::I16: return {Num::Signed, 0, static_cast<int16_t>(bits)};
    case ValueType::I32: return {Num::Signed, 0, static_cast<int32_t>(bits)};
    case ValueType::I64: return {Num::Signed, 0, static_cast<int64_t>(bits)};
    case ValueType::F32: return {Num::Float, 0, 0, std::bit_cast<float>(static_cast<uint32_t>(bits))};
    case ValueType::F64: return {Num::Float, 0, 0, std::bit_cast<double>(bits)};
    default: return {Num::Unsigned, bits};
  }
}

std::optional<uint64_t> to_u64(const Num& n) {
  if (n.kind == Num::Unsigned) return n.u;
  if (n.kind == Num::Signed && n.i >= 0) return static_cast<uint64_t>(n.i);
  return std::nullopt;
}

std::optional<int64_t> to_i64(const Num& n) {
  if (n.kind == Num::Signed) return n.i;
  if (n.kind == Num::Unsigned && n.u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(n.u);
  return std::nullopt;
}

// Integers convert to floating point only when exactly representable (|x| <= 2^mantissa_bits).
std::optional<double> to_f64(const Num& n, int mantissa_bits) {
  const uint64_t limit = uint64_t{1} << mantissa_bits;
  if (n.kind == Num::Float) return n.f;
  if (n.kind == Num::Unsigned) {
    if (n.u <= limit) return static_cast<double>(n.u);
    return std::nullopt;
  }
  if (n.i >= -static_cast<int64_t>(limit) && n.i <= static_cast<int64_t>(limit)) return static_cast<double>(n.i);
  return std::nullopt;
}

std::optional<float> to_f32(ValueType t, const Num& n) {
  if (t == ValueType::F32) return static_cast<float>(n.f);
  if (t == ValueType::F64) {
    if (std::isfinite(n.f) && std::fabs(n.f) > FLT_MAX) return std::nullopt;
    return static_cast<float>(n.f);
  }
  if (auto d = to_f64(n, 24)) return static_cast<float>(*d);
  return std::nullopt;
}

std::string type_description(ValueType type, ValueType array_type) {
  if (type != ValueType::ARRAY) return std::string(value_type_name(type));
  return "an array of " + std::string(value_type_name(array_type));
}

std::string display_num(ValueType t, uint64_t bits) {
  const Num n = decode(t, bits);
  if (n.kind == Num::Unsigned) return std::to_string(n.u);
  if (n.kind == Num::Signed) return std::to_string(n.i);
  char buf[40];
  std::snprintf(buf, sizeof buf, t == ValueType::F32 ? "%.9g" : "%.17g", n.f);
  return buf;
}

}  // namespace

// ---- errors ----------------------------------------------------------------------------------

void Value::type_error(std::string_view expected) const {
  const std::string what = "is " + type_description(type_, array_type_) + ", expected " + std::string(expected);
  if (origin_)
    throw ModelFileError(origin_->file, "metadata " + detail::quote_name(origin_->key), origin_->offset, what);
  throw Error(ErrorKind::ModelFile, "metadata value: " + what);
}

void Value::element_error(size_t i, std::string_view what) const {
  const std::string msg = "element " + std::to_string(i) + " " + std::string(what);
  if (origin_)
    throw ModelFileError(origin_->file, "metadata " + detail::quote_name(origin_->key), origin_->offset, msg);
  throw Error(ErrorKind::ModelFile, "metadata value: " + msg);
}

void Value::check_index(size_t i) const {
  if (i >= bits_) element_error(i, "is out of range (the array has " + std::to_string(bits_) + ")");
}

std::string_view Value::origin_key() const { return origin_ ? std::string_view(origin_->key) : std::string_view(); }

// ---- inspection ------------------------------------------------------------------------------

ValueType Value::array_type() const {
  if (!is_array()) type_error("an array");
  return array_type_;
}

size_t Value::size() const { return is_array() ? static_cast<size_t>(bits_) : 1; }

uint64_t Value::as_u64() const {
  if (reads_as_integer(type_))
    if (auto v = to_u64(decode(type_, bits_))) return *v;
  type_error("an unsigned integer");
}

int64_t Value::as_i64() const {
  if (reads_as_integer(type_))
    if (auto v = to_i64(decode(type_, bits_))) return *v;
  type_error("an integer that fits in i64");
}

uint32_t Value::as_u32() const {
  if (reads_as_integer(type_))
    if (auto v = to_u64(decode(type_, bits_)); v && *v <= std::numeric_limits<uint32_t>::max())
      return static_cast<uint32_t>(*v);
  type_error("an integer in the range of u32");
}

int32_t Value::as_i32() const {
  if (reads_as_integer(type_))
    if (auto v = to_i64(decode(type_, bits_));
        v && *v >= std::numeric_limits<int32_t>::min() && *v <= std::numeric_limits<int32_t>::max())
      return static_cast<int32_t>(*v);
  type_error("an integer in the range of i32");
}

double Value::as_f64() const {
  if (is_numeric_type(type_))
    if (auto v = to_f64(decode(type_, bits_), 53)) return *v;
  type_error("a number exactly representable as f64");
}

float Value::as_f32() const {
  if (is_numeric_type(type_))
    if (auto v = to_f32(type_, decode(type_, bits_))) return *v;
  type_error("a number representable as f32");
}

bool Value::as_bool() const {
  if (type_ != ValueType::BOOL) type_error("bool");
  return bits_ != 0;
}

const std::string& Value::as_string() const {
  if (type_ != ValueType::STRING) type_error("a string");
  return payload_->bytes;
}

// ---- arrays ----------------------------------------------------------------------------------

uint64_t Value::raw_element(size_t i) const {
  const uint32_t size = value_type_size(array_type_);
  uint64_t bits = 0;
  std::memcpy(&bits, payload_->bytes.data() + i * size, size);
  return bits;
}

std::string_view Value::string_at(size_t i) const {
  if (!is_array() || array_type_ != ValueType::STRING) type_error("an array of string");
  check_index(i);
  const uint64_t begin = i == 0 ? 0 : payload_->ends[i - 1];
  return std::string_view(payload_->bytes).substr(begin, payload_->ends[i] - begin);
}

int64_t Value::i64_at(size_t i) const {
  if (!is_array() || !reads_as_integer(array_type_)) type_error("an array of integers");
  check_index(i);
  if (auto v = to_i64(decode(array_type_, raw_element(i)))) return *v;
  element_error(i, "does not fit in i64");
}

uint64_t Value::u64_at(size_t i) const {
  if (!is_array() || !reads_as_integer(array_type_)) type_error("an array of integers");
  check_index(i);
  if (auto v = to_u64(decode(array_type_, raw_element(i)))) return *v;
  element_error(i, "is negative");
}

double Value::f64_at(size_t i) const {
  if (!is_array() || !is_numeric_type(array_type_)) type_error("an array of numbers");
  check_index(i);
  if (auto v = to_f64(decode(array_type_, raw_element(i)), 53)) return *v;
  element_error(i, "is not exactly representable as f64");
}

bool Value::bool_at(size_t i) const {
  if (!is_array() || array_type_ != ValueType::BOOL) type_error("an array of bool");
  check_index(i);
  return raw_element(i) != 0;
}

const Value& Value::array_at(size_t i) const {
  if (!is_array() || array_type_ != ValueType::ARRAY) type_error("an array of arrays");
  check_index(i);
  return payload_->items[i];
}

std::vector<std::string_view> Value::strings() const {
  if (!is_array() || array_type_ != ValueType::STRING) type_error("an array of string");
  std::vector<std::string_view> out;
  out.reserve(bits_);
  for (size_t i = 0; i < bits_; ++i) out.push_back(string_at(i));
  return out;
}

std::vector<float> Value::to_f32_vector() const {
  if (!is_array() || !is_numeric_type(array_type_)) type_error("an array of numbers");
  std::vector<float> out(bits_);
  if (array_type_ == ValueType::F32) {
    if (bits_) std::memcpy(out.data(), payload_->bytes.data(), bits_ * sizeof(float));
    return out;
  }
  for (size_t i = 0; i < bits_; ++i) {
    auto v = to_f32(array_type_, decode(array_type_, raw_element(i)));
    if (!v) element_error(i, "is not representable as f32");
    out[i] = *v;
  }
  return out;
}

std::vector<double> Value::to_f64_vector() const {
  if (!is_array() || !is_numeric_type(array_type_)) type_error("an array of numbers");
  std::vector<double> out(bits_);
  for (size_t i = 0; i < bits_; ++i) out[i] = f64_at(i);
  return out;
}

std::vector<int32_t> Value::to_i32_vector() const {
  if (!is_array() || !reads_as_integer(array_type_)) type_error("an array of integers");
  std::vector<int32_t> out(bits_);
  for (size_t i = 0; i < bits_; ++i) {
    auto v = to_i64(decode(array_type_, raw_element(i)));
    if (!v || *v < std::numeric_limits<int32_t>::min() || *v > std::numeric_limits<int32_t>::max())
      element_error(i, "does not fit in i32");
    out[i] = static_cast<int32_t>(*v);
  }
  return out;
}

std::vector<uint32_t> Value::to_u32_vector() const {
  if (!is_array() || !reads_as_integer(array_type_)) type_error("an array of integers");
  std::vector<uint32_t> out(bits_);
  for (size_t i = 0; i < bits_; ++i) {
    auto v = to_u64(decode(array_type_, raw_element(i)));
    if (!v || *v > std::numeric_limits<uint32_t>::max()) element_error(i, "does not fit in u32");
    out[i] = static_cast<uint32_t>(*v);
  }
  return out;
}

std::vector<int64_t> Value::to_i64_vector() const {
  if (!is_array() || !reads_as_integer(array_type_)) type_error("an array of integers");
  std::vector<int64_t> out(bits_);
  for (size_t i = 0; i < bits_; ++i) out[i] = i64_at(i);
  return out;
}

std::span<const uint8_t> Value::raw_bytes() const {
  if (!is_array() || value_type_size(array_type_) == 0 || !payload_) return {};
  return {reinterpret_cast<const uint8_t*>(payload_->bytes.data()), payload_->bytes.size()};
}

std::string Value::to_display(size_t max_items) const {
  if (type_ == ValueType::STRING) return detail::quote_name(payload_->bytes, 64);
  if (type_ == ValueType::BOOL) return bits_ ? "true" : "false";
  if (!is_array()) return display_num(type_, bits_);
  std::string out = "[";  // built piecewise: GCC 12 warns (-Wrestrict) on "[" + std::string
  out += value_type_name(array_type_);
  out += " x ";
  out += std::to_string(bits_);
  for (size_t i = 0; i < bits_ && i < max_items; ++i) {
    out += i == 0 ? ": " : ", ";
    if (array_type_ == ValueType::STRING) out += detail::quote_name(string_at(i), 64);
    else if (array_type_ == ValueType::ARRAY) out += payload_->items[i].to_display(max_items);
    else if (array_type_ == ValueType::BOOL) out += raw_element(i) ? "true" : "false";
    else out += display_num(array_type_, raw_element(i));
  }
  if (bits_ > max_items) out += ", ...";
  return out + "]";
}

bool operator==(const Value& a, const Value& b) {
  if (a.type_ != b.type_ || a.bits_ != b.bits_) return false;
  if (a.type_ == ValueType::STRING) return a.payload_->bytes == b.payload_->bytes;
  if (!a.is_array()) return true;
  if (a.array_type_ != b.array_type_) return false;
  if (a.bits_ == 0) return true;
  if (a.payload_ == b.payload_) return true;
  return a.payload_->bytes == b.payload_->bytes && a.payload_->ends == b.payload_->ends &&
         a.payload_->items == b.payload_->items;
}

}  // namespace strata::gguf
