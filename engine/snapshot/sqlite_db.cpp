#include "engine/snapshot/sqlite_db.h"

#include <sqlite3.h>

#include "engine/core/error.h"

namespace strata::snapshot {

SqliteDb::SqliteDb(const std::filesystem::path& path) : path_(path.string()) {
  const int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(ErrorKind::Io, path_ + ": cannot open the snapshot index: " + msg);
  }
  // A writer that finds the database locked (another connection checkpointing) waits a little.
  sqlite3_busy_timeout(db_, 5000);
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

void SqliteDb::fail(std::string_view what) const {
  throw Error(ErrorKind::Io, path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

void SqliteDb::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw Error(ErrorKind::Io, path_ + ": " + s.substr(0, 60) + ": " + msg);
  }
}

std::optional<int64_t> SqliteDb::query_int(std::string_view sql) {
  SqliteStmt st(*this, sql);
  if (!st.step()) return std::nullopt;
  return st.int_at(0);
}

int64_t SqliteDb::changes() const { return sqlite3_changes(db_); }

SqliteStmt::SqliteStmt(SqliteDb& db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
    db.fail("prepare '" + std::string(sql.substr(0, 60)) + "'");
}

SqliteStmt::~SqliteStmt() { sqlite3_finalize(stmt_); }

SqliteStmt& SqliteStmt::bind(int i, int64_t v) {
  if (sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK) db_.fail("bind");
  return *this;
}

SqliteStmt& SqliteStmt::bind(int i, std::string_view v) {
  if (sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    db_.fail("bind");
  return *this;
}

SqliteStmt& SqliteStmt::bind_blob(int i, std::span<const uint8_t> v) {
  // A zero-length blob binds as an empty blob, not NULL.
  static const uint8_t empty = 0;
  if (sqlite3_bind_blob64(stmt_, i, v.empty() ? &empty : v.data(), v.size(), SQLITE_TRANSIENT) != SQLITE_OK)
    db_.fail("bind");
  return *this;
}

bool SqliteStmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.fail(std::string("step '") + std::string(sqlite3_sql(stmt_)).substr(0, 60) + "'");
}

void SqliteStmt::run() {
  while (step()) {
  }
}

void SqliteStmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStmt::int_at(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string SqliteStmt::text_at(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
}

std::vector<uint8_t> SqliteStmt::blob_at(int col) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  return p ? std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, col)) : std::vector<uint8_t>();
}

bool SqliteStmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

SqliteTransaction::SqliteTransaction(SqliteDb& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

SqliteTransaction::~SqliteTransaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // The transaction is gone either way; a failing rollback leaves nothing to undo.
    }
  }
}

void SqliteTransaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace strata::snapshot
