#include "engine/model/model.h"

#include <cstdio>
#include <cstring>

#include "engine/core/error.h"
#include "engine/plugin/metadata_bridge.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/weights/weight_plan.h"
#include "engine/weights/weight_residency.h"
#include "kernels/cpu/kernels.h"

namespace strata {
namespace {

constexpr uint64_t kNoOffset = ModelFileError::kNoOffset;

std::string dims_string(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Resolves tensors named by the family description and checks them against expected shapes.
class TensorResolver {
 public:
  TensorResolver(const gguf::GgufFile& file, const strata_model_desc& desc) : file_(file), desc_(desc) {}

  // The tensor of `role` (in layer `layer` for per-layer names). `shape` is the expected
  // ggml-order shape; a missing optional tensor gives an empty TensorRef.
  TensorRef get(int role, int layer, std::vector<int64_t> shape, bool required, bool matrix) const {
    const char* pattern = desc_.tensor_names[role];
    if (pattern[0] == '\0') {
      if (required) throw ModelFileError(file_.path(), "tensor role " + std::to_string(role), kNoOffset, "the family description names no tensor for a required role");
      return {};
    }
    char name[STRATA_MAX_TENSOR_NAME + 16];
    std::snprintf(name, sizeof(name), pattern, layer);
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) {
      if (required) throw ModelFileError(file_.path(), std::string("tensor '") + name + "'", kNoOffset, "missing from the model");
      return {};
    }
    if (t->dims != shape)
      throw ModelFileError(file_.path(), std::string("tensor '") + name + "'", t->offset,
                           "has shape " + dims_string(t->dims) + ", expected " + dims_string(shape));
    const auto& traits = traits_of(t->type);
    if (matrix ? !traits.has_kernels : t->type != TensorType::F32)
      throw ModelFileError(file_.path(), std::string("tensor '") + name + "'", t->offset,
                           "tensor type " + std::string(traits.name) + " is not supported here" +
                               (matrix ? "" : " (norm and bias vectors must be f32)"));
    TensorRef r;
    r.name = name;
    r.type = t->type;
    r.n_dims = static_cast<int>(t->dims.size());
    for (int i = 0; i < r.n_dims; ++i) r.dims[i] = t->dims[i];
    r.data = t->data;
    r.bytes = t->bytes;
    return r;
  }

 private:
  const gguf::GgufFile& file_;
  const strata_model_desc& desc_;
};

}  // namespace

std::unique_ptr<Model> Model::load(const std::filesystem::path& path, const PluginRegistry& plugins) {
  return load(path, plugins, WeightOptions{});
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& path, const PluginRegistry& plugins,
                                   const WeightOptions& weight_options) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::make_unique<gguf::GgufFile>(gguf::GgufFile::open(path));
  const gguf::GgufFile& file = *m->file_;

  std::string arch = file.get_string("general.architecture", "");
  if (arch.empty()) throw ModelFileError(file.path(), "metadata 'general.architecture'", kNoOffset, "missing");
  const strata_family_api* family = plugins.find_family(arch);
  if (!family)
    throw Error(ErrorKind::Plugin, file.path() + ": no model-family plugin handles architecture '" + arch +
                                       "' (loaded: " + plugins.describe() + ")");

  MetadataBridge bridge(file);
  strata_model_desc& d = m->desc_;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  strata_plugin_error err{};
  int rc = family->describe(bridge.get(), &d, &err);
  if (rc != STRATA_PLUGIN_OK) {
    std::string msg = err.message[0] ? err.message : "the family plugin refused the model";
    if (rc == STRATA_PLUGIN_EUNSUPPORTED) throw Error(ErrorKind::Unsupported, file.path() + ": " + msg);
    throw ModelFileError(file.path(), "metadata", kNoOffset, msg);
  }

  const int64_t E = d.n_embd, Q = int64_t(d.n_head) * d.head_dim, KV = int64_t(d.n_head_kv) * d.head_dim;
  const int64_t F = d.n_ff, V = d.n_vocab;
  TensorResolver r(file, d);
  ModelWeights& w = m->weights_;
  w.token_embd = r.get(STRATA_T_TOKEN_EMBD, 0, {E, V}, true, true);
  w.output_norm = r.get(STRATA_T_OUTPUT_NORM, 0, {E}, true, false);
  w.output_norm_b = r.get(STRATA_T_OUTPUT_NORM_BIAS, 0, {E}, false, false);
  w.output = d.tied_embeddings ? w.token_embd : r.get(STRATA_T_OUTPUT, 0, {E, V}, true, true);
  if (d.rope_scaling == STRATA_ROPE_SCALING_FREQ_FACTORS) {
    TensorRef f = r.get(STRATA_T_ROPE_FREQS, 0, {int64_t(d.rope_dim / 2)}, true, false);
    w.rope_freq_factors.resize(d.rope_dim / 2);
    std::memcpy(w.rope_freq_factors.data(), f.data, w.rope_freq_factors.size() * sizeof(float));
    for (float factor : w.rope_freq_factors)
      if (!(factor > 0.0f)) throw ModelFileError(file.path(), "tensor '" + f.name + "'", kNoOffset, "holds a non-positive frequency factor");
  }
  w.layers.resize(d.n_layer);
  for (int l = 0; l < int(d.n_layer); ++l) {
    LayerWeights& L = w.layers[l];
    L.attn_norm = r.get(STRATA_T_ATTN_NORM, l, {E}, true, false);
    L.attn_norm_b = r.get(STRATA_T_ATTN_NORM_BIAS, l, {E}, false, false);
    L.wq = r.get(STRATA_T_ATTN_Q, l, {E, Q}, true, true);
    L.wk = r.get(STRATA_T_ATTN_K, l, {E, KV}, true, true);
    L.wv = r.get(STRATA_T_ATTN_V, l, {E, KV}, true, true);
    L.wo = r.get(STRATA_T_ATTN_OUT, l, {Q, E}, true, true);
    L.bq = r.get(STRATA_T_ATTN_Q_BIAS, l, {Q}, false, false);
    L.bk = r.get(STRATA_T_ATTN_K_BIAS, l, {KV}, false, false);
    L.bv = r.get(STRATA_T_ATTN_V_BIAS, l, {KV}, false, false);
    L.bo = r.get(STRATA_T_ATTN_OUT_BIAS, l, {E}, false, false);
    L.ffn_norm = r.get(STRATA_T_FFN_NORM, l, {E}, true, false);
    L.ffn_norm_b = r.get(STRATA_T_FFN_NORM_BIAS, l, {E}, false, false);
    if (d.ffn_kind == STRATA_FFN_GATED) L.ffn_gate = r.get(STRATA_T_FFN_GATE, l, {E, F}, true, true);
    L.ffn_up = r.get(STRATA_T_FFN_UP, l, {E, F}, true, true);
    L.ffn_down = r.get(STRATA_T_FFN_DOWN, l, {F, E}, true, true);
  }
  // Matrices are multiplied by activations quantized to the weight's dot-product format, whose
  // blocks must tile a row.
  auto check_rows = [&](const TensorRef& t) {
    if (!t.data) return;
    const auto& act = traits_of(cpu::vec_dot_type(t.type));
    if (t.cols() % act.block_elems != 0)
      throw ModelFileError(file.path(), "tensor '" + t.name + "'", kNoOffset,
                           "rows of " + std::to_string(t.cols()) + " elements do not fit " + std::string(act.name) + " blocks");
  };
  check_rows(w.output);
  for (const auto& L : w.layers)
    for (const TensorRef* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) check_rows(*t);

  if (weight_options.tiered()) {
    m->store_ = open_tiered_store(file, m->weights_, weight_options);
    m->weight_residency_ = "tiered";
  } else {
    const HostMemory host = read_host_memory();
    m->weight_residency_ = weight_residency_reason(weight_options.mmap, file.file_size(), host);
    if (copy_weights_at_load(weight_options.mmap, file.file_size(), host))
      m->store_ = open_ram_copy(file, m->weights_);
    else
      m->store_ = std::make_unique<MappedWeightStore>(file.file_size());
  }
  m->tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::create(plugins, file));
  if (m->tokenizer_->n_vocab() > int32_t(d.n_vocab))
    throw ModelFileError(file.path(), "tokenizer", kNoOffset,
                         "vocabulary of " + std::to_string(m->tokenizer_->n_vocab()) + " tokens exceeds the " +
                             std::to_string(d.n_vocab) + " rows of token_embd.weight");
  return m;
}

std::string Model::name() const {
  std::string n = file_->get_string("general.name", "");
  return n.empty() ? std::filesystem::path(file_->path()).filename().string() : n;
}

uint64_t Model::parameter_count() const {
  uint64_t n = 0;
  for (const auto& t : file_->tensors()) n += static_cast<uint64_t>(t.n_elements());
  return n;
}

uint64_t Model::kv_bytes_per_token(double bytes_per_element) const {
  return static_cast<uint64_t>(2.0 * desc_.n_layer * desc_.n_head_kv * desc_.head_dim * bytes_per_element);
}

}  // namespace strata
