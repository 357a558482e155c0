#include "engine/kv/kv_page_pool.h"

#include <cstring>
#include <string>

#include "engine/core/error.h"

namespace strata {
namespace {
// Free pages kept for reuse; beyond this they go back to the allocator.
constexpr size_t kMaxFree = 16;
}  // namespace

std::shared_ptr<KvPagePool> KvPagePool::create(KvGeometry geometry, KvType type, int64_t page_tokens,
                                               uint64_t budget_bytes, int q4g_group) {
  if (page_tokens <= 0) throw Error(ErrorKind::InvalidArgument, "KV page size must be positive");
  return std::shared_ptr<KvPagePool>(
      new KvPagePool(geometry, KvFormat::make(type, geometry.head_dim, q4g_group), page_tokens, budget_bytes));
}

KvPagePool::KvPagePool(KvGeometry g, KvFormat f, int64_t page_tokens, uint64_t budget)
    : geo_(g), format_(f), page_tokens_(page_tokens), budget_(budget) {
  row_bytes_ = format_.row_bytes(g.head_dim);
  page_bytes_ = 2 * uint64_t(g.n_layer) * g.n_head_kv * page_tokens * row_bytes_;
}

KvPageRef KvPagePool::allocate() {
  std::unique_ptr<KvPage> page;
  {
    std::lock_guard lock(mu_);
    if (budget_ && (in_use_ + 1) * page_bytes_ > budget_)
      throw Error(ErrorKind::OutOfMemory, "KV memory budget of " + std::to_string(budget_) + " bytes reached: " +
                                              std::to_string(in_use_) + " pages of " + std::to_string(page_bytes_) +
                                              " bytes in use");
    if (!free_.empty()) {
      page = std::move(free_.back());
      free_.pop_back();
    }
    ++in_use_;
  }
  if (!page) {
    page = std::make_unique<KvPage>();
    // Not zero-initialized: every row is written before attention reads it.
    page->memory = AlignedBuffer(page_bytes_, ledger_);
  }
  // The deleter keeps the pool alive and hands the page back to it.
  auto self = shared_from_this();
  return KvPageRef(page.release(), [self](KvPage* p) { self->release(p); });
}

KvPageRef KvPagePool::copy(const KvPage& page) {
  KvPageRef fresh = allocate();
  std::memcpy(fresh->data(), page.data(), page_bytes_);
  return fresh;
}

void KvPagePool::release(KvPage* page) {
  std::unique_ptr<KvPage> owned(page);
  std::lock_guard lock(mu_);
  --in_use_;
  if (free_.size() < kMaxFree) free_.push_back(std::move(owned));
}

uint64_t KvPagePool::release_free_pages() {
  std::vector<std::unique_ptr<KvPage>> freed;
  {
    std::lock_guard lock(mu_);
    freed.swap(free_);
  }
  return freed.size() * page_bytes_;  // freed outside the lock
}

uint64_t KvPagePool::pages_in_use() const {
  std::lock_guard lock(mu_);
  return in_use_;
}

uint64_t KvPagePool::bytes_reserved() const {
  std::lock_guard lock(mu_);
  return (in_use_ + free_.size()) * page_bytes_;
}

}  // namespace strata
