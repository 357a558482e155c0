#include "daemon/server/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace strata::daemon {

std::optional<ListenAddress> parse_loopback_address(std::string_view text, std::string& why) {
  ListenAddress a;
  std::string_view host, port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      why = "must be \"[::1]:PORT\" for IPv6";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    a.ipv6 = true;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      why = "must be HOST:PORT, e.g. \"127.0.0.1:8080\"";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value > 65535) {
    why = "has no valid port (0-65535)";
    return std::nullopt;
  }
  a.port = static_cast<uint16_t>(value);
  a.host = std::string(host);
  if (a.ipv6) {
    in6_addr addr{};
    if (inet_pton(AF_INET6, a.host.c_str(), &addr) != 1 || !IN6_IS_ADDR_LOOPBACK(&addr)) {
      why = "must be a loopback address (::1): the TCP listener never binds other interfaces";
      return std::nullopt;
    }
  } else {
    in_addr addr{};
    if (inet_pton(AF_INET, a.host.c_str(), &addr) != 1 || (ntohl(addr.s_addr) >> 24) != 127) {
      why = "must be a numeric loopback address (127.x.x.x or [::1]): the TCP listener never binds other interfaces";
      return std::nullopt;
    }
  }
  return a;
}

}  // namespace strata::daemon
