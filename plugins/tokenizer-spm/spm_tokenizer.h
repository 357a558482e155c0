// SentencePiece-style tokenizer (tokenizer.ggml.model = "llama"), as llama.cpp runs Llama 2 and
// Phi-3 vocabularies: spaces become U+2581, a space is prefixed to text that starts the input
// or follows a special token, adjacent symbols are merged best score first, and what no token
// covers falls back to <0xXX> byte tokens.
#pragma once

#include <cstdint>

#include "tokenizer-common/tokenizer_base.h"

namespace strata::tokenizer_plugin {

class SpmTokenizer final : public TokenizerBase {
 public:
  // Throws PluginError(EMODEL) naming the key when the metadata is unusable.
  explicit SpmTokenizer(const MetadataReader& meta);

 protected:
  void encode_plain(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;
  void normal_piece(int32_t id, std::string& out) const override;

 private:
  // The id of a token that plain text may turn into: control, unknown and unused pieces are
  // never produced by segmentation (SentencePiece's rule), only by special-token parsing.
  int32_t find_piece(std::string_view text) const;
  void byte_fallback(std::string_view symbol, std::vector<int32_t>& out) const;

  bool add_space_prefix_ = true;
  int32_t byte_tokens_[256];  // the token of each byte for byte fallback, or -1
};

}  // namespace strata::tokenizer_plugin
