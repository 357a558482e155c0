// Memory-bandwidth probe for `strata bench --bandwidth`: how fast the given threads can stream a
// buffer far larger than the last-level cache, which bounds decode speed (every generated token
// reads all the weights once). The buffer is in transparent huge pages where the host has them,
// like the weights a plain load copies into RAM.
#pragma once

#include <cstdint>

namespace strata {

class ThreadPool;

struct BandwidthResult {
  double bytes_per_s = 0;  // the best read of the passes
  uint64_t buffer_bytes = 0;
};

// Reads a buffer of `bytes` `passes` times with every thread of the pool, each thread its own
// contiguous share, once as one stream and once as four side by side (as the decode kernels read
// rows), and returns the best read.
BandwidthResult measure_read_bandwidth(ThreadPool& pool, uint64_t bytes, int passes);

}  // namespace strata
