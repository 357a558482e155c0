#include "tokenizer-common/vocab.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string>

#include "tokenizer-common/plugin_error.h"

namespace strata::tokenizer_plugin {
namespace {

constexpr const char* kTokensKey = "tokenizer.ggml.tokens";

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
uint32_t attr_of_type(int32_t type) {
  switch (type) {
    case 1: return STRATA_TOKEN_NORMAL;
    case 2: return STRATA_TOKEN_UNKNOWN;
    case 3: return STRATA_TOKEN_CONTROL;
    case 4: return STRATA_TOKEN_USER_DEFINED;
    case 5: return STRATA_TOKEN_UNUSED;
    case 6: return STRATA_TOKEN_BYTE;
    default: return 0;  // undefined: such tokens render as nothing
  }
}

}  // namespace

Vocab::Vocab(const MetadataReader& meta, const VocabDefaults& defaults) {
  std::fill(std::begin(special_), std::end(special_), -1);
  read_tokens(meta);
  read_specials(meta, defaults);

  for (int32_t id = 0; id < size(); ++id) {
    const uint32_t a = attrs_[id];
    if ((a & (STRATA_TOKEN_CONTROL | STRATA_TOKEN_USER_DEFINED | STRATA_TOKEN_UNKNOWN)) && !text(id).empty())
      splittable_.push_back(id);
  }
  std::stable_sort(splittable_.begin(), splittable_.end(),
                   [&](int32_t a, int32_t b) { return text(a).size() > text(b).size(); });
  apply_strip_rules(meta);
}

void Vocab::apply_strip_rules(const MetadataReader& meta) {
  // GGUF files carry no lstrip/rstrip flags, so llama.cpp recognises the one family of
  // SentencePiece models that needs them by name: Phi-3's added tokens swallow the whitespace
  // that follows them ("<|user|>\nHi" is <|user|> then "Hi"). We do the same, so that prompts
  // tokenize as llama.cpp tokenizes them.
  std::string name;
  try {
    name = std::string(meta.string("general.name").value_or(""));
  } catch (const PluginError&) {
    return;  // a mistyped name is not the tokenizer's business
  }
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return;

  strip_.assign(size(), 0);
  for (int32_t id : splittable_) strip_[id] = kStripRight;
  auto set = [&](std::string_view t, bool on) {
    const int32_t id = find(t);
    if (id >= 0) strip_[id] = on ? kStripRight : 0;
  };
  set("</s>", true);
  for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, false);
}

void Vocab::read_tokens(const MetadataReader& meta) {
  const auto n = meta.array_size(kTokensKey, STRATA_META_STRING);
  if (!n) fail(STRATA_PLUGIN_EMODEL, std::string("'") + kTokensKey + "' is missing");
  if (*n == 0) fail(STRATA_PLUGIN_EMODEL, std::string("'") + kTokensKey + "' is empty");
  if (*n > static_cast<uint64_t>(std::numeric_limits<int32_t>::max() - 1))
    fail(STRATA_PLUGIN_EMODEL, std::string("'") + kTokensKey + "' has too many entries");

  offsets_.reserve(*n + 1);
  offsets_.push_back(0);
  for (uint64_t i = 0; i < *n; ++i) {
    const std::string_view t = meta.array_string(kTokensKey, i);
    storage_.insert(storage_.end(), t.begin(), t.end());
    offsets_.push_back(storage_.size());
  }

  auto check_length = [&](const char* key, uint64_t count) {
    if (count != *n) {
      fail(STRATA_PLUGIN_EMODEL, std::string("'") + key + "' has " + std::to_string(count) + " entries but '" +
                                     kTokensKey + "' has " + std::to_string(*n));
    }
  };
  if (const auto ns = meta.array_size("tokenizer.ggml.scores", STRATA_META_F32)) {
    check_length("tokenizer.ggml.scores", *ns);
    scores_ = meta.f32_array("tokenizer.ggml.scores", *ns);
  }
  attrs_.assign(*n, STRATA_TOKEN_NORMAL);  // no types: every token is normal
  if (const auto nt = meta.array_size("tokenizer.ggml.token_type", STRATA_META_I32)) {
    check_length("tokenizer.ggml.token_type", *nt);
    const auto types = meta.i32_array("tokenizer.ggml.token_type", *nt);
    for (uint64_t i = 0; i < *n; ++i) attrs_[i] = attr_of_type(types[i]);
  }

  build_index();
}

void Vocab::build_index() {
  uint64_t slots = 16;
  while (slots < 2 * static_cast<uint64_t>(size())) slots *= 2;  // load factor at most 1/2
  index_.assign(slots, 0);
  index_mask_ = slots - 1;
  for (int32_t id = 0; id < size(); ++id) {
    const std::string_view t = text(id);
    if (t.empty() || find(t) >= 0) continue;  // keep the first of duplicate texts
    const uint64_t h = hash(t);
    uint64_t i = h & index_mask_;
    while (index_[i] != 0) i = (i + 1) & index_mask_;
    index_[i] = (h & 0xFFFFFFFF00000000ull) | static_cast<uint64_t>(id + 1);
  }
}

void Vocab::read_specials(const MetadataReader& meta, const VocabDefaults& defaults) {
  auto read_id = [&](const char* key, int32_t fallback) -> int32_t {
    const auto v = meta.integer(key);
    if (!v) return valid(fallback) ? fallback : -1;
    // -1 (or its u32 spelling) is how some converters write "no such token".
    if (*v == -1 || *v == 0xFFFFFFFFll) return -1;
    if (*v < 0 || *v >= size()) {
      fail(STRATA_PLUGIN_EMODEL, std::string("'") + key + "' = " + std::to_string(*v) +
                                     " is out of range (the vocabulary has " + std::to_string(size()) + " tokens)");
    }
    return static_cast<int32_t>(*v);
  };
  // The newer key wins; the older spelling is read when the newer one is absent.
  auto read_id2 = [&](const char* key, const char* old_key) {
    return meta.has(key) ? read_id(key, -1) : read_id(old_key, -1);
  };

  special_[STRATA_SPECIAL_BOS] = read_id("tokenizer.ggml.bos_token_id", defaults.bos);
  special_[STRATA_SPECIAL_EOS] = read_id("tokenizer.ggml.eos_token_id", defaults.eos);
  special_[STRATA_SPECIAL_UNK] = read_id("tokenizer.ggml.unknown_token_id", defaults.unk);
  special_[STRATA_SPECIAL_PAD] = read_id("tokenizer.ggml.padding_token_id", -1);
  special_[STRATA_SPECIAL_EOT] = read_id("tokenizer.ggml.eot_token_id", -1);
  special_[STRATA_SPECIAL_FIM_PRE] = read_id2("tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id");
  special_[STRATA_SPECIAL_FIM_SUF] = read_id2("tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id");
  special_[STRATA_SPECIAL_FIM_MID] = read_id2("tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id");

  // Older conversions carry no keys for these roles; find the tokens by their well-known texts
  // (the first name in each list that the vocabulary has wins). Such a token is used as a
  // control token whatever its stored type says, as llama.cpp does: it renders as nothing and
  // is only parsed from text with PARSE_SPECIAL.
  auto detect = [&](int role, std::initializer_list<std::string_view> names) {
    if (special_[role] >= 0) return;
    special_[role] = find_by_names(names);
    if (special_[role] >= 0) attrs_[special_[role]] |= STRATA_TOKEN_CONTROL;
  };
  detect(STRATA_SPECIAL_EOT, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                              "<|end_of_text|>", "<EOT>", "_<EOT>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
                              "<end_of_utterance>"});
  detect(STRATA_SPECIAL_FIM_PRE, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                  "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>", "\xE2\x96\x81<PRE>"});
  detect(STRATA_SPECIAL_FIM_SUF, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                  "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>", "<SUF>", "\xE2\x96\x81<SUF>"});
  detect(STRATA_SPECIAL_FIM_MID, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                  "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>", "\xE2\x96\x81<MID>"});

  add_bos_ = meta.boolean("tokenizer.ggml.add_bos_token").value_or(defaults.add_bos);
  add_eos_ = meta.boolean("tokenizer.ggml.add_eos_token").value_or(defaults.add_eos);
  if (add_bos_ && special_[STRATA_SPECIAL_BOS] < 0)
    fail(STRATA_PLUGIN_EMODEL, "'tokenizer.ggml.add_bos_token' is true but the model has no BOS token");
  if (add_eos_ && special_[STRATA_SPECIAL_EOS] < 0)
    fail(STRATA_PLUGIN_EMODEL, "'tokenizer.ggml.add_eos_token' is true but the model has no EOS token");
}

int32_t Vocab::find_by_names(std::initializer_list<std::string_view> names) const {
  for (std::string_view name : names) {
    const int32_t id = find(name);
    if (id >= 0) return id;
  }
  return -1;
}

}  // namespace strata::tokenizer_plugin
