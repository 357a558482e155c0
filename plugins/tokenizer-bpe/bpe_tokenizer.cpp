#include "tokenizer-bpe/bpe_tokenizer.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "tokenizer-bpe/byte_encoding.h"
#include "tokenizer-common/plugin_error.h"
#include "tokenizer-common/utf8.h"

namespace strata::tokenizer_plugin {
namespace {

constexpr const char* kMergesKey = "tokenizer.ggml.merges";

std::string pre_name(const MetadataReader& meta) {
  // A vocabulary without the key predates it; llama.cpp then uses its default expressions.
  return std::string(meta.string("tokenizer.ggml.pre").value_or("default"));
}

struct Symbol {
  int prev;
  int next;
  size_t start;
  size_t n;    // 0 once merged into its left neighbour
  int32_t id;  // the token this symbol's text is, or -1
};

struct Bigram {
  int left;
  int right;
  int32_t rank;
  size_t left_n;  // the sizes when queued: if either symbol changed since, the entry is stale
  size_t right_n;
};

// A heap comparator: lowest rank on top; on ties, the leftmost pair.
bool heap_after(const Bigram& a, const Bigram& b) { return a.rank > b.rank || (a.rank == b.rank && a.left > b.left); }

}  // namespace

// Buffers reused across the words of one encode call.
struct BpeTokenizer::Workspace {
  std::string encoded;
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
};

BpeTokenizer::BpeTokenizer(const MetadataReader& meta) : TokenizerBase(meta, VocabDefaults{}), pre_(pre_name(meta)) {
  read_merges(meta);
}

void BpeTokenizer::read_merges(const MetadataReader& meta) {
  const auto n = meta.array_size(kMergesKey, STRATA_META_STRING);
  if (!n) fail(STRATA_PLUGIN_EMODEL, std::string("'") + kMergesKey + "' is missing");
  if (*n > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
    fail(STRATA_PLUGIN_EMODEL, std::string("'") + kMergesKey + "' has too many entries");
  ranks_.reserve(*n);
  for (uint64_t i = 0; i < *n; ++i) {
    const std::string_view m = meta.array_string(kMergesKey, i);
    // "left right"; searching from index 1 lets a left part begin with a space.
    const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
    if (space == std::string_view::npos) continue;  // malformed: it can never apply
    const int32_t left = vocab_.find(m.substr(0, space));
    const int32_t right = vocab_.find(m.substr(space + 1));
    if (left < 0 || right < 0) continue;  // parts outside the vocabulary can never meet
    ranks_.insert(left, right, static_cast<int32_t>(i));
  }
}

void BpeTokenizer::encode_plain(std::string_view text, bool /*after_special*/, std::vector<int32_t>& out) const {
  const std::string clean = utf8::sanitize(text);
  std::vector<Word> words;
  pre_.split(clean, words);

  Workspace ws;
  for (const Word& w : words) {
    ws.encoded.clear();
    for (size_t i = 0; i < w.length; ++i)
      ws.encoded.append(byte_encoding::encode(static_cast<uint8_t>(clean[w.offset + i])));
    encode_word(ws.encoded, ws, out);
  }
}

void BpeTokenizer::encode_word(std::string_view word, Workspace& ws, std::vector<int32_t>& out) const {
  if (pre_.ignore_merges()) {
    const int32_t id = vocab_.find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }

  auto& symbols = ws.symbols;
  symbols.clear();
  for (size_t offs = 0; offs < word.size();) {
    const size_t n = std::min(utf8::lead_length(static_cast<unsigned char>(word[offs])), word.size() - offs);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offs + n == word.size() ? -1 : index + 1, offs, n, vocab_.find(word.substr(offs, n))});
    offs += n;
  }

  auto& heap = ws.heap;
  heap.clear();
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0 || symbols[left].id < 0 || symbols[right].id < 0) return;
    const int32_t r = ranks_.find(symbols[left].id, symbols[right].id);
    if (r < 0) return;
    heap.push_back({left, right, r, symbols[left].n, symbols[right].n});
    std::push_heap(heap.begin(), heap.end(), heap_after);
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), heap_after);
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    if (left.n != b.left_n || right.n != b.right_n || right.n == 0) continue;  // stale
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    left.id = vocab_.find(word.substr(left.start, left.n));
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    // Not a token (an inconsistent vocabulary): emit what single bytes are, as llama.cpp does.
    for (size_t k = 0; k < s.n; ++k) {
      const int32_t id = vocab_.find(word.substr(s.start + k, 1));
      if (id >= 0) out.push_back(id);
    }
  }
}

void BpeTokenizer::normal_piece(int32_t id, std::string& out) const {
  const std::string_view t = vocab_.text(id);
  for (size_t i = 0; i < t.size();) {
    uint32_t cp;
    const size_t n = utf8::decode(t, i, &cp);
    if (n == 0) {  // malformed token text: pass the byte through
      out.push_back(t[i++]);
      continue;
    }
    const int b = byte_encoding::decode(cp);
    if (b >= 0)
      out.push_back(static_cast<char>(b));
    else
      out.append(t.substr(i, n));  // a character outside the byte alphabet stands for itself
    i += n;
  }
}

}  // namespace strata::tokenizer_plugin
