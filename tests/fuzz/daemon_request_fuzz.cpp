// Fuzzes the daemon's request parsing: JSON bodies -> request structs, and method + target ->
// route. The first byte picks the parser ('c' completions, 'h' chat, 'g' generate, 'r' route;
// any other byte modulo 4); the rest is the body, or "METHOD\nTARGET" for routes. Every input
// must either parse or raise ApiError with a 4xx status and a well-formed JSON body.
#include <boost/json/parse.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "daemon/api/api_error.h"
#include "daemon/api/requests.h"
#include "daemon/api/routes.h"

namespace {

using namespace strata::daemon;

void check_error(const ApiError& e) {
  if (e.status() < 400 || e.status() > 499) std::abort();
  boost::json::error_code ec;
  const boost::json::value v = boost::json::parse(e.body(), ec);
  if (ec || !v.is_object() || !v.as_object().contains("error")) std::abort();
}

void check_limits(const GenerationFields& f, const ParseLimits& limits) {
  if (f.model.empty() || f.max_tokens < 0 || f.max_tokens > limits.max_tokens) std::abort();
  if (!(f.sampling.temperature >= 0) || !(f.sampling.top_p > 0 && f.sampling.top_p <= 1)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const ParseLimits limits{4096, 256};
  int which;
  switch (data[0]) {
    case 'c': which = 0; break;
    case 'h': which = 1; break;
    case 'g': which = 2; break;
    case 'r': which = 3; break;
    default: which = data[0] % 4;
  }
  try {
    switch (which) {
      case 0: {
        const CompletionRequest r = parse_completion_request(in, limits);
        check_limits(r, limits);
        if (!r.prompt.is_tokens && !r.prompt.tokens.empty()) std::abort();
        break;
      }
      case 1: {
        const ChatRequest r = parse_chat_request(in, limits);
        check_limits(r, limits);
        if (r.messages.empty()) std::abort();
        break;
      }
      case 2: {
        const GenerateRequest r = parse_generate_request(in, limits);
        check_limits(r, limits);
        break;
      }
      default: {
        const size_t nl = in.find('\n');
        const RouteMatch m = match_route(in.substr(0, nl), nl == std::string_view::npos ? "" : in.substr(nl + 1));
        if ((m.route == Route::GetSession || m.route == Route::DeleteSession) && m.session_id.empty()) std::abort();
        break;
      }
    }
  } catch (const ApiError& e) {
    check_error(e);
  }
  return 0;
}
