// KV cache of one sequence, stored in fixed-size pages allocated as the sequence grows: a short
// conversation in a long configured context costs only the pages it fills. Rows are stored in
// a KvFormat (f16, q8_0 or q4g), converted when written.
#pragma once

#include <memory>
#include <vector>

#include "engine/kv/kv_cache.h"

namespace strata {

class SequenceKvCache final : public KvCache {
 public:
  static constexpr int64_t kDefaultPageTokens = 256;

  // Throws Error(InvalidArgument) when `type` cannot store this geometry's rows.
  SequenceKvCache(KvGeometry geometry, int64_t capacity, int64_t page_tokens = kDefaultPageTokens,
                  KvType type = KvType::F16, int q4g_group = 64);

  // Bytes one page occupies (all layers, K and V).
  static uint64_t page_bytes(const KvGeometry& g, const KvFormat& f, int64_t page_tokens);

  const KvGeometry& geometry() const override { return geo_; }
  const KvFormat& format() const override { return format_; }
  int64_t size() const override { return size_; }
  int64_t capacity() const override { return capacity_; }
  void reserve(int64_t n) override;
  void write(int layer, int64_t pos, int64_t n, const float* k, const float* v) override;
  void commit(int64_t new_size) override;
  void truncate(int64_t new_size) override;
  void spans(int layer, int64_t n_tokens, std::vector<KvSpan>& out) const override;
  uint64_t allocated_bytes() const override;

  int64_t page_tokens() const { return page_tokens_; }

 private:
  // One page: for each layer, K then V, each [n_head_kv][page_tokens] rows of row_bytes_.
  struct Page {
    std::unique_ptr<uint8_t[]> data;
  };
  uint8_t* slot(int64_t page, int layer, bool value, int head, int64_t token_in_page) const;

  KvGeometry geo_;
  KvFormat format_;
  uint64_t row_bytes_;
  int64_t capacity_;
  int64_t page_tokens_;
  int64_t size_ = 0;
  uint64_t half_bytes_;  // bytes of K (or V) of one layer in one page
  std::vector<Page> pages_;
};

}  // namespace strata
