#include "daemon/api/output_format.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace strata::daemon {
namespace {

namespace json = boost::json;

json::object usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

json::object envelope(const ResponseIds& ids, std::string_view object, json::object choice) {
  choice.emplace("index", 0);
  return {{"id", ids.id},
          {"object", object},
          {"created", ids.created},
          {"model", ids.model},
          {"choices", json::array{std::move(choice)}}};
}

}  // namespace

std::string completion_body(const ResponseIds& ids, std::string_view text, std::string_view finish, const Usage& u) {
  json::object o = envelope(ids, "text_completion", {{"text", text}, {"finish_reason", finish}});
  o.emplace("usage", usage_json(u));
  return json::serialize(o);
}

std::string completion_chunk(const ResponseIds& ids, std::string_view text) {
  return json::serialize(envelope(ids, "text_completion", {{"text", text}, {"finish_reason", nullptr}}));
}

std::string completion_last_chunk(const ResponseIds& ids, std::string_view finish, const Usage& u) {
  json::object o = envelope(ids, "text_completion", {{"text", ""}, {"finish_reason", finish}});
  o.emplace("usage", usage_json(u));
  return json::serialize(o);
}

std::string chat_body(const ResponseIds& ids, std::string_view text, std::string_view finish, const Usage& u) {
  json::object msg{{"role", "assistant"}, {"content", text}};
  json::object o = envelope(ids, "chat.completion", {{"message", std::move(msg)}, {"finish_reason", finish}});
  o.emplace("usage", usage_json(u));
  return json::serialize(o);
}

std::string chat_first_chunk(const ResponseIds& ids) {
  json::object delta{{"role", "assistant"}, {"content", ""}};
  return json::serialize(
      envelope(ids, "chat.completion.chunk", {{"delta", std::move(delta)}, {"finish_reason", nullptr}}));
}

std::string chat_chunk(const ResponseIds& ids, std::string_view text) {
  json::object delta{{"content", text}};
  return json::serialize(
      envelope(ids, "chat.completion.chunk", {{"delta", std::move(delta)}, {"finish_reason", nullptr}}));
}

std::string chat_last_chunk(const ResponseIds& ids, std::string_view finish, const Usage& u) {
  json::object o = envelope(ids, "chat.completion.chunk", {{"delta", json::object{}}, {"finish_reason", finish}});
  o.emplace("usage", usage_json(u));
  return json::serialize(o);
}

std::string native_token_event(int32_t token, std::string_view text) {
  return json::serialize(json::object{{"token", token}, {"text", text}});
}

std::string native_body(std::string_view session, std::string_view model, std::string_view text,
                        std::span<const int32_t> tokens, std::string_view finish, const Usage& u) {
  json::array t;
  t.reserve(tokens.size());
  for (int32_t id : tokens) t.push_back(id);
  return json::serialize(
      json::object{{"session", session},
                   {"model", model},
                   {"text", text},
                   {"tokens", std::move(t)},
                   {"finish_reason", finish},
                   {"usage", {{"prompt_tokens", u.prompt_tokens}, {"completion_tokens", u.completion_tokens}}}});
}

}  // namespace strata::daemon
