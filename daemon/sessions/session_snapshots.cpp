#include "daemon/sessions/session_snapshots.h"

#include <algorithm>

#include "daemon/log/logger.h"
#include "daemon/models/loaded_model.h"
#include "daemon/sessions/session_store.h"
#include "engine/core/error.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/scheduler/scheduler.h"

namespace strata::daemon {
namespace {

uint64_t quota_of(const Config& c) { return parse_size(c.snapshot_quota).value_or(0); }

snapshot::KvLayout layout_of(const SequenceKvCache& kv, const snapshot::ModelFingerprint& f) {
  return {f, kv.format(), kv.geometry(), kv.page_tokens()};
}

}  // namespace

SessionSnapshots::SessionSnapshots(const std::filesystem::path& dir, const Config& config, Logger& log) : log_(log) {
  store_ = std::make_unique<snapshot::SnapshotStore>(snapshot::SnapshotStoreOptions{dir, quota_of(config), true});
  const auto& r = store_->startup_report();
  if (r.orphan_files || r.missing_files || r.corrupt_files)
    log_.warn("snapshots: start-up check removed " + std::to_string(r.orphan_files) + " unreferenced file(s), dropped " +
              std::to_string(r.missing_files) + " chunk(s) whose file was missing and " +
              std::to_string(r.corrupt_files) + " that failed their checksums (those tokens are re-prefilled)");
  configure(config);
}

SessionSnapshots::~SessionSnapshots() = default;

void SessionSnapshots::configure(const Config& config) {
  idle_save_seconds_ = config.snapshot_idle_save_seconds;
  cross_uid_prefix_ = config.snapshot_cross_uid_prefix != 0;
  model_paths_.clear();
  model_kv_.clear();
  for (const auto& [name, m] : config.models) {
    model_paths_[name] = m.path;
    // The group as the KV pool uses it (clamped to the head size) is checked at import.
    if (auto t = parse_kv_type(m.kv)) model_kv_[name] = KvFormat{*t, static_cast<int>(m.kv_group)};
  }
  if (store_->quota_bytes() != quota_of(config)) store_->set_quota(quota_of(config));
}

size_t SessionSnapshots::load_sessions(SessionStore& sessions) {
  size_t n = 0;
  for (auto& row : store_->sessions()) {
    auto s = std::make_unique<Session>();
    s->id = row.id;
    s->owner = row.owner;
    s->model = row.model;
    s->history = std::move(row.tokens);
    s->created = row.created;
    s->last_used = row.last_used;
    s->saved_tokens = static_cast<int64_t>(s->history.size());
    if (sessions.adopt(std::move(s))) ++n;
  }
  return n;
}

snapshot::ModelFingerprint SessionSnapshots::fingerprint(const std::string& model) {
  auto p = model_paths_.find(model);
  if (p == model_paths_.end())
    throw Error(ErrorKind::InvalidArgument, "model '" + model + "' is no longer configured");
  auto it = fingerprints_.find(p->second);
  if (it != fingerprints_.end()) return it->second;
  // The store caches it in its index by file identity: a restart does not hash the file again.
  const auto f = store_->fingerprint(p->second);
  fingerprints_.emplace(p->second, f);
  return f;
}

bool SessionSnapshots::save(Session& s) {
  if (s.busy) return false;
  try {
    snapshot::SessionRow row;
    row.id = s.id;
    row.owner = s.owner;
    row.model = s.model;
    row.tokens = s.history;
    row.created = s.created;
    row.last_used = s.last_used;
    const auto* kv = s.sequence ? dynamic_cast<const SequenceKvCache*>(&s.sequence->kv()) : nullptr;
    snapshot::SaveResult r;
    if (kv) {
      r = store_->save(row, layout_of(*kv, fingerprint(s.model)), kv);
    } else {
      r = store_->save(row, snapshot::KvLayout{}, nullptr);  // the row only
    }
    s.saved_tokens = static_cast<int64_t>(s.history.size());
    s.save_failed = false;
    ++counters_.saves;
    counters_.chunks_written += static_cast<uint64_t>(r.chunks_written);
    counters_.bytes_written += r.bytes_written;
    if (r.quota_limited)
      log_.warn("snapshots: session " + s.id + " saved in part: the disk quota of " +
                std::to_string(store_->quota_bytes()) + " bytes holds no more of it");
    return true;
  } catch (const std::exception& e) {
    log_.error("snapshots: cannot save session " + s.id + ": " + e.what());
    // Not retried every second: the next change to the session tries again.
    s.saved_tokens = static_cast<int64_t>(s.history.size());
    s.save_failed = true;
    return false;
  }
}

void SessionSnapshots::save_idle(SessionStore& sessions, int64_t now_seconds) {
  sessions.for_each([&](Session& s) {
    if (!s.busy && s.saved_tokens != static_cast<int64_t>(s.history.size()) &&
        now_seconds - s.last_used >= idle_save_seconds_)
      save(s);
  });
}

void SessionSnapshots::save_all(SessionStore& sessions, const std::string& model,
                                std::chrono::steady_clock::time_point deadline) {
  size_t skipped = 0;
  sessions.for_each([&](Session& s) {
    if (s.busy || s.saved_tokens == static_cast<int64_t>(s.history.size())) return;
    if (!model.empty() && s.model != model) return;
    if (std::chrono::steady_clock::now() >= deadline) {
      ++skipped;
      return;
    }
    save(s);
  });
  if (skipped) log_.warn("snapshots: " + std::to_string(skipped) + " session(s) not saved: out of time");
}

SessionSnapshots::Restored SessionSnapshots::restore(Session& s, const LoadedModel& model) {
  Restored out;
  if (s.history.empty()) return out;
  try {
    auto fresh = model.scheduler().new_sequence();
    const auto* kv = dynamic_cast<const SequenceKvCache*>(&fresh->kv());
    if (!kv) return out;
    const auto layout = layout_of(*kv, fingerprint(s.model));
    auto r = store_->restore(s.id, layout, kv->shared_pool(), kv->capacity(), &s.history);
    counters_.restore_seconds += r.seconds;
    counters_.chunks_dropped += static_cast<uint64_t>(r.chunks_dropped);
    for (const auto& p : r.problems) log_.warn("snapshots: session " + s.id + ": dropped a chunk: " + p);
    if (r.restored_tokens == 0) {
      ++counters_.misses;
      return out;
    }
    ++counters_.hits;
    counters_.restored_tokens += static_cast<uint64_t>(r.restored_tokens);
    const auto cut = s.history.begin() + r.restored_tokens;
    out.sequence = std::make_shared<Sequence>(std::move(r.kv), std::vector<int32_t>(s.history.begin(), cut),
                                              std::vector<int32_t>(cut, s.history.end()));
    out.restored_tokens = r.restored_tokens;
  } catch (const std::exception& e) {
    ++counters_.misses;
    log_.warn("snapshots: session " + s.id + " not restored (re-prefilled instead): " + e.what());
  }
  return out;
}

SessionSnapshots::Restored SessionSnapshots::restore_prefix(const std::vector<int32_t>& prompt, uint32_t owner,
                                                            const LoadedModel& model) {
  Restored out;
  if (static_cast<int64_t>(prompt.size()) <= SequenceKvCache::kDefaultPageTokens) return out;  // no full page to reuse
  try {
    auto fresh = model.scheduler().new_sequence();
    const auto* kv = dynamic_cast<const SequenceKvCache*>(&fresh->kv());
    if (!kv) return out;
    const auto layout = layout_of(*kv, fingerprint(model.name()));
    // The last prompt token is always computed: the request samples from its logits.
    auto r = store_->restore_prefix(prompt, static_cast<int64_t>(prompt.size()) - 1, owner, cross_uid_prefix_, layout,
                                    kv->shared_pool(), kv->capacity());
    counters_.restore_seconds += r.seconds;
    counters_.chunks_dropped += static_cast<uint64_t>(r.chunks_dropped);
    if (r.restored_tokens == 0) return out;
    ++counters_.hits;
    counters_.restored_tokens += static_cast<uint64_t>(r.restored_tokens);
    out.sequence = std::make_shared<Sequence>(
        std::move(r.kv), std::vector<int32_t>(prompt.begin(), prompt.begin() + r.restored_tokens));
    out.restored_tokens = r.restored_tokens;
  } catch (const std::exception& e) {
    log_.warn(std::string("snapshots: prefix reuse skipped: ") + e.what());
  }
  return out;
}

void SessionSnapshots::erase(const std::string& id) {
  try {
    store_->erase(id);
  } catch (const std::exception& e) {
    log_.error("snapshots: cannot delete session " + id + ": " + e.what());
  }
}

uint64_t SessionSnapshots::disk_bytes() { return store_->disk_bytes(); }
uint64_t SessionSnapshots::quota_bytes() const { return store_->quota_bytes(); }

std::string SessionSnapshots::metrics_text() {
  const SnapshotCounters& c = counters_;
  std::string out;
  auto line = [&](const char* name, const char* type, const char* help, const std::string& value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + value + "\n";
  };
  line("strata_snapshot_disk_bytes", "gauge", "Bytes of KV chunk files on disk.", std::to_string(disk_bytes()));
  line("strata_snapshot_hits_total", "counter", "Session requests whose KV was restored from disk.", std::to_string(c.hits));
  line("strata_snapshot_misses_total", "counter", "Session requests with nothing restorable on disk.",
       std::to_string(c.misses));
  line("strata_snapshot_restored_tokens_total", "counter", "Tokens whose KV was restored from snapshots.",
       std::to_string(c.restored_tokens));
  line("strata_snapshot_prefilled_tokens_total", "counter", "Tokens of session requests computed by prefill.",
       std::to_string(c.prefilled_tokens));
  line("strata_snapshot_restore_seconds_total", "counter", "Time spent reading and verifying chunks.",
       std::to_string(c.restore_seconds));
  line("strata_snapshot_saves_total", "counter", "Session saves.", std::to_string(c.saves));
  line("strata_snapshot_chunks_written_total", "counter", "Chunk files written.", std::to_string(c.chunks_written));
  line("strata_snapshot_chunks_dropped_total", "counter", "Chunks that failed their checks and were dropped.",
       std::to_string(c.chunks_dropped));
  return out;
}

}  // namespace strata::daemon
