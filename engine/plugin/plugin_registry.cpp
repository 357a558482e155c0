#include "engine/plugin/plugin_registry.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "engine/core/error.h"

namespace strata {
namespace {

std::filesystem::path executable_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

}  // namespace

std::unique_ptr<LoadedPlugin> LoadedPlugin::open(const std::filesystem::path& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw Error(ErrorKind::Plugin, "plugin " + path.string() + ": cannot load: " + (why ? why : "unknown error"));
  }
  auto entry = reinterpret_cast<strata_plugin_entry_fn>(dlsym(handle, STRATA_PLUGIN_ENTRY_SYMBOL));
  if (!entry) {
    dlclose(handle);
    throw Error(ErrorKind::Plugin, "plugin " + path.string() + ": no " STRATA_PLUGIN_ENTRY_SYMBOL " symbol");
  }
  const strata_plugin_descriptor* d = entry(STRATA_PLUGIN_ABI_VERSION);
  std::string problem;
  if (!d) {
    problem = "refused host ABI version " + std::to_string(STRATA_PLUGIN_ABI_VERSION);
  } else if (d->abi_version != STRATA_PLUGIN_ABI_VERSION) {
    problem = "built for plugin ABI version " + std::to_string(d->abi_version) + ", this host speaks version " +
              std::to_string(STRATA_PLUGIN_ABI_VERSION);
  } else if (d->struct_size < offsetof(strata_plugin_descriptor, family) + sizeof(void*) || !d->name) {
    problem = "descriptor too small or unnamed";
  } else if (d->kind == STRATA_PLUGIN_TOKENIZER && (!d->tokenizer || !d->tokenizer->create || !d->tokenizer->encode)) {
    problem = "tokenizer plugin without a complete tokenizer table";
  } else if (d->kind == STRATA_PLUGIN_FAMILY && (!d->family || !d->family->describe || !d->family->architectures)) {
    problem = "family plugin without a complete family table";
  } else if (d->kind != STRATA_PLUGIN_TOKENIZER && d->kind != STRATA_PLUGIN_FAMILY) {
    problem = "unknown plugin kind " + std::to_string(d->kind);
  }
  if (!problem.empty()) {
    dlclose(handle);
    throw Error(ErrorKind::Plugin, "plugin " + path.string() + ": " + problem);
  }
  return std::unique_ptr<LoadedPlugin>(new LoadedPlugin(handle, d, path));
}

LoadedPlugin::~LoadedPlugin() {
  // Sanitizer builds keep plugins mapped so that leak reports can still symbolize them.
#if defined(__SANITIZE_ADDRESS__)
#define STRATA_KEEP_PLUGINS_MAPPED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRATA_KEEP_PLUGINS_MAPPED 1
#endif
#endif
#ifndef STRATA_KEEP_PLUGINS_MAPPED
  if (handle_) dlclose(handle_);
#endif
}

std::vector<std::filesystem::path> PluginRegistry::default_directories() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("STRATA_PLUGIN_DIR"); env && *env) {
    std::string s(env);
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.emplace_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
#ifdef STRATA_BUILD_PLUGIN_DIR
  dirs.emplace_back(STRATA_BUILD_PLUGIN_DIR);
#endif
  auto exe = executable_dir();
  if (!exe.empty()) dirs.push_back(exe.parent_path() / "lib" / "strata" / "plugins");
  return dirs;
}

PluginRegistry PluginRegistry::load_default() { return load_from(default_directories()); }

PluginRegistry PluginRegistry::load_from(const std::vector<std::filesystem::path>& dirs) {
  PluginRegistry reg;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ".so") files.push_back(e.path());
    std::sort(files.begin(), files.end());  // deterministic order
    for (const auto& f : files) reg.add(LoadedPlugin::open(f));
  }
  return reg;
}

void PluginRegistry::add(std::unique_ptr<LoadedPlugin> plugin) {
  for (const auto& p : plugins_)
    if (std::strcmp(p->descriptor().name, plugin->descriptor().name) == 0) return;  // first one wins
  plugins_.push_back(std::move(plugin));
}

const strata_tokenizer_api* PluginRegistry::find_tokenizer(const strata_metadata* meta) const {
  for (const auto& p : plugins_) {
    const auto& d = p->descriptor();
    if (d.kind == STRATA_PLUGIN_TOKENIZER && d.tokenizer->supports && d.tokenizer->supports(meta) == 1)
      return d.tokenizer;
  }
  return nullptr;
}

const strata_family_api* PluginRegistry::find_family(const std::string& architecture) const {
  for (const auto& p : plugins_) {
    const auto& d = p->descriptor();
    if (d.kind != STRATA_PLUGIN_FAMILY) continue;
    for (auto a = d.family->architectures; *a; ++a)
      if (architecture == *a) return d.family;
  }
  return nullptr;
}

std::string PluginRegistry::describe() const {
  std::string out;
  for (const auto& p : plugins_) {
    const auto& d = p->descriptor();
    if (!out.empty()) out += ", ";
    out += d.name;
    if (d.kind == STRATA_PLUGIN_FAMILY) {
      out += " (";
      for (auto a = d.family->architectures; *a; ++a) out += std::string(a == d.family->architectures ? "" : ", ") + *a;
      out += ")";
    }
  }
  return out.empty() ? "no plugins" : out;
}

}  // namespace strata
