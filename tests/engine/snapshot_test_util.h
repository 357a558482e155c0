// Helpers shared by the snapshot tests: KV caches filled with deterministic rows, and raw file
// edits for the corruption tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <vector>

#include "engine/kv/sequence_kv_cache.h"
#include "engine/snapshot/snapshot_chunk.h"

namespace strata::test {

// A KV cache of n tokens whose rows depend on (seed, position): equal seeds give equal pages.
inline std::unique_ptr<SequenceKvCache> filled_kv(const std::shared_ptr<KvPagePool>& pool, int64_t n, uint32_t seed) {
  auto kv = std::make_unique<SequenceKvCache>(pool, 1 << 16);
  const auto& g = pool->geometry();
  const int64_t row = int64_t(g.n_head_kv) * g.head_dim;
  kv->reserve(n);
  std::vector<float> k(row), v(row);
  for (int64_t t = 0; t < n; ++t) {
    std::mt19937 rng(seed * 1000003u + static_cast<uint32_t>(t));
    std::normal_distribution<float> nd;
    for (int l = 0; l < g.n_layer; ++l) {
      for (auto& x : k) x = nd(rng);
      for (auto& x : v) x = nd(rng);
      kv->write(l, t, 1, k.data(), v.data());
    }
  }
  kv->commit(n);
  return kv;
}

inline std::vector<int32_t> token_run(int64_t n, int32_t first) {
  std::vector<int32_t> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((first + i * 7) % 30000 + 3);
  return t;
}

inline void flip_byte(const std::filesystem::path& p, uint64_t offset) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

// Overwrites a little-endian u32 at `offset`.
inline void put_u32(const std::filesystem::path& p, uint64_t offset, uint32_t v) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(reinterpret_cast<const char*>(&v), 4);
}

inline bool same_pages(const SequenceKvCache& a, const SequenceKvCache& b, int64_t pages) {
  const uint64_t n = a.pool().page_bytes();
  for (int64_t i = 0; i < pages; ++i)
    if (std::memcmp(a.page_data(i), b.page_data(i), n) != 0) return false;
  return true;
}

}  // namespace strata::test
