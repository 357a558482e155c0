// The C API's queries: sessions (list, get, delete), the daemon's status, its models.
#include <memory>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "sdk/client/c_support.h"

using namespace strata::libclient;
namespace json = boost::json;

namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using SessionPtr = std::unique_ptr<strata_session_info, Deleter<strata_session_info, strata_free_session>>;
using SessionListPtr = std::unique_ptr<strata_session_list, Deleter<strata_session_list, strata_free_session_list>>;
using StatusPtr = std::unique_ptr<strata_status, Deleter<strata_status, strata_free_status>>;
using ModelListPtr = std::unique_ptr<strata_model_list, Deleter<strata_model_list, strata_free_model_list>>;

void free_model_status(strata_model_status* m) {
  if (!m) return;
  std::free(m->name);
  std::free(m->path);
  std::free(m->kv_type);
  std::free(m);
}

SessionPtr session_from(const json::value& v, bool with_text) {
  const json::object& o = object_of(v, "a session");
  SessionPtr s(alloc_struct<strata_session_info>());
  s->id = dup_string(string_field(o, "id"));
  s->model = dup_string(string_field(o, "model"));
  s->tokens = int_field(o, "tokens");
  s->created = int_field(o, "created");
  s->last_used = int_field(o, "last_used");
  s->kv_bytes = int_field(o, "kv_bytes");
  s->text = dup_string(with_text ? string_field(o, "text") : std::string());
  s->json = dup_string(json::serialize(v));
  if (!*s->id) protocol_error("a session without an id");
  return s;
}

std::string session_target(const char* id) {
  if (!id || !*id) invalid_argument("the session id is NULL or empty");
  return "/strata/v1/sessions/" + encode_path_segment(id);
}

}  // namespace

extern "C" {

strata_result strata_sessions_list(strata_client* client, strata_session_list** out) {
  if (out) *out = nullptr;
  return guarded(client, [&] {
    if (!out) invalid_argument("sessions_list: out is NULL");
    const json::value v = client->core.request_json("GET", "/strata/v1/sessions", nullptr);
    const json::array* sessions = array_field(object_of(v, "the sessions response"), "sessions");
    SessionListPtr list(alloc_struct<strata_session_list>());
    list->items = alloc_array<strata_session_info*>(sessions ? sessions->size() : 0);
    if (sessions)
      for (const json::value& s : *sessions) list->items[list->count++] = session_from(s, false).release();
    list->json = dup_string(json::serialize(v));
    *out = list.release();
  });
}

strata_result strata_session_get(strata_client* client, const char* id, strata_session_info** out) {
  if (out) *out = nullptr;
  return guarded(client, [&] {
    if (!out) invalid_argument("session_get: out is NULL");
    const json::value v = client->core.request_json("GET", session_target(id), nullptr);
    *out = session_from(v, true).release();
  });
}

strata_result strata_session_delete(strata_client* client, const char* id) {
  return guarded(client, [&] { client->core.request_json("DELETE", session_target(id), nullptr); });
}

void strata_free_session(strata_session_info* s) {
  if (!s) return;
  std::free(s->id);
  std::free(s->model);
  std::free(s->text);
  std::free(s->json);
  std::free(s);
}

void strata_free_session_list(strata_session_list* list) {
  if (!list) return;
  for (size_t i = 0; i < list->count; ++i) strata_free_session(list->items[i]);
  std::free(list->items);
  std::free(list->json);
  std::free(list);
}

strata_result strata_status_get(strata_client* client, strata_status** out) {
  if (out) *out = nullptr;
  return guarded(client, [&] {
    if (!out) invalid_argument("status_get: out is NULL");
    const json::value v = client->core.request_json("GET", "/strata/v1/status", nullptr);
    const json::object& o = object_of(v, "the status response");
    StatusPtr st(alloc_struct<strata_status>());
    st->version = dup_string(string_field(o, "version"));
    st->uptime_s = number_field(o, "uptime_s");
    const json::array* models = array_field(o, "models");
    st->models = alloc_array<strata_model_status*>(models ? models->size() : 0);
    if (models) {
      for (const json::value& mv : *models) {
        const json::object& m = object_of(mv, "a model's status");
        std::unique_ptr<strata_model_status, Deleter<strata_model_status, free_model_status>> ms(
            alloc_struct<strata_model_status>());
        ms->name = dup_string(string_field(m, "name"));
        ms->path = dup_string(string_field(m, "path"));
        ms->loaded = bool_field(m, "loaded");
        ms->loading = bool_field(m, "loading");
        if (const json::object* mem = object_field(m, "memory")) {
          ms->weights_bytes = int_field(*mem, "weights_bytes");
          ms->kv_bytes = int_field(*mem, "kv_bytes");
          ms->scratch_bytes = int_field(*mem, "scratch_bytes");
          ms->kv_free_bytes = int_field(*mem, "kv_free_bytes");
          ms->total_bytes = int_field(*mem, "total_bytes");
        }
        ms->kv_type = dup_string(string_field(m, "kv_type"));
        // "sessions" is a count here; tolerate a list.
        if (const json::value* s = m.if_contains("sessions"); s && s->is_array()) ms->sessions = static_cast<int64_t>(s->get_array().size());
        else ms->sessions = int_field(m, "sessions");
        if (const json::object* q = object_field(m, "queue")) {
          ms->queued = int_field(*q, "queued");
          ms->running = int_field(*q, "running");
        }
        st->models[st->n_models++] = ms.release();
      }
    }
    if (const json::array* sessions = array_field(o, "sessions")) st->n_sessions = sessions->size();
    st->json = dup_string(json::serialize(v));
    *out = st.release();
  });
}

void strata_free_status(strata_status* st) {
  if (!st) return;
  std::free(st->version);
  for (size_t i = 0; i < st->n_models; ++i) free_model_status(st->models[i]);
  std::free(st->models);
  std::free(st->json);
  std::free(st);
}

strata_result strata_models_list(strata_client* client, strata_model_list** out) {
  if (out) *out = nullptr;
  return guarded(client, [&] {
    if (!out) invalid_argument("models_list: out is NULL");
    const json::value v = client->core.request_json("GET", "/v1/models", nullptr);
    const json::array* data = array_field(object_of(v, "the models response"), "data");
    ModelListPtr list(alloc_struct<strata_model_list>());
    list->names = alloc_array<char*>(data ? data->size() : 0);
    if (data)
      for (const json::value& m : *data) list->names[list->count++] = dup_string(string_field(object_of(m, "a model"), "id"));
    list->json = dup_string(json::serialize(v));
    *out = list.release();
  });
}

void strata_free_model_list(strata_model_list* list) {
  if (!list) return;
  for (size_t i = 0; i < list->count; ++i) std::free(list->names[i]);
  std::free(list->names);
  std::free(list->json);
  std::free(list);
}

}  // extern "C"
