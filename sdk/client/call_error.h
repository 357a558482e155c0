// The one exception type inside libstrata: a result code for the C API, a message, and the
// HTTP status when the daemon answered with an error. Never crosses the C boundary.
#pragma once

#include <stdexcept>
#include <string>

#include "strata/strata.h"

namespace strata::libclient {

class CallError : public std::runtime_error {
 public:
  CallError(strata_result code, const std::string& message, int http_status = 0)
      : std::runtime_error(message), code_(code), http_status_(http_status) {}
  strata_result code() const { return code_; }
  int http_status() const { return http_status_; }

 private:
  strata_result code_;
  int http_status_;
};

[[noreturn]] inline void protocol_error(const std::string& what) {
  throw CallError(STRATA_ERR_PROTOCOL, "malformed response from the daemon: " + what);
}

}  // namespace strata::libclient
