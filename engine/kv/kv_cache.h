// The KV cache as the decoder sees it: where to write a token's keys and values, and which
// stored spans attention reads. Implementations decide storage (contiguous, paged, shared,
// quantized); the decoder only walks spans.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/kv/kv_format.h"

namespace strata {

// Geometry shared by every KV implementation of a model.
struct KvGeometry {
  int n_layer = 0;
  int n_head_kv = 0;
  int head_dim = 0;
};

// A run of consecutive positions of one layer: for each KV head, n_tokens rows of head_dim
// elements stored in `format`. Row (head h, token j) starts at k + h * head_stride +
// j * token_stride bytes (the same for v).
struct KvSpan {
  KvFormat format;
  const uint8_t* k = nullptr;
  const uint8_t* v = nullptr;
  int64_t first_pos = 0;
  int64_t n_tokens = 0;
  int64_t head_stride = 0;   // bytes
  int64_t token_stride = 0;  // bytes
};

class KvCache {
 public:
  virtual ~KvCache() = default;
  virtual const KvGeometry& geometry() const = 0;
  virtual const KvFormat& format() const = 0;
  // Tokens whose K/V are stored (positions 0 .. size()-1).
  virtual int64_t size() const = 0;
  // Most tokens this cache may hold (the context length).
  virtual int64_t capacity() const = 0;
  // Makes room for positions [size(), size() + n): allocates what is missing. Throws
  // Error(OutOfMemory) when that would pass the capacity.
  virtual void reserve(int64_t n) = 0;
  // Writes K and V of layer `layer` for positions [pos, pos + n) (already reserved): rows of
  // n_head_kv * head_dim floats, one row per token. Converts to the storage type.
  virtual void write(int layer, int64_t pos, int64_t n, const float* k, const float* v) = 0;
  // Marks positions below `new_size` as stored (after all layers were written).
  virtual void commit(int64_t new_size) = 0;
  // Drops every position >= new_size (e.g. to retry a generation from an earlier point).
  virtual void truncate(int64_t new_size) = 0;
  // Spans covering positions [0, n_tokens) of `layer`, in order.
  virtual void spans(int layer, int64_t n_tokens, std::vector<KvSpan>& out) const = 0;
  // Bytes of memory this cache holds now.
  virtual uint64_t allocated_bytes() const = 0;
};

}  // namespace strata
