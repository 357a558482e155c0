#include "daemon/api/output_format.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

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

namespace {

// A float as JSON: finite values exactly (a double holds every float), others as null.
json::value float_json(float f) { return std::isfinite(f) ? json::value(static_cast<double>(f)) : json::value(nullptr); }

void add_inspect(json::object& o, const InspectOutputs& in) {
  const size_t k = in.top_k > 0 ? static_cast<size_t>(in.top_k) : 0;
  const size_t steps = k ? in.top_ids.size() / k : 0;
  if (!in.shm_channel.empty()) {
    json::object out{{"channel", in.shm_channel}};
    if (k)
      out.emplace("top_probs", json::object{{"k", k},
                                            {"steps", steps},
                                            {"tokens_offset", in.ids_offset},
                                            {"probs_offset", in.probs_offset}});
    if (in.logits) out.emplace("logits", json::object{{"offset", in.logits_offset}, {"count", in.logit_values.size()}});
    o.emplace("shm_output", std::move(out));
    return;
  }
  if (k) {
    json::array all;
    all.reserve(steps);
    for (size_t i = 0; i < steps; ++i) {
      json::array ids, probs;
      ids.reserve(k);
      probs.reserve(k);
      for (size_t j = 0; j < k; ++j) {
        ids.push_back(in.top_ids[i * k + j]);
        probs.push_back(float_json(in.top_probs[i * k + j]));
      }
      all.push_back(json::object{{"tokens", std::move(ids)}, {"probs", std::move(probs)}});
    }
    o.emplace("top_probs", std::move(all));
  }
  if (in.logits) {
    json::array l;
    l.reserve(in.logit_values.size());
    for (float f : in.logit_values) l.push_back(float_json(f));
    o.emplace("logits", std::move(l));
  }
}

}  // namespace

std::string native_body(std::string_view session, std::string_view model, std::string_view text,
                        std::span<const int32_t> tokens, std::string_view finish, const Usage& u,
                        const InspectOutputs* inspect) {
  json::array t;
  t.reserve(tokens.size());
  for (int32_t id : tokens) t.push_back(id);
  json::object o{{"session", session},
                 {"model", model},
                 {"text", text},
                 {"tokens", std::move(t)},
                 {"finish_reason", finish},
                 {"usage",
                  {{"prompt_tokens", u.prompt_tokens},
                   {"completion_tokens", u.completion_tokens},
                   {"restored_tokens", u.restored_tokens},
                   {"prefilled_tokens", u.prefilled_tokens}}}};
  if (inspect) add_inspect(o, *inspect);
  return json::serialize(o);
}

}  // namespace strata::daemon
