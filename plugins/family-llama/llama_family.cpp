// The llama family: Llama 2, Llama 3 / 3.1 (RoPE frequency factors), Mistral, and other models
// that use the Llama graph: RMSNorm, rotary embeddings on adjacent pairs, grouped-query
// attention, a SwiGLU feed-forward, tied or separate output embeddings.
//
// This plugin only *describes* the model from its GGUF metadata; the engine executes it.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "strata/plugin.h"

namespace {

const char* const kArchitectures[] = {"llama", "mistral", nullptr};

// Reads "<arch>.<suffix>" keys and records the first problem as a one-line message.
class Keys {
 public:
  Keys(const strata_metadata* meta, std::string arch) : meta_(meta), arch_(std::move(arch)) {}

  std::string key(const char* suffix) const { return arch_ + "." + suffix; }

  bool u32(const char* suffix, uint32_t* out, bool required, uint32_t def = 0) {
    std::string k = key(suffix);
    int64_t v = 0;
    int rc = meta_->get_i64(meta_->ctx, k.c_str(), &v);
    if (rc == STRATA_PLUGIN_ENOTFOUND && !required) {
      *out = def;
      return true;
    }
    if (rc != STRATA_PLUGIN_OK) return fail(k, rc == STRATA_PLUGIN_ENOTFOUND ? "is missing" : "is not an integer");
    if (v < 0 || v > 0x7fffffff) return fail(k, "is out of range (" + std::to_string(v) + ")");
    *out = static_cast<uint32_t>(v);
    return true;
  }

  bool f32(const char* suffix, float* out, float def) {
    std::string k = key(suffix);
    double v = 0;
    int rc = meta_->get_f64(meta_->ctx, k.c_str(), &v);
    if (rc == STRATA_PLUGIN_ENOTFOUND) {
      *out = def;
      return true;
    }
    if (rc != STRATA_PLUGIN_OK || !std::isfinite(v)) return fail(k, "is not a finite number");
    *out = static_cast<float>(v);
    return true;
  }

  std::string string(const char* suffix) {
    std::string k = key(suffix);
    const char* s = nullptr;
    size_t len = 0;
    if (meta_->get_string(meta_->ctx, k.c_str(), &s, &len) != STRATA_PLUGIN_OK) return {};
    return std::string(s, len);
  }

  bool fail(const std::string& key, const std::string& what) {
    if (error_.empty()) error_ = "metadata key '" + key + "' " + what;
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  const strata_metadata* meta_;
  std::string arch_;
  std::string error_;
};

bool has_tensor(const strata_metadata* meta, const char* name, int64_t dims[4]) {
  int n = 0;
  return meta->tensor_shape(meta->ctx, name, dims, &n) == STRATA_PLUGIN_OK;
}

void set_name(strata_model_desc* d, int role, const char* name) {
  std::snprintf(d->tensor_names[role], STRATA_MAX_TENSOR_NAME, "%s", name);
}

int fail(strata_plugin_error* err, int code, const std::string& message) {
  if (err) std::snprintf(err->message, sizeof(err->message), "%s", message.c_str());
  return code;
}

int describe(const strata_metadata* meta, strata_model_desc* d, strata_plugin_error* err) {
  const char* arch_s = nullptr;
  size_t arch_len = 0;
  if (meta->get_string(meta->ctx, "general.architecture", &arch_s, &arch_len) != STRATA_PLUGIN_OK)
    return fail(err, STRATA_PLUGIN_EMODEL, "metadata key 'general.architecture' is missing");
  std::string arch(arch_s, arch_len);
  std::snprintf(d->architecture, sizeof(d->architecture), "%s", arch.c_str());

  Keys k(meta, arch);
  bool ok = k.u32("block_count", &d->n_layer, true) && k.u32("embedding_length", &d->n_embd, true) &&
            k.u32("attention.head_count", &d->n_head, true) && k.u32("feed_forward_length", &d->n_ff, true) &&
            k.u32("attention.head_count_kv", &d->n_head_kv, false, d->n_head) &&
            k.u32("context_length", &d->n_ctx_train, false, 2048) &&
            k.f32("attention.layer_norm_rms_epsilon", &d->norm_eps, 1e-5f) &&
            k.f32("rope.freq_base", &d->rope_freq_base, 10000.0f);
  if (!ok) return fail(err, STRATA_PLUGIN_EMODEL, k.error());
  if (d->n_layer == 0 || d->n_embd == 0 || d->n_head == 0 || d->n_head_kv == 0 || d->n_ff == 0)
    return fail(err, STRATA_PLUGIN_EMODEL, "a hyper-parameter (block_count, embedding_length, head counts, feed_forward_length) is zero");
  if (d->n_embd % d->n_head != 0)
    return fail(err, STRATA_PLUGIN_EMODEL, "embedding_length " + std::to_string(d->n_embd) + " is not a multiple of head_count " + std::to_string(d->n_head));
  if (d->n_head % d->n_head_kv != 0)
    return fail(err, STRATA_PLUGIN_EMODEL, "head_count " + std::to_string(d->n_head) + " is not a multiple of head_count_kv " + std::to_string(d->n_head_kv));
  if (!k.u32("attention.key_length", &d->head_dim, false, d->n_embd / d->n_head) ||
      !k.u32("rope.dimension_count", &d->rope_dim, false, d->head_dim))
    return fail(err, STRATA_PLUGIN_EMODEL, k.error());
  if (d->head_dim == 0 || d->rope_dim > d->head_dim || d->rope_dim % 2 != 0)
    return fail(err, STRATA_PLUGIN_EMODEL, "rope.dimension_count " + std::to_string(d->rope_dim) + " does not fit head size " + std::to_string(d->head_dim));

  d->norm_type = STRATA_NORM_RMS;
  d->activation = STRATA_ACT_SILU;
  d->ffn_kind = STRATA_FFN_GATED;
  d->rope_type = STRATA_ROPE_NORM;
  d->embd_scale = 1.0f;
  d->rope_freq_scale = 1.0f;
  d->rope_scaling = STRATA_ROPE_SCALING_NONE;

  std::string scaling = k.string("rope.scaling.type");
  if (scaling == "linear") {
    float factor = 1.0f;
    if (!k.f32("rope.scaling.factor", &factor, 1.0f)) return fail(err, STRATA_PLUGIN_EMODEL, k.error());
    if (factor <= 0) return fail(err, STRATA_PLUGIN_EMODEL, "metadata key '" + k.key("rope.scaling.factor") + "' must be positive");
    d->rope_scaling = STRATA_ROPE_SCALING_LINEAR;
    d->rope_freq_scale = 1.0f / factor;
  } else if (!scaling.empty() && scaling != "none" && scaling != "llama3") {
    return fail(err, STRATA_PLUGIN_EUNSUPPORTED, "RoPE scaling type '" + scaling + "' is not supported by the llama family");
  }

  int64_t dims[4];
  set_name(d, STRATA_T_TOKEN_EMBD, "token_embd.weight");
  if (!has_tensor(meta, "token_embd.weight", dims))
    return fail(err, STRATA_PLUGIN_EMODEL, "tensor 'token_embd.weight' is missing");
  if (dims[0] != d->n_embd)
    return fail(err, STRATA_PLUGIN_EMODEL, "tensor 'token_embd.weight' has rows of " + std::to_string(dims[0]) + ", expected embedding_length " + std::to_string(d->n_embd));
  d->n_vocab = static_cast<uint32_t>(dims[1]);
  set_name(d, STRATA_T_OUTPUT_NORM, "output_norm.weight");
  d->tied_embeddings = has_tensor(meta, "output.weight", dims) ? 0 : 1;
  if (!d->tied_embeddings) set_name(d, STRATA_T_OUTPUT, "output.weight");

  // Llama 3.1 files carry their frequency factors as a tensor instead of scaling keys.
  if (has_tensor(meta, "rope_freqs.weight", dims)) {
    if (dims[0] != d->rope_dim / 2)
      return fail(err, STRATA_PLUGIN_EMODEL, "tensor 'rope_freqs.weight' has " + std::to_string(dims[0]) + " factors, expected rope.dimension_count/2 = " + std::to_string(d->rope_dim / 2));
    d->rope_scaling = STRATA_ROPE_SCALING_FREQ_FACTORS;
    set_name(d, STRATA_T_ROPE_FREQS, "rope_freqs.weight");
  }

  set_name(d, STRATA_T_ATTN_NORM, "blk.%d.attn_norm.weight");
  set_name(d, STRATA_T_ATTN_Q, "blk.%d.attn_q.weight");
  set_name(d, STRATA_T_ATTN_K, "blk.%d.attn_k.weight");
  set_name(d, STRATA_T_ATTN_V, "blk.%d.attn_v.weight");
  set_name(d, STRATA_T_ATTN_OUT, "blk.%d.attn_output.weight");
  set_name(d, STRATA_T_FFN_NORM, "blk.%d.ffn_norm.weight");
  set_name(d, STRATA_T_FFN_GATE, "blk.%d.ffn_gate.weight");
  set_name(d, STRATA_T_FFN_UP, "blk.%d.ffn_up.weight");
  set_name(d, STRATA_T_FFN_DOWN, "blk.%d.ffn_down.weight");
  // Some Llama-graph models (e.g. converted with biases) carry attention biases.
  if (has_tensor(meta, "blk.0.attn_q.bias", dims)) {
    set_name(d, STRATA_T_ATTN_Q_BIAS, "blk.%d.attn_q.bias");
    set_name(d, STRATA_T_ATTN_K_BIAS, "blk.%d.attn_k.bias");
    set_name(d, STRATA_T_ATTN_V_BIAS, "blk.%d.attn_v.bias");
  }
  if (has_tensor(meta, "blk.0.attn_output.bias", dims)) set_name(d, STRATA_T_ATTN_OUT_BIAS, "blk.%d.attn_output.bias");
  return STRATA_PLUGIN_OK;
}

const strata_family_api kFamily = {
    sizeof(strata_family_api),
    kArchitectures,
    describe,
};

const strata_plugin_descriptor kDescriptor = {
    STRATA_PLUGIN_ABI_VERSION, sizeof(strata_plugin_descriptor), STRATA_PLUGIN_FAMILY, "family-llama", "1.0", nullptr, &kFamily,
};

}  // namespace

extern "C" STRATA_PLUGIN_EXPORT const strata_plugin_descriptor* strata_plugin_entry(uint32_t host_abi_version) {
  if (host_abi_version != STRATA_PLUGIN_ABI_VERSION) return nullptr;
  return &kDescriptor;
}
