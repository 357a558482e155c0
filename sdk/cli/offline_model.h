// Loading a model in-process for the offline subcommands.
#pragma once

#include <memory>
#include <string>

#include "engine/core/error.h"
#include "engine/model/model.h"
#include "engine/plugin/plugin_registry.h"

namespace strata::cli {

struct OfflineModel {
  PluginRegistry plugins;  // must outlive the model (the tokenizer lives in a plugin)
  std::unique_ptr<Model> model;
};

// Runs `open`, reporting a model file that cannot be opened or read at all (missing, a
// directory, no permission) as an unusable model file (exit code 3), like a corrupt one.
template <typename F>
auto open_model_file(F&& open) {
  try {
    return open();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Io) throw Error(ErrorKind::ModelFile, e.what());
    throw;
  }
}

inline OfflineModel load_offline_model(const std::string& path, const WeightOptions& weights = {}) {
  OfflineModel m{PluginRegistry::load_default(), nullptr};
  m.model = open_model_file([&] { return Model::load(path, m.plugins, weights); });
  return m;
}

// Threads to use when the user gave none (0): every core.
int resolve_threads(int requested);

}  // namespace strata::cli
