#include "tokenizer-spm/spm_tokenizer.h"

#include <algorithm>
#include <queue>
#include <string>
#include <vector>

#include "tokenizer-common/utf8.h"

namespace strata::tokenizer_plugin {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

VocabDefaults spm_defaults() {
  VocabDefaults d;
  d.bos = 1;  // Llama's ids, assumed by llama.cpp when the keys are absent
  d.eos = 2;
  d.unk = 0;
  d.add_bos = true;
  return d;
}

// A run of the text being segmented, kept in a doubly linked list as merging proceeds.
struct Symbol {
  int prev;
  int next;
  size_t start;
  size_t n;  // 0 once merged into its left neighbour
};

// A candidate merge of two adjacent symbols into a vocabulary piece.
struct Bigram {
  int left;
  int right;
  float score;
  size_t size;  // bytes of the merged piece; a mismatch later means the candidate is stale
};

// Highest score first; on ties, the leftmost pair (as SentencePiece and llama.cpp).
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

SpmTokenizer::SpmTokenizer(const MetadataReader& meta) : TokenizerBase(meta, spm_defaults()) {
  add_space_prefix_ = meta.boolean("tokenizer.ggml.add_space_prefix").value_or(true);
  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    int32_t id = vocab_.find(std::string_view(name, 6));
    if (id < 0) id = vocab_.find(std::string(1, static_cast<char>(b)));  // a vocabulary with raw byte pieces
    byte_tokens_[b] = id;
  }
}

int32_t SpmTokenizer::find_piece(std::string_view text) const {
  const int32_t id = vocab_.find(text);
  if (id < 0 || (vocab_.attr(id) & (STRATA_TOKEN_CONTROL | STRATA_TOKEN_UNKNOWN | STRATA_TOKEN_UNUSED))) return -1;
  return id;
}

void SpmTokenizer::byte_fallback(std::string_view symbol, std::vector<int32_t>& out) const {
  const bool all_bytes = std::all_of(symbol.begin(), symbol.end(),
                                     [&](char c) { return byte_tokens_[static_cast<unsigned char>(c)] >= 0; });
  if (all_bytes) {
    for (char c : symbol) out.push_back(byte_tokens_[static_cast<unsigned char>(c)]);
  } else if (vocab_.special(STRATA_SPECIAL_UNK) >= 0) {
    out.push_back(vocab_.special(STRATA_SPECIAL_UNK));  // a vocabulary without byte pieces
  }
}

void SpmTokenizer::encode_plain(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
  std::string s;
  s.reserve(text.size() + 16);
  if (add_space_prefix_ && after_special) s.append(kSpaceMark);
  for (char c : text) {
    if (c == ' ')
      s.append(kSpaceMark);
    else
      s.push_back(c);
  }

  // One symbol per character (by lead byte, so malformed UTF-8 still yields symbols).
  std::vector<Symbol> symbols;
  symbols.reserve(s.size());
  for (size_t offs = 0; offs < s.size();) {
    const size_t n = std::min(utf8::lead_length(static_cast<unsigned char>(s[offs])), s.size() - offs);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offs + n == s.size() ? -1 : index + 1, offs, n});
    offs += n;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view merged(s.data() + symbols[left].start, symbols[left].n + symbols[right].n);
    const int32_t id = find_piece(merged);
    if (id >= 0) queue.push({left, right, vocab_.score(id), merged.size()});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;  // stale
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  // Merged symbols are pieces by construction; a single character may not be one.
  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const std::string_view sym(s.data() + symbols[i].start, symbols[i].n);
    const int32_t id = find_piece(sym);
    if (id >= 0)
      out.push_back(id);
    else
      byte_fallback(sym, out);
  }
}

void SpmTokenizer::normal_piece(int32_t id, std::string& out) const {
  const std::string_view t = vocab_.text(id);
  for (size_t i = 0; i < t.size();) {
    if (t.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
      out.push_back(' ');
      i += kSpaceMark.size();
    } else {
      out.push_back(t[i++]);
    }
  }
}

}  // namespace strata::tokenizer_plugin
