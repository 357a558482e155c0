// libstrata for C++: a header-only RAII wrapper over the C API in strata/strata.h (C++17).
//
// Error handling: every failure throws strata::client::Error, which carries the C result code
// (code()), the HTTP status when the daemon answered with one (http_status()) and the message
// (what()). Results come back as plain value types that own their strings.
//
//   strata::client::Client c;                      // default socket (see strata.h)
//   strata::client::GenerateRequest req;
//   req.model = "llama";
//   req.prompt = "Once upon a time";
//   auto r = c.generate(req, [](int32_t, std::string_view t) { std::cout << t; return true; });
//   req.session = r.session;                        // continue the same session
//
// A Client is movable, not copyable, and (like strata_client) not thread-safe.
#ifndef STRATA_STRATA_HPP
#define STRATA_STRATA_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/strata.h"

namespace strata::client {

class Error : public std::runtime_error {
 public:
  Error(strata_result code, int http_status, const std::string& message)
      : std::runtime_error(message), code_(code), http_status_(http_status) {}
  strata_result code() const noexcept { return code_; }
  int http_status() const noexcept { return http_status_; }

 private:
  strata_result code_;
  int http_status_;
};

struct Options {
  std::string socket_path;   // empty: the default (strata.h, strata_client_options)
  std::string tcp_address;   // "host:port"; empty: the socket
  std::string bearer_token;  // empty: none
  int connect_timeout_ms = 0;
  int io_timeout_ms = 0;
  // Payloads from this many bytes go through a shared-memory channel; 0: the library's default
  // (STRATA_SHM_THRESHOLD_DEFAULT); < 0: never.
  int64_t shm_threshold_bytes = 0;
};

// Fields left empty are not sent: the daemon's defaults apply.
// Sampling fields shared by generate and chat requests; unset ones take the daemon's defaults.
struct SamplingOptions {
  std::optional<int32_t> max_tokens;
  std::optional<int32_t> top_k;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
};

struct GenerateRequest : SamplingOptions {
  std::string model;
  std::string prompt;
  std::string session;                 // empty: a new session
  std::vector<int32_t> prompt_tokens;  // not empty: the prompt as token ids (prompt is ignored)
  int32_t top_probs = 0;               // > 0: per generated token, the K most likely tokens
  bool logits = false;                 // the last computed position's logits
};

struct Message {
  std::string role;
  std::string content;
};

struct ChatRequest : SamplingOptions {
  std::string model;
  std::vector<Message> messages;
};

struct Response {
  std::string session;  // generate: the session to continue
  std::string id;       // chat: the completion id
  std::string model;
  std::string text;
  std::vector<int32_t> tokens;
  std::string finish_reason;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::string json;  // the response object (strata.h, strata_response.json)
  // generate with top_probs / logits (strata.h, strata_response.top_*):
  int32_t top_k = 0;                     // entries per generated token
  std::vector<int32_t> top_prob_tokens;  // [i * top_k + j]
  std::vector<float> top_prob_values;
  std::vector<float> logits;
  bool used_shm = false;  // the payload went through a shared-memory channel
};

struct Session {
  std::string id;
  std::string model;
  int64_t tokens = 0;
  int64_t created = 0;    // Unix seconds
  int64_t last_used = 0;  // Unix seconds
  int64_t kv_bytes = 0;
  std::string text;  // Client::session only
  std::string json;
};

struct SessionList {
  std::vector<Session> sessions;
  std::string json;
};

struct ModelStatus {
  std::string name;
  std::string path;
  bool loaded = false;
  bool loading = false;
  int64_t weights_bytes = 0;
  int64_t kv_bytes = 0;
  int64_t scratch_bytes = 0;
  int64_t kv_free_bytes = 0;
  int64_t total_bytes = 0;
  std::string kv_type;
  int64_t sessions = 0;
  int64_t queued = 0;
  int64_t running = 0;
};

struct Status {
  std::string version;
  double uptime_s = 0;
  std::vector<ModelStatus> models;
  std::size_t sessions = 0;
  std::string json;
};

struct ModelList {
  std::vector<std::string> names;
  std::string json;
};

// Receives each streamed token: its id (-1 when the route gives none, as chat) and text.
// Return false to cancel: the call then throws Error with code STRATA_ERR_CANCELLED. An
// exception thrown by the handler cancels too, and is rethrown from the call.
using TokenHandler = std::function<bool(int32_t token, std::string_view text)>;

inline std::string version() { return strata_version(); }

class Client {
 public:
  explicit Client(const Options& options = {}) {
    strata_client_options o;
    strata_client_options_init(&o);
    o.socket_path = options.socket_path.c_str();
    o.tcp_address = options.tcp_address.c_str();
    o.bearer_token = options.bearer_token.c_str();
    o.connect_timeout_ms = options.connect_timeout_ms;
    o.io_timeout_ms = options.io_timeout_ms;
    o.shm_threshold_bytes = options.shm_threshold_bytes;
    strata_client* c = nullptr;
    const strata_result r = strata_client_create(&o, &c);
    if (r != STRATA_OK) throw Error(r, 0, strata_result_string(r));
    client_.reset(c);
  }

  // Connects now, to learn early whether the daemon is reachable.
  void connect() { check(strata_client_connect(handle())); }
  // "unix:PATH" or "tcp:HOST:PORT".
  std::string endpoint() { return strata_client_endpoint(handle()); }

  Response generate(const GenerateRequest& req, const TokenHandler& on_token = {}) {
    strata_generate_params p;
    strata_generate_params_init(&p);
    p.model = req.model.c_str();
    p.prompt = req.prompt.c_str();
    p.session = req.session.c_str();
    if (!req.prompt_tokens.empty()) {
      p.prompt_tokens = req.prompt_tokens.data();
      p.n_prompt_tokens = req.prompt_tokens.size();
    }
    p.top_probs = req.top_probs;
    p.logits = req.logits ? 1 : 0;
    const std::vector<const char*> stop = c_strings(req.stop);
    set_sampling(p, req, stop);
    Stream stream{on_token, nullptr};
    strata_response* out = nullptr;
    const strata_result r = strata_generate(handle(), &p, on_token ? &Stream::trampoline : nullptr, &stream, &out);
    return finish(r, stream, out);
  }

  Response chat(const ChatRequest& req, const TokenHandler& on_token = {}) {
    strata_chat_params p;
    strata_chat_params_init(&p);
    p.model = req.model.c_str();
    std::vector<strata_message> messages;
    messages.reserve(req.messages.size());
    for (const Message& m : req.messages) messages.push_back({m.role.c_str(), m.content.c_str()});
    p.messages = messages.data();
    p.n_messages = messages.size();
    const std::vector<const char*> stop = c_strings(req.stop);
    set_sampling(p, req, stop);
    Stream stream{on_token, nullptr};
    strata_response* out = nullptr;
    const strata_result r = strata_chat(handle(), &p, on_token ? &Stream::trampoline : nullptr, &stream, &out);
    return finish(r, stream, out);
  }

  SessionList sessions() {
    strata_session_list* list = nullptr;
    check(strata_sessions_list(handle(), &list));
    std::unique_ptr<strata_session_list, void (*)(strata_session_list*)> owner(list, &strata_free_session_list);
    SessionList out;
    out.json = list->json;
    for (std::size_t i = 0; i < list->count; ++i) out.sessions.push_back(to_session(*list->items[i]));
    return out;
  }

  // Throws Error with STRATA_ERR_NOT_FOUND when unknown or another user's.
  Session session(const std::string& id) {
    strata_session_info* s = nullptr;
    check(strata_session_get(handle(), id.c_str(), &s));
    std::unique_ptr<strata_session_info, void (*)(strata_session_info*)> owner(s, &strata_free_session);
    return to_session(*s);
  }

  void delete_session(const std::string& id) { check(strata_session_delete(handle(), id.c_str())); }

  // Session archives: the session's history and KV chunks in one file (docs/protocol.md).
  void export_session(const std::string& id, const std::string& path) {
    check(strata_session_export(handle(), id.c_str(), path.c_str()));
  }
  // Returns the new session's id.
  std::string import_session(const std::string& path) {
    char* id = nullptr;
    check(strata_session_import(handle(), path.c_str(), &id));
    std::unique_ptr<char, void (*)(char*)> owner(id, &strata_free_string);
    return id;
  }

  Status status() {
    strata_status* st = nullptr;
    check(strata_status_get(handle(), &st));
    std::unique_ptr<strata_status, void (*)(strata_status*)> owner(st, &strata_free_status);
    Status out;
    out.version = st->version;
    out.uptime_s = st->uptime_s;
    out.sessions = st->n_sessions;
    out.json = st->json;
    for (std::size_t i = 0; i < st->n_models; ++i) {
      const strata_model_status& m = *st->models[i];
      ModelStatus ms;
      ms.name = m.name;
      ms.path = m.path;
      ms.loaded = m.loaded != 0;
      ms.loading = m.loading != 0;
      ms.weights_bytes = m.weights_bytes;
      ms.kv_bytes = m.kv_bytes;
      ms.scratch_bytes = m.scratch_bytes;
      if (m.struct_size >= offsetof(strata_model_status, total_bytes) + sizeof(m.total_bytes)) {
        ms.kv_free_bytes = m.kv_free_bytes;
        ms.total_bytes = m.total_bytes;
        if (m.kv_type) ms.kv_type = m.kv_type;
      }
      ms.sessions = m.sessions;
      ms.queued = m.queued;
      ms.running = m.running;
      out.models.push_back(std::move(ms));
    }
    return out;
  }

  ModelList models() {
    strata_model_list* list = nullptr;
    check(strata_models_list(handle(), &list));
    std::unique_ptr<strata_model_list, void (*)(strata_model_list*)> owner(list, &strata_free_model_list);
    ModelList out;
    out.json = list->json;
    for (std::size_t i = 0; i < list->count; ++i) out.names.emplace_back(list->names[i]);
    return out;
  }

  // The C handle, for calls the wrapper does not cover. Owned by this Client.
  strata_client* handle() const noexcept { return client_.get(); }

 private:
  struct Destroy {
    void operator()(strata_client* c) const noexcept { strata_client_destroy(c); }
  };

  struct Stream {
    const TokenHandler& handler;
    std::exception_ptr error;
    static int trampoline(void* user, int32_t token, const char* text, std::size_t len) {
      Stream* s = static_cast<Stream*>(user);
      try {
        return s->handler(token, std::string_view(text, len)) ? 0 : 1;
      } catch (...) {
        s->error = std::current_exception();
        return 1;
      }
    }
  };

  // The sampling fields that generate and chat requests share, copied into their C params.
  template <typename Params>
  static void set_sampling(Params& p, const SamplingOptions& req, const std::vector<const char*>& stop) {
    if (req.max_tokens) p.max_tokens = *req.max_tokens;
    if (req.top_k) p.top_k = *req.top_k;
    if (req.temperature) p.temperature = *req.temperature;
    if (req.top_p) p.top_p = *req.top_p;
    if (req.seed) {
      p.has_seed = 1;
      p.seed = *req.seed;
    }
    p.stop = stop.data();
    p.n_stop = stop.size();
  }

  static std::vector<const char*> c_strings(const std::vector<std::string>& v) {
    std::vector<const char*> out;
    out.reserve(v.size());
    for (const std::string& s : v) out.push_back(s.c_str());
    return out;
  }

  void check(strata_result r) {
    if (r == STRATA_OK) return;
    const char* message = strata_last_error(handle());
    throw Error(r, strata_last_http_status(handle()), *message ? message : strata_result_string(r));
  }

  Response finish(strata_result r, Stream& stream, strata_response* out) {
    std::unique_ptr<strata_response, void (*)(strata_response*)> owner(out, &strata_free_response);
    if (stream.error) std::rethrow_exception(stream.error);
    check(r);
    Response resp;
    resp.session = out->session;
    resp.id = out->id;
    resp.model = out->model;
    resp.text = out->text;
    resp.tokens.assign(out->tokens, out->tokens + out->n_tokens);
    resp.finish_reason = out->finish_reason;
    resp.prompt_tokens = out->prompt_tokens;
    resp.completion_tokens = out->completion_tokens;
    resp.json = out->json;
    if (out->struct_size >= offsetof(strata_response, used_shm) + sizeof(out->used_shm)) {
      resp.top_k = out->top_k;
      if (out->n_top_probs) {
        resp.top_prob_tokens.assign(out->top_prob_tokens, out->top_prob_tokens + out->n_top_probs);
        resp.top_prob_values.assign(out->top_prob_values, out->top_prob_values + out->n_top_probs);
      }
      if (out->n_logits) resp.logits.assign(out->logits, out->logits + out->n_logits);
      resp.used_shm = out->used_shm != 0;
    }
    return resp;
  }

  static Session to_session(const strata_session_info& s) {
    Session out;
    out.id = s.id;
    out.model = s.model;
    out.tokens = s.tokens;
    out.created = s.created;
    out.last_used = s.last_used;
    out.kv_bytes = s.kv_bytes;
    out.text = s.text;
    out.json = s.json;
    return out;
  }

  std::unique_ptr<strata_client, Destroy> client_;
};

}  // namespace strata::client

#endif  // STRATA_STRATA_HPP
