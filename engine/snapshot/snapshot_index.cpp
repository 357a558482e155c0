#include "engine/snapshot/snapshot_index.h"

#include <cstring>

#include "engine/core/error.h"

namespace strata::snapshot {
namespace {

// Migration i takes the schema from version i to i + 1. Append new steps; never edit old ones.
const char* const kMigrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
CREATE TABLE sessions(
  id TEXT PRIMARY KEY,
  owner INTEGER NOT NULL,
  model TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  kv TEXT NOT NULL,
  token_count INTEGER NOT NULL,
  tokens BLOB NOT NULL,
  created INTEGER NOT NULL,
  last_used INTEGER NOT NULL,
  lru INTEGER NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0);
CREATE TABLE chunks(
  key TEXT PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  bytes INTEGER NOT NULL,
  refcount INTEGER NOT NULL DEFAULT 0,
  last_used INTEGER NOT NULL);
CREATE TABLE session_chunks(
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  page INTEGER NOT NULL,
  chunk_key TEXT NOT NULL REFERENCES chunks(key) ON DELETE CASCADE,
  PRIMARY KEY(session_id, page)) WITHOUT ROWID;
CREATE TABLE model_fingerprints(
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  inode INTEGER NOT NULL,
  fingerprint TEXT NOT NULL);
CREATE INDEX session_chunks_by_chunk ON session_chunks(chunk_key);
CREATE INDEX sessions_by_owner ON sessions(owner, created);
CREATE INDEX sessions_by_lru ON sessions(lru);
CREATE INDEX chunks_by_lru ON chunks(refcount, last_used);
CREATE TRIGGER session_chunks_ref AFTER INSERT ON session_chunks
  BEGIN UPDATE chunks SET refcount = refcount + 1 WHERE key = NEW.chunk_key; END;
CREATE TRIGGER session_chunks_unref AFTER DELETE ON session_chunks
  BEGIN UPDATE chunks SET refcount = refcount - 1 WHERE key = OLD.chunk_key; END;
)sql",
};
constexpr int kMigrationCount = sizeof kMigrations / sizeof kMigrations[0];
static_assert(kMigrationCount == kIndexSchemaVersion);

std::vector<int32_t> tokens_of(const std::vector<uint8_t>& blob) {
  std::vector<int32_t> t(blob.size() / sizeof(int32_t));
  if (!t.empty()) std::memcpy(t.data(), blob.data(), t.size() * sizeof(int32_t));
  return t;
}

SessionRow session_at(const SqliteStmt& st) {
  SessionRow s;
  s.id = st.text_at(0);
  s.owner = static_cast<uint32_t>(st.int_at(1));
  s.model = st.text_at(2);
  s.fingerprint = st.text_at(3);
  s.kv = st.text_at(4);
  s.tokens = tokens_of(st.blob_at(5));
  s.created = st.int_at(6);
  s.last_used = st.int_at(7);
  s.bytes = static_cast<uint64_t>(st.int_at(8));
  return s;
}
constexpr const char* kSessionColumns = "id, owner, model, fingerprint, kv, tokens, created, last_used, bytes";

ChunkRow chunk_at(const SqliteStmt& st) {
  return {st.text_at(0), st.text_at(1), static_cast<uint64_t>(st.int_at(2)), st.int_at(3), st.int_at(4)};
}
constexpr const char* kChunkColumns = "key, path, bytes, refcount, last_used";

}  // namespace

SnapshotIndex::SnapshotIndex(const std::filesystem::path& path) : db_(path) {
  // WAL: readers never block the writer and a crash leaves the last committed state. NORMAL
  // sync: a power loss may lose the last commits (never consistency); a lost commit only leaves
  // chunk files without rows, which the start-up reconcile removes.
  db_.exec("PRAGMA journal_mode=WAL");
  db_.exec("PRAGMA synchronous=NORMAL");
  db_.exec("PRAGMA foreign_keys=ON");
  migrate();
}

void SnapshotIndex::migrate() {
  db_.exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
  const int64_t have = db_.query_int("SELECT MAX(version) FROM schema_version").value_or(0);
  if (have > kIndexSchemaVersion)
    throw Error(ErrorKind::Io, db_.path() + ": schema_version " + std::to_string(have) +
                                   " is newer than this build reads (" + std::to_string(kIndexSchemaVersion) + ")");
  for (int64_t v = have; v < kIndexSchemaVersion; ++v) {
    SqliteTransaction tx(db_);
    db_.exec(kMigrations[v]);
    db_.exec("DELETE FROM schema_version");
    SqliteStmt(db_, "INSERT INTO schema_version(version) VALUES(?)").bind(1, v + 1).run();
    tx.commit();
  }
}

void SnapshotIndex::put_session(const SessionRow& s, int64_t lru_tick) {
  const auto* b = reinterpret_cast<const uint8_t*>(s.tokens.data());
  SqliteStmt(db_,
             "INSERT INTO sessions(id, owner, model, fingerprint, kv, token_count, tokens, created, last_used, lru)"
             " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
             " ON CONFLICT(id) DO UPDATE SET owner = ?2, model = ?3, fingerprint = ?4, kv = ?5, token_count = ?6,"
             " tokens = ?7, last_used = ?9, lru = ?10")
      .bind(1, s.id)
      .bind(2, int64_t(s.owner))
      .bind(3, s.model)
      .bind(4, s.fingerprint)
      .bind(5, s.kv)
      .bind(6, int64_t(s.tokens.size()))
      .bind_blob(7, {b, s.tokens.size() * sizeof(int32_t)})
      .bind(8, s.created)
      .bind(9, s.last_used)
      .bind(10, lru_tick)
      .run();
}

std::optional<SessionRow> SnapshotIndex::session(const std::string& id) {
  SqliteStmt st(db_, std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return session_at(st);
}

std::vector<SessionRow> SnapshotIndex::sessions() {
  SqliteStmt st(db_, std::string("SELECT ") + kSessionColumns + " FROM sessions ORDER BY created, id");
  std::vector<SessionRow> out;
  while (st.step()) out.push_back(session_at(st));
  return out;
}

void SnapshotIndex::erase_session(const std::string& id) {
  SqliteStmt(db_, "DELETE FROM sessions WHERE id = ?").bind(1, id).run();
}

void SnapshotIndex::touch_session(const std::string& id, int64_t lru_tick, int64_t last_used) {
  SqliteStmt(db_, "UPDATE sessions SET lru = ?2, last_used = MAX(last_used, ?3) WHERE id = ?1")
      .bind(1, id)
      .bind(2, lru_tick)
      .bind(3, last_used)
      .run();
}

void SnapshotIndex::refresh_session_bytes(const std::string& id) {
  SqliteStmt(db_,
             "UPDATE sessions SET bytes = (SELECT COALESCE(SUM(c.bytes), 0) FROM session_chunks m"
             " JOIN chunks c ON c.key = m.chunk_key WHERE m.session_id = ?1) WHERE id = ?1")
      .bind(1, id)
      .run();
}

std::optional<ChunkRow> SnapshotIndex::chunk(const std::string& key) {
  SqliteStmt st(db_, std::string("SELECT ") + kChunkColumns + " FROM chunks WHERE key = ?");
  st.bind(1, key);
  if (!st.step()) return std::nullopt;
  return chunk_at(st);
}

std::vector<ChunkRow> SnapshotIndex::chunks() {
  SqliteStmt st(db_, std::string("SELECT ") + kChunkColumns + " FROM chunks ORDER BY key");
  std::vector<ChunkRow> out;
  while (st.step()) out.push_back(chunk_at(st));
  return out;
}

std::vector<std::pair<int64_t, std::string>> SnapshotIndex::session_chunks(const std::string& id) {
  SqliteStmt st(db_, "SELECT page, chunk_key FROM session_chunks WHERE session_id = ? ORDER BY page");
  st.bind(1, id);
  std::vector<std::pair<int64_t, std::string>> out;
  while (st.step()) out.emplace_back(st.int_at(0), st.text_at(1));
  return out;
}

void SnapshotIndex::insert_chunk(const ChunkRow& c) {
  SqliteStmt(db_, "INSERT INTO chunks(key, path, bytes, refcount, last_used) VALUES(?, ?, ?, 0, ?)")
      .bind(1, c.key)
      .bind(2, c.path)
      .bind(3, int64_t(c.bytes))
      .bind(4, c.last_used)
      .run();
}

void SnapshotIndex::map_chunk(const std::string& session, int64_t page, const std::string& key) {
  SqliteStmt(db_, "INSERT OR REPLACE INTO session_chunks(session_id, page, chunk_key) VALUES(?, ?, ?)")
      .bind(1, session)
      .bind(2, page)
      .bind(3, key)
      .run();
}

void SnapshotIndex::unmap_from(const std::string& session, int64_t first_page) {
  SqliteStmt(db_, "DELETE FROM session_chunks WHERE session_id = ? AND page >= ?").bind(1, session).bind(2, first_page).run();
}

void SnapshotIndex::drop_chunk(const std::string& key) {
  SqliteStmt(db_, "DELETE FROM chunks WHERE key = ?").bind(1, key).run();
}

void SnapshotIndex::touch_chunk(const std::string& key, int64_t lru_tick) {
  SqliteStmt(db_, "UPDATE chunks SET last_used = ? WHERE key = ?").bind(1, lru_tick).bind(2, key).run();
}

uint64_t SnapshotIndex::chunk_bytes_total() {
  return static_cast<uint64_t>(db_.query_int("SELECT COALESCE(SUM(bytes), 0) FROM chunks").value_or(0));
}

bool SnapshotIndex::owner_references(const std::string& key, uint32_t owner) {
  SqliteStmt st(db_,
                "SELECT 1 FROM session_chunks m JOIN sessions s ON s.id = m.session_id"
                " WHERE m.chunk_key = ? AND s.owner = ? LIMIT 1");
  st.bind(1, key).bind(2, int64_t(owner));
  return st.step();
}

std::optional<ChunkRow> SnapshotIndex::lru_unreferenced_chunk() {
  SqliteStmt st(db_, std::string("SELECT ") + kChunkColumns +
                         " FROM chunks WHERE refcount = 0 ORDER BY last_used, key LIMIT 1");
  if (!st.step()) return std::nullopt;
  return chunk_at(st);
}

std::optional<std::string> SnapshotIndex::lru_session_with_chunks(const std::string& except) {
  SqliteStmt st(db_,
                "SELECT id FROM sessions s WHERE id <> ? AND EXISTS(SELECT 1 FROM session_chunks m WHERE"
                " m.session_id = s.id) ORDER BY lru, id LIMIT 1");
  st.bind(1, except);
  if (!st.step()) return std::nullopt;
  return st.text_at(0);
}

std::optional<std::string> SnapshotIndex::cached_fingerprint(const std::string& path, const FileIdentity& id) {
  SqliteStmt st(db_,
                "SELECT fingerprint FROM model_fingerprints WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?");
  st.bind(1, path).bind(2, int64_t(id.size)).bind(3, id.mtime_ns).bind(4, int64_t(id.inode));
  if (!st.step()) return std::nullopt;
  return st.text_at(0);
}

void SnapshotIndex::store_fingerprint(const std::string& path, const FileIdentity& id, const std::string& hex) {
  SqliteStmt(db_, "INSERT OR REPLACE INTO model_fingerprints(path, size, mtime_ns, inode, fingerprint) VALUES(?,?,?,?,?)")
      .bind(1, path)
      .bind(2, int64_t(id.size))
      .bind(3, id.mtime_ns)
      .bind(4, int64_t(id.inode))
      .bind(5, hex)
      .run();
}

std::string SnapshotIndex::integrity_check() {
  SqliteStmt st(db_, "PRAGMA integrity_check");
  std::string out;
  while (st.step()) out += (out.empty() ? "" : "; ") + st.text_at(0);
  return out;
}

int64_t SnapshotIndex::max_lru_tick() {
  return std::max(db_.query_int("SELECT COALESCE(MAX(lru), 0) FROM sessions").value_or(0),
                  db_.query_int("SELECT COALESCE(MAX(last_used), 0) FROM chunks").value_or(0));
}

}  // namespace strata::snapshot
