// The configured models: loaded on first use (on a loader thread, so that the I/O thread keeps
// serving), unloaded after an idle time or when the memory budget needs room, and reconciled
// with a new configuration on SIGHUP.
//
// Threading: every member function runs on the daemon's I/O thread. Loading happens on a thread
// per load, whose result comes back through `post`. Leases may be released from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/models/loaded_model.h"
#include "engine/model/weight_store.h"

namespace strata {
class PluginRegistry;
}

namespace strata::daemon {

class Logger;

struct ModelEntry;

// A request's hold on a loaded model: while one lives, the model stays loaded.
class ModelLease {
 public:
  ModelLease(std::shared_ptr<ModelEntry> entry, std::shared_ptr<LoadedModel> model);
  ~ModelLease();
  ModelLease(const ModelLease&) = delete;
  ModelLease& operator=(const ModelLease&) = delete;
  const LoadedModel& model() const { return *model_; }

 private:
  std::shared_ptr<ModelEntry> entry_;
  std::shared_ptr<LoadedModel> model_;
};

struct AcquireResult {
  enum class Failure { None, UnknownModel, LoadFailed, OverBudget, ShuttingDown };
  std::shared_ptr<ModelLease> lease;  // set when failure == None
  Failure failure = Failure::None;
  std::string message;
};

struct ModelStatus {
  std::string name, path;
  bool loaded = false, loading = false;
  int64_t context = 0;
  std::string kv_type;         // the configured KV storage
  LoadedModel::Memory memory;  // zero when not loaded
  WeightStoreStats weights;    // weight tiers (docs/tiered-weights.md); zero when not loaded
  int64_t queued = 0, running = 0, leases = 0;
  std::string last_error;  // of the last failed load
};

class ModelRegistry {
 public:
  using Post = std::function<void(std::function<void()>)>;  // runs a function on the I/O thread
  using OnUnload = std::function<void(const std::string& model)>;

  ModelRegistry(Logger& log, Post post, OnUnload on_unload);
  ~ModelRegistry();

  // Takes the [models] table, plugin directories, limits and the memory budget. Models no
  // longer configured, or configured differently, are unloaded once idle; new ones are added.
  void configure(const Config& config);

  // Calls `done` (on the I/O thread, possibly before returning) with a lease on the loaded
  // model, starting the load when needed.
  void acquire(const std::string& name, std::function<void(AcquireResult)> done);

  // Configured model names, sorted.
  std::vector<std::string> names() const;
  std::vector<ModelStatus> status() const;
  // Bytes held by loaded models (weights, KV pages of requests and sessions, scratch) and
  // reserved for models being loaded.
  uint64_t memory_in_use() const;
  uint64_t memory_budget() const { return budget_; }
  // Frees the KV pages the loaded models' pools keep for reuse (they count in memory_in_use()).
  // Returns the bytes freed.
  uint64_t release_free_kv();

  // Unloads models idle for the configured time, and removed or reconfigured ones once idle.
  void unload_idle(std::chrono::steady_clock::time_point now);
  // Stops: refuses new acquisitions, waits for loads in progress, unloads every model (which
  // cancels what their schedulers still run).
  void shutdown();

 private:
  void start_load(const std::shared_ptr<ModelEntry>& e);
  void finish_load(const std::shared_ptr<ModelEntry>& e, std::shared_ptr<LoadedModel> m, std::string error);
  void unload(const std::shared_ptr<ModelEntry>& e, const char* why);
  bool make_room(uint64_t need, const ModelEntry* except);
  std::shared_ptr<const PluginRegistry> plugins();

  Logger& log_;
  Post post_;
  OnUnload on_unload_;
  std::map<std::string, std::shared_ptr<ModelEntry>> entries_;
  std::vector<std::string> plugin_dirs_;
  int64_t idle_unload_seconds_ = 300;
  int64_t max_sequences_ = 8, max_queue_ = 64;
  uint64_t budget_ = 0;
  bool shutting_down_ = false;
  std::mutex plugins_mu_;  // plugins_ is created on a loader thread
  std::shared_ptr<const PluginRegistry> plugins_;
};

}  // namespace strata::daemon
