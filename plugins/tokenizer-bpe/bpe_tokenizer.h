// Byte-level BPE (tokenizer.ggml.model = "gpt2"): text is split into words by the vocabulary's
// pre-tokenizer, each word's bytes are written in GPT-2's byte alphabet, and adjacent symbols
// are merged lowest merge rank first (rank = index in tokenizer.ggml.merges).
#pragma once

#include <cstdint>
#include <string_view>

#include "tokenizer-bpe/merge_ranks.h"
#include "tokenizer-bpe/pretokenizer.h"
#include "tokenizer-common/tokenizer_base.h"

namespace strata::tokenizer_plugin {

class BpeTokenizer final : public TokenizerBase {
 public:
  // Throws PluginError: EUNSUPPORTED for an unknown tokenizer.ggml.pre, EMODEL naming the key for
  // unusable metadata.
  explicit BpeTokenizer(const MetadataReader& meta);

 protected:
  void encode_plain(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;
  void normal_piece(int32_t id, std::string& out) const override;

 private:
  struct Workspace;
  void read_merges(const MetadataReader& meta);
  void encode_word(std::string_view word, Workspace& ws, std::vector<int32_t>& out) const;
  PreTokenizer pre_;
  // Keyed by ids: a merge's parts and result are always tokens of a well-formed vocabulary
  // (Hugging Face refuses to build one otherwise).
  MergeRanks ranks_;
};

}  // namespace strata::tokenizer_plugin
