// The C API's generation calls: strata_generate (native route, sessions) and strata_chat
// (OpenAI-compatible chat), each streamed over SSE when a token callback is given.
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "sdk/client/c_support.h"
#include "sdk/client/sse_parser.h"

using namespace strata::libclient;
namespace json = boost::json;

namespace {

struct Sampling {
  int32_t max_tokens, top_k;
  double temperature, top_p;
  bool has_seed;
  uint64_t seed;
  const char* const* stop;
  size_t n_stop;
};

void add_sampling(json::object& body, const Sampling& s) {
  if (s.max_tokens >= 0) body["max_tokens"] = s.max_tokens;
  if (s.top_k >= 0) body["top_k"] = s.top_k;
  if (s.temperature >= 0) body["temperature"] = s.temperature;
  if (s.top_p >= 0) body["top_p"] = s.top_p;
  if (s.has_seed) body["seed"] = s.seed;
  if (s.n_stop > 0) {
    if (!s.stop) invalid_argument("stop is NULL but n_stop is not 0");
    json::array stop;
    for (size_t i = 0; i < s.n_stop; ++i) {
      if (!s.stop[i]) invalid_argument("stop[" + std::to_string(i) + "] is NULL");
      stop.emplace_back(s.stop[i]);
    }
    body["stop"] = std::move(stop);
  }
}

struct ResponseDeleter {
  void operator()(strata_response* r) const { strata_free_response(r); }
};
using ResponsePtr = std::unique_ptr<strata_response, ResponseDeleter>;

json::value parse_event(std::string_view data) {
  json::error_code ec;
  json::value v = json::parse(data, ec);
  if (ec) protocol_error("an event that is not JSON: '" + std::string(data.substr(0, 80)) + "'");
  if (!v.is_object()) protocol_error("an event that is not a JSON object");
  return v;
}

// An {"error":...} event inside a stream: the daemon failed after it had answered 200.
void check_event_error(const json::object& o) {
  const json::value* e = o.if_contains("error");
  if (!e || e->is_null()) return;
  std::string message = "stratad failed during the stream", type;
  if (e->is_string()) message = std::string(e->get_string());
  if (e->is_object()) {
    if (auto m = string_field(e->get_object(), "message"); !m.empty()) message = m;
    type = string_field(e->get_object(), "type");
  }
  throw CallError(result_for_error_type(type), message);
}

// Streams a POST whose answer may be an event stream or (from a daemon that ignores "stream")
// one JSON document: events go to on_event; a JSON body is returned.
std::optional<json::value> post_streaming(strata_client* client, const std::string& target, const std::string& body,
                                          const std::function<bool(std::string_view)>& on_event) {
  SseParser sse;
  std::string plain;
  const ResponseHead head = client->core.request_stream(target, body, [&](const ResponseHead& h, std::string_view part) {
    if (h.media_type() == "text/event-stream")
      return sse.feed(part, [&](std::string_view, std::string_view data) { return on_event(data); });
    if (plain.size() + part.size() > ClientCore::kMaxBody) protocol_error("a response body too large");
    plain.append(part);
    return true;
  });
  if (head.media_type() == "text/event-stream") {
    if (sse.pending()) protocol_error("the event stream ended in the middle of an event");
    return std::nullopt;
  }
  json::error_code ec;
  json::value v = json::parse(plain, ec);
  if (ec) protocol_error(target + " did not return JSON or an event stream");
  return v;
}

void deliver_whole_text(strata_token_fn on_token, void* user, const std::string& text) {
  if (on_token(user, -1, text.c_str(), text.size()) != 0)
    throw CallError(STRATA_ERR_CANCELLED, "cancelled by the token callback");
}

ResponsePtr response_from_generate(const json::value& v) {
  const json::object& o = object_of(v, "the generate response");
  ResponsePtr r(alloc_struct<strata_response>());
  r->session = dup_string(string_field(o, "session"));
  r->id = dup_string("");
  r->model = dup_string(string_field(o, "model"));
  r->text = dup_string(string_field(o, "text"));
  r->finish_reason = dup_string(string_field(o, "finish_reason"));
  if (const json::array* tokens = array_field(o, "tokens"); tokens && !tokens->empty()) {
    r->tokens = alloc_array<int32_t>(tokens->size());
    for (const json::value& t : *tokens) {
      if (!t.is_int64() && !t.is_uint64()) protocol_error("a token id that is not an integer");
      const int64_t id = t.is_int64() ? t.get_int64() : static_cast<int64_t>(t.get_uint64());
      if (id < INT32_MIN || id > INT32_MAX) protocol_error("a token id out of range");
      r->tokens[r->n_tokens++] = static_cast<int32_t>(id);
    }
  }
  if (const json::object* usage = object_field(o, "usage")) {
    r->prompt_tokens = int_field(*usage, "prompt_tokens");
    r->completion_tokens = int_field(*usage, "completion_tokens");
  }
  r->json = dup_string(json::serialize(v));
  return r;
}

// A chat completion: fields of a non-streamed chat.completion, or gathered from the chunks.
struct ChatResult {
  std::string id, model, text, finish_reason;
  int64_t created = 0;
  json::object usage;
};

ResponsePtr response_from_chat(const ChatResult& c) {
  ResponsePtr r(alloc_struct<strata_response>());
  r->session = dup_string("");
  r->id = dup_string(c.id);
  r->model = dup_string(c.model);
  r->text = dup_string(c.text);
  r->finish_reason = dup_string(c.finish_reason);
  r->prompt_tokens = int_field(c.usage, "prompt_tokens");
  r->completion_tokens = int_field(c.usage, "completion_tokens");
  json::object choice{{"index", 0},
                      {"message", {{"role", "assistant"}, {"content", c.text}}},
                      {"finish_reason", c.finish_reason.empty() ? json::value(nullptr) : json::value(c.finish_reason)}};
  json::object doc{{"id", c.id},
                   {"object", "chat.completion"},
                   {"created", c.created},
                   {"model", c.model},
                   {"choices", json::array{std::move(choice)}},
                   {"usage", c.usage}};
  r->json = dup_string(json::serialize(doc));
  return r;
}

// The first choice of a chat.completion or chat.completion.chunk, or nullptr.
const json::object* first_choice(const json::object& o) {
  const json::array* choices = array_field(o, "choices");
  if (!choices || choices->empty()) return nullptr;
  return &object_of(choices->front(), "a choice");
}

// Zeroes a params struct and marks its sampling fields "use the daemon's default" (-1).
template <typename Params>
void init_params(Params* params) {
  if (!params) return;
  std::memset(params, 0, sizeof *params);
  params->struct_size = sizeof *params;
  params->max_tokens = -1;
  params->top_k = -1;
  params->temperature = -1;
  params->top_p = -1;
}

}  // namespace

extern "C" {

void strata_generate_params_init(strata_generate_params* params) { init_params(params); }

void strata_chat_params_init(strata_chat_params* params) { init_params(params); }

strata_result strata_generate(strata_client* client, const strata_generate_params* p, strata_token_fn on_token,
                              void* user_data, strata_response** out) {
  if (out) *out = nullptr;
  return guarded(client, [&] {
    if (!p || p->struct_size < sizeof *p) invalid_argument("generate: params missing or not set up by strata_generate_params_init");
    if (!p->prompt) invalid_argument("generate: the prompt is NULL");
    json::object body;
    if (p->model && *p->model) body["model"] = p->model;
    body["prompt"] = p->prompt;
    if (p->session && *p->session) body["session"] = p->session;
    add_sampling(body, {p->max_tokens, p->top_k, p->temperature, p->top_p, p->has_seed != 0, p->seed, p->stop, p->n_stop});
    body["stream"] = on_token != nullptr;
    const std::string text = json::serialize(body);

    json::value final;
    if (!on_token) {
      final = client->core.request_json("POST", "/strata/v1/generate", &text);
    } else {
      bool have_final = false;
      auto whole = post_streaming(client, "/strata/v1/generate", text, [&](std::string_view data) {
        if (data == "[DONE]") return true;
        json::value v = parse_event(data);
        const json::object& o = v.get_object();
        check_event_error(o);
        if (o.contains("token") && !o.contains("finish_reason")) {
          const int64_t id = int_field(o, "token");
          const std::string piece = string_field(o, "text");
          return on_token(user_data, id >= INT32_MIN && id <= INT32_MAX ? static_cast<int32_t>(id) : -1, piece.c_str(),
                          piece.size()) == 0;
        }
        final = std::move(v);
        have_final = true;
        return true;
      });
      if (whole) {
        final = std::move(*whole);
        deliver_whole_text(on_token, user_data, string_field(object_of(final, "the generate response"), "text"));
      } else if (!have_final) {
        protocol_error("the event stream ended without the final response object");
      }
    }
    ResponsePtr r = response_from_generate(final);
    if (out) *out = r.release();
  });
}

strata_result strata_chat(strata_client* client, const strata_chat_params* p, strata_token_fn on_token, void* user_data,
                          strata_response** out) {
  if (out) *out = nullptr;
  return guarded(client, [&] {
    if (!p || p->struct_size < sizeof *p) invalid_argument("chat: params missing or not set up by strata_chat_params_init");
    if (p->n_messages && !p->messages) invalid_argument("chat: messages is NULL but n_messages is not 0");
    json::object body;
    if (p->model && *p->model) body["model"] = p->model;
    json::array messages;
    for (size_t i = 0; i < p->n_messages; ++i) {
      if (!p->messages[i].role || !p->messages[i].content)
        invalid_argument("chat: messages[" + std::to_string(i) + "] has a NULL role or content");
      messages.push_back(json::object{{"role", p->messages[i].role}, {"content", p->messages[i].content}});
    }
    body["messages"] = std::move(messages);
    add_sampling(body, {p->max_tokens, p->top_k, p->temperature, p->top_p, p->has_seed != 0, p->seed, p->stop, p->n_stop});
    body["stream"] = on_token != nullptr;
    const std::string text = json::serialize(body);

    ChatResult c;
    auto from_object = [&c](const json::object& o) {
      c.id = string_field(o, "id");
      c.model = string_field(o, "model");
      c.created = int_field(o, "created");
      if (const json::object* usage = object_field(o, "usage")) c.usage = *usage;
      if (const json::object* choice = first_choice(o)) {
        if (const json::object* m = object_field(*choice, "message")) c.text = string_field(*m, "content");
        c.finish_reason = string_field(*choice, "finish_reason");
      }
    };
    if (!on_token) {
      json::value v = client->core.request_json("POST", "/v1/chat/completions", &text);
      from_object(object_of(v, "the chat response"));
    } else {
      bool ended = false, first = true;
      auto whole = post_streaming(client, "/v1/chat/completions", text, [&](std::string_view data) {
        if (data == "[DONE]") {
          ended = true;
          return true;
        }
        json::value v = parse_event(data);
        const json::object& o = v.get_object();
        check_event_error(o);
        if (first) {
          c.id = string_field(o, "id");
          c.model = string_field(o, "model");
          c.created = int_field(o, "created");
          first = false;
        }
        if (const json::object* usage = object_field(o, "usage")) c.usage = *usage;
        const json::object* choice = first_choice(o);
        if (!choice) return true;
        if (auto reason = string_field(*choice, "finish_reason"); !reason.empty()) {
          c.finish_reason = reason;
          ended = true;
        }
        const json::object* delta = object_field(*choice, "delta");
        const std::string piece = delta ? string_field(*delta, "content") : std::string();
        if (piece.empty()) return true;
        c.text += piece;
        return on_token(user_data, -1, piece.c_str(), piece.size()) == 0;
      });
      if (whole) {
        from_object(object_of(*whole, "the chat response"));
        deliver_whole_text(on_token, user_data, c.text);
      } else if (!ended) {
        protocol_error("the event stream ended before its last chunk");
      }
    }
    ResponsePtr r = response_from_chat(c);
    if (out) *out = r.release();
  });
}

void strata_free_response(strata_response* r) {
  if (!r) return;
  std::free(r->session);
  std::free(r->id);
  std::free(r->model);
  std::free(r->text);
  std::free(r->tokens);
  std::free(r->finish_reason);
  std::free(r->json);
  std::free(r);
}

}  // extern "C"
