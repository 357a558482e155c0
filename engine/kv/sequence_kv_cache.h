// The KV cache of one sequence: a page table over pages of a KvPagePool, filled as the sequence
// grows, so a short conversation in a long configured context costs only the pages it fills.
// Sequences forked from one another share their common pages; a shared page is copied before it
// is written (copy-on-write), and returns to the pool when its last holder ends.
#pragma once

#include <memory>
#include <vector>

#include "engine/kv/kv_cache.h"
#include "engine/kv/kv_page_pool.h"

namespace strata {

class SequenceKvCache final : public KvCache {
 public:
  static constexpr int64_t kDefaultPageTokens = 256;

  // A sequence drawing pages from a shared pool.
  SequenceKvCache(std::shared_ptr<KvPagePool> pool, int64_t capacity);
  // A sequence with a private pool (offline tools, tests). Throws Error(InvalidArgument) when
  // `type` cannot store this geometry's rows.
  SequenceKvCache(KvGeometry geometry, int64_t capacity, int64_t page_tokens = kDefaultPageTokens,
                  KvType type = KvType::F16, int q4g_group = 64);

  // A new sequence holding the first n_tokens (<= size()) of this one, sharing their pages.
  std::unique_ptr<SequenceKvCache> fork(int64_t n_tokens) const;
  // A sequence made of pages filled elsewhere (a snapshot restore): page i holds positions
  // [i*P, (i+1)*P), and the first n_tokens positions count as stored. Throws
  // Error(InvalidArgument) when the pages do not cover n_tokens exactly (no spare page) or
  // n_tokens passes the capacity.
  static std::unique_ptr<SequenceKvCache> from_pages(std::shared_ptr<KvPagePool> pool, int64_t capacity,
                                                     std::vector<KvPageRef> pages, int64_t n_tokens);

  // Bytes one page occupies (all layers, K and V).
  static uint64_t page_bytes(const KvGeometry& g, const KvFormat& f, int64_t page_tokens);

  const KvGeometry& geometry() const override { return pool_->geometry(); }
  const KvFormat& format() const override { return pool_->format(); }
  int64_t size() const override { return size_; }
  int64_t capacity() const override { return capacity_; }
  void reserve(int64_t n) override;
  void write(int layer, int64_t pos, int64_t n, const float* k, const float* v) override;
  void commit(int64_t new_size) override;
  void truncate(int64_t new_size) override;
  void spans(int layer, int64_t n_tokens, std::vector<KvSpan>& out) const override;
  // Bytes of the pages this sequence references (a page shared with another sequence is
  // counted by both; KvPagePool::bytes_in_use counts it once).
  uint64_t allocated_bytes() const override;

  int64_t page_tokens() const { return pool_->page_tokens(); }
  const KvPagePool& pool() const { return *pool_; }
  // Pages this sequence shares with another one.
  int64_t shared_pages() const;
  // Pages in the page table, and read-only access to page i's pool().page_bytes() bytes (for
  // writing snapshots; the layout is in docs/kv-cache.md).
  int64_t page_count() const { return static_cast<int64_t>(pages_.size()); }
  const uint8_t* page_data(int64_t i) const { return pages_.at(static_cast<size_t>(i))->data(); }
  // The pool this sequence draws from (to build a restored sequence over the same pool).
  const std::shared_ptr<KvPagePool>& shared_pool() const { return pool_; }

 private:
  uint8_t* row(int64_t pos, int layer, bool value, int head) const;

  std::shared_ptr<KvPagePool> pool_;
  int64_t capacity_;
  int64_t size_ = 0;
  std::vector<KvPageRef> pages_;  // the page table: page i holds positions [i*P, (i+1)*P)
};

}  // namespace strata
