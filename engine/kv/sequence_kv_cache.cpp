#include "engine/kv/sequence_kv_cache.h"

#include <algorithm>
#include <cassert>
#include <string>

#include "engine/core/error.h"

namespace strata {

SequenceKvCache::SequenceKvCache(std::shared_ptr<KvPagePool> pool, int64_t capacity)
    : pool_(std::move(pool)), capacity_(capacity) {
  assert(pool_ && capacity_ > 0);
}

SequenceKvCache::SequenceKvCache(KvGeometry geometry, int64_t capacity, int64_t page_tokens, KvType type, int q4g_group)
    : SequenceKvCache(KvPagePool::create(geometry, type, page_tokens, 0, q4g_group), capacity) {}

std::unique_ptr<SequenceKvCache> SequenceKvCache::fork(int64_t n_tokens) const {
  assert(n_tokens >= 0 && n_tokens <= size_);
  auto child = std::make_unique<SequenceKvCache>(pool_, capacity_);
  const int64_t P = pool_->page_tokens();
  child->pages_.assign(pages_.begin(), pages_.begin() + (n_tokens + P - 1) / P);
  child->size_ = n_tokens;
  return child;
}

std::unique_ptr<SequenceKvCache> SequenceKvCache::from_pages(std::shared_ptr<KvPagePool> pool, int64_t capacity,
                                                             std::vector<KvPageRef> pages, int64_t n_tokens) {
  const int64_t P = pool->page_tokens();
  if (n_tokens < 0 || n_tokens > capacity)
    throw Error(ErrorKind::InvalidArgument, "restored KV of " + std::to_string(n_tokens) +
                                                " tokens does not fit a context of " + std::to_string(capacity));
  if (static_cast<int64_t>(pages.size()) != (n_tokens + P - 1) / P)
    throw Error(ErrorKind::InvalidArgument, std::to_string(pages.size()) + " KV pages cannot hold exactly " +
                                                std::to_string(n_tokens) + " tokens in pages of " + std::to_string(P));
  for (const auto& p : pages)
    if (!p || !p->data()) throw Error(ErrorKind::InvalidArgument, "restored KV: a page is empty");
  auto seq = std::make_unique<SequenceKvCache>(std::move(pool), capacity);
  seq->pages_ = std::move(pages);
  seq->size_ = n_tokens;
  return seq;
}

uint64_t SequenceKvCache::page_bytes(const KvGeometry& g, const KvFormat& f, int64_t page_tokens) {
  return 2 * uint64_t(g.n_layer) * g.n_head_kv * page_tokens * f.row_bytes(g.head_dim);
}

void SequenceKvCache::reserve(int64_t n) {
  const int64_t need = size_ + n;
  if (need > capacity_)
    throw Error(ErrorKind::OutOfMemory, "context full: " + std::to_string(need) + " tokens requested, the context holds " +
                                            std::to_string(capacity_));
  const int64_t P = pool_->page_tokens();
  const size_t pages_needed = static_cast<size_t>((need + P - 1) / P);
  std::vector<KvPageRef> fresh;
  while (pages_.size() + fresh.size() < pages_needed) fresh.push_back(pool_->allocate());  // all or nothing
  for (auto& p : fresh) pages_.push_back(std::move(p));
}

uint8_t* SequenceKvCache::row(int64_t pos, int layer, bool value, int head) const {
  const int64_t P = pool_->page_tokens();
  return pages_[pos / P]->data() + pool_->row_offset(layer, value, head, pos % P);
}

void SequenceKvCache::write(int layer, int64_t pos, int64_t n, const float* k, const float* v) {
  const int64_t P = pool_->page_tokens();
  assert(pos + n <= int64_t(pages_.size()) * P);
  // Copy-on-write: a page another sequence also holds is copied before it changes. Only the
  // page holding the sequence's end can be both shared and written.
  for (int64_t page = pos / P; page <= (pos + n - 1) / P; ++page)
    if (pages_[page].use_count() > 1) pages_[page] = pool_->copy(*pages_[page]);
  const auto& g = pool_->geometry();
  const auto& f = pool_->format();
  const int64_t row_elems = int64_t(g.n_head_kv) * g.head_dim;
  for (int64_t t = 0; t < n; ++t)
    for (int h = 0; h < g.n_head_kv; ++h) {
      const int64_t offset = t * row_elems + int64_t(h) * g.head_dim;
      kv_encode_row(f, k + offset, row(pos + t, layer, false, h), g.head_dim);
      kv_encode_row(f, v + offset, row(pos + t, layer, true, h), g.head_dim);
    }
}

void SequenceKvCache::commit(int64_t new_size) {
  assert(new_size <= int64_t(pages_.size()) * pool_->page_tokens());
  size_ = new_size;
}

void SequenceKvCache::truncate(int64_t new_size) {
  const int64_t P = pool_->page_tokens();
  size_ = std::min(size_, std::max<int64_t>(new_size, 0));
  pages_.resize((size_ + P - 1) / P);
}

void SequenceKvCache::spans(int layer, int64_t n_tokens, std::vector<KvSpan>& out) const {
  out.clear();
  const int64_t P = pool_->page_tokens();
  for (int64_t first = 0; first < n_tokens; first += P) {
    const uint8_t* base = pages_[first / P]->data();
    KvSpan s;
    s.format = pool_->format();
    s.k = base + pool_->row_offset(layer, false, 0, 0);
    s.v = base + pool_->row_offset(layer, true, 0, 0);
    s.first_pos = first;
    s.n_tokens = std::min(P, n_tokens - first);
    s.head_stride = P * pool_->row_bytes();
    s.token_stride = pool_->row_bytes();
    out.push_back(s);
  }
}

uint64_t SequenceKvCache::allocated_bytes() const { return uint64_t(pages_.size()) * pool_->page_bytes(); }

int64_t SequenceKvCache::shared_pages() const {
  int64_t n = 0;
  for (const auto& p : pages_) n += p.use_count() > 1;
  return n;
}

}  // namespace strata
