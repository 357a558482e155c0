// Entry point of the tokenizer-bpe plugin.
#include <memory>

#include "strata/plugin.h"
#include "tokenizer-bpe/bpe_tokenizer.h"
#include "tokenizer-bpe/pretokenizer.h"
#include "tokenizer-common/metadata_reader.h"
#include "tokenizer-common/plugin_api.h"

namespace strata::tokenizer_plugin {
namespace {

// Ours when the model is byte-level BPE with a pre-tokenizer we implement (or none named).
// create() still explains an unknown pre-tokenizer to a host that calls it anyway.
int supports(const strata_metadata* meta) {
  try {
    MetadataReader reader(meta);
    if (reader.string("tokenizer.ggml.model") != std::string_view("gpt2")) return 0;
    const auto pre = reader.string("tokenizer.ggml.pre");
    return !pre || PreTokenizer::known(*pre) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int create(const strata_metadata* meta, strata_tokenizer** out, strata_plugin_error* err) {
  return api::create_tokenizer(out, err, [&] {
    MetadataReader reader(meta);
    require_model(reader, "gpt2");
    return std::make_unique<BpeTokenizer>(reader);
  });
}

const strata_tokenizer_api kApi = {
    sizeof(strata_tokenizer_api), supports,  create,           api::destroy, api::n_vocab,
    api::special_token,           api::adds_bos, api::adds_eos, api::token_attr, api::encode,
    api::token_to_piece,
};

const strata_plugin_descriptor kDescriptor = {
    STRATA_PLUGIN_ABI_VERSION, sizeof(strata_plugin_descriptor), STRATA_PLUGIN_TOKENIZER, "tokenizer-bpe", "0.1.0",
    &kApi,                     nullptr,
};

}  // namespace
}  // namespace strata::tokenizer_plugin

extern "C" STRATA_PLUGIN_EXPORT const strata_plugin_descriptor* strata_plugin_entry(uint32_t host_abi_version) {
  // A host of another major version would misread our tables.
  if (host_abi_version != STRATA_PLUGIN_ABI_VERSION) return nullptr;
  return &strata::tokenizer_plugin::kDescriptor;
}
