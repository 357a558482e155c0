// WeightStoreStats as JSON, one set of names for every place that prints them: the daemon's
// /strata/v1/status (models[].weights, docs/protocol.md) and the CLI's --json output.
// Header-only, so that the engine library itself does not depend on Boost.JSON.
#pragma once

#include <boost/json/object.hpp>

#include "engine/model/weight_store.h"

namespace strata {

inline boost::json::object weight_stats_json(const WeightStoreStats& s) {
  return {{"gpu_bytes", s.gpu_bytes},
          {"ram_bytes", s.ram_bytes},
          {"ssd_bytes", s.ssd_bytes},
          {"staging_bytes", s.staging_bytes},
          {"ram_budget", s.ram_budget},
          {"ram_peak_bytes", s.ram_peak_bytes},
          {"ssd_bytes_read", s.ssd_bytes_read},
          {"steps", s.steps},
          // Per forward step of the decoder: one token per sequence when decoding.
          {"ssd_bytes_per_token", s.ssd_bytes_per_step()},
          {"io_seconds", s.io_seconds},
          {"prefetch_stall_seconds", s.stall_seconds},
          {"hidden_io_share", s.hidden_io_share()},
          {"prefetch_depth", s.prefetch_depth},
          {"direct_io", s.direct_io},
          {"mapped", s.mapped}};
}

}  // namespace strata
