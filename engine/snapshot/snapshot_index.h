// The SQLite index of the snapshot store (WAL, foreign keys on): which sessions exist, which
// chunk files hold their KV, and the LRU order used by the disk quota. The schema and its
// migrations are in snapshot_index.cpp and docs/snapshot-format.md.
//
// Not thread-safe: the SnapshotStore serializes its calls.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/snapshot/model_fingerprint.h"
#include "engine/snapshot/sqlite_db.h"

namespace strata::snapshot {

inline constexpr int kIndexSchemaVersion = 1;

struct SessionRow {
  std::string id;
  uint32_t owner = 0;  // uid
  std::string model;   // the daemon's model name
  std::string fingerprint;  // hex of the model fingerprint its chunks were made with
  std::string kv;           // KvLayout::kv_name() of its chunks
  std::vector<int32_t> tokens;  // the whole history
  int64_t created = 0;     // unix seconds
  int64_t last_used = 0;   // unix seconds (as the daemon reports it)
  uint64_t bytes = 0;      // bytes of the chunk files it references
};

struct ChunkRow {
  std::string key;   // hex
  std::string path;  // relative to the store's folder
  uint64_t bytes = 0;
  int64_t refcount = 0;  // sessions referencing it (kept by triggers)
  int64_t last_used = 0; // LRU tick
};

class SnapshotIndex {
 public:
  // Opens or creates the index at `path` and migrates it to kIndexSchemaVersion. Throws
  // Error(Io) naming the file when it cannot, or when its schema is newer than this build.
  explicit SnapshotIndex(const std::filesystem::path& path);

  SqliteDb& db() { return db_; }

  // ---- sessions ----
  // Inserts or replaces the session's row (its chunk mapping is kept).
  void put_session(const SessionRow& s, int64_t lru_tick);
  std::optional<SessionRow> session(const std::string& id);
  std::vector<SessionRow> sessions();
  void erase_session(const std::string& id);
  void touch_session(const std::string& id, int64_t lru_tick, int64_t last_used);
  // Recomputes sessions.bytes from its mapping.
  void refresh_session_bytes(const std::string& id);

  // ---- chunks and the mapping ----
  std::optional<ChunkRow> chunk(const std::string& key);
  std::vector<ChunkRow> chunks();
  // The session's chunk keys by page index, in order (gaps possible after dropped chunks).
  std::vector<std::pair<int64_t, std::string>> session_chunks(const std::string& id);
  void insert_chunk(const ChunkRow& c);
  void map_chunk(const std::string& session, int64_t page, const std::string& key);
  // Removes the session's mappings at pages >= first_page.
  void unmap_from(const std::string& session, int64_t first_page);
  void drop_chunk(const std::string& key);  // its mappings go too (ON DELETE CASCADE)
  void touch_chunk(const std::string& key, int64_t lru_tick);
  uint64_t chunk_bytes_total();
  // Whether a session of `owner` references the chunk (for prefix reuse within one uid).
  bool owner_references(const std::string& key, uint32_t owner);
  // LRU victims for the quota: the least recently used unreferenced chunk; the least recently
  // used session other than `except` that still references chunks.
  std::optional<ChunkRow> lru_unreferenced_chunk();
  std::optional<std::string> lru_session_with_chunks(const std::string& except);

  // ---- model fingerprints, cached by file identity ----
  std::optional<std::string> cached_fingerprint(const std::string& path, const FileIdentity& id);
  void store_fingerprint(const std::string& path, const FileIdentity& id, const std::string& hex);

  // "ok", or SQLite's list of problems.
  std::string integrity_check();
  int64_t max_lru_tick();

 private:
  void migrate();
  SqliteDb db_;
};

}  // namespace strata::snapshot
