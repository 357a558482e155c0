// A parsed GGUF file (versions 2 and 3, little-endian): its metadata, its tensor table, and its
// tensor data through a read-only memory mapping that lives as long as the GgufFile.
//
// Everything is validated when the file is opened (see docs/gguf.md); an unusable file throws
// strata::ModelFileError naming the file, the field and the byte offset, e.g.
//   "model.gguf: tensor 'blk.0.attn_q.weight' dims: row length 100 is not a multiple of the
//    block size 32 of q4_0 (at byte 812)".
// After a successful open, every TensorInfo's data lies inside the file, tensors do not overlap,
// offsets are multiples of the alignment, and byte sizes match dims and type.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/gguf/gguf_value.h"
#include "engine/gguf/mapped_file.h"
#include "kernels/cpu/tensor_type.h"

namespace strata::gguf {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDims = 4;
inline constexpr uint32_t kMaxArrayDepth = 8;  // arrays of arrays nest at most this deep

struct TensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // ggml order: dims[0] is the contiguous (row) dimension; 1..4 dims, each > 0
  TensorType type = TensorType::F32;
  uint64_t offset = 0;             // absolute byte offset of the data in the file
  uint64_t bytes = 0;              // size of the data
  const uint8_t* data = nullptr;   // into the mapping (or the buffer given to parse())

  int64_t n_elements() const;
  int64_t n_rows() const { return n_elements() / dims[0]; }
  std::span<const uint8_t> span() const { return {data, bytes}; }
};

class GgufFile {
 public:
  // Maps and parses a file. Throws ModelFileError for a malformed or unsupported file and
  // Error(ErrorKind::Io) when it cannot be opened or mapped.
  static GgufFile open(const std::filesystem::path& path);
  // Parses a buffer (no mapping; `name` stands for the path in messages). The TensorInfo data
  // pointers point into `bytes`, which must outlive the result.
  static GgufFile parse(std::span<const uint8_t> bytes, std::string name);

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  // Absolute offset of the tensor data section (end of the tensor table, rounded up to the alignment).
  uint64_t data_offset() const { return data_offset_; }

  // ---- metadata ----
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }  // in file order
  const Value* find(std::string_view key) const;  // nullptr when absent
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // The value of a key that must be present; throws ModelFileError("missing required key") otherwise.
  const Value& require(std::string_view key) const;

  // Typed getters: `def` when the key is absent; ModelFileError when present with a type that
  // does not convert losslessly (see Value).
  std::string get_string(std::string_view key, std::string_view def = {}) const;
  uint32_t get_u32(std::string_view key, uint32_t def) const;
  int32_t get_i32(std::string_view key, int32_t def) const;
  uint64_t get_u64(std::string_view key, uint64_t def) const;
  int64_t get_i64(std::string_view key, int64_t def) const;
  float get_f32(std::string_view key, float def) const;
  double get_f64(std::string_view key, double def) const;
  bool get_bool(std::string_view key, bool def) const;

  // ---- tensors ----
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file order
  const TensorInfo* find_tensor(std::string_view name) const;        // nullptr when absent
  // A tensor that must be present; throws ModelFileError("missing tensor") otherwise.
  const TensorInfo& require_tensor(std::string_view name) const;

 private:
  friend class GgufParser;
  GgufFile() = default;

  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t file_size_ = 0;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<size_t> key_order_;     // indices into metadata_, sorted by key
  std::vector<TensorInfo> tensors_;
  std::vector<size_t> tensor_order_;  // indices into tensors_, sorted by name
  MappedFile mapping_;                // empty for parse()
};

}  // namespace strata::gguf
