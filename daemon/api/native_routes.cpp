// Native routes: /strata/v1/generate and /strata/v1/sessions[/{id}].
#include <boost/json/array.hpp>
#include <cstring>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "daemon/api/api_error.h"
#include "daemon/api/api_state.h"
#include "daemon/api/generation.h"
#include "daemon/api/utf8.h"
#include "daemon/models/model_registry.h"
#include "daemon/sessions/session_snapshots.h"
#include "daemon/sessions/session_store.h"
#include "engine/tokenizer/tokenizer.h"

namespace strata::daemon {
namespace {

namespace json = boost::json;

json::object session_json(const Session& s) {
  return {{"id", s.id},
          {"model", s.model},
          {"tokens", s.history.size()},
          {"created", s.created},
          {"last_used", s.last_used},
          {"kv_bytes", s.kv_bytes},
          {"kv_resident", s.sequence != nullptr},
          {"busy", s.busy}};
}

ApiError no_session(const std::string& id) {
  std::string shown;
  for (char c : id.substr(0, 64)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  return not_found("session_not_found", "no session '" + shown + "'");
}

}  // namespace

void handle_generate(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  GenerateRequest r = parse_generate_request(req.body, st.limits);
  GenerationPlan plan;
  if (r.shm) {
    auto channel = find_shm_channel(st, req, r.shm->channel);
    const uint64_t size = channel->segment->size();
    if (r.shm->has_prompt) {
      if (r.shm->prompt_offset > size || r.shm->prompt_length > size - r.shm->prompt_offset)
        throw bad_request("shm_out_of_range", "shm.prompt [" + std::to_string(r.shm->prompt_offset) + ", +" +
                                                  std::to_string(r.shm->prompt_length) + ") lies outside the channel of " +
                                                  std::to_string(size) + " bytes");
      // Copied out once and checked afterwards: the client may change the segment at any time.
      std::string bytes(r.shm->prompt_length, '\0');
      if (!channel->segment->read(r.shm->prompt_offset, bytes))
        throw bad_request("shm_out_of_range", "the channel's segment is shorter than its size: it was shrunk");
      if (r.shm->prompt_is_tokens) {
        r.prompt.is_tokens = true;
        r.prompt.tokens.resize(bytes.size() / 4);
        if (!bytes.empty()) std::memcpy(r.prompt.tokens.data(), bytes.data(), bytes.size());
      } else {
        // JSON prompts are UTF-8 by construction; this one must be checked.
        if (valid_utf8(bytes) != bytes)
          throw bad_request("invalid_value", "the prompt in the shared-memory channel is not valid UTF-8");
        r.prompt.text = std::move(bytes);
      }
    }
    if (r.shm->has_output) {
      if (r.shm->output_offset > size)
        throw bad_request("shm_out_of_range", "shm.output_offset " + std::to_string(r.shm->output_offset) +
                                                  " lies outside the channel of " + std::to_string(size) + " bytes");
      plan.shm_output = std::move(channel);
      plan.shm_output_offset = r.shm->output_offset;
    }
  }
  plan.kind = OutputKind::Native;
  plan.top_probs = r.top_probs;
  plan.logits = r.logits;
  plan.prompt = std::move(r.prompt);
  plan.session = std::move(r.session);
  plan.fields = std::move(r);
  plan.peer = req.peer;
  start_generation(st, std::move(plan), ex);
}

void handle_list_sessions(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  json::array list;
  for (const Session* s : st.ctx.sessions.list(req.peer.uid)) list.push_back(session_json(*s));
  respond_json(*ex, 200, json::serialize(json::object{{"sessions", std::move(list)}}));
}

void handle_get_session(ApiState& st, const HttpRequest& req, const std::string& id,
                        const std::shared_ptr<Exchange>& ex) {
  const Session* s = is_session_id(id) ? st.ctx.sessions.find(id, req.peer.uid) : nullptr;
  if (!s) throw no_session(id);
  // The text needs the model's tokenizer: the model is loaded when it is not.
  const uint32_t uid = req.peer.uid;
  st.ctx.models.acquire(s->model, [&st, ex, id, uid](AcquireResult r) {
    const Session* s = st.ctx.sessions.find(id, uid);
    if (!s) return respond_error(*ex, no_session(id));
    json::object o = session_json(*s);
    if (r.lease) {
      try {
        o.emplace("text", r.lease->model().tokenizer().decode(s->history));
      } catch (const std::exception& e) {
        o.emplace("text", nullptr);
      }
    } else {
      o.emplace("text", nullptr);  // the model is gone or cannot load: the tokens remain
    }
    respond_json(*ex, 200, json::serialize(o));
  });
}

void handle_delete_session(ApiState& st, const HttpRequest& req, const std::string& id,
                           const std::shared_ptr<Exchange>& ex) {
  Session* s = is_session_id(id) ? st.ctx.sessions.find(id, req.peer.uid) : nullptr;
  if (!s) throw no_session(id);
  if (s->busy)
    throw ApiError(409, "invalid_request_error", "session_busy", "session " + id + " is busy with a request");
  st.ctx.sessions.erase(id);
  respond_json(*ex, 200, json::serialize(json::object{{"deleted", id}}));
}

void handle_snapshot_session(ApiState& st, const HttpRequest& req, const std::string& id,
                             const std::shared_ptr<Exchange>& ex) {
  Session* s = is_session_id(id) ? st.ctx.sessions.find(id, req.peer.uid) : nullptr;
  if (!s) throw no_session(id);
  SessionSnapshots* snapshots = st.ctx.sessions.snapshots();
  if (!snapshots)
    throw bad_request("snapshots_disabled", "snapshots are off (snapshots.enabled = 0, or the store could not open)");
  if (s->busy)
    throw ApiError(409, "invalid_request_error", "session_busy", "session " + id + " is busy with a request");
  if (!snapshots->save(*s)) throw server_error("snapshot_failed", "session " + id + " could not be saved; see the log");
  respond_json(*ex, 200,
               json::serialize(json::object{{"session", id},
                                            {"tokens", s->history.size()},
                                            {"disk_bytes", snapshots->disk_bytes()}}));
}

}  // namespace strata::daemon
