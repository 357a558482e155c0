#include "daemon/sessions/session_eviction.h"

#include <memory>
#include <string>
#include <vector>

#include "daemon/log/logger.h"
#include "daemon/metrics/metrics.h"
#include "daemon/models/model_registry.h"
#include "daemon/sessions/session_snapshots.h"
#include "daemon/sessions/session_store.h"
#include "engine/kv/kv_page_pool.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/scheduler/scheduler.h"

namespace strata::daemon {

EvictionOutcome evict_idle_sessions_for(uint64_t growth, const Session* keep, SessionStore& sessions,
                                        ModelRegistry& models, Metrics& metrics, Logger& log) {
  EvictionOutcome out;
  const uint64_t budget = models.memory_budget();
  const uint64_t start = models.memory_in_use();
  auto fits = [&] { return budget == 0 || models.memory_in_use() + growth <= budget; };
  auto finish = [&] {
    const uint64_t now = models.memory_in_use();
    out.bytes_freed = start > now ? start - now : 0;
    out.fits = fits();
    return out;
  };
  if (fits()) return finish();

  std::vector<Session*> victims = sessions.idle_with_kv(keep);
  // At most what evicting every idle session and emptying the free lists could free (pages a
  // victim shares with another sequence are not freed: an overestimate). Evicting sessions that
  // could not make the request fit anyway would only cost them their KV.
  uint64_t freeable = 0;
  for (const ModelStatus& m : models.status()) freeable += m.memory.kv_free_bytes;
  for (const Session* s : victims) freeable += s->sequence->kv().allocated_bytes();
  const uint64_t used = models.memory_in_use();
  if (used + growth > budget + freeable) return finish();

  models.release_free_kv();
  if (fits()) return finish();

  SessionSnapshots* snapshots = sessions.snapshots();
  for (Session* s : victims) {
    if (fits()) break;
    const int64_t tokens = static_cast<int64_t>(s->history.size());
    bool saved = false;
    if (snapshots) {
      // Unchanged since its last successful save: its chunks are on disk already. After a failed
      // one, eviction tries once more (and says so when that fails too).
      saved = (s->saved_tokens == tokens && !s->save_failed) || snapshots->save(*s);
    }
    const uint64_t before = models.memory_in_use();
    std::shared_ptr<KvPagePool> pool;
    if (const auto* kv = dynamic_cast<const SequenceKvCache*>(&s->sequence->kv())) pool = kv->shared_pool();
    s->sequence.reset();
    s->kv_bytes = 0;
    // The pages went to the pool's free list (which memory_in_use() counts): free them.
    if (pool) pool->release_free_pages();
    const uint64_t after = models.memory_in_use();
    const uint64_t freed = before > after ? before - after : 0;
    ++out.sessions_evicted;
    metrics.add_session_evicted(freed);
    log.info("evicted session " + s->id + " (model " + s->model + ", " + std::to_string(tokens) + " tokens): " +
             std::to_string(freed) + " bytes of KV freed for the memory budget, " +
             (saved ? "saved to the snapshot store" : snapshots ? "NOT saved (saving failed)" : "not saved (snapshots off)") +
             "; its next request " + (saved ? "restores it" : "re-prefills its history"));
  }
  return finish();
}

}  // namespace strata::daemon
