// OpenAI-compatible routes: /v1/models, /v1/completions, /v1/chat/completions.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "daemon/api/api_state.h"
#include "daemon/api/generation.h"
#include "daemon/models/model_registry.h"

namespace strata::daemon {

void handle_models(ApiState& st, const HttpRequest&, const std::shared_ptr<Exchange>& ex) {
  boost::json::array data;
  for (const auto& name : st.ctx.models.names())
    data.push_back(boost::json::object{{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "strata"}});
  respond_json(*ex, 200, boost::json::serialize(boost::json::object{{"object", "list"}, {"data", std::move(data)}}));
}

void handle_completions(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  CompletionRequest r = parse_completion_request(req.body, st.limits);
  GenerationPlan plan;
  plan.kind = OutputKind::Completion;
  plan.prompt = std::move(r.prompt);
  plan.suffix = std::move(r.suffix);
  plan.fields = std::move(r);
  plan.peer = req.peer;
  start_generation(st, std::move(plan), ex);
}

void handle_chat_completions(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  ChatRequest r = parse_chat_request(req.body, st.limits);
  GenerationPlan plan;
  plan.kind = OutputKind::Chat;
  plan.messages = std::move(r.messages);
  plan.fields = std::move(r);
  plan.peer = req.peer;
  start_generation(st, std::move(plan), ex);
}

}  // namespace strata::daemon
