// Creating the listening sockets (plain POSIX; the server adopts the descriptors).
#pragma once

#include <string>

#include "daemon/server/listen_address.h"

namespace strata::daemon {

class Logger;

// Binds and listens on a Unix stream socket at `path`: missing parent directories are created
// (0755), a stale socket file (nobody accepting) is replaced, a live one is an error (another
// daemon runs). The socket is 0660 and, when the group exists, owned by group `strata`.
// Returns the listening descriptor (close-on-exec). Throws std::runtime_error.
int bind_unix_socket(const std::string& path, Logger& log);

// Binds and listens on a loopback TCP address. Throws std::runtime_error.
int bind_tcp_socket(const ListenAddress& address);

// The port a TCP listening socket is bound to.
int local_port(int fd);

}  // namespace strata::daemon
