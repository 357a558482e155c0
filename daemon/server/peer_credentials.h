#pragma once

#include <optional>

#include "daemon/server/exchange.h"

namespace strata::daemon {

// The credentials of the process at the other end of a connected Unix socket (SO_PEERCRED).
std::optional<PeerIdentity> unix_peer_identity(int fd);

}  // namespace strata::daemon
