#include "daemon/models/loaded_model.h"

#include "engine/chat/chat_template.h"
#include "engine/core/error.h"
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
    m->model_ = Model::load(config.path, *m->plugins_);
  } catch (const Error& e) {
    // A file that cannot be opened at all is a model-file problem too.
    if (e.kind() == ErrorKind::Io) throw Error(ErrorKind::ModelFile, e.what());
    throw;
  }
  const int64_t train = static_cast<int64_t>(m->model_->desc().n_ctx_train);
  m->context_ = config.context > 0 ? config.context : (train > 0 ? train : 4096);
  SchedulerOptions o = options;
  o.context = m->context_;
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

const Tokenizer& LoadedModel::tokenizer() const { return model_->tokenizer(); }
uint64_t LoadedModel::weights_bytes() const { return model_->weight_store().resident_bytes(); }

}  // namespace strata::daemon
