// The snapshot store: session KV caches saved as chunk files (snapshot_chunk.h) under one folder
// and indexed in SQLite (snapshot_index.h), restored without re-prefill. See
// docs/snapshot-format.md.
//
// - save() writes only the full pages whose chunks are not on disk yet (incremental; pages
//   shared with another session's prefix are referenced, not written again), each durably before
//   the transaction that references it.
// - restore() reads a session's chunks in parallel, verifies each against what it must hold, and
//   returns the longest verified prefix; a chunk that fails is dropped from the index and its
//   file removed, so those tokens (and the trailing partial page) are re-prefilled from the
//   stored token ids by the caller.
// - Disk quota: before a chunk is written, unreferenced chunks and then the chunks of the least
//   recently used other sessions are evicted until it fits, so the files never exceed the quota
//   (plus the one temporary file being written).
// - The constructor reconciles files and rows after a crash.
//
// Thread-safe: every call takes the store's lock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/kv/sequence_kv_cache.h"
#include "engine/snapshot/snapshot_chunk.h"
#include "engine/snapshot/snapshot_index.h"

namespace strata::snapshot {

struct SnapshotStoreOptions {
  std::filesystem::path dir;      // holds index.sqlite and chunks/
  uint64_t quota_bytes = 0;       // 0: no quota
  bool verify_at_startup = true;  // read every chunk's checksums in the start-up reconcile
};

struct ReconcileReport {
  int64_t orphan_files = 0;   // files without a row (or temporary files), removed
  int64_t missing_files = 0;  // rows whose file was gone or had the wrong size, dropped
  int64_t corrupt_files = 0;  // rows whose file failed its checks, dropped and removed
};

struct SaveResult {
  int64_t chunks_written = 0;
  int64_t chunks_reused = 0;     // already on disk (earlier save, or another session's prefix)
  int64_t tokens_in_chunks = 0;  // tokens of the session now covered by its chunks
  uint64_t bytes_written = 0;
  bool quota_limited = false;    // some pages were not saved: the quota could not make room
};

struct RestoreResult {
  std::unique_ptr<SequenceKvCache> kv;  // holds restored_tokens tokens (empty when 0)
  int64_t restored_tokens = 0;
  int64_t chunks_dropped = 0;           // failed their checks
  double seconds = 0;
  std::vector<std::string> problems;    // one line per dropped chunk, naming file and field
};

class SnapshotStore {
 public:
  // Creates the folder when needed, opens the index and reconciles. Throws Error(Io).
  explicit SnapshotStore(SnapshotStoreOptions options);

  const ReconcileReport& startup_report() const { return startup_; }
  ReconcileReport reconcile(bool verify_checksums);

  // The model file's fingerprint, cached in the index by (path, size, mtime, inode).
  ModelFingerprint fingerprint(const std::filesystem::path& model_file);

  // Saves the session: its row (id, owner, model, created, last_used and the whole `tokens`
  // history from `session`) and the chunks of kv's full pages (kv null: the row only; the
  // chunks stay, and restore() loads only those that match the history it is given).
  // kv's tokens must be the first kv->size() of session.tokens.
  SaveResult save(const SessionRow& session, const KvLayout& layout, const SequenceKvCache* kv);

  // Restores the session's KV for `layout` into pages of `pool`. Nothing is restored (0 tokens)
  // when the session was saved for another model fingerprint or KV format. `history`, when
  // given, is what the caller holds: only chunks of its prefix are restored (the stored tokens
  // otherwise). Throws Error(OutOfMemory) when the pool cannot hold the pages.
  RestoreResult restore(const std::string& id, const KvLayout& layout, const std::shared_ptr<KvPagePool>& pool,
                        int64_t capacity, const std::vector<int32_t>* history = nullptr);

  // Prefix reuse: the KV of the longest run of leading full pages of `tokens` whose chunks are
  // on disk, referenced by a session of `owner` (any uid's when `any_owner`), and verify; at
  // most max_tokens tokens. Touches the chunks it uses.
  RestoreResult restore_prefix(std::span<const int32_t> tokens, int64_t max_tokens, uint32_t owner, bool any_owner,
                               const KvLayout& layout, const std::shared_ptr<KvPagePool>& pool, int64_t capacity);

  // Session archives (session_archive.h). import_session() saves a new session whose pages come
  // from elsewhere, already verified by the caller: the same durable writes, sharing and quota
  // as save(). read_session_chunks() returns the files of the session's leading mapped pages
  // (page 0, 1, ...) as stored.
  SaveResult import_session(const SessionRow& session, const KvLayout& layout, const std::vector<const uint8_t*>& pages);
  std::vector<std::string> read_session_chunks(const std::string& id);

  std::optional<SessionRow> session(const std::string& id);
  std::vector<SessionRow> sessions();
  // Removes the session and the chunk files no other session references.
  void erase(const std::string& id);

  uint64_t disk_bytes();  // bytes of the chunk files the index references
  uint64_t quota_bytes() const { return options_.quota_bytes; }
  void set_quota(uint64_t bytes);
  std::string integrity_check();
  const std::filesystem::path& dir() const { return options_.dir; }
  std::filesystem::path chunk_path(const std::string& key_hex) const;

 private:
  int64_t tick();
  // Evicts until `needed` more bytes fit the quota; false when nothing more can go.
  bool make_room(uint64_t needed, const std::string& saving);
  // save()'s body, the lock held: maps and writes the first n_pages pages of session.tokens.
  SaveResult save_pages(const SessionRow& session, const KvLayout& layout, int64_t n_pages,
                        const std::function<const uint8_t*(int64_t)>& page_data);
  void remove_chunk(const ChunkRow& c);
  // Reads rows[i] (page i of `tokens`) into fresh pages of `pool`, in parallel; returns the
  // verified prefix (pages) and drops the chunks that failed.
  std::vector<KvPageRef> read_pages(const std::vector<ChunkRow>& rows, const std::vector<ChunkKey>& keys,
                                    std::span<const int32_t> tokens, const KvLayout& layout,
                                    const std::shared_ptr<KvPagePool>& pool, RestoreResult& r);

  SnapshotStoreOptions options_;
  std::mutex mu_;
  std::unique_ptr<SnapshotIndex> index_;
  ReconcileReport startup_;
  int64_t last_tick_ = 0;
};

}  // namespace strata::snapshot
