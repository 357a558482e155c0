#include "engine/kv/sequence_kv_cache.h"

#include <algorithm>
#include <cassert>
#include <string>

#include "engine/core/error.h"
#include "kernels/cpu/fp16.h"

namespace strata {

SequenceKvCache::SequenceKvCache(KvGeometry geometry, int64_t capacity, int64_t page_tokens)
    : geo_(geometry), capacity_(capacity), page_tokens_(page_tokens) {
  assert(page_tokens_ > 0 && capacity_ > 0);
  elems_per_half_ = int64_t(geo_.n_head_kv) * page_tokens_ * geo_.head_dim;
}

void SequenceKvCache::reserve(int64_t n) {
  const int64_t need = size_ + n;
  if (need > capacity_)
    throw Error(ErrorKind::OutOfMemory, "context full: " + std::to_string(need) + " tokens requested, the context holds " +
                                            std::to_string(capacity_));
  const int64_t pages_needed = (need + page_tokens_ - 1) / page_tokens_;
  while (int64_t(pages_.size()) < pages_needed) {
    Page p;
    // Not zero-initialized: every slot is written before attention reads it.
    p.data.reset(new uint16_t[2 * elems_per_half_ * geo_.n_layer]);
    pages_.push_back(std::move(p));
  }
}

uint16_t* SequenceKvCache::slot(int64_t page, int layer, bool value, int head, int64_t token_in_page) const {
  uint16_t* base = pages_[page].data.get() + (int64_t(layer) * 2 + (value ? 1 : 0)) * elems_per_half_;
  return base + (int64_t(head) * page_tokens_ + token_in_page) * geo_.head_dim;
}

void SequenceKvCache::write(int layer, int64_t pos, int64_t n, const float* k, const float* v) {
  assert(pos + n <= int64_t(pages_.size()) * page_tokens_);
  const int64_t row = int64_t(geo_.n_head_kv) * geo_.head_dim;
  for (int64_t t = 0; t < n; ++t) {
    const int64_t p = pos + t;
    for (int h = 0; h < geo_.n_head_kv; ++h) {
      uint16_t* kd = slot(p / page_tokens_, layer, false, h, p % page_tokens_);
      uint16_t* vd = slot(p / page_tokens_, layer, true, h, p % page_tokens_);
      const float* ks = k + t * row + int64_t(h) * geo_.head_dim;
      const float* vs = v + t * row + int64_t(h) * geo_.head_dim;
      for (int d = 0; d < geo_.head_dim; ++d) {
        kd[d] = cpu::fp32_to_fp16(ks[d]);
        vd[d] = cpu::fp32_to_fp16(vs[d]);
      }
    }
  }
}

void SequenceKvCache::commit(int64_t new_size) {
  assert(new_size <= int64_t(pages_.size()) * page_tokens_);
  size_ = new_size;
}

void SequenceKvCache::truncate(int64_t new_size) {
  size_ = std::min(size_, std::max<int64_t>(new_size, 0));
  pages_.resize((size_ + page_tokens_ - 1) / page_tokens_);
}

void SequenceKvCache::spans(int layer, int64_t n_tokens, std::vector<KvSpan>& out) const {
  out.clear();
  for (int64_t first = 0; first < n_tokens; first += page_tokens_) {
    const int64_t page = first / page_tokens_;
    KvSpan s;
    s.type = TensorType::F16;
    s.k = slot(page, layer, false, 0, 0);
    s.v = slot(page, layer, true, 0, 0);
    s.first_pos = first;
    s.n_tokens = std::min(page_tokens_, n_tokens - first);
    s.head_stride = page_tokens_ * geo_.head_dim;
    s.token_stride = geo_.head_dim;
    out.push_back(s);
  }
}

uint64_t SequenceKvCache::allocated_bytes() const {
  return uint64_t(pages_.size()) * 2 * elems_per_half_ * geo_.n_layer * sizeof(uint16_t);
}

}  // namespace strata
