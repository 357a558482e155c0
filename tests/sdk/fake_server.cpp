#include "tests/sdk/fake_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <tuple>

namespace strata::test {

namespace json = boost::json;

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

FakeConnection::~FakeConnection() { shutdown(); }

bool FakeConnection::write(std::string_view bytes) {
  std::lock_guard lock(mu_);
  while (!bytes.empty() && !closed_) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return !closed_;
}

void FakeConnection::close() { shutdown(); }

void FakeConnection::shutdown() {
  std::lock_guard lock(mu_);
  if (closed_.exchange(true)) return;
  ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
}

bool FakeConnection::wait_peer_closed(int timeout_ms) {
  char buf[4096];
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    if (closed_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
  }
  return false;
}

FakeServer::FakeServer(std::string socket_path, bool tcp) : socket_path_(std::move(socket_path)) {
  ::unlink(socket_path_.c_str());
  unix_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  if (::bind(unix_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(unix_fd_, 64) != 0)
    throw std::runtime_error("cannot listen on " + socket_path_ + ": " + std::strerror(errno));
  if (tcp) {
    tcp_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof in;
    if (::bind(tcp_fd_, reinterpret_cast<sockaddr*>(&in), sizeof in) != 0 || ::listen(tcp_fd_, 64) != 0 ||
        ::getsockname(tcp_fd_, reinterpret_cast<sockaddr*>(&in), &len) != 0)
      throw std::runtime_error(std::string("cannot listen on loopback TCP: ") + std::strerror(errno));
    tcp_port_ = ntohs(in.sin_port);
  }
  if (::pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakeServer::~FakeServer() {
  stop_ = true;
  (void)!::write(wake_[1], "x", 1);
  acceptor_.join();
  {
    std::lock_guard lock(mu_);
    for (auto& c : conns_) c->shutdown();
  }
  for (auto& t : threads_) t.join();
  ::close(unix_fd_);
  if (tcp_fd_ >= 0) ::close(tcp_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  ::unlink(socket_path_.c_str());
}

void FakeServer::route(std::string method, std::string prefix, Handler handler) {
  std::lock_guard lock(mu_);
  routes_.emplace_back(std::move(method), std::move(prefix), std::move(handler));
}

std::vector<HttpRequest> FakeServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

HttpRequest FakeServer::last_request() const {
  std::lock_guard lock(mu_);
  return requests_.empty() ? HttpRequest{} : requests_.back();
}

void FakeServer::accept_loop() {
  while (!stop_) {
    pollfd fds[3] = {{wake_[0], POLLIN, 0}, {unix_fd_, POLLIN, 0}, {tcp_fd_, POLLIN, 0}};
    if (::poll(fds, tcp_fd_ >= 0 ? 3 : 2, -1) <= 0) continue;
    if (fds[0].revents) break;
    for (int i = 1; i < 3; ++i) {
      if (i == 2 && tcp_fd_ < 0) break;
      if (!(fds[i].revents & POLLIN)) continue;
      const int fd = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      auto c = std::make_shared<FakeConnection>(fd, ++accepted_);
      std::lock_guard lock(mu_);
      conns_.push_back(c);
      threads_.emplace_back([this, c] { serve(c); });
    }
  }
}

void FakeServer::serve(std::shared_ptr<FakeConnection> c) {
  std::string buffer;
  char buf[16384];
  auto fill = [&]() -> bool {
    if (c->closed()) return false;
    const ssize_t n = ::recv(c->fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer.append(buf, static_cast<size_t>(n));
    return true;
  };
  while (!stop_ && !c->closed()) {
    size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return;
    HttpRequest req;
    req.connection = c->id();
    std::string head = buffer.substr(0, end);
    buffer.erase(0, end + 4);
    size_t pos = head.find("\r\n");
    const std::string line = head.substr(0, pos);
    const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t length = 0;
    while (pos != std::string::npos) {
      const size_t next = head.find("\r\n", pos + 2);
      const std::string h = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      pos = next;
      const size_t colon = h.find(':');
      if (colon == std::string::npos) continue;
      std::string name = h.substr(0, colon);
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "content-length") length = std::stoul(value);
      req.headers.emplace_back(name, value);
    }
    while (buffer.size() < length)
      if (!fill()) return;
    req.body = buffer.substr(0, length);
    buffer.erase(0, length);

    Handler handler;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
      for (auto it = routes_.rbegin(); it != routes_.rend(); ++it)
        if (std::get<0>(*it) == req.method && req.target.rfind(std::get<1>(*it), 0) == 0) {
          handler = std::get<2>(*it);
          break;
        }
    }
    if (handler) handler(req, *c);
    else c->write(error_response(404, "not_found", "no route " + req.method + " " + req.target));
  }
}

std::string http_response(int status, std::string_view body, std::string_view content_type,
                          std::string_view extra_headers) {
  const char* reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : status == 401 ? "Unauthorized"
                     : status == 404 ? "Not Found" : status == 413 ? "Payload Too Large"
                     : status == 429 ? "Too Many Requests" : status == 500 ? "Internal Server Error"
                     : status == 502 ? "Bad Gateway" : "Status";
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  if (!content_type.empty()) r += "Content-Type: " + std::string(content_type) + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra_headers;
  r += "\r\n";
  r += body;
  return r;
}

std::string error_response(int status, std::string_view type, std::string_view message) {
  json::object e{{"message", message}, {"type", type}, {"code", "test"}};
  return http_response(status, json::serialize(json::object{{"error", std::move(e)}}));
}

std::string sse_head() {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
}

std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

namespace {

json::object session_json(const CannedDaemon::Session& s, bool with_text) {
  json::object o{{"id", s.id}, {"model", s.model}, {"tokens", s.tokens}, {"created", 1700000000},
                 {"last_used", 1700000100}, {"kv_bytes", s.tokens * 1024}};
  if (with_text) o["text"] = s.text;
  return o;
}

}  // namespace

void install_canned_daemon(FakeServer& server, std::shared_ptr<CannedDaemon> st) {
  server.route("GET", "/v1/models", [](const HttpRequest&, FakeConnection& c) {
    c.write(http_response(200, R"({"object":"list","data":[{"id":"tiny","object":"model","created":0,"owned_by":"strata"},)"
                               R"({"id":"small","object":"model","created":0,"owned_by":"strata"}]})"));
  });
  server.route("POST", "/strata/v1/generate", [st](const HttpRequest& req, FakeConnection& c) {
    json::object body = json::parse(req.body).as_object();
    const json::value* model = body.if_contains("model");
    if (!model || !model->is_string()) return (void)c.write(error_response(400, "invalid_request_error", "'model' is required"));
    if (*model != "tiny" && *model != "small")
      return (void)c.write(error_response(404, "not_found", "unknown model '" + std::string(model->as_string()) +
                                                                 "'; known models: tiny, small"));
    const std::string prompt(body.at("prompt").as_string());
    std::string id;
    int delay_ms = 0;
    {
      std::lock_guard lock(st->mu);
      delay_ms = st->first_token_delay_ms;
      CannedDaemon::Session* s = nullptr;
      if (const json::value* sid = body.if_contains("session")) {
        for (auto& x : st->sessions)
          if (x.id == sid->as_string()) s = &x;
        if (!s) return (void)c.write(error_response(404, "not_found", "unknown session"));
      } else {
        char hex[33];
        std::snprintf(hex, sizeof hex, "%032x", st->next_id++);
        st->sessions.push_back({hex, std::string(model->as_string()), "", 0});
        s = &st->sessions.back();
      }
      s->text += prompt + "Hello world!";
      s->tokens += static_cast<int64_t>(prompt.size()) + 3;
      id = s->id;
    }
    json::object final{{"session", id}, {"model", *model}, {"text", "Hello world!"}, {"tokens", json::array{100, 101, 102}},
                       {"finish_reason", "length"}, {"usage", {{"prompt_tokens", prompt.size()}, {"completion_tokens", 3}}}};
    const bool stream = body.contains("stream") && body.at("stream").as_bool();
    if (!stream) return (void)c.write(http_response(200, json::serialize(final)));
    // Events split across chunks at awkward places, as a real server's writes may be.
    std::string events = sse_data(R"({"token":100,"text":"Hello"})") + sse_data(R"({"token":101,"text":" world"})") +
                         sse_data(R"({"token":102,"text":"!"})") + sse_data(json::serialize(final)) + sse_data("[DONE]");
    c.write(sse_head());
    if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    for (size_t i = 0; i < events.size(); i += 7) c.write(chunk(events.substr(i, 7)));
    c.write(last_chunk());
  });
  server.route("GET", "/strata/v1/sessions", [st](const HttpRequest& req, FakeConnection& c) {
    std::lock_guard lock(st->mu);
    const std::string prefix = "/strata/v1/sessions/";
    if (req.target.rfind(prefix, 0) == 0) {
      const std::string id = req.target.substr(prefix.size());
      for (const auto& s : st->sessions)
        if (s.id == id) return (void)c.write(http_response(200, json::serialize(session_json(s, true))));
      return (void)c.write(error_response(404, "not_found", "unknown session"));
    }
    json::array list;
    for (const auto& s : st->sessions) list.push_back(session_json(s, false));
    c.write(http_response(200, json::serialize(json::object{{"sessions", std::move(list)}})));
  });
  server.route("DELETE", "/strata/v1/sessions/", [st](const HttpRequest& req, FakeConnection& c) {
    std::lock_guard lock(st->mu);
    const std::string id = req.target.substr(std::string("/strata/v1/sessions/").size());
    for (auto it = st->sessions.begin(); it != st->sessions.end(); ++it)
      if (it->id == id) {
        st->sessions.erase(it);
        return (void)c.write(http_response(200, json::serialize(json::object{{"deleted", id}})));
      }
    c.write(error_response(404, "not_found", "unknown session"));
  });
  server.route("GET", "/strata/v1/status", [st](const HttpRequest&, FakeConnection& c) {
    std::lock_guard lock(st->mu);
    json::array sessions;
    for (const auto& s : st->sessions) sessions.push_back({{"id", s.id}, {"model", s.model}, {"kv_bytes", s.tokens * 1024}});
    json::object tiny{{"name", "tiny"}, {"path", "/models/tiny.gguf"}, {"loaded", true}, {"loading", false},
                      {"memory", {{"weights_bytes", 12582912}, {"kv_bytes", 65536}, {"scratch_bytes", 4096}}},
                      {"sessions", st->sessions.size()}, {"queue", {{"queued", 0}, {"running", 0}}}};
    json::object small{{"name", "small"}, {"path", "/models/small.gguf"}, {"loaded", false}, {"loading", st->small_loading},
                       {"memory", {{"weights_bytes", 0}, {"kv_bytes", 0}, {"scratch_bytes", 0}}},
                       {"sessions", 0}, {"queue", {{"queued", 1}, {"running", 0}}}};
    json::object status{{"version", "0.1.0"}, {"uptime_s", 3723.5}, {"models", json::array{tiny, small}},
                        {"sessions", std::move(sessions)}};
    c.write(http_response(200, json::serialize(status)));
  });
  server.route("POST", "/v1/chat/completions", [](const HttpRequest& req, FakeConnection& c) {
    json::object body = json::parse(req.body).as_object();
    const bool stream = body.contains("stream") && body.at("stream").as_bool();
    if (!stream) {
      c.write(http_response(200, R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"tiny",)"
                                 R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop"}],)"
                                 R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})"));
      return;
    }
    const std::string pre = R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"tiny","choices":[{"index":0,)";
    c.write(sse_head());
    c.write(chunk(sse_data(pre + R"("delta":{"role":"assistant"},"finish_reason":null}]})")));
    c.write(chunk(sse_data(pre + R"("delta":{"content":"Hi"},"finish_reason":null}]})")));
    c.write(chunk(sse_data(pre + R"("delta":{"content":" there"},"finish_reason":null}]})")));
    c.write(chunk(sse_data(pre + R"("delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})")));
    c.write(chunk(sse_data("[DONE]")));
    c.write(last_chunk());
  });
}

}  // namespace strata::test
