#include "tokenizer-common/special_splitter.h"

#include <bitset>
#include <memory>

namespace strata::tokenizer_plugin {
namespace {

// What " \t\n\v\f\r" llama.cpp's isspace() strips around lstrip/rstrip tokens.
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

std::vector<Fragment> split_special(std::string_view text, const Vocab& vocab, bool parse_special) {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});

  // The byte pairs of the text: a token whose first two bytes never occur together needs no
  // search. Some vocabularies have thousands of user-defined tokens (DeepSeek's [PADn]).
  auto pairs = std::make_unique<std::bitset<65536>>();
  std::bitset<256> singles;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    singles.set(b);
    if (i + 1 < text.size()) pairs->set(b << 8 | static_cast<unsigned char>(text[i + 1]));
  }

  std::vector<Fragment> next;
  for (const int32_t id : vocab.splittable()) {
    if (!parse_special && (vocab.attr(id) & (STRATA_TOKEN_CONTROL | STRATA_TOKEN_UNKNOWN))) continue;
    const std::string_view needle = vocab.text(id);
    const auto b0 = static_cast<unsigned char>(needle[0]);
    if (needle.size() == 1 ? !singles.test(b0) : !pairs->test(b0 << 8 | static_cast<unsigned char>(needle[1]))) continue;
    if (text.find(needle) == std::string_view::npos) continue;

    const bool strip_left = vocab.strip(id) & Vocab::kStripLeft;
    const bool strip_right = vocab.strip(id) & Vocab::kStripRight;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const std::string_view plain = text.substr(f.offset, f.length);
      size_t pos = 0;
      for (size_t hit; (hit = plain.find(needle, pos)) != std::string_view::npos;) {
        size_t left_end = hit;
        if (strip_left)
          while (left_end > pos && is_space(plain[left_end - 1])) --left_end;
        if (left_end > pos) next.push_back({-1, f.offset + pos, left_end - pos});
        next.push_back({id, 0, 0});
        pos = hit + needle.size();
        if (strip_right)
          while (pos < plain.size() && is_space(plain[pos])) ++pos;
      }
      if (pos < plain.size()) next.push_back({-1, f.offset + pos, plain.size() - pos});
    }
    frags.swap(next);
  }
  return frags;
}

}  // namespace strata::tokenizer_plugin
