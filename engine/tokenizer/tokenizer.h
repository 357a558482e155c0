// The engine's tokenizer: an owning C++ handle on a tokenizer plugin's strata_tokenizer.
//
// Errors are thrown as strata::Error: ModelFile when the plugin finds the vocabulary unusable,
// Unsupported for a tokenizer variant it does not implement, Plugin when no plugin handles the
// model or a plugin misbehaves, InvalidArgument for bad arguments (an id outside the vocabulary,
// BOS asked of a model that has none).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/plugin.h"

namespace strata {

namespace gguf {
class GgufFile;
}
class PluginRegistry;

class Tokenizer {
 public:
  // The tokenizer of a model file, built by the first plugin that supports it. The plugin (and
  // so `registry`) must outlive the tokenizer; the file need not. Throws Error(Plugin) naming
  // tokenizer.ggml.model (and .pre) when no plugin supports the model.
  static Tokenizer create(const PluginRegistry& registry, const gguf::GgufFile& file);
  // A tokenizer from a given plugin table and metadata (tests, tools); `source` names the model
  // in error messages.
  static Tokenizer create(const strata_tokenizer_api& api, const strata_metadata* meta, std::string_view source);

  Tokenizer(Tokenizer&& other) noexcept;
  Tokenizer& operator=(Tokenizer&& other) noexcept;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;
  ~Tokenizer();

  // Token ids of `text`. `add_special`: add BOS/EOS as the model's metadata says
  // (tokenizer.ggml.add_bos_token / add_eos_token and the tokenizer's defaults).
  // `parse_special`: text such as "<|eot_id|>" becomes its control token; otherwise it is
  // tokenized as plain text. Thread-safe.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes token `id` stands for. A byte token gives one raw byte, possibly part of a
  // multibyte character (use StreamingDetokenizer or decode() to assemble text). Control and
  // unknown tokens give "" unless `render_special`.
  std::string piece(int32_t id, bool render_special = false) const;
  // The text of a token sequence: pieces concatenated, ill-formed UTF-8 replaced by U+FFFD.
  // Nothing is stripped (SentencePiece's prefix space stays).
  std::string decode(std::span<const int32_t> ids, bool render_special = false) const;

  int32_t n_vocab() const { return n_vocab_; }
  // Special tokens; -1 when the model has none.
  int32_t special(int role) const;  // STRATA_SPECIAL_*
  int32_t bos() const { return special(STRATA_SPECIAL_BOS); }
  int32_t eos() const { return special(STRATA_SPECIAL_EOS); }
  int32_t eot() const { return special(STRATA_SPECIAL_EOT); }
  int32_t unk() const { return special(STRATA_SPECIAL_UNK); }
  int32_t pad() const { return special(STRATA_SPECIAL_PAD); }
  int32_t fim_pre() const { return special(STRATA_SPECIAL_FIM_PRE); }
  int32_t fim_suf() const { return special(STRATA_SPECIAL_FIM_SUF); }
  int32_t fim_mid() const { return special(STRATA_SPECIAL_FIM_MID); }
  // Whether encode(..., add_special = true, ...) adds BOS (resp. EOS).
  bool adds_bos() const { return adds_bos_; }
  bool adds_eos() const { return adds_eos_; }

  // End of generation: EOS or EOT.
  bool is_eog(int32_t id) const { return id >= 0 && (id == eos() || id == eot()); }
  // STRATA_TOKEN_* bits; 0 for an id outside the vocabulary.
  uint32_t token_attr(int32_t id) const;
  bool is_control(int32_t id) const { return token_attr(id) & STRATA_TOKEN_CONTROL; }

 private:
  Tokenizer(const strata_tokenizer_api* api, strata_tokenizer* handle);
  void check_id(int32_t id) const;

  const strata_tokenizer_api* api_ = nullptr;
  strata_tokenizer* handle_ = nullptr;
  int32_t n_vocab_ = 0;
  int32_t specials_[STRATA_SPECIAL_FIM_MID + 1] = {};
  bool adds_bos_ = false;
  bool adds_eos_ = false;
};

}  // namespace strata
