#include "tokenizer-bpe/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <initializer_list>

#include "tokenizer-common/plugin_error.h"
#include "tokenizer-common/utf8.h"

namespace strata::tokenizer_plugin {
namespace {

// The expressions as the original tokenizers (and llama.cpp) write them. Before compiling,
// \s and \S are rewritten to Unicode's White_Space set (see kWhiteSpace); everything else is
// PCRE2 syntax in UTF + UCP mode. Non-ASCII characters are written as \x{...} escapes so no
// editor or normalization can alter them.
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// CJK ideographs, U+0800..U+4E00 and Hangul, as DeepSeek's tokenizers group them.
constexpr const char* kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
// DeepSeek LLM's cased letters (its tokenizer.json spells out the ranges).
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})"
    R"(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})"
    R"(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})"
    R"(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})"
    R"(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})"
    R"(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})"
    R"(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134})"
    R"(\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787})"
    R"(\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A})"
    R"(\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
// ASCII and full-width punctuation, curly quotes and CJK punctuation.
constexpr const char* kDeepseekPunct = R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";

struct PreSpec {
  std::initializer_list<std::string_view> names;
  std::initializer_list<const char*> patterns;
  bool ignore_merges;
};

const PreSpec kSpecs[] = {
    // A vocabulary that names no pre-tokenizer gets llama.cpp's default.
    {{"default"}, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}, false},
    {{"gpt-2", "mpt", "olmo"}, {kGpt2}, false},
    {{"llama-bpe", "llama3", "llama-v3"}, {kLlama3}, true},
    {{"qwen2", "stablelm2"}, {kQwen2}, false},
    // \s++$ rather than \s+$: the same matches, without quadratic backtracking on long blanks.
    {{"deepseek-llm"}, {R"([\r\n])", kDeepseekLetters, kDeepseekPunct, R"(\s++$)", kDeepseekCjk, R"(\p{N}+)"}, false},
    {{"deepseek-coder"}, {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"}, false},
    {{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}, false},
    {{"starcoder", "refact", "command-r", "smollm"}, {R"(\p{N})", kGpt2}, false},
};

const PreSpec* find_spec(std::string_view name) {
  for (const PreSpec& spec : kSpecs) {
    for (std::string_view n : spec.names) {
      if (n == name) return &spec;
    }
  }
  return nullptr;
}

// Unicode's White_Space property, which is what \s means to the original tokenizers (Python's
// and Rust's regex engines) and to llama.cpp. PCRE2's own \s lacks U+0085.
constexpr std::string_view kWhiteSpace =
    R"(\t-\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

std::string rewrite_whitespace(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
      } else if (e == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpace) + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) in_class = true;
    else if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

}  // namespace

struct PreTokenizer::Pattern {
  pcre2_code* code = nullptr;
  ~Pattern() { pcre2_code_free(code); }
};

bool PreTokenizer::known(std::string_view name) { return find_spec(name) != nullptr; }

std::string PreTokenizer::known_names() {
  std::string s;
  for (const PreSpec& spec : kSpecs) {
    for (std::string_view n : spec.names) s += (s.empty() ? "" : ", ") + std::string(n);
  }
  return s;
}

PreTokenizer::PreTokenizer(std::string_view name) {
  const PreSpec* spec = find_spec(name);
  if (!spec) {
    fail(STRATA_PLUGIN_EUNSUPPORTED, "tokenizer.ggml.pre '" + std::string(name) +
                                         "' is not supported by tokenizer-bpe (supported: " + known_names() + ")");
  }
  ignore_merges_ = spec->ignore_merges;
  for (const char* source : spec->patterns) {
    const std::string pattern = rewrite_whitespace(source);
    int error = 0;
    PCRE2_SIZE offset = 0;
    auto p = std::make_unique<Pattern>();
    // DOLLAR_ENDONLY: $ means the end of the word, as in the original engines, never "before a
    // final newline".
    p->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                            PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &error, &offset, nullptr);
    if (!p->code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(error, msg, sizeof(msg));
      fail(STRATA_PLUGIN_EINTERNAL, "pre-tokenizer '" + std::string(name) + "': cannot compile pattern at offset " +
                                        std::to_string(offset) + ": " + reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE);  // when JIT is unavailable, the interpreter runs
    patterns_.push_back(std::move(p));
  }
}

PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::split(std::string_view text, std::vector<Word>& words) const {
  if (text.empty()) return;
  std::vector<Word> current{{0, text.size()}}, next;

  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  if (!md) fail(STRATA_PLUGIN_ENOMEM, "pre-tokenizer: out of memory");
  struct Free {
    pcre2_match_data* md;
    ~Free() { pcre2_match_data_free(md); }
  } free_md{md};

  for (const auto& pattern : patterns_) {
    next.clear();
    for (const Word& w : current) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + w.offset);
      size_t done = 0;   // end of the last match
      size_t start = 0;  // where the next search begins
      while (start < w.length) {
        int rc = pcre2_match(pattern->code, subject, w.length, start, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // the interpreter keeps its frames on the heap
          rc = pcre2_match(pattern->code, subject, w.length, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) fail(STRATA_PLUGIN_EINTERNAL, "pre-tokenizer: regex match failed (PCRE2 error " + std::to_string(rc) + ")");
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t begin = ov[0], end = ov[1];
        if (end == begin) {  // none of our expressions matches empty text; never loop on one
          if (begin >= w.length) break;
          start = begin + utf8::lead_length(static_cast<unsigned char>(text[w.offset + begin]));
          continue;
        }
        if (begin > done) next.push_back({w.offset + done, begin - done});
        next.push_back({w.offset + begin, end - begin});
        done = start = end;
      }
      if (done < w.length) next.push_back({w.offset + done, w.length - done});
    }
    current.swap(next);
  }
  words.insert(words.end(), current.begin(), current.end());
}

}  // namespace strata::tokenizer_plugin
