// Memory-bandwidth probe for `strata bench --bandwidth`: how fast the given threads can stream a
// buffer far larger than the last-level cache, which bounds decode speed (every generated token
// reads all the weights once). The buffer is in transparent huge pages where the host has them,
// like the weights a plain load copies into RAM.
#pragma once

#include <cstdint>

namespace strata {

class ThreadPool;

struct BandwidthResult {
  // Sustained: the best window's bytes over its whole time. The roofline uses this one.
  double bytes_per_s = 0;
  // The fastest single pass over the buffer (in a window or not): a burst the host allows for a
  // few milliseconds, above what it sustains over a second.
  double burst_bytes_per_s = 0;
  uint64_t buffer_bytes = 0;
  double window_s = 0;  // the length asked of each window
};

// How to probe: `passes` single passes each way (pick the fastest way, and a burst figure), then
// `windows` windows of at least `window_s` seconds read the fastest way pass after pass.
struct ProbePlan {
  int passes = 3;
  int windows = 3;
  double window_s = 1.0;
};

// Reads a buffer of `bytes` with every thread of the pool, each thread its own contiguous share:
// as one stream, as four side by side (as the decode kernels read rows), and as four with the
// kernels' software prefetch distance; then reads it the fastest way for whole windows.
BandwidthResult measure_read_bandwidth(ThreadPool& pool, uint64_t bytes, const ProbePlan& plan);

}  // namespace strata
