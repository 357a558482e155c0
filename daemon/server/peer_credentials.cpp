#include "daemon/server/peer_credentials.h"

#include <sys/socket.h>

namespace strata::daemon {

std::optional<PeerIdentity> unix_peer_identity(int fd) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) return std::nullopt;
  PeerIdentity p;
  p.uid = cred.uid;
  p.gid = cred.gid;
  p.pid = cred.pid;
  return p;
}

}  // namespace strata::daemon
