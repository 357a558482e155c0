// Session archives over HTTP: GET /strata/v1/sessions/{id}/export and
// POST /strata/v1/sessions/import (docs/protocol.md). The work is SessionSnapshots'.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "daemon/api/api_error.h"
#include "daemon/api/api_state.h"
#include "daemon/api/requests.h"
#include "daemon/sessions/session_snapshots.h"
#include "daemon/sessions/session_store.h"
#include "engine/snapshot/session_archive.h"

namespace strata::daemon {
namespace {

constexpr std::string_view kArchiveType = "application/vnd.strata.session-archive";

SessionSnapshots& snapshots_or_throw(ApiState& st) {
  SessionSnapshots* s = st.ctx.sessions.snapshots();
  if (!s)
    throw bad_request("snapshots_disabled", "snapshots are off (snapshots.enabled = 0, or the store could not open)");
  return *s;
}

}  // namespace

void handle_export_session(ApiState& st, const HttpRequest& req, const std::string& id,
                           const std::shared_ptr<Exchange>& ex) {
  Session* s = is_session_id(id) ? st.ctx.sessions.find(id, req.peer.uid) : nullptr;
  if (!s) {  // another uid's session answers exactly like an unknown one
    std::string shown;
    for (char c : id.substr(0, 64)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
    throw not_found("session_not_found", "no session '" + shown + "'");
  }
  SessionSnapshots& snapshots = snapshots_or_throw(st);
  if (s->busy)
    throw ApiError(409, "invalid_request_error", "session_busy", "session " + id + " is busy with a request");
  ex->respond(200, kArchiveType, snapshots.export_archive(*s));
}

void handle_import_session(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  SessionSnapshots& snapshots = snapshots_or_throw(st);
  // An archive's KV payload cannot be checked without recomputing it; with cross-uid prefix
  // reuse, imported chunks would feed other users' prompts, so imports are refused then.
  if (snapshots.cross_uid_prefix())
    throw bad_request("import_disabled", "session import is off while snapshots.cross_uid_prefix = 1");
  Session* s = nullptr;
  try {
    s = snapshots.import_archive(req.body, req.peer.uid, st.ctx.sessions);
  } catch (const snapshot::ArchiveError& e) {
    throw bad_request("invalid_archive", e.what());
  }
  if (!s) throw rate_limited("too_many_sessions", "the daemon holds the most sessions it may; delete some");
  respond_json(*ex, 200,
               boost::json::serialize(boost::json::object{
                   {"id", s->id}, {"model", s->model}, {"tokens", s->history.size()}}));
}

}  // namespace strata::daemon
