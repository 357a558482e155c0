// Typed, validating access to the host's strata_metadata table. Every accessor that finds a key
// of the wrong type throws PluginError(EMODEL) with a message naming the key, so that hostile or
// broken model files produce a clear error instead of undefined behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/plugin.h"

namespace strata::tokenizer_plugin {

class MetadataReader {
 public:
  // Throws PluginError(EINVAL) when `meta` is NULL or lacks a function the plugins need.
  explicit MetadataReader(const strata_metadata* meta);

  bool has(const char* key) const;
  std::optional<std::string_view> string(const char* key) const;
  std::optional<int64_t> integer(const char* key) const;
  std::optional<bool> boolean(const char* key) const;

  // Element count of an array whose elements have type `elem_type` (STRATA_META_STRING, or
  // STRATA_META_F32 / STRATA_META_I32 meaning "any numeric type"); nullopt when absent.
  std::optional<uint64_t> array_size(const char* key, int elem_type) const;
  // Element `index` of a string array (valid while the model is loaded).
  std::string_view array_string(const char* key, uint64_t index) const;
  std::vector<float> f32_array(const char* key, uint64_t count) const;
  std::vector<int32_t> i32_array(const char* key, uint64_t count) const;

 private:
  const strata_metadata* meta_;
};

// Throws PluginError(EUNSUPPORTED) unless tokenizer.ggml.model is `model` (a host may call a
// plugin's create() without asking supports() first).
void require_model(const MetadataReader& meta, std::string_view model);

}  // namespace strata::tokenizer_plugin
