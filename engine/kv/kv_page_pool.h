// Pages of KV memory shared by every sequence of a model. A page holds `page_tokens` positions
// of one sequence for every layer (see docs/kv-cache.md for the layout). Pages are reference
// counted: sequences that share a prefix hold the same pages, and a page returns to the pool's
// free list when its last holder lets go. The pool enforces an optional byte budget.
//
// Thread-safe: sequences of one model may be created and destroyed on different threads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/kv/kv_cache.h"
#include "engine/weights/aligned_buffer.h"
#include "engine/weights/memory_ledger.h"

namespace strata {

class KvPagePool;

// One page of memory. Hold it through a KvPageRef; never free it directly.
//
// Pages of 2 MiB and more are huge-page mappings (AlignedBuffer). A token's K and V rows land in
// every (layer, K/V, head) region of its page, 2 x 16 x 8 regions for a 1B model, so with 4 KiB
// pages decoding touched a fresh page every few tokens per region: ~6 page faults per token,
// which cost decode 1-1.5% of its time on the project's VM (a fault there also faults the host).
struct KvPage {
  AlignedBuffer memory;
  uint8_t* data() const { return memory.data(); }
};
using KvPageRef = std::shared_ptr<KvPage>;

class KvPagePool : public std::enable_shared_from_this<KvPagePool> {
 public:
  // budget_bytes = 0: no limit. Throws Error(InvalidArgument) when `type` cannot store rows of
  // the geometry's head size.
  static std::shared_ptr<KvPagePool> create(KvGeometry geometry, KvType type, int64_t page_tokens = 256,
                                            uint64_t budget_bytes = 0, int q4g_group = 64);

  const KvGeometry& geometry() const { return geo_; }
  const KvFormat& format() const { return format_; }
  int64_t page_tokens() const { return page_tokens_; }
  uint64_t page_bytes() const { return page_bytes_; }
  uint64_t row_bytes() const { return row_bytes_; }

  // A page for exclusive use. Throws Error(OutOfMemory) naming the numbers when the budget
  // would be passed.
  KvPageRef allocate();
  // A fresh page holding a copy of `page` (copy-on-write).
  KvPageRef copy(const KvPage& page);

  uint64_t pages_in_use() const;
  uint64_t bytes_in_use() const { return pages_in_use() * page_bytes_; }
  // Bytes of the pool: pages in use plus pages kept on the free list for reuse.
  uint64_t bytes_reserved() const;
  uint64_t budget_bytes() const { return budget_; }
  // Frees the pages kept for reuse (the daemon, making room within its memory budget). Returns
  // the bytes freed.
  uint64_t release_free_pages();

  // Byte offset of row (layer, K or V, head, token in page) from the page start.
  uint64_t row_offset(int layer, bool value, int head, int64_t token_in_page) const {
    return ((uint64_t(layer) * 2 + (value ? 1 : 0)) * geo_.n_head_kv + head) * page_tokens_ * row_bytes_ +
           uint64_t(token_in_page) * row_bytes_;
  }

 private:
  KvPagePool(KvGeometry g, KvFormat f, int64_t page_tokens, uint64_t budget);
  void release(KvPage* page);

  KvGeometry geo_;
  KvFormat format_;
  int64_t page_tokens_;
  uint64_t row_bytes_, page_bytes_, budget_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<KvPage>> free_;  // kept for reuse (at most kMaxFree)
  MemoryLedger ledger_{"KV pages", UINT64_MAX};  // the budget is budget_, counted in pages
  uint64_t in_use_ = 0;
};

}  // namespace strata
