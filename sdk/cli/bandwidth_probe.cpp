#include "sdk/cli/bandwidth_probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/threads/thread_pool.h"
#include "engine/weights/aligned_buffer.h"
#include "engine/weights/memory_ledger.h"
#include "kernels/cpu/kernels.h"

namespace strata {

namespace {

// Reads S streams of `len` words each, side by side, from `p` (stream k starts at p + k * len), with
// eight independent sums per stream so that the loop is bound by loads, not by one add chain; the
// compiler vectorizes it. With ahead > 0 each line is asked for `ahead` bytes before it is read
// (into L1), as the decode kernels do. Returns the sum, which keeps the reads from being
// optimized away.
template <int S>
uint64_t read_streams(const uint64_t* p, uint64_t len, uint64_t ahead) {
  uint64_t s[S][8] = {};
  for (uint64_t i = 0; i < len; i += 8)
    for (int k = 0; k < S; ++k) {
      if (ahead > 0) __builtin_prefetch(reinterpret_cast<const char*>(p + k * len + i) + ahead, 0, 3);
      for (int j = 0; j < 8; ++j) s[k][j] += p[k * len + i + j];
    }
  uint64_t t = 0;
  for (const auto& row : s)
    for (uint64_t v : row) t += v;
  return t;
}

}  // namespace

BandwidthResult measure_read_bandwidth(ThreadPool& pool, uint64_t bytes, const ProbePlan& plan) {
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
  // Each thread reads its share in whole lines of four streams: the bytes of one pass.
  const int threads = pool.size();
  uint64_t pass_bytes = 0;
  for (int ith = 0; ith < threads; ++ith)
    pass_bytes += 4 * ((words * (ith + 1) / threads - words * ith / threads) / 32 * 8) * 8;
  BandwidthResult r;
  r.buffer_bytes = words * 8;
  r.window_s = plan.window_s;
  // Three ways to read, the fastest counts: as one sequential stream per thread; as four streams
  // per thread (the thread's share in quarters, read side by side), the way the decode kernels
  // read their rows (kernels/cpu/row_quarters.h); and as four streams with each line asked for as
  // far ahead as the kernels' software prefetch does (cpu::quarter_prefetch_bytes(): 2 KiB on
  // AMD; row_prefetch.h). On the Zen 5 VM, 2 threads, 1 GiB, median of 7 passes: one stream 38.6
  // GB/s, four 54.5-66.0, four with the prefetch 76.1-77.3 (1.5 and 3 KiB level, 1 and 4 KiB
  // slower, eight streams 63.8). A probe that reads slower than the kernels do would understate
  // the roofline.
  enum class Way { kOneStream, kFourStreams, kFourStreamsPrefetched };
  const uint64_t ahead = cpu::quarter_prefetch_bytes();
  using Clock = std::chrono::steady_clock;
  // One pass over the buffer (pass_bytes); returns its seconds.
  auto pass = [&](Way way) {
    const auto t0 = Clock::now();
    pool.run([&](int ith, int nth) {
      const uint64_t b = words * ith / nth, e = words * (ith + 1) / nth;
      const uint64_t len = (e - b) / 32 * 8;  // words per stream of four, whole lines
      const uint64_t sum = way == Way::kOneStream     ? read_streams<1>(buf + b, 4 * len, 0)
                           : way == Way::kFourStreams ? read_streams<4>(buf + b, len, 0)
                                                      : read_streams<4>(buf + b, len, ahead);
      sink.fetch_add(sum, std::memory_order_relaxed);  // keeps the reads from being optimized away
    });
    const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
    r.burst_bytes_per_s = std::max(r.burst_bytes_per_s, static_cast<double>(pass_bytes) / sec);
    return sec;
  };
  Way fastest = Way::kFourStreamsPrefetched;
  double fastest_s = INFINITY;
  for (int p = 0; p < plan.passes; ++p)
    for (Way way : {Way::kOneStream, Way::kFourStreams, Way::kFourStreamsPrefetched}) {
      const double sec = pass(way);
      if (sec < fastest_s) {
        fastest_s = sec;
        fastest = way;
      }
    }
  // A single pass of 1 GiB lasts ~13 ms. On a shared host the rate swings within a second (the
  // Zen 5 VM, 1.2 s windows: passes of 48-70 GB/s, 66 on the whole window), and the best of many
  // short passes is a burst that no decode of a second or more keeps up: a roofline from it
  // would count the host's bursts against the kernels. The windows are read as a tg repetition
  // reads its weights, pass after pass for about as long, and their rate includes every dip.
  for (int w = 0; w < plan.windows; ++w) {
    int passes = 0;
    double sec = 0;
    do {
      sec += pass(fastest);
      ++passes;
    } while (sec < plan.window_s);
    r.bytes_per_s = std::max(r.bytes_per_s, static_cast<double>(passes) * pass_bytes / sec);
  }
  if (plan.windows == 0) r.bytes_per_s = r.burst_bytes_per_s;
  return r;
}

}  // namespace strata
