// The daemon as a service: SIGHUP reload, SIGTERM, systemd readiness and socket activation,
// identities (two uids, the TCP token).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "tests/daemon/daemon_client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run_process.h"
#include "tests/support/test_paths.h"

namespace strata::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::string tiny_path() { return shared_path("models/llama-2-tiny-random.gguf").string(); }

std::vector<std::string> model_names(const std::filesystem::path& socket) {
  std::vector<std::string> out;
  const json::value v = json::parse(http_request(socket, "GET", "/v1/models").body);
  for (const auto& m : v.at("data").as_array()) out.emplace_back(m.at("id").as_string());
  return out;
}

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

TEST(DaemonLifecycle, SighupReloadsModelsWithoutDroppingConnections) {
  DaemonOptions o;
  o.config_text = "[models.first]\npath = \"" + tiny_path() + "\"\n";
  o.tiny_model = false;
  DaemonProcess d(o);
  EXPECT_EQ(model_names(d.socket()), (std::vector<std::string>{"first"}));
  HttpConnection kept = HttpConnection::unix_socket(d.socket());
  kept.send_request("POST", "/v1/completions", R"({"model":"first","prompt":"Hi","max_tokens":2})");
  ASSERT_EQ(kept.read_response().status, 200);

  write(d.config_path(),
        "[models.second]\npath = \"" + tiny_path() + "\"\n[models.third]\npath = \"" + tiny_path() + "\"\n");
  d.signal(SIGHUP);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline && model_names(d.socket()).size() != 2)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(model_names(d.socket()), (std::vector<std::string>{"second", "third"}));
  // The connection opened before the reload still works, with the new models.
  kept.send_request("POST", "/v1/completions", R"({"model":"second","prompt":"Hi","max_tokens":2})");
  EXPECT_EQ(kept.read_response().status, 200);
  kept.send_request("POST", "/v1/completions", R"({"model":"first","prompt":"Hi","max_tokens":2})");
  HttpResponse gone = kept.read_response();
  EXPECT_EQ(gone.status, 404);
  EXPECT_NE(gone.body.find("second, third"), std::string::npos) << gone.body;

  // A broken file is refused and the previous configuration stays.
  write(d.config_path(), "[models.fourth]\npath = 5\n");
  d.signal(SIGHUP);
  ASSERT_TRUE(d.wait_for_log("reload failed")) << d.log();
  EXPECT_EQ(model_names(d.socket()), (std::vector<std::string>{"second", "third"}));
  EXPECT_EQ(d.stop(), 0) << d.log();
}

TEST(DaemonLifecycle, SigtermFinishesInFlightRequestsAndExitsZero) {
  DaemonOptions o;
  o.config_text = "[server]\nshutdown_timeout_seconds = 1\n[limits]\nmax_tokens = 4000\n";
  DaemonProcess d(o);
  HttpConnection c = HttpConnection::unix_socket(d.socket());
  c.send_request("POST", "/v1/completions",
                 R"({"model":"tiny","prompt":"Hello","max_tokens":4000,"temperature":0,"stream":true})");
  ASSERT_EQ(c.read_head().status, 200);
  ASSERT_TRUE(c.next_event());
  HttpConnection idle = HttpConnection::unix_socket(d.socket());
  const auto t0 = Clock::now();
  d.signal(SIGTERM);
  // The stream ends properly (finished or cancelled), with usage and [DONE].
  std::vector<std::string> events;
  while (auto e = c.next_event(20000)) events.push_back(*e);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_TRUE(json::parse(events[events.size() - 2]).as_object().contains("usage"));
  EXPECT_TRUE(idle.wait_closed(5000)) << "idle connections are closed";
  int code = -2;
  for (int i = 0; i < 1000 && d.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  code = d.stop(10);
  EXPECT_EQ(code, 0) << d.log();
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 10.0);
  EXPECT_FALSE(std::filesystem::exists(d.socket())) << "the socket file is removed";
  EXPECT_FALSE(socket_accepts(d.socket()));
}

// Stop signals keep coming while the daemon is already stopping (systemd's stop, then a
// user's Ctrl-C, then a reload): none of them may kill it half-way. Each round sends a storm of
// SIGTERM, SIGINT and SIGHUP from the first SIGTERM until the process is gone; any moment at
// which one of them acted by default shows up as status 128 + the signal.
TEST(DaemonLifecycle, StopSignalsDuringShutdownNeverKillIt) {
  for (int round = 0; round < 4; ++round) {
    DaemonProcess d;
    HttpConnection c = HttpConnection::unix_socket(d.socket());
    c.send_request("POST", "/v1/completions", R"({"model":"tiny","prompt":"Hello","max_tokens":8})");
    ASSERT_EQ(c.read_response().status, 200);
    const int storm[] = {SIGTERM, SIGINT, SIGHUP};
    int sent = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (d.running() && Clock::now() < deadline) d.signal(storm[sent++ % 3]);
    const int code = d.stop(10);
    EXPECT_EQ(code, 0) << "round " << round << ", after " << sent << " signals\n" << d.log();
    EXPECT_TRUE(d.wait_for_log("stopped", 0)) << d.log();
  }
}

// A datagram socket standing in for systemd's notification socket.
class NotifyListener {
 public:
  explicit NotifyListener(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind notify");
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifyListener() { ::close(fd_); }
  // The next datagram, or "" after `timeout_ms`.
  std::string next(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (Clock::now() < deadline) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) return std::string(buf, static_cast<size_t>(n));
    }
    return "";
  }
  // Waits for a datagram containing `needle`; returns it, or "" on timeout.
  std::string wait_for(const std::string& needle, int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      std::string m = next(100);
      if (m.find(needle) != std::string::npos) return m;
    }
    return "";
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

TEST(DaemonLifecycle, NotifiesReadyOnlyOnceTheSocketAccepts) {
  const auto dir = temp_dir("notify");
  NotifyListener notify(dir / "notify.sock");
  DaemonOptions o;
  o.env = {{"NOTIFY_SOCKET", (dir / "notify.sock").string()}, {"WATCHDOG_USEC", "200000"}};
  o.wait_ready = false;
  DaemonProcess d(o);
  const std::string ready = notify.wait_for("READY=1", 20000);
  ASSERT_FALSE(ready.empty()) << d.log();
  EXPECT_TRUE(socket_accepts(d.socket())) << "READY=1 came before the socket accepted connections";
  EXPECT_NE(ready.find("STATUS=serving 1 model(s) on "), std::string::npos) << ready;
  // Watchdog pings at half of WATCHDOG_USEC.
  int pings = 0;
  const auto until = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < until)
    if (notify.next(100) == "WATCHDOG=1") ++pings;
  EXPECT_GE(pings, 3);
  d.signal(SIGHUP);
  EXPECT_FALSE(notify.wait_for("RELOADING=1", 5000).empty());
  EXPECT_FALSE(notify.wait_for("READY=1", 5000).empty());
  d.signal(SIGTERM);
  EXPECT_FALSE(notify.wait_for("STOPPING=1", 5000).empty());
  EXPECT_EQ(d.stop(), 0);
}

TEST(DaemonLifecycle, SocketActivation) {
  if (!std::filesystem::exists("/usr/bin/systemd-socket-activate")) GTEST_SKIP() << "no systemd-socket-activate";
  const auto dir = temp_dir("activate");
  const auto activated = dir / "activated.sock";
  DaemonOptions o;
  o.command_prefix = {"/usr/bin/systemd-socket-activate", "-l", activated.string()};
  o.wait_ready = false;
  DaemonProcess d(o);
  // systemd-socket-activate binds the socket, then starts stratad on the first connection.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(activated) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  HttpResponse r = http_request(activated, "GET", "/v1/models", "", 20000);
  EXPECT_EQ(r.status, 200) << d.log();
  HttpResponse c =
      http_request(activated, "POST", "/v1/completions", R"({"model":"tiny","prompt":"Hi","max_tokens":3})");
  EXPECT_EQ(c.status, 200) << c.body;
  EXPECT_FALSE(std::filesystem::exists(d.socket())) << "an activated daemon does not bind its own socket";
  EXPECT_NE(d.log().find("socket activation"), std::string::npos) << d.log();
  EXPECT_EQ(d.stop(), 0) << d.log();
}

TEST(DaemonLifecycle, TwoUsersCannotSeeEachOthersSessions) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user (nobody)";
  if (!std::filesystem::exists("/usr/bin/setpriv") || !std::filesystem::exists("/usr/bin/curl"))
    GTEST_SKIP() << "needs setpriv and curl";
  DaemonProcess d;
  // Let `nobody` reach the socket (the socket is 0660, and there is no strata group here).
  ::chmod(d.dir().c_str(), 0755);
  ::chmod(d.socket().c_str(), 0666);
  auto as_nobody = [&](const std::vector<std::string>& curl_args) {
    std::vector<std::string> argv{
        "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",  "--clear-groups", "/usr/bin/curl", "-s", "-w",
        "\n%{http_code}",   "--unix-socket",  d.socket().string()};
    argv.insert(argv.end(), curl_args.begin(), curl_args.end());
    ProcessResult r = run_process(argv, "", 60);
    const size_t nl = r.out.rfind('\n');
    return std::make_pair(nl == std::string::npos ? 0 : std::stoi(r.out.substr(nl + 1)), r.out.substr(0, nl));
  };
  // Root's session.
  HttpResponse mine =
      http_request(d.socket(), "POST", "/strata/v1/generate", R"({"model":"tiny","prompt":"Hi","max_tokens":2})");
  ASSERT_EQ(mine.status, 200);
  const std::string root_session(json::parse(mine.body).at("session").as_string());

  auto [code, body] = as_nobody({"http://localhost/strata/v1/sessions"});
  ASSERT_EQ(code, 200) << body;
  EXPECT_TRUE(json::parse(body).at("sessions").as_array().empty());
  EXPECT_EQ(as_nobody({"http://localhost/strata/v1/sessions/" + root_session}).first, 404);
  EXPECT_EQ(as_nobody({"-X", "DELETE", "http://localhost/strata/v1/sessions/" + root_session}).first, 404);
  EXPECT_EQ(as_nobody({"-d", R"({"model":"tiny","prompt":"x","max_tokens":1,"session":")" + root_session + R"("})",
                       "http://localhost/strata/v1/generate"})
                .first,
            404);
  // nobody's own session: invisible to root.
  auto [ncode, nbody] =
      as_nobody({"-d", R"({"model":"tiny","prompt":"x","max_tokens":1})", "http://localhost/strata/v1/generate"});
  ASSERT_EQ(ncode, 200) << nbody;
  const std::string nobody_session(json::parse(nbody).at("session").as_string());
  EXPECT_EQ(http_request(d.socket(), "GET", "/strata/v1/sessions/" + nobody_session).status, 404);
  EXPECT_EQ(http_request(d.socket(), "DELETE", "/strata/v1/sessions/" + nobody_session).status, 404);
  auto list = json::parse(http_request(d.socket(), "GET", "/strata/v1/sessions").body).at("sessions").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("id"), json::value(root_session));
  auto [gcode, gbody] = as_nobody({"http://localhost/strata/v1/sessions/" + nobody_session});
  EXPECT_EQ(gcode, 200) << gbody;
  EXPECT_EQ(d.stop(), 0);
}

TEST(DaemonLifecycle, TcpListenerNeedsTheBearerToken) {
  const auto dir = temp_dir("tcp");
  const auto token_file = dir / "token";
  write(token_file, "correct-horse-battery-staple\n");
  ::chmod(token_file.c_str(), 0644);
  DaemonOptions o;
  // Port 0: the kernel picks a free one, which the log names.
  o.config_text = "[server]\ntcp_listen = \"127.0.0.1:0\"\ntcp_token_file = \"" + token_file.string() + "\"\n";
  o.wait_ready = false;
  {
    DaemonProcess refused(o);
    for (int i = 0; i < 500 && refused.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(refused.running()) << "a group/world-readable token file must be refused";
    EXPECT_NE(refused.log().find("must not be accessible by group or others"), std::string::npos) << refused.log();
  }
  ::chmod(token_file.c_str(), 0600);
  o.wait_ready = true;
  DaemonProcess d(o);
  // The Unix socket accepts (which is what wait_ready waits for) a moment before
  // the TCP listener's line reaches the log, so wait for the line itself.
  const std::string marker = "listening on tcp 127.0.0.1:";
  ASSERT_TRUE(d.wait_for_log(marker)) << d.log();
  const std::string log = d.log();
  const int port = std::stoi(log.substr(log.find(marker) + marker.size()));
  auto ask = [&](const std::vector<std::string>& headers) {
    HttpConnection c = HttpConnection::tcp(port);
    c.send_request("GET", "/v1/models", "", headers);
    return c.read_response();
  };
  EXPECT_EQ(ask({}).status, 401);
  EXPECT_EQ(ask({"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(ask({"Authorization: Bearer correct-horse-battery-stapl"}).status, 401);
  HttpResponse ok = ask({"Authorization: Bearer correct-horse-battery-staple"});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(d.log().find("correct-horse"), std::string::npos) << "the token never reaches the log";
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace strata::test
