// The places a weight can live. The GPU tier is declared so that placements, budgets and the
// cost model already speak of it; without CUDA nothing is ever placed there.
#pragma once

#include <cstdint>
#include <string_view>

namespace strata {

enum class Tier : uint8_t { Gpu, Ram, Ssd };

inline std::string_view tier_name(Tier t) {
  switch (t) {
    case Tier::Gpu: return "gpu";
    case Tier::Ram: return "ram";
    case Tier::Ssd: return "ssd";
  }
  return "?";
}

}  // namespace strata
