// A byte-level GGUF builder for tests: writes fields one by one, little-endian, and tells where
// each one starts, so a test can build a file with one precise defect and know the byte offset
// the reader must blame.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace strata::test {

class GgufBytes {
 public:
  // Offset of the next byte to be written.
  uint64_t pos() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t> take() { return std::move(bytes_); }

  GgufBytes& raw(std::string_view s) {
    const size_t at = bytes_.size();
    bytes_.resize(at + s.size());
    if (!s.empty()) std::memcpy(bytes_.data() + at, s.data(), s.size());
    return *this;
  }
  GgufBytes& u8(uint8_t v) { return pod(v); }
  GgufBytes& u16(uint16_t v) { return pod(v); }
  GgufBytes& u32(uint32_t v) { return pod(v); }
  GgufBytes& u64(uint64_t v) { return pod(v); }
  GgufBytes& i64(int64_t v) { return pod(v); }
  GgufBytes& f32(float v) { return pod(v); }
  GgufBytes& str(std::string_view s) {
    u64(s.size());
    return raw(s);
  }
  GgufBytes& zeros(size_t n) {
    bytes_.insert(bytes_.end(), n, 0);
    return *this;
  }
  GgufBytes& pad_to(uint64_t alignment) { return zeros((alignment - pos() % alignment) % alignment); }

  GgufBytes& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    return raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
  }
  // A key and a value type id (the caller writes the value).
  GgufBytes& key(std::string_view k, uint32_t type) { return str(k).u32(type); }
  GgufBytes& kv_u32(std::string_view k, uint32_t v) { return key(k, 4).u32(v); }
  GgufBytes& kv_string(std::string_view k, std::string_view v) { return key(k, 8).str(v); }
  // A tensor info: name, n_dims, dims, type id, offset.
  GgufBytes& tensor(std::string_view name, std::initializer_list<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }

  void put_u32_at(uint64_t at, uint32_t v) { std::memcpy(bytes_.data() + at, &v, sizeof v); }
  void put_u64_at(uint64_t at, uint64_t v) { std::memcpy(bytes_.data() + at, &v, sizeof v); }
  void truncate(uint64_t size) { bytes_.resize(size); }

 private:
  template <typename T>
  GgufBytes& pod(T v) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof v);
    std::memcpy(bytes_.data() + at, &v, sizeof v);
    return *this;
  }

  std::vector<uint8_t> bytes_;
};

}  // namespace strata::test
