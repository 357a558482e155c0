// Start-up measurements for the cost model: how fast this machine reads the model file around
// the page cache, and how fast it computes a layer. Layers are read with O_DIRECT (timed) and
// one layer's matrices multiplied by one activation row (timed), as a decode step would.
#pragma once

#include <cstdint>

namespace strata {

namespace gguf {
class GgufFile;
}
struct ModelWeights;
class MemoryLedger;

struct TierProbe {
  double ssd_bytes_per_s = 0;
  double ssd_seconds_per_read = 0;   // measured with a small read
  double compute_bytes_per_s = 0;    // weight bytes a one-token matmul gets through per second
  bool direct_io = true;
};

// Reads up to four layers (first, last, two between; the median rate counts) and times layer
// 0's matmuls; the buffer is charged to `ledger` while it lives.
TierProbe probe_tiers(const gguf::GgufFile& file, const ModelWeights& weights, int threads, MemoryLedger& ledger);

}  // namespace strata
