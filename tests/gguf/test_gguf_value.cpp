// Value: construction, lossless conversions, array access, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/core/error.h"
#include "engine/gguf/gguf_value.h"

namespace strata::gguf {
namespace {

template <typename F>
bool model_file_error(F&& f) {
  try {
    f();
    return false;
  } catch (const Error& e) {
    return e.kind() == ErrorKind::ModelFile;
  }
}

TEST(GgufValue, TypeNamesAndIds) {
  EXPECT_EQ(value_type_name(ValueType::U8), "u8");
  EXPECT_EQ(value_type_name(ValueType::STRING), "string");
  EXPECT_EQ(value_type_name(ValueType::F64), "f64");
  EXPECT_EQ(value_type_from_id(12), ValueType::F64);
  EXPECT_EQ(value_type_from_id(13), std::nullopt);
  EXPECT_EQ(value_type_size(ValueType::BOOL), 1u);
  EXPECT_EQ(value_type_size(ValueType::I64), 8u);
  EXPECT_EQ(value_type_size(ValueType::STRING), 0u);
}

TEST(GgufValue, LosslessIntegerConversions) {
  EXPECT_EQ(Value::u8(200).as_u64(), 200u);
  EXPECT_EQ(Value::u8(200).as_i32(), 200);
  EXPECT_EQ(Value::i8(-5).as_i64(), -5);
  EXPECT_EQ(Value::i16(-5).as_i32(), -5);
  EXPECT_EQ(Value::i32(7).as_u32(), 7u);
  EXPECT_EQ(Value::u64(UINT64_MAX).as_u64(), UINT64_MAX);
  EXPECT_EQ(Value::i64(INT64_MIN).as_i64(), INT64_MIN);
  EXPECT_EQ(Value::boolean(true).as_u32(), 1u);  // bool reads as 0 / 1
  EXPECT_TRUE(model_file_error([] { Value::i8(-1).as_u64(); }));
  EXPECT_TRUE(model_file_error([] { Value::i32(-1).as_u32(); }));
  EXPECT_TRUE(model_file_error([] { Value::u64(UINT64_MAX).as_i64(); }));
  EXPECT_TRUE(model_file_error([] { Value::u64(uint64_t{1} << 32).as_u32(); }));
  EXPECT_TRUE(model_file_error([] { Value::i64(int64_t{1} << 31).as_i32(); }));
  EXPECT_TRUE(model_file_error([] { Value::f32(1.0f).as_u32(); }));
  EXPECT_TRUE(model_file_error([] { Value::string("1").as_i64(); }));
}

TEST(GgufValue, FloatConversions) {
  EXPECT_EQ(Value::f32(0.25f).as_f64(), 0.25);
  EXPECT_EQ(Value::f64(0.1).as_f64(), 0.1);
  EXPECT_EQ(Value::f64(0.1).as_f32(), 0.1f);  // rounded to nearest
  EXPECT_EQ(Value::u32(1u << 24).as_f32(), 16777216.0f);
  EXPECT_EQ(Value::i64(-(int64_t{1} << 53)).as_f64(), -9007199254740992.0);
  EXPECT_TRUE(model_file_error([] { Value::u32((1u << 24) + 1).as_f32(); }));
  EXPECT_TRUE(model_file_error([] { Value::u64((uint64_t{1} << 53) + 1).as_f64(); }));
  EXPECT_TRUE(model_file_error([] { Value::f64(1e300).as_f32(); }));
  EXPECT_TRUE(std::isinf(Value::f64(INFINITY).as_f32()));
  EXPECT_TRUE(std::isnan(Value::f32(NAN).as_f64()));
  EXPECT_TRUE(model_file_error([] { Value::boolean(true).as_f32(); }));
}

TEST(GgufValue, StringsAndBools) {
  EXPECT_EQ(Value::string("abc").as_string(), "abc");
  EXPECT_EQ(Value::string("").size(), 1u);
  EXPECT_TRUE(Value::boolean(true).as_bool());
  EXPECT_TRUE(model_file_error([] { Value::u8(1).as_bool(); }));
  EXPECT_TRUE(model_file_error([] { Value::u8(1).as_string(); }));
  EXPECT_TRUE(model_file_error([] { Value::string("x").array_type(); }));
}

TEST(GgufValue, NumericArrays) {
  const std::vector<int16_t> v = {-3, 0, 300};
  const Value a = Value::array(std::span<const int16_t>(v));
  EXPECT_TRUE(a.is_array());
  EXPECT_EQ(a.array_type(), ValueType::I16);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.i64_at(0), -3);
  EXPECT_EQ(a.f64_at(2), 300.0);
  EXPECT_EQ(a.to_i32_vector(), (std::vector<int32_t>{-3, 0, 300}));
  EXPECT_EQ(a.to_f32_vector(), (std::vector<float>{-3.0f, 0.0f, 300.0f}));
  EXPECT_EQ(a.to_i64_vector(), (std::vector<int64_t>{-3, 0, 300}));
  EXPECT_EQ(a.raw_bytes().size(), 6u);
  EXPECT_TRUE(model_file_error([&] { a.u64_at(0); }));      // negative
  EXPECT_TRUE(model_file_error([&] { a.i64_at(3); }));      // out of range
  EXPECT_TRUE(model_file_error([&] { a.to_u32_vector(); }));
  EXPECT_TRUE(model_file_error([&] { a.string_at(0); }));
  EXPECT_TRUE(model_file_error([&] { a.as_u32(); }));

  const std::vector<uint64_t> big = {1, uint64_t{1} << 40};
  const Value b = Value::array(std::span<const uint64_t>(big));
  EXPECT_TRUE(model_file_error([&] { b.to_i32_vector(); }));
  EXPECT_EQ(b.to_i64_vector()[1], int64_t{1} << 40);

  const Value bools = Value::bool_array({true, false});
  EXPECT_TRUE(bools.bool_at(0));
  EXPECT_EQ(bools.i64_at(0), 1);
  EXPECT_TRUE(model_file_error([&] { bools.to_f32_vector(); }));

  const std::vector<uint8_t> raw = {1, 0, 0, 0, 2, 0, 0, 0};
  EXPECT_EQ(Value::raw_array(ValueType::U32, raw).to_u32_vector(), (std::vector<uint32_t>{1, 2}));
  EXPECT_THROW(Value::raw_array(ValueType::U32, std::span<const uint8_t>(raw).first(3)), Error);
  EXPECT_THROW(Value::raw_array(ValueType::STRING, raw), Error);
  EXPECT_THROW(Value::raw_array(ValueType::BOOL, std::vector<uint8_t>{2}), Error);
}

TEST(GgufValue, StringArraysAreCompact) {
  std::vector<std::string> words;
  for (int i = 0; i < 1000; ++i) words.push_back(std::string("w").append(std::to_string(i)));
  const Value a = Value::string_array(words);
  EXPECT_EQ(a.size(), 1000u);
  EXPECT_EQ(a.string_at(999), "w999");
  const auto views = a.strings();
  EXPECT_EQ(views[500], "w500");
  // Views point into one buffer, in order.
  EXPECT_EQ(views[1].data(), views[0].data() + views[0].size());
  // Copies share the storage.
  const Value copy = a;
  EXPECT_EQ(copy.string_at(7).data(), a.string_at(7).data());
  EXPECT_EQ(copy, a);
}

TEST(GgufValue, EqualityAndDisplay) {
  EXPECT_EQ(Value::u32(1), Value::u32(1));
  EXPECT_NE(Value::u32(1), Value::i32(1));
  EXPECT_NE(Value::string("a"), Value::string("b"));
  EXPECT_EQ(Value::f32(NAN), Value::f32(NAN));  // bitwise
  EXPECT_NE(Value::empty_array(ValueType::U8), Value::empty_array(ValueType::I8));
  EXPECT_EQ(Value::u32(42).to_display(), "42");
  EXPECT_EQ(Value::i8(-1).to_display(), "-1");
  EXPECT_EQ(Value::boolean(false).to_display(), "false");
  EXPECT_EQ(Value::string("a\nb").to_display(), "'a\\nb'");
  EXPECT_EQ(Value::string_array(std::vector<std::string>{"x", "y", "z"}).to_display(2), "[string x 3: 'x', 'y', ...]");
  EXPECT_EQ(Value::empty_array(ValueType::F32).to_display(), "[f32 x 0]");
}

TEST(GgufValue, ArraysOfArrays) {
  const Value inner = Value::array(std::vector<float>{1.0f});
  const Value outer = Value::array_of_arrays({inner, Value::empty_array(ValueType::STRING)});
  EXPECT_EQ(outer.array_type(), ValueType::ARRAY);
  EXPECT_EQ(outer.array_at(0), inner);
  EXPECT_EQ(outer.array_at(1).size(), 0u);
  EXPECT_TRUE(model_file_error([&] { outer.array_at(2); }));
  EXPECT_TRUE(model_file_error([&] { outer.i64_at(0); }));
  EXPECT_EQ(outer.to_display(), "[array x 2: [f32 x 1: 1], [string x 0]]");
}

}  // namespace
}  // namespace strata::gguf
