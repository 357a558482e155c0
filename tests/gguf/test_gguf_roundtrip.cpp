// Writing GGUF files with GgufWriter and reading them back.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"
#include "tests/support/test_paths.h"

namespace strata::gguf {
namespace {

using strata::test::shared_path;
using strata::test::temp_dir;

std::vector<uint8_t> read_all(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Every value type, nested arrays, empty strings and arrays.
void set_all_value_types(GgufWriter& w) {
  w.set_string("general.architecture", "test");
  w.set_u8("t.u8", 250);
  w.set_i8("t.i8", -7);
  w.set_u16("t.u16", 65000);
  w.set_i16("t.i16", -32000);
  w.set_u32("t.u32", 4000000000u);
  w.set_i32("t.i32", -2000000000);
  w.set_u64("t.u64", UINT64_MAX);
  w.set_i64("t.i64", INT64_MIN);
  w.set_f32("t.f32", 1.5e-5f);
  w.set_f64("t.f64", -2.25e300);
  w.set_f32("t.nan", std::numeric_limits<float>::quiet_NaN());
  w.set_bool("t.true", true);
  w.set_bool("t.false", false);
  w.set_string("t.string", "h\xc3\xa9llo\nworld");
  w.set_string("t.empty_string", "");
  w.set_string_array("t.strings", std::vector<std::string>{"a", "", "\xe2\x96\x81the", std::string(300, 'x')});
  w.set_array("t.u8s", std::vector<uint8_t>{0, 1, 255});
  w.set_array("t.i8s", std::vector<int8_t>{-128, 0, 127});
  w.set_array("t.u16s", std::vector<uint16_t>{1, 65535});
  w.set_array("t.i16s", std::vector<int16_t>{-1, 2});
  w.set_array("t.u32s", std::vector<uint32_t>{7, 8, 9});
  w.set_array("t.i32s", std::vector<int32_t>{-3, 0, 3});
  w.set_array("t.u64s", std::vector<uint64_t>{UINT64_MAX, 0});
  w.set_array("t.i64s", std::vector<int64_t>{INT64_MIN, INT64_MAX});
  w.set_array("t.f32s", std::vector<float>{0.5f, -1.0f, 3.25f});
  w.set_array("t.f64s", std::vector<double>{1e-300, 2.0});
  w.set("t.bools", Value::bool_array({true, false, true}));
  w.set("t.empty_f32s", Value::empty_array(ValueType::F32));
  w.set("t.empty_strings", Value::empty_array(ValueType::STRING));
  w.set("t.empty_arrays", Value::empty_array(ValueType::ARRAY));
  w.set("t.nested", Value::array_of_arrays({
                        Value::array(std::vector<int32_t>{1, 2}),
                        Value::string_array(std::vector<std::string>{"x", ""}),
                        Value::empty_array(ValueType::U8),
                        Value::array_of_arrays({Value::array(std::vector<float>{4.0f}), Value::empty_array(ValueType::BOOL)}),
                    }));
}

struct TensorSpec {
  std::string name;
  std::vector<int64_t> dims;
  TensorType type;
};

const std::vector<TensorSpec>& tensor_specs() {
  static const std::vector<TensorSpec> specs = {
      {"f32.matrix", {4, 3}, TensorType::F32},
      {"f16.vector", {7}, TensorType::F16},
      {"bf16.3d", {2, 3, 4}, TensorType::BF16},
      {"q4_0.weight", {64, 2}, TensorType::Q4_0},
      {"q8_0.weight", {32, 5}, TensorType::Q8_0},
      {"q4_k.weight", {256, 2}, TensorType::Q4_K},
      {"q6_k.weight", {512}, TensorType::Q6_K},
      {"i32.4d", {5, 1, 2, 3}, TensorType::I32},
      {"i8.bytes", {3}, TensorType::I8},
  };
  return specs;
}

uint64_t spec_bytes(const TensorSpec& s) {
  int64_t rows = 1;
  for (size_t i = 1; i < s.dims.size(); ++i) rows *= s.dims[i];
  return row_bytes(s.type, s.dims[0]) * rows;
}

void expect_same_metadata(const std::vector<std::pair<std::string, Value>>& a,
                          const std::vector<std::pair<std::string, Value>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second, b[i].second) << a[i].first << ": " << a[i].second.to_display() << " vs "
                                        << b[i].second.to_display();
  }
}

TEST(GgufRoundTrip, EveryValueTypeAndSeveralTensorTypes) {
  GgufWriter w;
  set_all_value_types(w);
  std::vector<std::vector<uint8_t>> data;
  for (size_t i = 0; i < tensor_specs().size(); ++i) {
    const auto& s = tensor_specs()[i];
    data.push_back(random_bytes(spec_bytes(s), static_cast<uint32_t>(i)));
    w.add_tensor(s.name, s.dims, s.type, data.back());
  }
  const auto path = temp_dir("gguf-roundtrip") / "all.gguf";
  const uint64_t size = w.write(path);
  EXPECT_EQ(size, std::filesystem::file_size(path));

  const auto f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  expect_same_metadata(f.metadata(), w.metadata());

  // Spot checks through the typed accessors.
  EXPECT_EQ(f.get_u32("t.u8", 0), 250u);
  EXPECT_EQ(f.get_i32("t.i8", 0), -7);
  EXPECT_EQ(f.get_u64("t.u64", 0), UINT64_MAX);
  EXPECT_EQ(f.get_i64("t.i64", 0), INT64_MIN);
  EXPECT_EQ(f.get_f32("t.f32", 0), 1.5e-5f);
  EXPECT_EQ(f.get_f64("t.f64", 0), -2.25e300);
  EXPECT_TRUE(std::isnan(f.get_f32("t.nan", 0)));
  EXPECT_TRUE(f.get_bool("t.true", false));
  EXPECT_FALSE(f.get_bool("t.false", true));
  EXPECT_EQ(f.get_string("t.string"), "h\xc3\xa9llo\nworld");
  EXPECT_EQ(f.require("t.empty_string").as_string(), "");
  EXPECT_EQ(f.require("t.strings").strings(),
            (std::vector<std::string_view>{"a", "", "\xe2\x96\x81the", std::string(300, 'x')}));
  EXPECT_EQ(f.require("t.i8s").to_i32_vector(), (std::vector<int32_t>{-128, 0, 127}));
  EXPECT_EQ(f.require("t.u64s").u64_at(0), UINT64_MAX);
  EXPECT_EQ(f.require("t.f32s").to_f32_vector(), (std::vector<float>{0.5f, -1.0f, 3.25f}));
  EXPECT_TRUE(f.require("t.bools").bool_at(2));
  EXPECT_EQ(f.require("t.empty_f32s").size(), 0u);
  EXPECT_EQ(f.require("t.empty_f32s").array_type(), ValueType::F32);
  EXPECT_EQ(f.require("t.empty_arrays").array_type(), ValueType::ARRAY);
  const Value& nested = f.require("t.nested");
  ASSERT_EQ(nested.size(), 4u);
  EXPECT_EQ(nested.array_at(0).to_i32_vector(), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(nested.array_at(1).string_at(1), "");
  EXPECT_EQ(nested.array_at(2).array_type(), ValueType::U8);
  EXPECT_EQ(nested.array_at(3).array_at(0).f64_at(0), 4.0);
  EXPECT_EQ(nested.array_at(3).array_at(1).array_type(), ValueType::BOOL);

  ASSERT_EQ(f.tensors().size(), tensor_specs().size());
  uint64_t expected_offset = f.data_offset();
  EXPECT_EQ(f.data_offset() % 32, 0u);
  for (size_t i = 0; i < tensor_specs().size(); ++i) {
    const auto& s = tensor_specs()[i];
    const auto& t = f.tensors()[i];
    SCOPED_TRACE(s.name);
    EXPECT_EQ(t.name, s.name);
    EXPECT_EQ(t.dims, s.dims);
    EXPECT_EQ(t.type, s.type);
    EXPECT_EQ(t.bytes, data[i].size());
    EXPECT_EQ(t.offset, expected_offset);  // packed, each at the next multiple of the alignment
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_EQ(std::memcmp(t.data, data[i].data(), t.bytes), 0);
    EXPECT_EQ(f.find_tensor(s.name), &t);
    expected_offset += (t.bytes + 31) / 32 * 32;
  }
  EXPECT_EQ(f.file_size(), expected_offset);
}

TEST(GgufRoundTrip, CustomAlignmentStreamingAndViews) {
  GgufWriter w;
  w.set_u32("general.alignment", 64);
  w.set_string("general.architecture", "test");
  const auto a = random_bytes(4 * 10, 1);
  const auto b = random_bytes(34 * 3, 2);
  w.add_tensor_view("a", {10}, TensorType::F32, a);
  // Streamed in uneven pieces.
  w.add_tensor_stream("b", {32, 3}, TensorType::Q8_0, [&](const GgufWriter::ByteSink& sink) {
    sink(std::span<const uint8_t>(b).subspan(0, 5));
    sink(std::span<const uint8_t>(b).subspan(5, 0));
    sink(std::span<const uint8_t>(b).subspan(5));
  });
  EXPECT_EQ(w.alignment(), 64u);
  const auto path = temp_dir("gguf-align") / "aligned.gguf";
  w.write(path);
  const auto f = GgufFile::open(path);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  const auto& ta = f.require_tensor("a");
  const auto& tb = f.require_tensor("b");
  EXPECT_EQ(ta.offset % 64, 0u);
  EXPECT_EQ(tb.offset, ta.offset + 64);
  EXPECT_EQ(std::memcmp(ta.data, a.data(), a.size()), 0);
  EXPECT_EQ(std::memcmp(tb.data, b.data(), b.size()), 0);
  // Padding is zeros.
  const auto bytes = read_all(path);
  for (uint64_t i = ta.offset + ta.bytes; i < tb.offset; ++i) EXPECT_EQ(bytes[i], 0) << i;
}

TEST(GgufRoundTrip, RewritingTheTinyModelIsByteIdentical) {
  // Same keys in the same order, same tensors in the same order: the layout rules are the spec's,
  // so the writer must reproduce the file exactly (it was written by llama.cpp's gguf-py).
  const auto src = GgufFile::open(shared_path("models/llama-2-tiny-random.gguf"));
  GgufWriter w;
  for (const auto& [k, v] : src.metadata()) w.set(k, v);
  for (const auto& t : src.tensors()) w.add_tensor_view(t.name, t.dims, t.type, t.span());
  const auto path = temp_dir("gguf-rewrite") / "tiny.gguf";
  w.write(path);
  EXPECT_TRUE(read_all(path) == read_all(src.path()));
}

TEST(GgufRoundTrip, CopyTokenizerKeysFromAVocabFile) {
  const auto vocab = GgufFile::open(shared_path("models/vocab/ggml-vocab-llama-bpe.gguf"));
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  size_t copied = 0;
  for (const auto& [k, v] : vocab.metadata())
    if (k.starts_with("tokenizer.")) {
      w.set(k, v);
      ++copied;
    }
  ASSERT_GT(copied, 3u);
  const auto path = temp_dir("gguf-vocab") / "vocab-copy.gguf";
  w.write(path);
  const auto f = GgufFile::open(path);
  for (const auto& [k, v] : vocab.metadata()) {
    if (!k.starts_with("tokenizer.")) continue;
    const Value* got = f.find(k);
    ASSERT_NE(got, nullptr) << k;
    EXPECT_EQ(*got, v) << k;
    EXPECT_EQ(got->type(), v.type()) << k;
  }
  EXPECT_EQ(f.require("tokenizer.ggml.merges").string_at(280146), vocab.require("tokenizer.ggml.merges").string_at(280146));
}

TEST(GgufRoundTrip, Version2ReadsLikeVersion3) {
  GgufWriter w;
  w.set_string("general.name", "v2");
  w.add_tensor("w", {2}, TensorType::F32, random_bytes(8, 6));
  const auto path = temp_dir("gguf-v2") / "v2.gguf";
  w.write(path);
  auto bytes = read_all(path);
  ASSERT_EQ(bytes[4], 3);
  bytes[4] = 2;  // the version field; v2 and v3 share the little-endian layout
  const auto f = GgufFile::parse(bytes, "v2");
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.get_string("general.name"), "v2");
  EXPECT_EQ(f.require_tensor("w").bytes, 8u);
}

TEST(GgufRoundTrip, SetReplacesInPlaceAndRemove) {
  GgufWriter w;
  w.set_u32("a", 1);
  w.set_u32("b", 2);
  w.set_string("a", "one");
  ASSERT_EQ(w.metadata().size(), 2u);
  EXPECT_EQ(w.metadata()[0].first, "a");
  EXPECT_EQ(w.metadata()[0].second.as_string(), "one");
  EXPECT_TRUE(w.remove("a"));
  EXPECT_FALSE(w.remove("a"));
  EXPECT_EQ(w.find("a"), nullptr);
  EXPECT_EQ(w.find("b")->as_u32(), 2u);

  const auto path = temp_dir("gguf-empty") / "no-tensors.gguf";
  w.write(path);
  const auto f = GgufFile::open(path);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.get_u32("b", 0), 2u);
}

TEST(GgufRoundTrip, WriterRefusesInvalidInput) {
  const auto invalid = [](auto&& fn) {
    try {
      fn();
      return false;
    } catch (const Error& e) {
      return e.kind() == ErrorKind::InvalidArgument;
    }
  };
  GgufWriter w;
  std::vector<uint8_t> f32x8(32);
  EXPECT_TRUE(invalid([&] { w.set_u32("", 1); }));
  EXPECT_TRUE(invalid([&] { w.set_u32("bad\xff", 1); }));
  EXPECT_TRUE(invalid([&] { w.set_u64("general.alignment", 32); }));
  EXPECT_TRUE(invalid([&] { w.set_u32("general.alignment", 48); }));
  EXPECT_TRUE(invalid([&] { w.set_u32("general.alignment", 0); }));
  EXPECT_TRUE(invalid([&] { w.add_tensor("", {8}, TensorType::F32, f32x8); }));
  EXPECT_TRUE(invalid([&] { w.add_tensor(std::string(64, 'n'), {8}, TensorType::F32, f32x8); }));
  EXPECT_TRUE(invalid([&] { w.add_tensor("w", {}, TensorType::F32, {}); }));
  EXPECT_TRUE(invalid([&] { w.add_tensor("w", {1, 1, 1, 1, 8}, TensorType::F32, f32x8); }));
  EXPECT_TRUE(invalid([&] { w.add_tensor("w", {8, 0}, TensorType::F32, {}); }));
  EXPECT_TRUE(invalid([&] { w.add_tensor("w", {-8}, TensorType::F32, f32x8); }));
  EXPECT_TRUE(invalid([&] { w.add_tensor("w", {16}, TensorType::Q4_0, std::vector<uint8_t>(9)); }));
  EXPECT_TRUE(invalid([&] { w.add_tensor("w", {int64_t{1} << 62, 8}, TensorType::F32, {}); }));
  EXPECT_TRUE(invalid([&] { w.add_tensor("w", {4}, TensorType::F32, f32x8); }));  // wrong size
  EXPECT_TRUE(invalid([&] { Value::array_of_arrays({Value::u8(1)}); }));
  w.add_tensor("w", {8}, TensorType::F32, f32x8);
  EXPECT_TRUE(invalid([&] { w.add_tensor("w", {8}, TensorType::F32, f32x8); }));  // duplicate
  EXPECT_EQ(w.tensor_count(), 1u);

  // A stream that writes too little or too much fails the write and leaves no file behind.
  const auto dir = temp_dir("gguf-badstream");
  for (size_t n : {size_t{31}, size_t{33}}) {
    GgufWriter s;
    s.add_tensor_stream("w", {8}, TensorType::F32, [n](const GgufWriter::ByteSink& sink) {
      std::vector<uint8_t> bytes(n);
      sink(bytes);
    });
    EXPECT_TRUE(invalid([&] { s.write(dir / "out.gguf"); })) << n;
    EXPECT_TRUE(std::filesystem::is_empty(dir)) << n;
  }
}

TEST(GgufRoundTrip, WriteIntoMissingFolderIsAnIoError) {
  GgufWriter w;
  w.set_u32("a", 1);
  try {
    w.write(temp_dir("gguf-nodir") / "missing" / "out.gguf");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
  }
}

// Every strict prefix of a file that ends with tensor data is refused with a ModelFileError.
TEST(GgufRoundTrip, EveryTruncationIsRefused) {
  GgufWriter w;
  set_all_value_types(w);
  w.add_tensor("a", {8}, TensorType::F32, random_bytes(32, 3));
  w.add_tensor("b", {32, 2}, TensorType::Q4_0, random_bytes(36, 4));
  w.add_tensor("c", {4, 2}, TensorType::F32, random_bytes(32, 5));  // ends the file without padding
  const auto path = temp_dir("gguf-trunc") / "t.gguf";
  w.write(path);
  const auto bytes = read_all(path);
  ASSERT_NO_THROW(GgufFile::parse(bytes, "full"));
  for (size_t n = 0; n < bytes.size(); ++n) {
    try {
      GgufFile::parse(std::span<const uint8_t>(bytes.data(), n), "prefix");
      ADD_FAILURE() << "prefix of " << n << " bytes was accepted";
    } catch (const ModelFileError& e) {
      EXPECT_EQ(e.path(), "prefix");
      EXPECT_LE(e.offset(), n);
    }
  }
}

}  // namespace
}  // namespace strata::gguf
