#include "daemon/api/requests.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <initializer_list>
#include <limits>

#include "daemon/api/api_error.h"

namespace strata::daemon {
namespace {

namespace json = boost::json;

constexpr size_t kMaxStops = 16;
constexpr size_t kMaxStopBytes = 256;
constexpr size_t kMaxModelName = 256;

json::object parse_object(std::string_view body) {
  if (body.empty()) throw bad_request("empty_body", "the request body is empty; expected a JSON object");
  json::parse_options opt;
  opt.max_depth = 32;
  json::error_code ec;
  json::value v = json::parse(body, ec, {}, opt);
  if (ec) throw bad_request("invalid_json", "the body is not valid JSON (" + ec.message() + ")");
  if (!v.is_object()) throw bad_request("invalid_json", "the body must be a JSON object");
  return std::move(v.as_object());
}

// The field's value, or nullptr when it is absent or null.
const json::value* field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

ApiError wrong_type(std::string_view key, const char* want) {
  return bad_request("invalid_type", "'" + std::string(key) + "' must be " + want);
}

// A sampling parameter as the float the sampler will use. The range is checked after rounding to
// float: 1e-60 is > 0 as a double but 0 as a float, and an open bound must hold for what is kept.
std::optional<float> number(const json::object& o, std::string_view key, double lo, double hi, bool lo_open = false) {
  const json::value* v = field(o, key);
  if (!v) return std::nullopt;
  double d;
  if (v->is_double())
    d = v->get_double();
  else if (v->is_int64())
    d = static_cast<double>(v->get_int64());
  else if (v->is_uint64())
    d = static_cast<double>(v->get_uint64());
  else
    throw wrong_type(key, "a number");
  const float f = static_cast<float>(d);
  if (!std::isfinite(d) || f < lo || f > hi || (lo_open && f == lo))
    throw bad_request("invalid_value", "'" + std::string(key) + "' must be in " + (lo_open ? "(" : "[") +
                                           json::serialize(json::value(lo)) + ", " + json::serialize(json::value(hi)) +
                                           "], got " + json::serialize(*v));
  return f;
}

// An integer, also when written as an integral float; nullopt when absent.
std::optional<int64_t> integer(const json::value* v, std::string_view key, int64_t lo, int64_t hi) {
  if (!v) return std::nullopt;
  int64_t i = 0;
  bool in_range = true;
  if (v->is_int64()) {
    i = v->get_int64();
  } else if (v->is_uint64()) {
    in_range = v->get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    i = in_range ? static_cast<int64_t>(v->get_uint64()) : 0;
  } else if (v->is_double()) {
    const double d = v->get_double();
    if (!std::isfinite(d) || std::floor(d) != d) throw wrong_type(key, "an integer");
    in_range = d >= -9.2e18 && d <= 9.2e18;
    i = in_range ? static_cast<int64_t>(d) : 0;
  } else {
    throw wrong_type(key, "an integer");
  }
  if (!in_range || i < lo || i > hi)
    throw bad_request("invalid_value", "'" + std::string(key) + "' must be in [" + std::to_string(lo) + ", " +
                                           std::to_string(hi) + "], got " + json::serialize(*v));
  return i;
}
std::optional<int64_t> integer(const json::object& o, std::string_view key, int64_t lo, int64_t hi) {
  return integer(field(o, key), key, lo, hi);
}

std::optional<std::string> string_field(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw wrong_type(key, "a string");
  return std::string(v->get_string());
}

std::vector<int32_t> token_array(const json::array& a, std::string_view key) {
  std::vector<int32_t> out;
  out.reserve(a.size());
  for (const json::value& e : a) {
    if (e.is_null()) throw wrong_type(key, "an array of token ids");
    out.push_back(static_cast<int32_t>(*integer(&e, key, 0, std::numeric_limits<int32_t>::max())));
  }
  return out;
}

// A prompt: a string, an array of token ids, or an array holding one string.
PromptInput prompt_field(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v) throw bad_request("missing_field", "'" + std::string(key) + "' is required");
  PromptInput p;
  if (v->is_string()) {
    p.text = std::string(v->get_string());
  } else if (v->is_array()) {
    const json::array& a = v->get_array();
    if (a.size() == 1 && a[0].is_string()) {
      p.text = std::string(a[0].get_string());
    } else {
      if (!a.empty() && a[0].is_string()) throw bad_request("unsupported", "only one prompt per request is supported");
      p.tokens = token_array(a, key);
      p.is_tokens = true;
    }
  } else {
    throw wrong_type(key, "a string or an array of token ids");
  }
  return p;
}

std::vector<std::string> stop_field(const json::object& o) {
  const json::value* v = field(o, "stop");
  std::vector<std::string> stops;
  if (!v) return stops;
  auto add = [&](const json::value& s) {
    if (!s.is_string()) throw wrong_type("stop", "a string or an array of strings");
    if (s.get_string().size() > kMaxStopBytes)
      throw bad_request("invalid_value",
                        "each stop string must be at most " + std::to_string(kMaxStopBytes) + " bytes");
    if (!s.get_string().empty()) stops.emplace_back(s.get_string());
  };
  if (v->is_array()) {
    if (v->get_array().size() > kMaxStops)
      throw bad_request("invalid_value", "'stop' holds at most " + std::to_string(kMaxStops) + " strings");
    for (const json::value& s : v->get_array()) add(s);
  } else {
    add(*v);
  }
  return stops;
}

void check_known(const json::object& o, std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    bool ok = false;
    for (auto k : known) ok = ok || kv.key() == k;
    if (!ok) {
      std::string name;
      for (char c : kv.key().substr(0, 64)) name += (c >= 0x20 && c < 0x7f) ? c : '?';
      throw bad_request("unknown_field", "unknown field '" + name + "'");
    }
  }
}

// Fields common to every generation route. `openai`: OpenAI defaults (temperature 1, no top-k,
// top-p 1, no min-p) instead of the engine's.
void common_fields(const json::object& o, const ParseLimits& limits, bool openai, GenerationFields& r) {
  auto model = string_field(o, "model");
  if (!model || model->empty()) throw bad_request("missing_field", "'model' is required");
  if (model->size() > kMaxModelName) throw bad_request("invalid_value", "'model' is too long");
  r.model = std::move(*model);

  r.max_tokens = limits.default_max_tokens;
  std::string_view mt_key = field(o, "max_tokens") ? "max_tokens" : "max_completion_tokens";
  if (auto mt = integer(o, mt_key, 0, limits.max_tokens)) r.max_tokens = *mt;

  if (openai) {
    r.sampling.temperature = 1.0f;
    r.sampling.top_k = 0;
    r.sampling.top_p = 1.0f;
    r.sampling.min_p = 0.0f;
  }
  if (auto t = number(o, "temperature", 0, 100)) r.sampling.temperature = *t;
  if (auto t = number(o, "top_p", 0, 1, true)) r.sampling.top_p = *t;
  if (auto t = integer(o, "top_k", 0, 1 << 24)) r.sampling.top_k = static_cast<int32_t>(*t);
  if (auto t = number(o, "min_p", 0, 1)) r.sampling.min_p = *t;
  if (auto t = number(o, "repeat_penalty", 0, 100, true)) r.sampling.repeat_penalty = *t;
  if (auto t = number(o, "frequency_penalty", -2, 2)) r.sampling.frequency_penalty = *t;
  if (auto t = number(o, "presence_penalty", -2, 2)) r.sampling.presence_penalty = *t;
  if (const json::value* s = field(o, "seed")) {
    if (s->is_uint64())
      r.sampling.seed = s->get_uint64();
    else
      r.sampling.seed = static_cast<uint64_t>(
          *integer(s, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
    r.seed_given = true;
  }
  r.stop = stop_field(o);
  if (const json::value* s = field(o, "stream")) {
    if (!s->is_bool()) throw wrong_type("stream", "a boolean");
    r.stream = s->get_bool();
  }
  if (openai) {
    integer(o, "n", 1, 1);  // only one choice per request
  }
}

std::string message_content(const json::value* v) {
  if (!v) return "";
  if (v->is_string()) return std::string(v->get_string());
  if (!v->is_array()) throw wrong_type("messages[].content", "a string or an array of text parts");
  std::string text;
  for (const json::value& part : v->get_array()) {
    const json::object* p = part.if_object();
    if (!p) throw wrong_type("messages[].content[]", "an object");
    auto type = string_field(*p, "type");
    if (type != "text") throw bad_request("unsupported", "only text content parts are supported");
    auto t = string_field(*p, "text");
    if (!t) throw bad_request("missing_field", "a text content part needs 'text'");
    text += *t;
  }
  return text;
}

ShmUse shm_field(const json::value& v) {
  const json::object* o = v.if_object();
  if (!o) throw wrong_type("shm", "an object");
  check_known(*o, {"channel", "prompt", "output_offset"});
  ShmUse u;
  auto channel = string_field(*o, "channel");
  if (!channel) throw bad_request("missing_field", "'shm.channel' is required");
  u.channel = std::move(*channel);
  constexpr int64_t kMaxOffset = int64_t{1} << 48;
  if (const json::value* p = field(*o, "prompt")) {
    const json::object* po = p->if_object();
    if (!po) throw wrong_type("shm.prompt", "an object {offset, length, type}");
    check_known(*po, {"offset", "length", "type"});
    u.has_prompt = true;
    u.prompt_offset = static_cast<uint64_t>(integer(field(*po, "offset"), "shm.prompt.offset", 0, kMaxOffset).value_or(0));
    auto length = integer(field(*po, "length"), "shm.prompt.length", 0, kMaxOffset);
    if (!length) throw bad_request("missing_field", "'shm.prompt.length' is required");
    u.prompt_length = static_cast<uint64_t>(*length);
    auto type = string_field(*po, "type").value_or("text");
    if (type != "text" && type != "tokens")
      throw bad_request("invalid_value", "'shm.prompt.type' must be \"text\" or \"tokens\"");
    u.prompt_is_tokens = type == "tokens";
    if (u.prompt_is_tokens && u.prompt_length % 4 != 0)
      throw bad_request("invalid_value", "'shm.prompt.length' must be a multiple of 4 for token ids");
  }
  if (auto off = integer(field(*o, "output_offset"), "shm.output_offset", 0, kMaxOffset)) {
    if (*off % 8 != 0) throw bad_request("invalid_value", "'shm.output_offset' must be a multiple of 8");
    u.has_output = true;
    u.output_offset = static_cast<uint64_t>(*off);
  }
  return u;
}

}  // namespace

CompletionRequest parse_completion_request(std::string_view body, const ParseLimits& limits) {
  const json::object o = parse_object(body);
  CompletionRequest r;
  common_fields(o, limits, true, r);
  r.prompt = prompt_field(o, "prompt");
  r.suffix = string_field(o, "suffix");
  if (r.suffix && r.prompt.is_tokens) throw bad_request("unsupported", "'suffix' needs a text prompt, not token ids");
  if (const json::value* e = field(o, "echo"); e && (!e->is_bool() || e->get_bool()))
    throw bad_request("unsupported", "'echo' is not supported");
  return r;
}

ChatRequest parse_chat_request(std::string_view body, const ParseLimits& limits) {
  const json::object o = parse_object(body);
  ChatRequest r;
  common_fields(o, limits, true, r);
  const json::value* m = field(o, "messages");
  if (!m) throw bad_request("missing_field", "'messages' is required");
  if (!m->is_array()) throw wrong_type("messages", "an array of {role, content} objects");
  if (m->get_array().empty()) throw bad_request("invalid_value", "'messages' must not be empty");
  for (const json::value& e : m->get_array()) {
    const json::object* mo = e.if_object();
    if (!mo) throw wrong_type("messages[]", "an object");
    auto role = string_field(*mo, "role");
    if (!role) throw bad_request("missing_field", "each message needs a 'role'");
    if (*role == "developer") *role = "system";
    if (*role != "system" && *role != "user" && *role != "assistant" && *role != "tool")
      throw bad_request("invalid_value", "a message role must be system, user, assistant or tool");
    r.messages.push_back({std::move(*role), message_content(field(*mo, "content"))});
  }
  return r;
}

GenerateRequest parse_generate_request(std::string_view body, const ParseLimits& limits) {
  const json::object o = parse_object(body);
  check_known(o, {"model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty",
                  "frequency_penalty", "presence_penalty", "seed", "stop", "session", "stream", "top_probs",
                  "logits", "shm"});
  GenerateRequest r;
  common_fields(o, limits, false, r);
  if (const json::value* s = field(o, "shm")) r.shm = shm_field(*s);
  if (r.shm && r.shm->has_prompt) {
    if (field(o, "prompt")) throw bad_request("invalid_value", "give the prompt either in 'prompt' or in 'shm.prompt'");
  } else {
    r.prompt = prompt_field(o, "prompt");
  }
  if (auto s = string_field(o, "session")) r.session = std::move(*s);
  if (auto k = integer(o, "top_probs", 0, kMaxTopProbEntries)) r.top_probs = static_cast<int32_t>(*k);
  if (r.top_probs > 0 && r.max_tokens * r.top_probs > kMaxTopProbEntries)
    throw bad_request("invalid_value", "max_tokens x top_probs must be at most " + std::to_string(kMaxTopProbEntries) +
                                           ", got " + std::to_string(r.max_tokens * r.top_probs));
  if (const json::value* l = field(o, "logits")) {
    if (!l->is_bool()) throw wrong_type("logits", "a boolean");
    r.logits = l->get_bool();
  }
  return r;
}

uint64_t parse_shm_open_request(std::string_view body) {
  const json::object o = parse_object(body);
  check_known(o, {"size"});
  auto size = integer(o, "size", 1, int64_t{1} << 48);
  if (!size) throw bad_request("missing_field", "'size' is required");
  return static_cast<uint64_t>(*size);
}

bool is_session_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace strata::daemon
