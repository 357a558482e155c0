// The daemon's side of the snapshot store (engine/snapshot): sessions saved to
// <state_dir>/snapshots and loaded back at start-up, their KV restored on the next request, and
// the counters that status and /metrics show. See docs/snapshot-format.md.
//
// Called on the I/O thread only (the engine store is thread-safe on its own). Saving writes
// and fsyncs chunk files there: a save writes only the pages not on disk yet.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/config/config.h"
#include "engine/snapshot/snapshot_store.h"

namespace strata {
class Sequence;
}

namespace strata::daemon {

class Logger;
class LoadedModel;
class SessionStore;
struct Session;

struct SnapshotCounters {
  uint64_t hits = 0;    // requests whose session's KV came (at least partly) from disk
  uint64_t misses = 0;  // requests whose session had nothing usable on disk (re-prefilled)
  uint64_t restored_tokens = 0;
  uint64_t prefilled_tokens = 0;  // prompt and history tokens computed by requests on sessions
  double restore_seconds = 0;     // total time spent reading and verifying chunks
  uint64_t saves = 0, chunks_written = 0, bytes_written = 0;
  uint64_t chunks_dropped = 0;    // failed their checks at restore
};

class SessionSnapshots {
 public:
  // Opens (creating) the store in `dir` and reconciles it. Throws strata::Error.
  SessionSnapshots(const std::filesystem::path& dir, const Config& config, Logger& log);
  ~SessionSnapshots();

  // Takes the [snapshots] settings and the models' paths (SIGHUP).
  void configure(const Config& config);
  // Puts the index's sessions into `sessions` (history only: KV is restored on first use).
  // Returns how many.
  size_t load_sessions(SessionStore& sessions);

  // Saves the session (row and the chunks of its KV's full pages not on disk yet). Skips busy
  // sessions. Returns false (and logs why) when saving failed.
  bool save(Session& s);
  // Saves every session that changed since its last save and has been idle long enough.
  void save_idle(SessionStore& sessions, int64_t now_seconds);
  // Saves every changed session of `model` (empty: all) until `deadline`.
  void save_all(SessionStore& sessions, const std::string& model, std::chrono::steady_clock::time_point deadline);

  struct Restored {
    std::shared_ptr<Sequence> sequence;  // null: nothing restored
    int64_t restored_tokens = 0;
  };
  // Restores the session's KV into the model's pool: a sequence holding the verified prefix,
  // with the rest of the history pending (re-prefilled by the next request). Counts a hit or a miss.
  Restored restore(Session& s, const LoadedModel& model);
  // A new session's prompt that begins with pages stored for a session of the same uid (any
  // uid with snapshots.cross_uid_prefix): a sequence holding their KV, the rest of the prompt
  // left to prefill (at least one token). Null when nothing matched.
  Restored restore_prefix(const std::vector<int32_t>& prompt, uint32_t owner, const LoadedModel& model);
  // Session archives (session_transfer.cpp). export_archive() saves the session first, then
  // packs its history and chunk files. import_archive() verifies every chunk against the
  // configured model (fingerprint, KV type, key recomputed from the history) and creates a new
  // session of `owner` whose chunks go through the store's durable writes and quota; nullptr
  // when `sessions` is full. Both throw snapshot::ArchiveError for an archive that cannot be
  // used (naming the part), strata::Error otherwise.
  std::string export_archive(Session& s);
  Session* import_archive(std::string_view bytes, uint32_t owner, SessionStore& sessions);
  bool cross_uid_prefix() const { return cross_uid_prefix_; }
  void count_prefilled(int64_t tokens) { counters_.prefilled_tokens += static_cast<uint64_t>(tokens); }
  void erase(const std::string& id);

  const SnapshotCounters& counters() const { return counters_; }
  uint64_t disk_bytes();
  uint64_t quota_bytes() const;
  // The Prometheus lines of the counters above.
  std::string metrics_text();

 private:
  snapshot::ModelFingerprint fingerprint(const std::string& model);

  Logger& log_;
  std::unique_ptr<snapshot::SnapshotStore> store_;
  int64_t idle_save_seconds_ = 30;
  bool cross_uid_prefix_ = false;
  std::map<std::string, std::string> model_paths_;  // model name -> GGUF path
  std::map<std::string, KvFormat> model_kv_;         // model name -> configured KV type and group
  std::map<std::string, snapshot::ModelFingerprint> fingerprints_;  // by path
  SnapshotCounters counters_;
};

}  // namespace strata::daemon
