// BPE merge ranks keyed by the pair of token ids merged: a flat open-addressing table, because
// Llama 3 has 280k merges and a node-based map makes loading them dominate the model's load.
#pragma once

#include <cstdint>
#include <vector>

namespace strata::tokenizer_plugin {

class MergeRanks {
 public:
  void reserve(uint64_t n) {
    uint64_t slots = 16;
    while (slots < 2 * n) slots *= 2;  // load factor at most 1/2
    slots_.assign(slots, Slot{kEmpty, 0});
    mask_ = slots - 1;
  }

  // Records `rank` for (left, right) unless the pair already has one (the first merge wins).
  void insert(int32_t left, int32_t right, int32_t rank) {
    const uint64_t k = key(left, right);
    uint64_t i = mix(k) & mask_;
    for (; slots_[i].key != kEmpty; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return;
    }
    slots_[i] = Slot{k, rank};
  }

  // The rank of merging `left` then `right`, or -1.
  int32_t find(int32_t left, int32_t right) const {
    if (slots_.empty()) return -1;
    const uint64_t k = key(left, right);
    for (uint64_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return slots_[i].rank;
      if (slots_[i].key == kEmpty) return -1;
    }
  }

 private:
  struct Slot {
    uint64_t key;
    int32_t rank;
  };
  static constexpr uint64_t kEmpty = ~0ull;  // ids are non-negative, so no key has all bits set

  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  static uint64_t mix(uint64_t x) {  // splitmix64's finalizer
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }

  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
};

}  // namespace strata::tokenizer_plugin
