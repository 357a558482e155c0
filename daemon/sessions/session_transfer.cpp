// Session archives: export a session (history + chunk files) and import one as a new session.
// Members of SessionSnapshots; the container is engine/snapshot/session_archive.h.
#include <algorithm>
#include <span>

#include "daemon/log/logger.h"
#include "daemon/sessions/session_snapshots.h"
#include "daemon/sessions/session_store.h"
#include "engine/snapshot/session_archive.h"

namespace strata::daemon {
namespace {

using snapshot::ArchiveError;

// Checks chunk i of an archive against what the importing daemon expects; returns its payload.
const uint8_t* check_chunk(const snapshot::ParsedChunk& c, size_t i, const snapshot::KvLayout& first,
                           const snapshot::ModelFingerprint& want, const KvFormat* want_kv,
                           const snapshot::ChunkKey& key, std::span<const int32_t> tokens) {
  const std::string field = "chunk " + std::to_string(i);
  if (c.layout.fingerprint.bytes != want.bytes)
    throw ArchiveError(field, "fingerprint: made with another model file than the one configured under that name");
  if (want_kv && (c.layout.format.type != want_kv->type ||
                  (want_kv->type == KvType::Q4G &&
                   c.layout.format.group != std::min(want_kv->group, c.layout.geometry.head_dim))))
    throw ArchiveError(field, "kv_type: the chunk holds " + c.layout.kv_name() + " KV; this daemon stores the model's KV as " +
                                  std::string(kv_type_name(want_kv->type)));
  if (c.page_index != static_cast<int64_t>(i)) throw ArchiveError(field, "token_range: the chunk covers another page");
  if (c.layout.kv_name() != first.kv_name() || c.layout.page_tokens != first.page_tokens ||
      c.layout.geometry.n_layer != first.geometry.n_layer || c.layout.geometry.n_head_kv != first.geometry.n_head_kv ||
      c.layout.geometry.head_dim != first.geometry.head_dim)
    throw ArchiveError(field, "layout: the chunks of one archive disagree on KV type or geometry");
  if (c.key != key) throw ArchiveError(field, "key: the chunk was not computed from the archive's token ids");
  if (!std::equal(c.tokens.begin(), c.tokens.end(), tokens.begin(), tokens.end()))
    throw ArchiveError(field, "tokens: the chunk's token ids differ from the archive's");
  return c.payload.data();
}

}  // namespace

std::string SessionSnapshots::export_archive(Session& s) {
  // The chunks on disk must cover what the session holds now: save first (writes only new pages).
  if (s.saved_tokens != static_cast<int64_t>(s.history.size()) || s.save_failed || s.sequence)
    if (!save(s)) throw Error(ErrorKind::Io, "session " + s.id + " could not be saved before export; see the log");
  snapshot::SessionArchive a;
  a.model = s.model;
  a.tokens = s.history;
  a.chunks = store_->read_session_chunks(s.id);
  return snapshot::encode_archive(a);
}

Session* SessionSnapshots::import_archive(std::string_view bytes, uint32_t owner, SessionStore& sessions) {
  snapshot::SessionArchive a = snapshot::decode_archive(bytes);
  if (!model_paths_.count(a.model))
    throw ArchiveError("model", "model '" + a.model.substr(0, 128) + "' is not configured in this daemon");
  const auto want = fingerprint(a.model);
  const auto kv = model_kv_.find(a.model);
  const KvFormat* want_kv = kv == model_kv_.end() ? nullptr : &kv->second;  // null: an unparsable kv setting

  std::vector<snapshot::ParsedChunk> parsed;
  for (size_t i = 0; i < a.chunks.size(); ++i) {
    const auto* p = reinterpret_cast<const uint8_t*>(a.chunks[i].data());
    try {
      parsed.push_back(snapshot::parse_chunk({p, a.chunks[i].size()}, "chunk " + std::to_string(i)));
    } catch (const snapshot::ChunkError& e) {
      throw ArchiveError("chunk " + std::to_string(i), e.field() + ": " + e.what());
    }
  }
  snapshot::KvLayout layout;
  std::vector<const uint8_t*> pages;
  if (!parsed.empty()) {
    layout = parsed[0].layout;
    const auto n = static_cast<int64_t>(parsed.size());
    if (n * layout.page_tokens > static_cast<int64_t>(a.tokens.size()))
      throw ArchiveError("tokens", "the chunks cover more tokens than the history holds");
    const auto keys = snapshot::chunk_keys(layout, a.tokens, n);
    for (size_t i = 0; i < parsed.size(); ++i)
      pages.push_back(check_chunk(parsed[i], i, layout, want, want_kv, keys[i],
                                  std::span(a.tokens).subspan(i * layout.page_tokens, layout.page_tokens)));
  }

  Session* s = sessions.create(owner, a.model);
  if (!s) return nullptr;
  s->history = a.tokens;
  snapshot::SessionRow row;
  row.id = s->id;
  row.owner = owner;
  row.model = a.model;
  row.tokens = a.tokens;
  row.created = s->created;
  row.last_used = s->last_used;
  try {
    const auto r = pages.empty() ? store_->save(row, {}, nullptr) : store_->import_session(row, layout, pages);
    if (r.quota_limited)
      log_.warn("snapshots: imported session " + s->id + " saved in part: the disk quota holds no more of it");
    counters_.chunks_written += static_cast<uint64_t>(r.chunks_written);
    counters_.bytes_written += r.bytes_written;
  } catch (...) {
    sessions.erase(s->id);
    throw;
  }
  s->saved_tokens = static_cast<int64_t>(s->history.size());
  return s;
}

}  // namespace strata::daemon
