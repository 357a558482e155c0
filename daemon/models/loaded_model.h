// A model in memory, ready to serve: the plugins it came from, the Model (weights, tokenizer),
// its scheduler, and its chat template family. Immutable after construction; shared by the
// requests that use it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "daemon/config/config.h"

namespace strata {
class KvPagePool;
class Model;
class PluginRegistry;
class Scheduler;
class Tokenizer;
struct SchedulerOptions;
enum class ChatTemplateKind;
enum class KvType;
}  // namespace strata

namespace strata::daemon {

class LoadedModel {
 public:
  // Loads the GGUF file and starts its scheduler (slow: call off the I/O thread). Throws what
  // Model::load throws.
  static std::shared_ptr<LoadedModel> load(const std::string& name, const ModelConfig& config,
                                           std::shared_ptr<const PluginRegistry> plugins,
                                           const SchedulerOptions& options);
  ~LoadedModel();  // stops the scheduler (cancelling what runs), then frees the model
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;

  const std::string& name() const { return name_; }
  const ModelConfig& config() const { return config_; }
  const Model& model() const { return *model_; }
  Scheduler& scheduler() const { return *scheduler_; }
  const Tokenizer& tokenizer() const;
  int64_t context() const { return context_; }
  uint64_t weights_bytes() const;
  KvType kv_type() const;

  // Memory the model holds, by category. KV pages shared by several sequences count once.
  struct Memory {
    uint64_t weights_bytes = 0;
    uint64_t kv_bytes = 0;       // KV pages in use, by running requests and by sessions
    uint64_t kv_free_bytes = 0;  // KV pages kept on the pool's free list for reuse
    uint64_t scratch_bytes = 0;  // activations and logits of the scheduler
    uint64_t total() const { return weights_bytes + kv_bytes + kv_free_bytes + scratch_bytes; }
  };
  Memory memory() const;
  // Frees the KV pages the pool keeps for reuse; returns their bytes.
  uint64_t release_free_kv() const;

  // The chat family: the configured chat_template, else detected from the GGUF's
  // tokenizer.chat_template; nullopt when neither gives one (chat_error() says why).
  std::optional<ChatTemplateKind> chat_template() const { return chat_; }
  const std::string& chat_error() const { return chat_error_; }

 private:
  LoadedModel() = default;
  std::string name_;
  ModelConfig config_;
  std::shared_ptr<const PluginRegistry> plugins_;  // outlives model_ (the tokenizer lives in a plugin)
  std::unique_ptr<Model> model_;
  std::shared_ptr<KvPagePool> kv_pool_;  // sequences hold it too: may outlive this object
  std::unique_ptr<Scheduler> scheduler_;
  int64_t context_ = 0;
  std::optional<ChatTemplateKind> chat_;
  std::string chat_error_;
};

}  // namespace strata::daemon
