// Errors the API returns to clients: an HTTP status and a JSON body
//   {"error":{"message":"...","type":"...","code":"..."}}
// Thrown by request parsing and by handlers; caught where the response is written.
#pragma once

#include <stdexcept>
#include <string>

namespace strata::daemon {

class ApiError : public std::runtime_error {
 public:
  // `type`: invalid_request_error, not_found, rate_limited, server_error or unauthorized.
  ApiError(int status, std::string type, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), type_(std::move(type)), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }

  // The JSON body.
  std::string body() const;

 private:
  int status_;
  std::string type_;
  std::string code_;
};

// Shorthands for the common statuses.
ApiError bad_request(const std::string& code, const std::string& message);   // 400
ApiError not_found(const std::string& code, const std::string& message);     // 404
ApiError rate_limited(const std::string& code, const std::string& message);  // 429
ApiError server_error(const std::string& code, const std::string& message);  // 500

}  // namespace strata::daemon
