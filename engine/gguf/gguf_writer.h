// Writes GGUF v3 files (little-endian) that llama.cpp loads: the metadata in the order it was
// first set, the tensor table, then each tensor's data at the next multiple of the alignment
// (32, or `general.alignment` when set), zero-padded, in the order the tensors were added.
//
// The file is written to a temporary name in the destination folder, flushed to disk and renamed
// over the destination at the end, so readers never see a half-written file. Tensor data can come
// from memory or from a callback that streams it, so multi-GB models need not be held in memory.
//
// Invalid use (an empty or duplicate tensor name, dims that do not fit the type, data of the wrong
// size, a non-u32 or non-power-of-two general.alignment, ...) throws Error(InvalidArgument); an
// operating-system failure throws Error(Io).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/gguf/gguf_value.h"
#include "kernels/cpu/tensor_type.h"

namespace strata::gguf {

// Longest tensor name llama.cpp accepts (GGML_MAX_NAME is 64 including the terminating NUL).
inline constexpr size_t kMaxTensorNameBytes = 63;

class GgufWriter {
 public:
  // Receives a tensor's bytes in pieces of any size.
  using ByteSink = std::function<void(std::span<const uint8_t>)>;
  // Writes exactly the tensor's byte size into the sink, in order.
  using DataSource = std::function<void(const ByteSink& sink)>;

  // ---- metadata: setting an existing key replaces its value in place ----
  void set(std::string_view key, Value value);  // any value, e.g. copied from another GgufFile
  void set_u8(std::string_view key, uint8_t v) { set(key, Value::u8(v)); }
  void set_i8(std::string_view key, int8_t v) { set(key, Value::i8(v)); }
  void set_u16(std::string_view key, uint16_t v) { set(key, Value::u16(v)); }
  void set_i16(std::string_view key, int16_t v) { set(key, Value::i16(v)); }
  void set_u32(std::string_view key, uint32_t v) { set(key, Value::u32(v)); }
  void set_i32(std::string_view key, int32_t v) { set(key, Value::i32(v)); }
  void set_u64(std::string_view key, uint64_t v) { set(key, Value::u64(v)); }
  void set_i64(std::string_view key, int64_t v) { set(key, Value::i64(v)); }
  void set_f32(std::string_view key, float v) { set(key, Value::f32(v)); }
  void set_f64(std::string_view key, double v) { set(key, Value::f64(v)); }
  void set_bool(std::string_view key, bool v) { set(key, Value::boolean(v)); }
  void set_string(std::string_view key, std::string v) { set(key, Value::string(std::move(v))); }
  void set_string_array(std::string_view key, std::span<const std::string> v) { set(key, Value::string_array(v)); }
  void set_string_array(std::string_view key, std::span<const std::string_view> v) { set(key, Value::string_array(v)); }
  template <typename T>
  void set_array(std::string_view key, std::span<const T> v) { set(key, Value::array(v)); }
  template <typename T>
  void set_array(std::string_view key, const std::vector<T>& v) { set(key, Value::array(std::span<const T>(v))); }
  bool remove(std::string_view key);  // false when absent
  const Value* find(std::string_view key) const;
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }

  // ---- tensors: dims in ggml order (dims[0] is the row), 1..4 dims, each > 0 ----
  // Data held by the writer.
  void add_tensor(std::string name, std::vector<int64_t> dims, TensorType type, std::vector<uint8_t> data);
  // Data owned by the caller; it must stay valid until write() returns.
  void add_tensor_view(std::string name, std::vector<int64_t> dims, TensorType type, std::span<const uint8_t> data);
  // Data produced by `source` during write().
  void add_tensor_stream(std::string name, std::vector<int64_t> dims, TensorType type, DataSource source);
  size_t tensor_count() const { return tensors_.size(); }

  // 32, or general.alignment when set.
  uint64_t alignment() const;

  // Writes the file; returns its size in bytes. Can be called more than once.
  uint64_t write(const std::filesystem::path& path) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> dims;
    TensorType type;
    uint64_t bytes;
    std::vector<uint8_t> owned;
    std::span<const uint8_t> view;
    DataSource source;  // empty: write `view`
  };
  // Validates a new tensor and returns its byte size.
  uint64_t check_tensor(const std::string& name, const std::vector<int64_t>& dims, TensorType type) const;

  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<Tensor> tensors_;
  std::unordered_set<std::string> tensor_names_;
};

}  // namespace strata::gguf
