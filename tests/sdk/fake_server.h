// A small HTTP/1.1 server for the SDK's tests: it listens on a Unix socket (and optionally on
// loopback TCP), records every request, and answers with whatever bytes a test's handler writes
// — canned responses in the shapes of docs/protocol.md, or deliberately broken ones. It is
// a stand-in for a server, not a model of stratad's logic (the live-daemon tests cover that).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace strata::test {

struct HttpRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  int connection = 0;  // which accepted connection carried it (1, 2, ...)
  std::string header(std::string_view name) const;
};

// One accepted connection, as a handler sees it.
class FakeConnection {
 public:
  explicit FakeConnection(int fd, int id) : fd_(fd), id_(id) {}
  ~FakeConnection();
  // Writes raw bytes; false once the client is gone.
  bool write(std::string_view bytes);
  // Closes the connection after this response.
  void close();
  // Waits until the client closes its end (reads and drops anything it sends meanwhile).
  bool wait_peer_closed(int timeout_ms);
  bool closed() const { return closed_; }
  int id() const { return id_; }

 private:
  friend class FakeServer;
  void shutdown();
  std::mutex mu_;
  int fd_;
  int id_;
  std::atomic<bool> closed_{false};
};

using Handler = std::function<void(const HttpRequest&, FakeConnection&)>;

class FakeServer {
 public:
  // Listens on `socket_path` (replacing a stale file) and, with `tcp`, on 127.0.0.1:ephemeral.
  explicit FakeServer(std::string socket_path, bool tcp = false);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  // Requests whose method matches and whose target starts with `prefix` go to `handler`; the
  // latest matching route wins. Unrouted requests get a 404 in the protocol's error shape.
  void route(std::string method, std::string prefix, Handler handler);

  std::vector<HttpRequest> requests() const;
  HttpRequest last_request() const;
  int connections() const { return accepted_; }
  int tcp_port() const { return tcp_port_; }
  const std::string& socket_path() const { return socket_path_; }

 private:
  void accept_loop();
  void serve(std::shared_ptr<FakeConnection> c);

  std::string socket_path_;
  int unix_fd_ = -1, tcp_fd_ = -1, tcp_port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  mutable std::mutex mu_;
  std::vector<std::tuple<std::string, std::string, Handler>> routes_;
  std::vector<HttpRequest> requests_;
  std::vector<std::shared_ptr<FakeConnection>> conns_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// Responses in the protocol's shapes.
std::string http_response(int status, std::string_view body, std::string_view content_type = "application/json",
                          std::string_view extra_headers = "");
std::string error_response(int status, std::string_view type, std::string_view message);
// The head of a 200 event stream sent with chunked transfer coding.
std::string sse_head();
std::string chunk(std::string_view data);  // one chunk of a chunked body
inline std::string last_chunk() { return "0\r\n\r\n"; }
inline std::string sse_data(std::string_view json) { return "data: " + std::string(json) + "\n\n"; }

// A canned daemon for the CLI and wrapper tests (fields guarded by mu), answering every documented route: models
// "tiny" and "small" ("small" not loaded), generation that answers "Hello", " world", "!" (token
// ids 100, 101, 102) and keeps sessions (32 hex digits) with their text in memory, status, chat.
struct CannedDaemon {
  std::mutex mu;
  struct Session {
    std::string id, model, text;
    int64_t tokens = 0;
  };
  std::vector<Session> sessions;
  int next_id = 1;
  bool small_loading = false;  // status reports "small" as loading
  int first_token_delay_ms = 0;  // before a streamed answer's first event (a model loading)
};
void install_canned_daemon(FakeServer& server, std::shared_ptr<CannedDaemon> state);

}  // namespace strata::test
