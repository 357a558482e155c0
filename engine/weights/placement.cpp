#include "engine/weights/placement.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace strata {

int Placement::count(Tier t) const { return static_cast<int>(std::count(layers.begin(), layers.end(), t)); }

uint64_t Placement::slot_bytes(const WeightSizes& s) const {
  uint64_t most = 0;
  for (size_t l = 0; l < layers.size(); ++l)
    if (layers[l] == Tier::Ssd) most = std::max(most, s.read_bytes[l]);
  return most;
}

uint64_t Placement::tier_bytes(const WeightSizes& s, Tier t) const {
  uint64_t n = 0;
  for (size_t l = 0; l < layers.size(); ++l)
    if (layers[l] == t) n += t == Tier::Ssd ? s.read_bytes[l] : s.resident_bytes[l];
  return n;
}

uint64_t Placement::ram_bytes(const WeightSizes& s) const {
  const uint64_t staging = count(Tier::Ssd) > 0 ? uint64_t(staging_slots) * slot_bytes(s) : 0;
  return s.globals_bytes + tier_bytes(s, Tier::Ram) + staging + s.load_scratch_bytes;
}

Placement spread_placement(int n_layers, int ssd_layers, int staging_slots) {
  Placement p;
  p.layers.assign(n_layers, Tier::Ram);
  // Bresenham: layer l is on SSD when the running quota floor((l+1)*k/n) steps up.
  for (int l = 0; l < n_layers; ++l)
    if ((int64_t(l) + 1) * ssd_layers / n_layers > int64_t(l) * ssd_layers / n_layers) p.layers[l] = Tier::Ssd;
  p.staging_slots = ssd_layers > 0 ? std::max(1, staging_slots) : 0;
  return p;
}

Placement place_by_shares(const WeightSizes& s, const TierShares& shares, int staging_slots, uint64_t ram_budget) {
  if (shares.gpu > 0)
    throw Error(ErrorKind::Unsupported, "a GPU share of the weights was asked for (" + shares.to_string() +
                                            "), but this build has no GPU tier");
  const int n = static_cast<int>(s.resident_bytes.size());
  const int ssd = static_cast<int>(std::lround(shares.ssd / 100.0 * n));
  Placement p = spread_placement(n, ssd, staging_slots > 0 ? staging_slots : 2);
  if (p.ram_bytes(s) > ram_budget)
    throw Error(ErrorKind::OutOfMemory, "weight tiers " + shares.to_string() + " need " + std::to_string(p.ram_bytes(s)) +
                                            " bytes of RAM (globals, resident layers, staging), over the ram_budget of " +
                                            std::to_string(ram_budget));
  return p;
}

}  // namespace strata
