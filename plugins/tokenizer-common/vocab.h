// The vocabulary both tokenizer plugins share: token texts, scores and attributes read from
// tokenizer.ggml.*, a text -> id index, and the special-token roles (BOS, EOS, EOT, FIM, ...).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "strata/plugin.h"
#include "tokenizer-common/metadata_reader.h"

namespace strata::tokenizer_plugin {

// What a tokenizer kind assumes when the model's metadata says nothing.
struct VocabDefaults {
  int32_t bos = -1;  // used when the key is absent and the id is in range
  int32_t eos = -1;
  int32_t unk = -1;
  bool add_bos = false;
  bool add_eos = false;
};

inline constexpr int kSpecialRoleCount = STRATA_SPECIAL_FIM_MID + 1;

class Vocab {
 public:
  // Reads and validates the vocabulary. Throws PluginError(EMODEL) naming the key when the
  // arrays are missing, mistyped or of different lengths, or a special-token id is out of range.
  Vocab(const MetadataReader& meta, const VocabDefaults& defaults);
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;

  int32_t size() const { return static_cast<int32_t>(attrs_.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < size(); }
  std::string_view text(int32_t id) const {
    return {storage_.data() + offsets_[id], offsets_[id + 1] - offsets_[id]};
  }
  float score(int32_t id) const { return scores_.empty() ? 0.0f : scores_[id]; }
  uint32_t attr(int32_t id) const { return valid(id) ? attrs_[id] : 0; }
  // The id of a token text (the lowest id when texts repeat), or -1.
  int32_t find(std::string_view text) const {
    const uint64_t h = hash(text);
    for (uint64_t i = h & index_mask_;; i = (i + 1) & index_mask_) {
      const uint64_t slot = index_[i];
      if (slot == 0) return -1;
      const auto id = static_cast<int32_t>((slot & 0xFFFFFFFFu) - 1);
      if ((slot >> 32) == (h >> 32) && this->text(id) == text) return id;
    }
  }

  int32_t special(int role) const { return role >= 0 && role < kSpecialRoleCount ? special_[role] : -1; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }

  // CONTROL, USER_DEFINED and UNKNOWN tokens with non-empty text, longest text first (ties by
  // id): the order in which the special-token splitter claims them.
  const std::vector<int32_t>& splittable() const { return splittable_; }

  // Whitespace a special token swallows on its left / right when it is parsed from text (the
  // lstrip / rstrip of Hugging Face's added tokens; GGUF does not record them, see
  // apply_strip_rules).
  enum : uint8_t { kStripLeft = 1, kStripRight = 2 };
  uint8_t strip(int32_t id) const { return strip_.empty() ? 0 : strip_[id]; }

 private:
  void read_tokens(const MetadataReader& meta);
  void read_specials(const MetadataReader& meta, const VocabDefaults& defaults);
  int32_t find_by_names(std::initializer_list<std::string_view> names) const;
  void build_index();
  void apply_strip_rules(const MetadataReader& meta);
  static uint64_t hash(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then a final mix so that all bits matter
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
  }

  std::vector<char> storage_;    // all token texts, back to back
  std::vector<size_t> offsets_;  // size() + 1 entries into storage_
  std::vector<float> scores_;    // empty when the model has no scores
  std::vector<uint32_t> attrs_;  // STRATA_TOKEN_* bits
  // text -> id, open addressing with linear probing (a node-based map spends most of a 128k-token
  // vocabulary's load time in cache misses). A slot holds the hash's high 32 bits and id + 1;
  // 0 is empty.
  std::vector<uint64_t> index_;
  uint64_t index_mask_ = 0;
  int32_t special_[kSpecialRoleCount];
  bool add_bos_ = false;
  bool add_eos_ = false;
  std::vector<int32_t> splittable_;
  std::vector<uint8_t> strip_;  // kStrip* bits per token; empty when no token strips
};

}  // namespace strata::tokenizer_plugin
