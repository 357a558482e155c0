// Loads tokenizer and model-family plugins (shared libraries speaking sdk/include/strata/plugin.h)
// and finds the one that handles a given model.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "strata/plugin.h"

namespace strata {

// One loaded plugin: its dlopen handle (closed on destruction) and its descriptor.
class LoadedPlugin {
 public:
  // Opens `path` and calls its entry point. Throws Error(Plugin) naming the file when it is not
  // a plugin, exports no entry point, or was built for another ABI version.
  static std::unique_ptr<LoadedPlugin> open(const std::filesystem::path& path);
  ~LoadedPlugin();
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  const strata_plugin_descriptor& descriptor() const { return *descriptor_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  LoadedPlugin(void* handle, const strata_plugin_descriptor* d, std::filesystem::path path)
      : handle_(handle), descriptor_(d), path_(std::move(path)) {}
  [[maybe_unused]] void* handle_;  // unused when plugins stay mapped (sanitizer builds)
  const strata_plugin_descriptor* descriptor_;
  std::filesystem::path path_;
};

class PluginRegistry {
 public:
  // Directories searched by load_default(), in order: $STRATA_PLUGIN_DIR (':'-separated), the
  // build tree's plugin folder, then ../lib/strata/plugins next to the running executable.
  static std::vector<std::filesystem::path> default_directories();

  // Loads every "*.so" plugin in the default directories (the first plugin of a given name
  // wins). Throws Error(Plugin) when a file there is not a valid plugin.
  static PluginRegistry load_default();
  // Loads every plugin in `dirs` that exist.
  static PluginRegistry load_from(const std::vector<std::filesystem::path>& dirs);

  // The tokenizer plugin whose supports() accepts the model, or nullptr.
  const strata_tokenizer_api* find_tokenizer(const strata_metadata* meta) const;
  // The family plugin that lists `architecture`, or nullptr.
  const strata_family_api* find_family(const std::string& architecture) const;

  const std::vector<std::unique_ptr<LoadedPlugin>>& plugins() const { return plugins_; }
  // "family-llama (llama, mistral), tokenizer-spm, ..." for error messages and `strata inspect`.
  std::string describe() const;

 private:
  void add(std::unique_ptr<LoadedPlugin> plugin);
  std::vector<std::unique_ptr<LoadedPlugin>> plugins_;
};

}  // namespace strata
