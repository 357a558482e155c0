// The TCP listener's address: loopback only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata::daemon {

struct ListenAddress {
  bool ipv6 = false;
  std::string host;  // numeric, without brackets: "127.0.0.1", "::1"
  uint16_t port = 0;
};

// "127.0.0.1:8080", "[::1]:8080" (any 127.0.0.0/8 address; port 0 = any free port). Anything
// that is not a numeric loopback address gives std::nullopt and a reason in `why`.
std::optional<ListenAddress> parse_loopback_address(std::string_view text, std::string& why);

}  // namespace strata::daemon
