#include "engine/kv/sequence_kv_cache.h"

#include <algorithm>
#include <cassert>
#include <string>

#include "engine/core/error.h"

namespace strata {

SequenceKvCache::SequenceKvCache(KvGeometry geometry, int64_t capacity, int64_t page_tokens, KvType type, int q4g_group)
    : geo_(geometry),
      format_(KvFormat::make(type, geometry.head_dim, q4g_group)),
      row_bytes_(format_.row_bytes(geometry.head_dim)),
      capacity_(capacity),
      page_tokens_(page_tokens) {
  assert(page_tokens_ > 0 && capacity_ > 0);
  half_bytes_ = uint64_t(geo_.n_head_kv) * page_tokens_ * row_bytes_;
}

uint64_t SequenceKvCache::page_bytes(const KvGeometry& g, const KvFormat& f, int64_t page_tokens) {
  return 2 * uint64_t(g.n_layer) * g.n_head_kv * page_tokens * f.row_bytes(g.head_dim);
}

void SequenceKvCache::reserve(int64_t n) {
  const int64_t need = size_ + n;
  if (need > capacity_)
    throw Error(ErrorKind::OutOfMemory, "context full: " + std::to_string(need) + " tokens requested, the context holds " +
                                            std::to_string(capacity_));
  const int64_t pages_needed = (need + page_tokens_ - 1) / page_tokens_;
  while (int64_t(pages_.size()) < pages_needed) {
    Page p;
    // Not zero-initialized: every row is written before attention reads it.
    p.data.reset(new uint8_t[2 * half_bytes_ * geo_.n_layer]);
    pages_.push_back(std::move(p));
  }
}

uint8_t* SequenceKvCache::slot(int64_t page, int layer, bool value, int head, int64_t token_in_page) const {
  uint8_t* base = pages_[page].data.get() + (uint64_t(layer) * 2 + (value ? 1 : 0)) * half_bytes_;
  return base + (uint64_t(head) * page_tokens_ + token_in_page) * row_bytes_;
}

void SequenceKvCache::write(int layer, int64_t pos, int64_t n, const float* k, const float* v) {
  assert(pos + n <= int64_t(pages_.size()) * page_tokens_);
  const int64_t row = int64_t(geo_.n_head_kv) * geo_.head_dim;
  for (int64_t t = 0; t < n; ++t) {
    const int64_t p = pos + t;
    for (int h = 0; h < geo_.n_head_kv; ++h) {
      const int64_t offset = t * row + int64_t(h) * geo_.head_dim;
      kv_encode_row(format_, k + offset, slot(p / page_tokens_, layer, false, h, p % page_tokens_), geo_.head_dim);
      kv_encode_row(format_, v + offset, slot(p / page_tokens_, layer, true, h, p % page_tokens_), geo_.head_dim);
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
    s.format = format_;
    s.k = slot(page, layer, false, 0, 0);
    s.v = slot(page, layer, true, 0, 0);
    s.first_pos = first;
    s.n_tokens = std::min(page_tokens_, n_tokens - first);
    s.head_stride = page_tokens_ * row_bytes_;
    s.token_stride = row_bytes_;
    out.push_back(s);
  }
}

uint64_t SequenceKvCache::allocated_bytes() const { return uint64_t(pages_.size()) * 2 * half_bytes_ * geo_.n_layer; }

}  // namespace strata
