#include "engine/snapshot/snapshot_store.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <set>
#include <span>
#include <system_error>
#include <thread>

#include "engine/core/error.h"

namespace strata::snapshot {
namespace {

constexpr const char* kChunkDir = "chunks";
constexpr const char* kChunkSuffix = ".kv";

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void remove_file(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::remove(p, ec);  // already gone is fine; a failure leaves an orphan for the next reconcile
}

}  // namespace

SnapshotStore::SnapshotStore(SnapshotStoreOptions options) : options_(std::move(options)) {
  std::error_code ec;
  std::filesystem::create_directories(options_.dir / kChunkDir, ec);
  if (ec) throw Error(ErrorKind::Io, (options_.dir / kChunkDir).string() + ": cannot create: " + ec.message());
  index_ = std::make_unique<SnapshotIndex>(options_.dir / "index.sqlite");
  last_tick_ = index_->max_lru_tick();
  startup_ = reconcile(options_.verify_at_startup);
}

std::filesystem::path SnapshotStore::chunk_path(const std::string& key_hex) const {
  return options_.dir / kChunkDir / (key_hex + kChunkSuffix);
}

int64_t SnapshotStore::tick() {
  // A strictly increasing LRU clock: wall-clock microseconds, never equal to the previous tick.
  last_tick_ = std::max(now_us(), last_tick_ + 1);
  return last_tick_;
}

ReconcileReport SnapshotStore::reconcile(bool verify_checksums) {
  std::lock_guard lock(mu_);
  ReconcileReport r;
  std::set<std::string> known;
  {
    SqliteTransaction tx(index_->db());
    for (const ChunkRow& c : index_->chunks()) {
      const auto path = options_.dir / c.path;
      std::error_code ec;
      const auto size = std::filesystem::file_size(path, ec);
      if (ec || size != c.bytes) {
        index_->drop_chunk(c.key);
        ++r.missing_files;
        continue;
      }
      if (verify_checksums) {
        try {
          verify_chunk_file(path);
        } catch (const Error&) {
          index_->drop_chunk(c.key);
          ++r.corrupt_files;
          continue;  // its file is removed below, as a file without a row
        }
      }
      known.insert(c.path);
    }
    for (const SessionRow& s : index_->sessions()) index_->refresh_session_bytes(s.id);
    tx.commit();
  }
  // Files the index does not reference: temporary files of interrupted writes, chunks whose
  // transaction never committed, dropped chunks.
  for (const auto& e : std::filesystem::directory_iterator(options_.dir / kChunkDir)) {
    const std::string rel = std::string(kChunkDir) + "/" + e.path().filename().string();
    if (!known.count(rel)) {
      remove_file(e.path());
      ++r.orphan_files;
    }
  }
  r.orphan_files -= r.corrupt_files;  // those were counted as corrupt already
  return r;
}

ModelFingerprint SnapshotStore::fingerprint(const std::filesystem::path& model_file) {
  const std::string path = std::filesystem::absolute(model_file).lexically_normal().string();
  const FileIdentity id = file_identity(path);
  {
    std::lock_guard lock(mu_);
    if (auto hex = index_->cached_fingerprint(path, id))
      if (auto f = ModelFingerprint::from_hex(*hex)) return *f;
  }
  const ModelFingerprint f = fingerprint_model_file(path);
  std::lock_guard lock(mu_);
  index_->store_fingerprint(path, id, f.hex());
  return f;
}

void SnapshotStore::remove_chunk(const ChunkRow& c) {
  // The row goes first: a crash in between leaves a file without a row, which reconcile removes.
  index_->drop_chunk(c.key);
  remove_file(options_.dir / c.path);
}

bool SnapshotStore::make_room(uint64_t needed, const std::string& saving) {
  if (!options_.quota_bytes) return true;
  while (index_->chunk_bytes_total() + needed > options_.quota_bytes) {
    if (auto c = index_->lru_unreferenced_chunk()) {
      remove_chunk(*c);
    } else if (auto s = index_->lru_session_with_chunks(saving)) {
      // The session keeps its row and tokens (it resumes by re-prefill); its chunks become
      // unreferenced unless another session shares them, and go on the next turns.
      SqliteTransaction tx(index_->db());
      index_->unmap_from(*s, 0);
      index_->refresh_session_bytes(*s);
      tx.commit();
    } else {
      return false;
    }
  }
  return true;
}

SaveResult SnapshotStore::save(const SessionRow& session, const KvLayout& layout, const SequenceKvCache* kv) {
  std::lock_guard lock(mu_);
  SaveResult r;
  const int64_t P = layout.page_tokens;
  int64_t n_pages = 0;
  if (kv) {
    if (kv->size() > static_cast<int64_t>(session.tokens.size()))
      throw Error(ErrorKind::InvalidArgument, "snapshot of session " + session.id + ": the KV holds " +
                                                  std::to_string(kv->size()) + " tokens but the history has " +
                                                  std::to_string(session.tokens.size()));
    if (kv->page_tokens() != P || kv->pool().page_bytes() != layout.page_bytes())
      throw Error(ErrorKind::InvalidArgument, "snapshot of session " + session.id + ": the KV cache's pages do not match the layout");
    n_pages = kv->size() / P;  // full pages only: the partial last page is re-prefilled on resume
  } else {
    // No KV in memory: the row only. Its chunks stay mapped; restore() checks every one against
    // the history it is given, so chunks a changed history no longer matches are never loaded.
    SessionRow row = session;
    const auto old = index_->session(session.id);
    row.fingerprint = old ? old->fingerprint : std::string();
    row.kv = old ? old->kv : std::string();
    index_->put_session(row, tick());
    index_->refresh_session_bytes(session.id);
    return r;
  }
  return save_pages(session, layout, n_pages, [kv](int64_t i) { return kv->page_data(i); });
}

SaveResult SnapshotStore::import_session(const SessionRow& session, const KvLayout& layout,
                                         const std::vector<const uint8_t*>& pages) {
  std::lock_guard lock(mu_);
  if (static_cast<int64_t>(pages.size()) * layout.page_tokens > static_cast<int64_t>(session.tokens.size()))
    throw Error(ErrorKind::InvalidArgument, "import of session " + session.id + ": more pages than tokens");
  return save_pages(session, layout, static_cast<int64_t>(pages.size()), [&pages](int64_t i) { return pages[i]; });
}

std::vector<std::string> SnapshotStore::read_session_chunks(const std::string& id) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [page, key] : index_->session_chunks(id)) {
    if (page != static_cast<int64_t>(out.size())) break;  // a gap: only the leading pages restore
    const auto c = index_->chunk(key);
    if (!c) break;
    std::ifstream f(options_.dir / c->path, std::ios::binary);
    std::string bytes(c->bytes, '\0');
    if (!f.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
      throw Error(ErrorKind::Io, (options_.dir / c->path).string() + ": cannot read");
    out.push_back(std::move(bytes));
  }
  return out;
}

SaveResult SnapshotStore::save_pages(const SessionRow& session, const KvLayout& layout, int64_t n_pages,
                                     const std::function<const uint8_t*(int64_t)>& page_data) {
  SaveResult r;
  const int64_t P = layout.page_tokens;
  const auto keys = chunk_keys(layout, session.tokens, n_pages);

  SessionRow row = session;
  row.fingerprint = layout.fingerprint.hex();
  row.kv = layout.kv_name();
  int64_t first_missing = 0;
  {
    SqliteTransaction tx(index_->db());
    index_->put_session(row, tick());
    // Keep the mapping's longest prefix that still matches; the rest (a history that changed,
    // another model or format) is unmapped.
    const auto mapped = index_->session_chunks(session.id);
    while (first_missing < static_cast<int64_t>(mapped.size()) && first_missing < n_pages &&
           mapped[first_missing].first == first_missing && mapped[first_missing].second == keys[first_missing].hex())
      ++first_missing;
    index_->unmap_from(session.id, first_missing);
    const int64_t t = tick();
    for (int64_t i = 0; i < first_missing; ++i) index_->touch_chunk(keys[i].hex(), t);
    tx.commit();
  }
  r.chunks_reused = first_missing;

  for (int64_t i = first_missing; i < n_pages; ++i) {
    const std::string hex = keys[i].hex();
    if (index_->chunk(hex)) {  // another session's identical prefix
      SqliteTransaction tx(index_->db());
      index_->map_chunk(session.id, i, hex);
      index_->touch_chunk(hex, tick());
      tx.commit();
      ++r.chunks_reused;
      continue;
    }
    if (!make_room(layout.chunk_file_bytes(), session.id)) {
      r.quota_limited = true;
      break;
    }
    const auto path = chunk_path(hex);
    write_chunk(path, layout, keys[i], i, std::span(session.tokens).subspan(i * P, P), page_data(i));
    SqliteTransaction tx(index_->db());
    index_->insert_chunk({hex, std::string(kChunkDir) + "/" + path.filename().string(), layout.chunk_file_bytes(), 0, tick()});
    index_->map_chunk(session.id, i, hex);
    tx.commit();
    ++r.chunks_written;
    r.bytes_written += layout.chunk_file_bytes();
  }
  r.tokens_in_chunks = (r.chunks_reused + r.chunks_written) * P;
  index_->refresh_session_bytes(session.id);
  return r;
}

RestoreResult SnapshotStore::restore(const std::string& id, const KvLayout& layout,
                                     const std::shared_ptr<KvPagePool>& pool, int64_t capacity,
                                     const std::vector<int32_t>* history) {
  const auto t0 = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  RestoreResult r;
  const auto s = index_->session(id);
  if (!s || s->fingerprint != layout.fingerprint.hex() || s->kv != layout.kv_name()) return r;
  const int64_t P = layout.page_tokens;
  const std::vector<int32_t>& tokens = history ? *history : s->tokens;
  const int64_t max_pages = std::min<int64_t>(static_cast<int64_t>(tokens.size()), capacity) / P;
  const auto keys = chunk_keys(layout, tokens, max_pages);
  // The mapped pages that form a prefix with the expected keys.
  std::vector<ChunkRow> rows;
  for (const auto& [page, key] : index_->session_chunks(id)) {
    if (page != static_cast<int64_t>(rows.size()) || page >= max_pages || key != keys[page].hex()) break;
    auto c = index_->chunk(key);
    if (!c) break;
    rows.push_back(*c);
  }
  auto pages = read_pages(rows, keys, tokens, layout, pool, r);
  {
    SqliteTransaction tx(index_->db());
    if (pages.size() < rows.size()) index_->unmap_from(id, static_cast<int64_t>(pages.size()));
    index_->touch_session(id, tick(), s->last_used);
    index_->refresh_session_bytes(id);
    tx.commit();
  }
  r.restored_tokens = static_cast<int64_t>(pages.size()) * P;
  r.kv = SequenceKvCache::from_pages(pool, capacity, std::move(pages), r.restored_tokens);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::vector<KvPageRef> SnapshotStore::read_pages(const std::vector<ChunkRow>& rows, const std::vector<ChunkKey>& keys,
                                                 std::span<const int32_t> tokens, const KvLayout& layout,
                                                 const std::shared_ptr<KvPagePool>& pool, RestoreResult& r) {
  const int64_t P = layout.page_tokens;
  std::vector<KvPageRef> pages;
  for (size_t i = 0; i < rows.size(); ++i) pages.push_back(pool->allocate());

  // Read ahead in parallel: a few threads, each taking every n-th chunk.
  std::vector<std::string> errors(rows.size());
  const size_t n_threads = std::min<size_t>(rows.size(), std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4));
  std::vector<std::future<void>> work;
  for (size_t t = 0; t < n_threads; ++t)
    work.push_back(std::async(std::launch::async, [&, t] {
      for (size_t i = t; i < rows.size(); i += n_threads) {
        try {
          read_chunk(options_.dir / rows[i].path, layout, keys[i], static_cast<int64_t>(i), tokens.subspan(i * P, P),
                     pages[i]->data());
        } catch (const Error& e) {
          errors[i] = e.what();
        }
      }
    }));
  for (auto& w : work) w.get();

  size_t good = 0;
  while (good < rows.size() && errors[good].empty()) ++good;
  SqliteTransaction tx(index_->db());
  for (size_t i = 0; i < rows.size(); ++i)
    if (!errors[i].empty()) {
      r.problems.push_back(errors[i]);
      ++r.chunks_dropped;
      remove_chunk(rows[i]);
    }
  const int64_t t = tick();
  for (size_t i = 0; i < good; ++i) index_->touch_chunk(rows[i].key, t);
  tx.commit();
  pages.resize(good);
  return pages;
}

RestoreResult SnapshotStore::restore_prefix(std::span<const int32_t> tokens, int64_t max_tokens, uint32_t owner,
                                            bool any_owner, const KvLayout& layout,
                                            const std::shared_ptr<KvPagePool>& pool, int64_t capacity) {
  const auto t0 = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  RestoreResult r;
  const int64_t P = layout.page_tokens;
  const int64_t n_pages =
      std::min({static_cast<int64_t>(tokens.size()), max_tokens, capacity}) / P;
  const auto keys = chunk_keys(layout, tokens, n_pages);
  std::vector<ChunkRow> rows;
  for (const auto& k : keys) {
    auto c = index_->chunk(k.hex());
    if (!c || !(any_owner || index_->owner_references(c->key, owner))) break;
    rows.push_back(*c);
  }
  auto pages = read_pages(rows, keys, tokens, layout, pool, r);
  r.restored_tokens = static_cast<int64_t>(pages.size()) * P;
  r.kv = SequenceKvCache::from_pages(pool, capacity, std::move(pages), r.restored_tokens);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::optional<SessionRow> SnapshotStore::session(const std::string& id) {
  std::lock_guard lock(mu_);
  return index_->session(id);
}

std::vector<SessionRow> SnapshotStore::sessions() {
  std::lock_guard lock(mu_);
  return index_->sessions();
}

void SnapshotStore::erase(const std::string& id) {
  std::lock_guard lock(mu_);
  const auto mapped = index_->session_chunks(id);
  SqliteTransaction tx(index_->db());
  index_->erase_session(id);
  std::vector<ChunkRow> unreferenced;
  for (const auto& [page, key] : mapped)
    if (auto c = index_->chunk(key); c && c->refcount == 0) {
      index_->drop_chunk(key);
      unreferenced.push_back(*c);
    }
  tx.commit();
  for (const auto& c : unreferenced) remove_file(options_.dir / c.path);
}

uint64_t SnapshotStore::disk_bytes() {
  std::lock_guard lock(mu_);
  return index_->chunk_bytes_total();
}

void SnapshotStore::set_quota(uint64_t bytes) {
  std::lock_guard lock(mu_);
  options_.quota_bytes = bytes;
  make_room(0, {});
}

std::string SnapshotStore::integrity_check() {
  std::lock_guard lock(mu_);
  return index_->integrity_check();
}

}  // namespace strata::snapshot
