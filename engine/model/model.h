// A loaded model: the GGUF file, the family plugin's description of it, its weights resolved
// per layer, and its tokenizer.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/model/weight_store.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights/weight_options.h"
#include "strata/plugin.h"

namespace strata {

class PluginRegistry;

// The tensors of one transformer block; optional ones have data == nullptr.
struct LayerWeights {
  TensorRef attn_norm, attn_norm_b;
  TensorRef wq, wk, wv, wo;           // wq: [n_embd] -> [n_head*head_dim]; wk, wv: -> [n_head_kv*head_dim]
  TensorRef bq, bk, bv, bo;
  TensorRef ffn_norm, ffn_norm_b;
  TensorRef ffn_gate, ffn_up, ffn_down;  // gate, up: [n_embd] -> [n_ff]; down: [n_ff] -> [n_embd]
};

struct ModelWeights {
  TensorRef token_embd;              // [n_embd] x n_vocab rows
  TensorRef output_norm, output_norm_b;
  TensorRef output;                  // [n_embd] x n_vocab rows; == token_embd when tied
  std::vector<float> rope_freq_factors;  // empty unless the model divides angles by factors
  std::vector<LayerWeights> layers;
};

class Model {
 public:
  // Opens and validates a GGUF model: finds its family and tokenizer plugins, checks every
  // tensor's presence, shape and type. Throws ModelFileError for an unusable file and
  // Error(Plugin) when no plugin handles it.
  static std::unique_ptr<Model> load(const std::filesystem::path& path, const PluginRegistry& plugins);
  // The same, with the weights in a tiered store (RAM / SSD, see docs/tiered-weights.md) when
  // `weights.tiered()`; Error(OutOfMemory) when the budgets cannot hold the placement. A plain
  // load maps the file or copies it into RAM as `weights.mmap` says (weight_residency.h).
  static std::unique_ptr<Model> load(const std::filesystem::path& path, const PluginRegistry& plugins,
                                     const WeightOptions& weights);

  const gguf::GgufFile& file() const { return *file_; }
  const strata_model_desc& desc() const { return desc_; }
  const ModelWeights& weights() const { return weights_; }
  WeightStore& weight_store() const { return *store_; }
  // Where the weights live and why, for logs: "mapped from the file (...)", "copied into RAM
  // (...)" or "tiered".
  const std::string& weight_residency() const { return weight_residency_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

  // Model name for display: general.name, else the file name.
  std::string name() const;
  uint64_t parameter_count() const;
  // KV bytes per token at a given element size: 2 * n_layer * n_head_kv * head_dim * bytes.
  uint64_t kv_bytes_per_token(double bytes_per_element) const;

 private:
  Model() = default;
  std::unique_ptr<gguf::GgufFile> file_;
  strata_model_desc desc_{};
  ModelWeights weights_;
  std::unique_ptr<WeightStore> store_;
  std::string weight_residency_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

}  // namespace strata
