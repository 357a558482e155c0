// Where a client connects: a Unix socket path or a TCP host and port.
#pragma once

#include <string>

namespace strata::libclient {

struct Endpoint {
  bool tcp = false;
  std::string path;  // Unix socket
  std::string host;  // TCP: a name, an IPv4 address or an IPv6 address without brackets
  std::string port;

  // "unix:/run/strata/stratad.sock" or "tcp:127.0.0.1:8765" ("tcp:[::1]:8765").
  std::string describe() const;
};

// Parses "host:port" or "[v6addr]:port"; throws CallError(STRATA_ERR_INVALID_ARGUMENT).
Endpoint parse_tcp_address(const std::string& address);

// The default socket path (strata.h, strata_client_options.socket_path), from the environment
// and which of the candidate sockets exist now.
std::string default_socket_path();

}  // namespace strata::libclient
