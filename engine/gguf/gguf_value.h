// A GGUF metadata value: a scalar, a string, or an array (of scalars, of strings, or of arrays).
//
// Values are immutable once built. Arrays are stored compactly: a numeric or bool array keeps its
// raw little-endian bytes in one buffer, a string array keeps all its strings in one buffer plus an
// end offset per string, so a 280k-entry vocabulary costs its characters plus 8 bytes per entry.
// Only arrays of arrays hold one Value per element. Copying a Value shares its payload.
//
// Accessors convert between numeric types only where no information is lost (as_f32 excepted,
// see below) and throw strata::ModelFileError naming the key (and the file and byte offset when
// the value came from a file) on a type mismatch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strata::gguf {

// Value type ids as numbered in the GGUF format.
enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

// "u8", "i32", "f32", "bool", "string", "array", ...
std::string_view value_type_name(ValueType type);
// The type for a GGUF type id, or nullopt for an unknown id.
std::optional<ValueType> value_type_from_id(uint32_t id);
// Bytes of one encoded scalar (1..8); 0 for STRING and ARRAY, whose size varies.
uint32_t value_type_size(ValueType type);
bool is_integer_type(ValueType type);  // U8..I64
bool is_numeric_type(ValueType type);  // integers, F32, F64

namespace detail {
struct ValuePayload;
struct ValueOrigin;
class ValueBuilder;
}  // namespace detail

class Value {
 public:
  Value();  // u8 0

  // --- construction -----------------------------------------------------------------------
  static Value u8(uint8_t v);
  static Value i8(int8_t v);
  static Value u16(uint16_t v);
  static Value i16(int16_t v);
  static Value u32(uint32_t v);
  static Value i32(int32_t v);
  static Value u64(uint64_t v);
  static Value i64(int64_t v);
  static Value f32(float v);
  static Value f64(double v);
  static Value boolean(bool v);
  static Value string(std::string v);

  static Value array(std::span<const uint8_t> v);
  static Value array(std::span<const int8_t> v);
  static Value array(std::span<const uint16_t> v);
  static Value array(std::span<const int16_t> v);
  static Value array(std::span<const uint32_t> v);
  static Value array(std::span<const int32_t> v);
  static Value array(std::span<const uint64_t> v);
  static Value array(std::span<const int64_t> v);
  static Value array(std::span<const float> v);
  static Value array(std::span<const double> v);
  static Value bool_array(const std::vector<bool>& v);
  static Value string_array(std::span<const std::string> v);
  static Value string_array(std::span<const std::string_view> v);
  // An array whose elements are arrays (each may have its own element type and length).
  // Throws Error(InvalidArgument) if an item is not an array.
  static Value array_of_arrays(std::vector<Value> items);
  static Value empty_array(ValueType element_type);
  // A numeric or bool array from raw little-endian bytes (raw.size() must be a multiple of the
  // element size; bool bytes must be 0 or 1). Throws Error(InvalidArgument) otherwise.
  static Value raw_array(ValueType element_type, std::span<const uint8_t> raw);

  // --- inspection --------------------------------------------------------------------------
  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::ARRAY; }
  // Element type of an array (throws for a non-array).
  ValueType array_type() const;
  // Number of elements of an array; 1 for a scalar or a string.
  size_t size() const;
  bool empty() const { return size() == 0; }

  // --- scalars (and lossless numeric conversions; the integer accessors read bool as 0 / 1) ---
  uint64_t as_u64() const;  // any integer type holding a value >= 0
  int64_t as_i64() const;   // any integer type holding a value <= INT64_MAX
  uint32_t as_u32() const;  // any integer type holding a value in [0, UINT32_MAX]
  int32_t as_i32() const;   // any integer type holding a value in [INT32_MIN, INT32_MAX]
  double as_f64() const;    // F32, F64, or an integer of magnitude <= 2^53
  float as_f32() const;     // F32, F64 (rounded to nearest float), or an integer of magnitude <= 2^24
  bool as_bool() const;     // BOOL only
  const std::string& as_string() const;  // STRING only

  // --- arrays ------------------------------------------------------------------------------
  // Element i (throws ModelFileError for a wrong element type or i >= size()).
  std::string_view string_at(size_t i) const;  // string arrays
  int64_t i64_at(size_t i) const;              // integer or bool arrays (value must fit in int64)
  uint64_t u64_at(size_t i) const;             // integer or bool arrays (value must be >= 0)
  double f64_at(size_t i) const;               // numeric arrays, converted as as_f64()
  bool bool_at(size_t i) const;                // bool arrays
  const Value& array_at(size_t i) const;       // arrays of arrays

  // Every element of a string array, as views into this value's storage.
  std::vector<std::string_view> strings() const;
  // Every element of a numeric array, converted as f64_at() / as_f32() / i64_at() with a range
  // check (throws if an element does not fit).
  std::vector<float> to_f32_vector() const;
  std::vector<double> to_f64_vector() const;
  std::vector<int32_t> to_i32_vector() const;
  std::vector<uint32_t> to_u32_vector() const;
  std::vector<int64_t> to_i64_vector() const;
  // Raw little-endian bytes of a numeric or bool array (empty for other values).
  std::span<const uint8_t> raw_bytes() const;

  // A short human-readable rendering: `42`, `"llama"`, `[string x 32000: "<unk>", "<s>", ...]`.
  std::string to_display(size_t max_items = 4) const;

  // Equal types and contents (floats compared bit for bit); where a value came from is ignored.
  friend bool operator==(const Value& a, const Value& b);

  // The key, file and byte offset this value was read from, when it was read from a file.
  std::string_view origin_key() const;

 private:
  friend class detail::ValueBuilder;

  [[noreturn]] void type_error(std::string_view expected) const;
  [[noreturn]] void element_error(size_t i, std::string_view what) const;
  void check_index(size_t i) const;
  uint64_t raw_element(size_t i) const;  // zero-extended bits of numeric element i

  ValueType type_ = ValueType::U8;
  ValueType array_type_ = ValueType::U8;
  // Scalars: the value's bits (unsigned zero-extended, signed sign-extended, f32 as its 32 bits,
  // f64 as its 64 bits, bool 0/1). Arrays: the element count.
  uint64_t bits_ = 0;
  std::shared_ptr<const detail::ValuePayload> payload_;  // strings and non-empty arrays
  std::shared_ptr<const detail::ValueOrigin> origin_;    // values read from a file
};

}  // namespace strata::gguf
