// Internal to engine/gguf: the validating GGUF parser behind GgufFile::open and GgufFile::parse.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_value_detail.h"

namespace strata::gguf {

class GgufParser {
 public:
  // `name` stands for the file in error messages.
  GgufParser(std::span<const uint8_t> bytes, std::string name);

  // Parses and validates everything; the result has no mapping (the caller attaches one).
  GgufFile run();

 private:
  using Origin = detail::ValueBuilder::Origin;

  [[noreturn]] void fail(uint64_t at, const std::string& field, const std::string& what) const;
  uint64_t left() const { return size_ - pos_; }
  void need(uint64_t n, const std::string& field) const;
  template <typename T>
  T read(const std::string& field);
  // Reads a length-prefixed string; the view points into the input.
  std::string_view read_string(const std::string& field, const char* what_length);
  // Fails unless `count` items of at least `min_bytes` each can fit in what is left.
  void check_count(uint64_t count, uint64_t min_bytes, uint64_t at, const std::string& field, const char* noun) const;

  void read_header(GgufFile& f);
  void read_metadata(GgufFile& f);
  Value read_value(ValueType type, uint32_t depth, const std::string& field, const Origin& origin);
  Value read_array(uint32_t depth, const std::string& field, const Origin& origin);
  void check_keys(GgufFile& f);
  void read_alignment(GgufFile& f);
  void read_tensor_infos(GgufFile& f);
  void check_tensors(GgufFile& f);

  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string name_;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  uint64_t nested_values_ = 0;  // Values held by arrays of arrays, against kMaxNestedValues
  // Where each metadata entry's key and value (after the type field) start.
  std::vector<uint64_t> key_offsets_, value_offsets_;
  // Where each tensor info's name and offset fields start.
  std::vector<uint64_t> name_offsets_, offset_offsets_;
};

}  // namespace strata::gguf
