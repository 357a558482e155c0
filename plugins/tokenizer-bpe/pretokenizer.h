// Splits text into words before byte-level BPE runs on each word, with the regular expressions
// of the vocabulary's original tokenizer, chosen by tokenizer.ggml.pre.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::tokenizer_plugin {

struct Word {
  size_t offset;
  size_t length;
};

class PreTokenizer {
 public:
  // Whether `name` is a tokenizer.ggml.pre value this plugin implements.
  static bool known(std::string_view name);
  // "default, gpt-2, llama-bpe, ..." for error messages.
  static std::string known_names();

  // Compiles the expressions for `name`. Throws PluginError(EUNSUPPORTED) naming it when unknown.
  explicit PreTokenizer(std::string_view name);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Llama 3's tokenizer emits a word that is itself a token without merging (ignore_merges).
  bool ignore_merges() const { return ignore_merges_; }

  // Splits valid UTF-8 `text` into words, appending them in order. Each expression in turn cuts
  // every current word into its matches and the runs between matches, which stay words too
  // (llama.cpp's unicode_regex_split). An expression never sees past the word it cuts: lookaheads
  // and $ stop at the word's end. Throws PluginError(EINTERNAL) if the regex engine fails.
  void split(std::string_view text, std::vector<Word>& words) const;

 private:
  struct Pattern;
  std::vector<std::unique_ptr<Pattern>> patterns_;
  bool ignore_merges_ = false;
};

}  // namespace strata::tokenizer_plugin
