// Entry point of the tokenizer-spm plugin.
#include <memory>

#include "strata/plugin.h"
#include "tokenizer-common/metadata_reader.h"
#include "tokenizer-common/plugin_api.h"
#include "tokenizer-spm/spm_tokenizer.h"

namespace strata::tokenizer_plugin {
namespace {

int supports(const strata_metadata* meta) {
  try {
    return MetadataReader(meta).string("tokenizer.ggml.model") == std::string_view("llama") ? 1 : 0;
  } catch (...) {
    return 0;  // unreadable metadata: not ours to judge here; create() would explain
  }
}

int create(const strata_metadata* meta, strata_tokenizer** out, strata_plugin_error* err) {
  return api::create_tokenizer(out, err, [&] {
    MetadataReader reader(meta);
    require_model(reader, "llama");
    return std::make_unique<SpmTokenizer>(reader);
  });
}

const strata_tokenizer_api kApi = {
    sizeof(strata_tokenizer_api), supports,  create,           api::destroy, api::n_vocab,
    api::special_token,           api::adds_bos, api::adds_eos, api::token_attr, api::encode,
    api::token_to_piece,
};

const strata_plugin_descriptor kDescriptor = {
    STRATA_PLUGIN_ABI_VERSION, sizeof(strata_plugin_descriptor), STRATA_PLUGIN_TOKENIZER, "tokenizer-spm", "0.1.0",
    &kApi,                     nullptr,
};

}  // namespace
}  // namespace strata::tokenizer_plugin

extern "C" STRATA_PLUGIN_EXPORT const strata_plugin_descriptor* strata_plugin_entry(uint32_t host_abi_version) {
  // A host of another major version would misread our tables.
  if (host_abi_version != STRATA_PLUGIN_ABI_VERSION) return nullptr;
  return &strata::tokenizer_plugin::kDescriptor;
}
