#include "sdk/cli/bandwidth_probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <vector>

#include "engine/threads/thread_pool.h"
#include "engine/weights/aligned_buffer.h"
#include "engine/weights/memory_ledger.h"

namespace strata {

BandwidthResult measure_read_bandwidth(ThreadPool& pool, uint64_t bytes, int passes) {
  const uint64_t words = bytes / 64 * 8;
  // In huge pages where the host has them, as the weights copied at load are (AlignedBuffer):
  // from 4 KiB pages the probe would measure TLB misses too and understate the roofline.
  MemoryLedger ledger("bandwidth probe", UINT64_MAX);
  AlignedBuffer storage(words * 8, ledger);
  auto* buf = reinterpret_cast<uint64_t*>(storage.data());
  // Written by the threads that read it later, so the pages sit where those threads run.
  pool.run([&](int ith, int nth) {
    const uint64_t b = words * ith / nth, e = words * (ith + 1) / nth;
    for (uint64_t i = b; i < e; ++i) buf[i] = i;
  });
  std::atomic<uint64_t> sink{0};
  BandwidthResult r;
  r.buffer_bytes = words * 8;
  for (int p = 0; p < passes; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int ith, int nth) {
      const uint64_t b = words * ith / nth / 8 * 8, e = ith + 1 == nth ? words : words * (ith + 1) / nth / 8 * 8;
      // Eight independent sums so that the loop is bound by loads, not by one add chain; the
      // compiler vectorizes it.
      uint64_t s[8] = {};
      for (uint64_t i = b; i < e; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += buf[i + j];
      uint64_t t = 0;
      for (uint64_t v : s) t += v;
      sink.fetch_add(t, std::memory_order_relaxed);  // keeps the reads from being optimized away
    });
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.bytes_per_s = std::max(r.bytes_per_s, static_cast<double>(r.buffer_bytes) / sec);
  }
  return r;
}

}  // namespace strata
