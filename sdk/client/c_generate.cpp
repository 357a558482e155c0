// The C API's generation calls: strata_generate (native route, sessions) and strata_chat
// (OpenAI-compatible chat), each streamed over SSE when a token callback is given.
#include <algorithm>
#include <cmath>
#include <cstddef>
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

// Numbers of an array of JSON numbers as floats (null: NaN, the daemon's spelling of a
// non-finite value). The daemon writes floats exactly, so this gives the same bits as the
// shared-memory path.
void floats_from(const json::array& a, float* out) {
  for (size_t i = 0; i < a.size(); ++i) {
    const json::value& x = a[i];
    if (x.is_null()) out[i] = NAN;
    else if (x.is_double()) out[i] = static_cast<float>(x.get_double());
    else if (x.is_int64()) out[i] = static_cast<float>(x.get_int64());
    else if (x.is_uint64()) out[i] = static_cast<float>(x.get_uint64());
    else protocol_error("a probability or logit that is not a number");
  }
}

// "top_probs" and "logits" inline in the JSON response.
void inspect_from_json(const json::object& o, strata_response& r) {
  if (const json::array* steps = array_field(o, "top_probs"); steps && !steps->empty()) {
    const json::array* first = array_field(object_of(steps->front(), "a top_probs entry"), "tokens");
    const size_t k = first ? first->size() : 0;
    r.top_k = static_cast<int32_t>(k);
    r.n_top_probs = k * steps->size();
    r.top_prob_tokens = alloc_array<int32_t>(r.n_top_probs);
    r.top_prob_values = alloc_array<float>(r.n_top_probs);
    for (size_t i = 0; i < steps->size(); ++i) {
      const json::object& step = object_of((*steps)[i], "a top_probs entry");
      const json::array* ids = array_field(step, "tokens");
      const json::array* probs = array_field(step, "probs");
      if (!ids || !probs || ids->size() != k || probs->size() != k) protocol_error("top_probs entries of unequal size");
      for (size_t j = 0; j < k; ++j) {
        const json::value& t = (*ids)[j];
        if (!t.is_int64()) protocol_error("a top_probs token that is not an integer");
        r.top_prob_tokens[i * k + j] = static_cast<int32_t>(t.get_int64());
      }
      floats_from(*probs, r.top_prob_values + i * k);
    }
  }
  if (const json::array* logits = array_field(o, "logits"); logits && !logits->empty()) {
    r.n_logits = logits->size();
    r.logits = alloc_array<float>(r.n_logits);
    floats_from(*logits, r.logits);
  }
}

// "shm_output": the outputs lie in the channel; copy them out before the next request reuses it.
void inspect_from_shm(const json::object& o, const ShmChannel& shm, strata_response& r) {
  const json::object* out = object_field(o, "shm_output");
  if (!out) protocol_error("a shared-memory request answered without shm_output");
  auto span_ok = [&](int64_t offset, uint64_t bytes) {
    if (offset < 0 || static_cast<uint64_t>(offset) > shm.size() || bytes > shm.size() - static_cast<uint64_t>(offset))
      protocol_error("shm_output points outside the channel");
    return shm.data() + offset;
  };
  if (const json::object* tp = object_field(*out, "top_probs")) {
    const int64_t k = int_field(*tp, "k"), steps = int_field(*tp, "steps");
    if (k < 0 || steps < 0 || k > INT32_MAX) protocol_error("shm_output.top_probs has a negative size");
    const uint64_t n = static_cast<uint64_t>(k) * static_cast<uint64_t>(steps);
    const char* ids = span_ok(int_field(*tp, "tokens_offset"), n * 4);
    const char* probs = span_ok(int_field(*tp, "probs_offset"), n * 4);
    r.top_k = static_cast<int32_t>(k);
    r.n_top_probs = n;
    if (n) {
      r.top_prob_tokens = alloc_array<int32_t>(n);
      r.top_prob_values = alloc_array<float>(n);
      std::memcpy(r.top_prob_tokens, ids, n * 4);
      std::memcpy(r.top_prob_values, probs, n * 4);
    }
  }
  if (const json::object* lg = object_field(*out, "logits")) {
    const int64_t count = int_field(*lg, "count");
    if (count < 0) protocol_error("shm_output.logits has a negative count");
    const char* at = span_ok(int_field(*lg, "offset"), static_cast<uint64_t>(count) * 4);
    r.n_logits = static_cast<size_t>(count);
    if (count) {
      r.logits = alloc_array<float>(r.n_logits);
      std::memcpy(r.logits, at, r.n_logits * 4);
    }
  }
}

ResponsePtr response_from_generate(const json::value& v, const ShmChannel* shm) {
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
  if (shm)
    inspect_from_shm(o, *shm, *r);
  else
    inspect_from_json(o, *r);
  r->used_shm = shm != nullptr;
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

// Sizes that decide whether strata_generate uses a shared-memory channel. The vocabulary is not
// known before the answer: the threshold counts logits as the smallest common vocabulary
// (Llama-2's 32000 tokens), the channel makes room for vocabularies up to 256k tokens.
constexpr uint64_t kLogitsEstimate = 32000 * 4;
constexpr uint64_t kLogitsRoom = 262144 * 4;
constexpr uint64_t kMaxTokensEstimate = 256;  // the daemon's default max_tokens
constexpr uint64_t kMaxTokensRoom = 4096;     // the daemon's default limit on max_tokens

uint64_t align8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// Opens (or reuses) the client's channel with `room` bytes; false: use the socket this time.
bool channel_ready(strata_client* c, uint64_t room) {
  if (c->shm_refused || !c->core.unix_endpoint()) return false;
  try {
    c->shm.ensure(c->core, room);
    return true;
  } catch (const CallError& e) {
    // Unreachable daemon: the socket would fail the same way, so that is the call's error.
    if (e.code() == STRATA_ERR_CONNECT || e.code() == STRATA_ERR_IO || e.code() == STRATA_ERR_TIMEOUT) throw;
    // A daemon without the route will not grow one: stop asking. Other refusals (a channel too
    // large, too many channels, channels turned off) fall back for this request only.
    if (e.code() == STRATA_ERR_NOT_FOUND || e.code() == STRATA_ERR_PROTOCOL) c->shm_refused = true;
    return false;
  }
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
    if (!p || p->struct_size < offsetof(strata_generate_params, prompt_tokens))
      invalid_argument("generate: params missing or not set up by strata_generate_params_init");
    // Fields appended after 0.1.0 count only when the caller's struct has them.
    const bool appended = p->struct_size >= offsetof(strata_generate_params, logits) + sizeof p->logits;
    const int32_t* prompt_tokens = appended ? p->prompt_tokens : nullptr;
    const size_t n_prompt_tokens = prompt_tokens ? p->n_prompt_tokens : 0;
    const int32_t top_probs = appended && p->top_probs > 0 ? p->top_probs : 0;
    const bool logits = appended && p->logits != 0;
    if (!prompt_tokens && !p->prompt) invalid_argument("generate: the prompt is NULL");
    json::object body;
    if (p->model && *p->model) body["model"] = p->model;
    if (p->session && *p->session) body["session"] = p->session;
    add_sampling(body, {p->max_tokens, p->top_k, p->temperature, p->top_p, p->has_seed != 0, p->seed, p->stop, p->n_stop});
    body["stream"] = on_token != nullptr;
    if (top_probs > 0) body["top_probs"] = top_probs;
    if (logits) body["logits"] = true;

    // The prompt and the outputs travel through the channel when they are large enough.
    const uint64_t prompt_bytes = prompt_tokens ? n_prompt_tokens * sizeof(int32_t) : std::strlen(p->prompt);
    const uint64_t k = static_cast<uint64_t>(top_probs);
    const uint64_t steps_estimate = p->max_tokens >= 0 ? static_cast<uint64_t>(p->max_tokens) : kMaxTokensEstimate;
    const uint64_t steps_room = p->max_tokens >= 0 ? static_cast<uint64_t>(p->max_tokens) : kMaxTokensRoom;
    const uint64_t estimate = prompt_bytes + k * steps_estimate * 8 + (logits ? kLogitsEstimate : 0);
    const uint64_t room = align8(prompt_bytes) + k * steps_room * 8 + (logits ? kLogitsRoom : 0);
    // Past the daemon's limit on max_tokens x top_probs (2^23) the request fails anyway: no channel for it.
    const bool within_limit = k == 0 || steps_room <= (uint64_t{1} << 23) / k;
    const bool use_shm = client->shm_threshold > 0 && within_limit &&
                         estimate >= static_cast<uint64_t>(client->shm_threshold) && channel_ready(client, room);
    if (use_shm) {
      if (prompt_bytes) std::memcpy(client->shm.data(), prompt_tokens ? static_cast<const void*>(prompt_tokens) : p->prompt,
                                    prompt_bytes);
      body["shm"] = json::object{{"channel", client->shm.id()},
                                 {"prompt", {{"offset", 0}, {"length", prompt_bytes}, {"type", prompt_tokens ? "tokens" : "text"}}},
                                 {"output_offset", align8(prompt_bytes)}};
    } else if (prompt_tokens) {
      json::array ids;
      ids.reserve(n_prompt_tokens);
      for (size_t i = 0; i < n_prompt_tokens; ++i) ids.push_back(prompt_tokens[i]);
      body["prompt"] = std::move(ids);
    } else {
      body["prompt"] = p->prompt;
    }
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
    ResponsePtr r = response_from_generate(final, use_shm ? &client->shm : nullptr);
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
  if (r->struct_size >= offsetof(strata_response, used_shm)) {
    std::free(r->top_prob_tokens);
    std::free(r->top_prob_values);
    std::free(r->logits);
  }
  std::free(r);
}

}  // extern "C"
