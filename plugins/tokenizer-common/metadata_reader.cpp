#include "tokenizer-common/metadata_reader.h"

#include <cstddef>

#include "tokenizer-common/plugin_error.h"

namespace strata::tokenizer_plugin {
namespace {

std::string quoted(const char* key) { return std::string("'") + key + "'"; }

bool is_numeric(int t) {
  return t == STRATA_META_U8 || t == STRATA_META_I8 || t == STRATA_META_U16 || t == STRATA_META_I16 ||
         t == STRATA_META_U32 || t == STRATA_META_I32 || t == STRATA_META_U64 || t == STRATA_META_I64 ||
         t == STRATA_META_F32 || t == STRATA_META_F64;
}

}  // namespace

MetadataReader::MetadataReader(const strata_metadata* meta) : meta_(meta) {
  // Fields past struct_size are absent (the table only grows at its end).
  constexpr size_t kNeeded = offsetof(strata_metadata, copy_array_i32) + sizeof(meta->copy_array_i32);
  if (!meta || meta->struct_size < kNeeded || !meta->type_of || !meta->get_i64 || !meta->get_bool ||
      !meta->get_string || !meta->get_array_string || !meta->copy_array_f32 || !meta->copy_array_i32) {
    fail(STRATA_PLUGIN_EINVAL, "the host's metadata table is missing or too old");
  }
}

bool MetadataReader::has(const char* key) const { return meta_->type_of(meta_->ctx, key, nullptr, nullptr) >= 0; }

std::optional<std::string_view> MetadataReader::string(const char* key) const {
  if (!has(key)) return std::nullopt;
  const char* s = nullptr;
  size_t len = 0;
  if (meta_->get_string(meta_->ctx, key, &s, &len) != STRATA_PLUGIN_OK || (!s && len))
    fail(STRATA_PLUGIN_EMODEL, quoted(key) + " is not a string");
  return std::string_view(s ? s : "", len);
}

std::optional<int64_t> MetadataReader::integer(const char* key) const {
  if (!has(key)) return std::nullopt;
  int64_t v = 0;
  if (meta_->get_i64(meta_->ctx, key, &v) != STRATA_PLUGIN_OK) fail(STRATA_PLUGIN_EMODEL, quoted(key) + " is not an integer");
  return v;
}

std::optional<bool> MetadataReader::boolean(const char* key) const {
  if (!has(key)) return std::nullopt;
  int v = 0;
  if (meta_->get_bool(meta_->ctx, key, &v) != STRATA_PLUGIN_OK) fail(STRATA_PLUGIN_EMODEL, quoted(key) + " is not a bool");
  return v != 0;
}

std::optional<uint64_t> MetadataReader::array_size(const char* key, int elem_type) const {
  int elem = -1;
  uint64_t count = 0;
  const int type = meta_->type_of(meta_->ctx, key, &elem, &count);
  if (type < 0) return std::nullopt;
  const bool ok = type == STRATA_META_ARRAY && (elem_type == STRATA_META_STRING ? elem == STRATA_META_STRING : is_numeric(elem));
  if (!ok) {
    fail(STRATA_PLUGIN_EMODEL,
         quoted(key) + (elem_type == STRATA_META_STRING ? " is not an array of strings" : " is not a numeric array"));
  }
  return count;
}

std::string_view MetadataReader::array_string(const char* key, uint64_t index) const {
  const char* s = nullptr;
  size_t len = 0;
  if (meta_->get_array_string(meta_->ctx, key, index, &s, &len) != STRATA_PLUGIN_OK || (!s && len))
    fail(STRATA_PLUGIN_EMODEL, quoted(key) + ": cannot read element " + std::to_string(index));
  return std::string_view(s ? s : "", len);
}

std::vector<float> MetadataReader::f32_array(const char* key, uint64_t count) const {
  std::vector<float> out(count);
  if (meta_->copy_array_f32(meta_->ctx, key, out.data(), count) != STRATA_PLUGIN_OK)
    fail(STRATA_PLUGIN_EMODEL, quoted(key) + ": cannot read " + std::to_string(count) + " numbers");
  return out;
}

std::vector<int32_t> MetadataReader::i32_array(const char* key, uint64_t count) const {
  std::vector<int32_t> out(count);
  if (meta_->copy_array_i32(meta_->ctx, key, out.data(), count) != STRATA_PLUGIN_OK)
    fail(STRATA_PLUGIN_EMODEL, quoted(key) + ": cannot read " + std::to_string(count) + " 32-bit integers");
  return out;
}

void require_model(const MetadataReader& meta, std::string_view model) {
  const auto found = meta.string("tokenizer.ggml.model");
  if (!found) fail(STRATA_PLUGIN_EMODEL, "'tokenizer.ggml.model' is missing");
  if (*found != model) {
    fail(STRATA_PLUGIN_EUNSUPPORTED,
         "tokenizer.ggml.model is '" + std::string(*found) + "', this plugin handles '" + std::string(model) + "'");
  }
}

}  // namespace strata::tokenizer_plugin
