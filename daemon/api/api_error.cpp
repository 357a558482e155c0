#include "daemon/api/api_error.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "daemon/api/utf8.h"

namespace strata::daemon {

std::string ApiError::body() const {
  boost::json::object inner{{"message", valid_utf8(what())}, {"type", type_}, {"code", code_}};
  return boost::json::serialize(boost::json::object{{"error", std::move(inner)}});
}

ApiError bad_request(const std::string& code, const std::string& message) {
  return ApiError(400, "invalid_request_error", code, message);
}
ApiError not_found(const std::string& code, const std::string& message) {
  return ApiError(404, "not_found", code, message);
}
ApiError rate_limited(const std::string& code, const std::string& message) {
  return ApiError(429, "rate_limited", code, message);
}
ApiError server_error(const std::string& code, const std::string& message) {
  return ApiError(500, "server_error", code, message);
}

}  // namespace strata::daemon
