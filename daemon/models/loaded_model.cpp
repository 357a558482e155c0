#include "daemon/models/loaded_model.h"

#include "engine/chat/chat_template.h"
#include "engine/core/error.h"
#include "engine/kv/kv_page_pool.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/scheduler/scheduler.h"

namespace strata::daemon {

std::shared_ptr<LoadedModel> LoadedModel::load(const std::string& name, const ModelConfig& config,
                                               std::shared_ptr<const PluginRegistry> plugins,
                                               const SchedulerOptions& options) {
  std::shared_ptr<LoadedModel> m(new LoadedModel());
  m->name_ = name;
  m->config_ = config;
  m->plugins_ = std::move(plugins);
  try {
    WeightOptions weights;  // tiered weights; the keys were validated when the config was read
    weights.ram_budget = Budget::parse(config.ram_budget, "models." + name + ".ram_budget");
    weights.gpu_budget = Budget::parse(config.gpu_budget, "models." + name + ".gpu_budget");
    weights.format = parse_weight_format(config.weights).value_or(WeightFormat::Native);
    weights.shares = TierShares::parse(config.weight_tiers, "models." + name + ".weight_tiers");
    weights.probe_threads = static_cast<int>(config.threads);
    weights.mmap = parse_mmap_mode(config.mmap).value_or(MmapMode::Auto);
    m->model_ = Model::load(config.path, *m->plugins_, weights);
  } catch (const Error& e) {
    // A file that cannot be opened at all is a model-file problem too.
    if (e.kind() == ErrorKind::Io) throw Error(ErrorKind::ModelFile, e.what());
    throw;
  }
  const int64_t train = static_cast<int64_t>(m->model_->desc().n_ctx_train);
  m->context_ = config.context > 0 ? config.context : (train > 0 ? train : 4096);
  // One page pool per model, in the configured storage type: every sequence of the model (running
  // or held by a session) draws from it, so its counters are the model's KV memory.
  const auto kv_type = parse_kv_type(config.kv);
  if (!kv_type) throw Error(ErrorKind::InvalidArgument, "model '" + name + "': unknown kv type '" + config.kv + "'");
  const auto& d = m->model_->desc();
  const KvGeometry geometry{static_cast<int>(d.n_layer), static_cast<int>(d.n_head_kv), static_cast<int>(d.head_dim)};
  try {
    m->kv_pool_ = KvPagePool::create(geometry, *kv_type, SequenceKvCache::kDefaultPageTokens, 0,
                                     static_cast<int>(config.kv_group));
  } catch (const Error& e) {
    throw Error(ErrorKind::InvalidArgument, "model '" + name + "': kv = \"" + config.kv + "\": " + e.what());
  }
  SchedulerOptions o = options;
  o.context = m->context_;
  o.kv_pool = m->kv_pool_;
  m->scheduler_ = std::make_unique<Scheduler>(*m->model_, o);

  if (!config.chat_template.empty()) {
    m->chat_ = parse_chat_template_name(config.chat_template);
    if (!m->chat_)
      m->chat_error_ =
          "model '" + name + "': unknown chat_template '" + config.chat_template + "' in the configuration";
  } else {
    const std::string jinja = m->model_->file().get_string("tokenizer.chat_template");
    if (jinja.empty()) {
      m->chat_error_ = "model '" + name +
                       "' has no chat template (no tokenizer.chat_template in its GGUF); set "
                       "models." +
                       name + ".chat_template, or use /v1/completions";
    } else {
      m->chat_ = detect_chat_template(jinja);
      if (!m->chat_)
        m->chat_error_ = "model '" + name + "' has a chat template that is not recognised; set models." + name +
                         ".chat_template to a known family (llama-2, llama-3, chatml, mistral-v1, mistral-v3, "
                         "mistral-v3-tekken, gemma, phi-3), or use /v1/completions";
    }
  }
  return m;
}

LoadedModel::~LoadedModel() {
  scheduler_.reset();
  model_.reset();
}

KvType LoadedModel::kv_type() const { return kv_pool_->format().type; }

LoadedModel::Memory LoadedModel::memory() const {
  Memory mem;
  mem.weights_bytes = weights_bytes();
  mem.kv_bytes = kv_pool_->bytes_in_use();
  mem.kv_free_bytes = kv_pool_->bytes_reserved() - mem.kv_bytes;
  mem.scratch_bytes = scheduler_->stats().scratch_bytes;
  return mem;
}

uint64_t LoadedModel::release_free_kv() const { return kv_pool_->release_free_pages(); }

const Tokenizer& LoadedModel::tokenizer() const { return model_->tokenizer(); }
uint64_t LoadedModel::weights_bytes() const { return model_->weight_store().resident_bytes(); }

}  // namespace strata::daemon
