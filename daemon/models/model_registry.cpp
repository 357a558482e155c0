#include "daemon/models/model_registry.h"

#include <filesystem>

#include "daemon/log/logger.h"
#include "engine/core/error.h"
#include "engine/model/model.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/scheduler/scheduler.h"

namespace strata::daemon {

using Clock = std::chrono::steady_clock;

struct ModelEntry {
  enum class State { Unloaded, Loading, Loaded };

  std::string name;
  ModelConfig config;
  std::optional<ModelConfig> next_config;  // replaces `config` once the model is unloaded
  bool removed = false;                    // no longer configured: dropped once idle
  State state = State::Unloaded;
  std::shared_ptr<LoadedModel> loaded;
  std::vector<std::function<void(AcquireResult)>> waiters;
  std::thread loader;
  Clock::time_point load_started;
  uint64_t reserved_bytes = 0;  // estimated size while loading
  std::string last_error;
  std::atomic<int64_t> leases{0};
  std::atomic<int64_t> last_used_ns{0};

  void touch() { last_used_ns.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed); }
  Clock::time_point last_used() const {
    return Clock::time_point(Clock::duration(last_used_ns.load(std::memory_order_relaxed)));
  }
};

ModelLease::ModelLease(std::shared_ptr<ModelEntry> entry, std::shared_ptr<LoadedModel> model)
    : entry_(std::move(entry)), model_(std::move(model)) {
  entry_->leases.fetch_add(1, std::memory_order_relaxed);
  entry_->touch();
}

ModelLease::~ModelLease() {
  entry_->touch();
  entry_->leases.fetch_sub(1, std::memory_order_relaxed);
}

namespace {

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1 << 19)) >> 20) + " MiB"; }

uint64_t estimate_bytes(const ModelConfig& c) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(c.path, ec);
  if (ec) return 0;
  // Tiered weights hold at most ram_budget in RAM (the key was validated with the config).
  try {
    return std::min<uint64_t>(size, Budget::parse(c.ram_budget, "ram_budget").resolve(size));
  } catch (const strata::Error&) {
    return static_cast<uint64_t>(size);
  }
}

}  // namespace

ModelRegistry::ModelRegistry(Logger& log, Post post, OnUnload on_unload)
    : log_(log), post_(std::move(post)), on_unload_(std::move(on_unload)) {}

ModelRegistry::~ModelRegistry() { shutdown(); }

void ModelRegistry::configure(const Config& config) {
  if (plugins_ && config.plugin_dirs != plugin_dirs_)
    log_.warn("daemon.plugin_dirs changed: plugins already loaded stay in use until the daemon restarts");
  plugin_dirs_ = config.plugin_dirs;
  idle_unload_seconds_ = config.idle_unload_seconds;
  max_sequences_ = config.max_sequences;
  max_queue_ = config.max_queue;
  budget_ = parse_size(config.budget).value_or(0);

  for (auto& [name, e] : entries_) {
    auto it = config.models.find(name);
    if (it == config.models.end()) {
      if (!e->removed) log_.info("model " + name + " removed from the configuration");
      e->removed = true;
    } else {
      e->removed = false;
      if (it->second == e->config) {
        e->next_config.reset();
      } else if (e->state == ModelEntry::State::Unloaded) {
        e->config = it->second;
      } else {
        e->next_config = it->second;  // applied when the model is next unloaded
        log_.info("model " + name + " reconfigured: reloaded once idle");
      }
    }
  }
  for (const auto& [name, m] : config.models) {
    if (entries_.count(name)) continue;
    auto e = std::make_shared<ModelEntry>();
    e->name = name;
    e->config = m;
    entries_.emplace(name, std::move(e));
    log_.info("model " + name + " configured: " + m.path);
  }
  // Unloaded entries that were removed go now; loaded ones in unload_idle().
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second->removed && it->second->state == ModelEntry::State::Unloaded && it->second->waiters.empty())
      it = entries_.erase(it);
    else
      ++it;
  }
}

std::vector<std::string> ModelRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_)
    if (!e->removed) out.push_back(name);
  return out;
}

std::vector<ModelStatus> ModelRegistry::status() const {
  std::vector<ModelStatus> out;
  for (const auto& [name, e] : entries_) {
    if (e->removed) continue;
    ModelStatus s;
    s.name = name;
    s.path = e->config.path;
    s.loaded = e->state == ModelEntry::State::Loaded;
    s.loading = e->state == ModelEntry::State::Loading;
    s.leases = e->leases.load(std::memory_order_relaxed);
    s.last_error = e->last_error;
    s.kv_type = e->config.kv;
    if (e->loaded) {
      const SchedulerStats st = e->loaded->scheduler().stats();
      s.context = e->loaded->context();
      s.memory = e->loaded->memory();
      s.weights = e->loaded->model().weight_store().stats();
      s.queued = st.queued;
      s.running = st.running;
    } else {
      s.context = e->config.context;
    }
    out.push_back(std::move(s));
  }
  return out;
}

uint64_t ModelRegistry::memory_in_use() const {
  uint64_t total = 0;
  for (const auto& [name, e] : entries_) {
    if (e->loaded)
      total += e->loaded->memory().total();
    else if (e->state == ModelEntry::State::Loading)
      total += e->reserved_bytes;
  }
  return total;
}

uint64_t ModelRegistry::release_free_kv() {
  uint64_t freed = 0;
  for (const auto& [name, e] : entries_)
    if (e->loaded) freed += e->loaded->release_free_kv();
  return freed;
}

void ModelRegistry::acquire(const std::string& name, std::function<void(AcquireResult)> done) {
  AcquireResult r;
  if (shutting_down_) {
    r.failure = AcquireResult::Failure::ShuttingDown;
    r.message = "the daemon is shutting down";
    return done(std::move(r));
  }
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second->removed) {
    r.failure = AcquireResult::Failure::UnknownModel;
    return done(std::move(r));
  }
  const auto& e = it->second;
  switch (e->state) {
    case ModelEntry::State::Loaded: r.lease = std::make_shared<ModelLease>(e, e->loaded); return done(std::move(r));
    case ModelEntry::State::Loading: e->waiters.push_back(std::move(done)); return;
    case ModelEntry::State::Unloaded: {
      const uint64_t need = estimate_bytes(e->config);
      if (!make_room(need, e.get())) {
        r.failure = AcquireResult::Failure::OverBudget;
        r.message = "loading model '" + name + "' (" + mib(need) + ") would pass the memory budget of " + mib(budget_) +
                    " (" + mib(memory_in_use()) + " in use by models that are busy)";
        return done(std::move(r));
      }
      e->reserved_bytes = need;
      e->waiters.push_back(std::move(done));
      start_load(e);
      return;
    }
  }
}

std::shared_ptr<const PluginRegistry> ModelRegistry::plugins() {
  std::lock_guard lock(plugins_mu_);
  if (!plugins_) {
    std::vector<std::filesystem::path> dirs(plugin_dirs_.begin(), plugin_dirs_.end());
    plugins_ = std::make_shared<const PluginRegistry>(dirs.empty() ? PluginRegistry::load_default()
                                                                   : PluginRegistry::load_from(dirs));
  }
  return plugins_;
}

void ModelRegistry::start_load(const std::shared_ptr<ModelEntry>& e) {
  e->state = ModelEntry::State::Loading;
  e->load_started = Clock::now();
  log_.info("loading model " + e->name + " from " + e->config.path + " (" + mib(e->reserved_bytes) + ")");
  SchedulerOptions options;
  options.threads = static_cast<int>(e->config.threads);
  options.max_sequences = static_cast<int>(max_sequences_);
  options.max_queue = max_queue_;
  const ModelConfig config = e->config;
  e->loader = std::thread([this, e, config, options] {
    std::shared_ptr<LoadedModel> m;
    std::string error;
    try {
      m = LoadedModel::load(e->name, config, plugins(), options);
    } catch (const std::exception& x) {
      error = x.what();
    }
    post_([this, e, m = std::move(m), error = std::move(error)]() mutable { finish_load(e, std::move(m), error); });
  });
}

void ModelRegistry::finish_load(const std::shared_ptr<ModelEntry>& e, std::shared_ptr<LoadedModel> m,
                                std::string error) {
  if (e->loader.joinable()) e->loader.join();
  e->reserved_bytes = 0;
  auto waiters = std::move(e->waiters);
  e->waiters.clear();
  const double secs = std::chrono::duration<double>(Clock::now() - e->load_started).count();
  AcquireResult failed;
  if (shutting_down_) {
    m.reset();
    e->state = ModelEntry::State::Unloaded;
    failed.failure = AcquireResult::Failure::ShuttingDown;
    failed.message = "the daemon is shutting down";
  } else if (!m) {
    e->state = ModelEntry::State::Unloaded;
    e->last_error = error;
    log_.error("model " + e->name + " failed to load: " + error);
    failed.failure = AcquireResult::Failure::LoadFailed;
    failed.message = "model '" + e->name + "' failed to load: " + error;
  } else {
    e->loaded = std::move(m);
    e->state = ModelEntry::State::Loaded;
    e->last_error.clear();
    e->touch();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", secs);
    log_.info("model " + e->name + " loaded in " + buf + " s: weights " + mib(e->loaded->weights_bytes()) + " " +
              e->loaded->model().weight_residency() + ", context " + std::to_string(e->loaded->context()));
  }
  for (auto& w : waiters) {
    if (e->loaded) {
      AcquireResult ok;
      ok.lease = std::make_shared<ModelLease>(e, e->loaded);
      w(std::move(ok));
    } else {
      w(failed);
    }
  }
  if (e->removed && e->state == ModelEntry::State::Unloaded) entries_.erase(e->name);
}

void ModelRegistry::unload(const std::shared_ptr<ModelEntry>& e, const char* why) {
  log_.info("unloading model " + e->name + " (" + why + ")");
  on_unload_(e->name);
  e->loaded.reset();
  e->state = ModelEntry::State::Unloaded;
  if (e->next_config) {
    e->config = std::move(*e->next_config);
    e->next_config.reset();
  }
}

bool ModelRegistry::make_room(uint64_t need, const ModelEntry* except) {
  if (budget_ == 0) return true;
  while (memory_in_use() + need > budget_) {
    std::shared_ptr<ModelEntry> victim;
    for (const auto& [name, e] : entries_) {
      if (e.get() == except || e->state != ModelEntry::State::Loaded || e->leases.load() > 0 || !e->waiters.empty())
        continue;
      if (!victim || e->last_used() < victim->last_used()) victim = e;
    }
    if (!victim) return false;
    unload(victim, "making room within the memory budget");
  }
  return true;
}

void ModelRegistry::unload_idle(Clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto e = it->second;  // a copy: unload() may not erase, but we might below
    const bool idle = e->state == ModelEntry::State::Loaded && e->leases.load() == 0 && e->waiters.empty();
    if (idle) {
      if (e->removed)
        unload(e, "removed from the configuration");
      else if (e->next_config)
        unload(e, "reconfigured");
      else if (idle_unload_seconds_ > 0 && now - e->last_used() >= std::chrono::seconds(idle_unload_seconds_))
        unload(e, "idle");
    }
    if (e->removed && e->state == ModelEntry::State::Unloaded && e->waiters.empty())
      it = entries_.erase(it);
    else
      ++it;
  }
}

void ModelRegistry::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  for (auto& [name, e] : entries_)
    if (e->loader.joinable()) e->loader.join();
  for (auto& [name, e] : entries_)
    if (e->loaded) unload(e, "shutting down");
}

}  // namespace strata::daemon
