#include "sdk/client/endpoint.h"

#include <sys/stat.h>

#include <cstdlib>

#include "sdk/client/call_error.h"

namespace strata::libclient {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

bool is_socket(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

std::string Endpoint::describe() const {
  if (!tcp) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "tcp:[" + host + "]:" + port;
  return "tcp:" + host + ":" + port;
}

Endpoint parse_tcp_address(const std::string& address) {
  Endpoint e;
  e.tcp = true;
  auto bad = [&](const char* why) -> CallError {
    return CallError(STRATA_ERR_INVALID_ARGUMENT, "bad TCP address '" + address + "': " + why);
  };
  std::string::size_type colon;
  if (!address.empty() && address[0] == '[') {
    const auto close = address.find(']');
    if (close == std::string::npos) throw bad("missing ']'");
    e.host = address.substr(1, close - 1);
    if (close + 1 >= address.size() || address[close + 1] != ':') throw bad("expected [ADDRESS]:PORT");
    colon = close + 1;
  } else {
    colon = address.rfind(':');
    if (colon == std::string::npos) throw bad("expected HOST:PORT");
    e.host = address.substr(0, colon);
    if (e.host.find(':') != std::string::npos) throw bad("write an IPv6 address as [ADDRESS]:PORT");
  }
  e.port = address.substr(colon + 1);
  if (e.host.empty()) throw bad("empty host");
  if (e.port.empty() || e.port.size() > 5 || e.port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(e.port) == 0 || std::stoi(e.port) > 65535)
    throw bad("the port must be a number from 1 to 65535");
  return e;
}

std::string default_socket_path() {
  if (const char* s = env("STRATA_SOCKET")) return s;
  const char* xdg = env("XDG_RUNTIME_DIR");
  const std::string user = xdg ? std::string(xdg) + "/strata/stratad.sock" : std::string();
  const std::string system = "/run/strata/stratad.sock";
  if (!user.empty() && is_socket(user)) return user;
  if (is_socket(system)) return system;
  return user.empty() ? system : user;
}

}  // namespace strata::libclient
