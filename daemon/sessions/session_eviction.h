// Making room within `[memory] budget` for a request's KV growth by evicting idle sessions' KV:
// least recently used first, any model, each saved to the snapshot store first (when snapshots
// are on and it has unsaved tokens), then its sequence dropped so that its pages go back to its
// model's pool (and from there to the allocator). The session keeps its history: its next request
// restores its KV from the snapshot, or re-prefills the history when snapshots are off.
//
// I/O thread only, like SessionStore.
#pragma once

#include <cstdint>

namespace strata::daemon {

class Logger;
class Metrics;
class ModelRegistry;
class SessionStore;
struct Session;

struct EvictionOutcome {
  bool fits = false;         // memory_in_use() + growth <= budget now
  int sessions_evicted = 0;  // sessions whose KV was dropped
  uint64_t bytes_freed = 0;  // fall of memory_in_use() (free-list pages released included)
};

// Frees memory until models.memory_in_use() + growth fits models.memory_budget() (always fits
// when there is no budget): first the pages the pools keep for reuse, then idle sessions (not
// busy, not `keep`, holding KV) in least-recently-used order. Evicts nothing when even every
// idle session's KV could not make the request fit. One log line per evicted session; each is
// counted in `metrics`.
EvictionOutcome evict_idle_sessions_for(uint64_t growth, const Session* keep, SessionStore& sessions,
                                        ModelRegistry& models, Metrics& metrics, Logger& log);

}  // namespace strata::daemon
