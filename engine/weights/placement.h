// Which tier each transformer layer lives in, and the sizes that decide it. The unit of
// placement is the layer because the decoder asks for weights a layer at a time (FlexGen
// places per layer too); the globals (embeddings, output) always stay in RAM: the output matrix
// is used every token and the embedding rows are tiny reads.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/weights/tier.h"
#include "engine/weights/weight_options.h"

namespace strata {

struct WeightSizes {
  std::vector<uint64_t> resident_bytes;  // per layer: RAM it takes when resident (after compression)
  std::vector<uint64_t> read_bytes;      // per layer: bytes one SSD read moves (aligned ranges)
  std::vector<uint64_t> native_bytes;    // per layer: as in the file (what compute time scales with)
  uint64_t globals_bytes = 0;            // embeddings, output and norms, always in RAM
  uint64_t model_bytes = 0;              // tensor bytes of the file, what a PCT% budget refers to
  uint64_t load_scratch_bytes = 0;       // q4g: a native layer's buffer, held while compressing at load
};

struct Placement {
  std::vector<Tier> layers;
  int staging_slots = 0;  // SSD staging buffers; prefetch runs staging_slots - 1 layers ahead

  int count(Tier t) const;
  // Largest read among the SSD-tier layers: the size of each staging buffer.
  uint64_t slot_bytes(const WeightSizes& s) const;
  // RAM the placement takes: globals + resident layers + staging buffers (+ the load scratch).
  uint64_t ram_bytes(const WeightSizes& s) const;
  uint64_t tier_bytes(const WeightSizes& s, Tier t) const;
};

// `ssd_layers` of the layers on SSD, spread evenly through the stack, so that every SSD read
// has RAM-resident layers' compute before it to hide behind.
Placement spread_placement(int n_layers, int ssd_layers, int staging_slots);

// The placement for explicit shares (percent of layer bytes per tier). Throws
// Error(Unsupported) for a GPU share (no GPU tier in this build) and Error(OutOfMemory) when it
// does not fit `ram_budget`.
Placement place_by_shares(const WeightSizes& s, const TierShares& shares, int staging_slots, uint64_t ram_budget);

}  // namespace strata
