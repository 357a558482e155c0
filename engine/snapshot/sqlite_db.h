// A thin RAII layer over the SQLite C API: a connection and prepared statements. Errors throw
// strata::Error(ErrorKind::Io) naming the database file and SQLite's message.
//
// One connection is used by one thread at a time (the snapshot store serializes its calls).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace strata::snapshot {

class SqliteDb;

class SqliteStmt {
 public:
  SqliteStmt(SqliteDb& db, std::string_view sql);
  ~SqliteStmt();
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;

  // Binders take 1-based parameter indices and return *this for chaining.
  SqliteStmt& bind(int i, int64_t v);
  SqliteStmt& bind(int i, std::string_view v);
  SqliteStmt& bind_blob(int i, std::span<const uint8_t> v);
  // Steps once: true when a row is available, false when done.
  bool step();
  // Runs to completion (for statements without rows).
  void run();
  void reset();

  int64_t int_at(int col) const;
  std::string text_at(int col) const;
  std::vector<uint8_t> blob_at(int col) const;
  bool is_null(int col) const;

 private:
  SqliteDb& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDb {
 public:
  // Opens (creating) the database file.
  explicit SqliteDb(const std::filesystem::path& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  void exec(std::string_view sql);
  // The first column of the first row of `sql`, as an integer (nullopt when no row).
  std::optional<int64_t> query_int(std::string_view sql);
  int64_t changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }
  // Throws Error(Io) "<db>: <what>: <sqlite message>".
  [[noreturn]] void fail(std::string_view what) const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() ran.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDb& db);
  ~SqliteTransaction();
  void commit();

 private:
  SqliteDb& db_;
  bool done_ = false;
};

}  // namespace strata::snapshot
