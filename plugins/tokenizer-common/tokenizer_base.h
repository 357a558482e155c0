// What the SentencePiece-style and the byte-level BPE tokenizers have in common: special-token
// splitting, BOS/EOS handling and the rendering of non-normal tokens. Each kind supplies how a
// run of plain text becomes ids and how a normal token's text becomes bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer-common/vocab.h"

namespace strata::tokenizer_plugin {

class TokenizerBase {
 public:
  TokenizerBase(const MetadataReader& meta, const VocabDefaults& defaults) : vocab_(meta, defaults) {}
  virtual ~TokenizerBase() = default;
  TokenizerBase(const TokenizerBase&) = delete;
  TokenizerBase& operator=(const TokenizerBase&) = delete;

  const Vocab& vocab() const { return vocab_; }

  // Appends the ids for `text` under STRATA_TOKENIZE_* flags. Throws PluginError(EINVAL) when
  // BOS or EOS is asked for and the model has none. Safe to call from several threads at once.
  void encode(std::string_view text, uint32_t flags, std::vector<int32_t>& out) const;
  // Appends the bytes token `id` stands for under STRATA_PIECE_* flags (nothing for an invalid id).
  void piece(int32_t id, uint32_t flags, std::string& out) const;

 protected:
  // Appends the ids of a run of plain text that holds no special token. `after_special` is true
  // for the first run and for a run that follows a special token.
  virtual void encode_plain(std::string_view text, bool after_special, std::vector<int32_t>& out) const = 0;
  // Appends the bytes of a NORMAL token.
  virtual void normal_piece(int32_t id, std::string& out) const = 0;

  Vocab vocab_;
};

// The byte a "<0xXX>" token stands for, or -1 when the text has another form.
int byte_of_token_text(std::string_view text);

}  // namespace strata::tokenizer_plugin
