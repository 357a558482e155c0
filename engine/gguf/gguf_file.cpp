#include "engine/gguf/gguf_file.h"

#include <algorithm>

#include "engine/core/error.h"
#include "engine/gguf/gguf_parser.h"
#include "engine/gguf/gguf_text.h"

namespace strata::gguf {

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;  // validated by the parser not to overflow
  return n;
}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  MappedFile mapping = MappedFile::open(path);
  GgufFile f = GgufParser(mapping.bytes(), path.string()).run();
  f.mapping_ = std::move(mapping);  // moving a mapping keeps its address: data pointers stay valid
  return f;
}

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, std::string name) {
  return GgufParser(bytes, std::move(name)).run();
}

const Value* GgufFile::find(std::string_view key) const {
  auto it = std::lower_bound(key_order_.begin(), key_order_.end(), key,
                             [&](size_t i, std::string_view k) { return metadata_[i].first < k; });
  if (it == key_order_.end() || metadata_[*it].first != key) return nullptr;
  return &metadata_[*it].second;
}

const Value& GgufFile::require(std::string_view key) const {
  if (const Value* v = find(key)) return *v;
  throw ModelFileError(path_, "metadata " + detail::quote_name(key), ModelFileError::kNoOffset, "missing required key");
}

std::string GgufFile::get_string(std::string_view key, std::string_view def) const {
  const Value* v = find(key);
  return v ? v->as_string() : std::string(def);
}

uint32_t GgufFile::get_u32(std::string_view key, uint32_t def) const {
  const Value* v = find(key);
  return v ? v->as_u32() : def;
}

int32_t GgufFile::get_i32(std::string_view key, int32_t def) const {
  const Value* v = find(key);
  return v ? v->as_i32() : def;
}

uint64_t GgufFile::get_u64(std::string_view key, uint64_t def) const {
  const Value* v = find(key);
  return v ? v->as_u64() : def;
}

int64_t GgufFile::get_i64(std::string_view key, int64_t def) const {
  const Value* v = find(key);
  return v ? v->as_i64() : def;
}

float GgufFile::get_f32(std::string_view key, float def) const {
  const Value* v = find(key);
  return v ? v->as_f32() : def;
}

double GgufFile::get_f64(std::string_view key, double def) const {
  const Value* v = find(key);
  return v ? v->as_f64() : def;
}

bool GgufFile::get_bool(std::string_view key, bool def) const {
  const Value* v = find(key);
  return v ? v->as_bool() : def;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = std::lower_bound(tensor_order_.begin(), tensor_order_.end(), name,
                             [&](size_t i, std::string_view n) { return tensors_[i].name < n; });
  if (it == tensor_order_.end() || tensors_[*it].name != name) return nullptr;
  return &tensors_[*it];
}

const TensorInfo& GgufFile::require_tensor(std::string_view name) const {
  if (const TensorInfo* t = find_tensor(name)) return *t;
  throw ModelFileError(path_, "tensor " + detail::quote_name(name), ModelFileError::kNoOffset, "missing tensor");
}

}  // namespace strata::gguf
