#include "daemon/server/http_server.h"

#include <sys/socket.h>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/io_context.hpp>
#include <vector>

#include "daemon/log/logger.h"
#include "daemon/server/http_connection.h"
#include "daemon/server/peer_credentials.h"

namespace strata::daemon {
namespace {

namespace asio = boost::asio;
using Protocol = asio::generic::stream_protocol;
using error_code = boost::system::error_code;

Protocol protocol_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_UNIX) return Protocol(AF_UNIX, 0);
  return Protocol(ss.ss_family, IPPROTO_TCP);
}

}  // namespace

struct HttpServer::Impl {
  struct Listener {
    Listener(asio::io_context& io, int fd, std::optional<BearerToken> t)
        : acceptor(io), retry(io), token(std::move(t)) {
      acceptor.assign(protocol_of(fd), fd);
    }
    asio::basic_socket_acceptor<Protocol> acceptor;
    asio::steady_timer retry;
    std::optional<BearerToken> token;  // set for TCP
  };

  Impl(asio::io_context& io, RequestHandler& handler, Logger& log, ServerLimits limits)
      : io(io), shared(std::make_shared<ServerShared>(ServerShared{handler, log, limits, false, {}})) {}

  void accept(Listener& l) {
    l.acceptor.async_accept([this, &l](error_code ec, Protocol::socket socket) {
      if (ec == asio::error::operation_aborted || !l.acceptor.is_open()) return;
      if (ec) {
        // Out of descriptors or memory: wait a little instead of spinning.
        shared->log.warn("accept failed: " + ec.message());
        l.retry.expires_after(std::chrono::milliseconds(100));
        l.retry.async_wait([this, &l](error_code e) {
          if (!e && l.acceptor.is_open()) accept(l);
        });
        return;
      }
      PeerIdentity peer;
      if (l.token) {
        peer.uid = l.token->owner_uid;
        peer.tcp = true;
      } else if (auto p = unix_peer_identity(socket.native_handle())) {
        peer = *p;
      } else {
        shared->log.warn("a Unix-socket peer without credentials was refused");
        accept(l);
        return;
      }
      const bool over = static_cast<int64_t>(shared->connections.size()) >= shared->limits.max_connections;
      auto c = std::make_shared<Connection>(std::move(socket), shared, peer, l.token ? &*l.token : nullptr, over);
      c->start();
      accept(l);
    });
  }

  asio::io_context& io;
  std::shared_ptr<ServerShared> shared;
  std::vector<std::unique_ptr<Listener>> listeners;
};

HttpServer::HttpServer(asio::io_context& io, RequestHandler& handler, Logger& log, ServerLimits limits)
    : impl_(std::make_unique<Impl>(io, handler, log, limits)) {}

HttpServer::~HttpServer() {
  stop_accepting();
  close_all();
}

void HttpServer::add_unix_listener(int fd) {
  impl_->listeners.push_back(std::make_unique<Impl::Listener>(impl_->io, fd, std::nullopt));
}

void HttpServer::add_tcp_listener(int fd, BearerToken token) {
  impl_->listeners.push_back(std::make_unique<Impl::Listener>(impl_->io, fd, std::move(token)));
}

void HttpServer::start() {
  for (auto& l : impl_->listeners) impl_->accept(*l);
}

void HttpServer::set_limits(const ServerLimits& limits) { impl_->shared->limits = limits; }

void HttpServer::stop_accepting() {
  impl_->shared->draining = true;
  for (auto& l : impl_->listeners) {
    error_code ec;
    l->acceptor.close(ec);
    l->retry.cancel();
  }
  const std::vector<Connection*> open(impl_->shared->connections.begin(), impl_->shared->connections.end());
  for (Connection* c : open)
    if (c->idle()) c->close();
}

void HttpServer::close_all() {
  const std::vector<Connection*> open(impl_->shared->connections.begin(), impl_->shared->connections.end());
  for (Connection* c : open) c->close();
}

int64_t HttpServer::connection_count() const { return static_cast<int64_t>(impl_->shared->connections.size()); }

}  // namespace strata::daemon
