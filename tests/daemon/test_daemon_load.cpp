// A bounded load test: 32 clients x 50 requests on the tiny model, 5% of streams dropped
// mid-way. Nothing may crash or hang, every completed answer must be well formed. Throughput
// and latency are printed, not asserted.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "tests/daemon/daemon_client.h"
#include "tests/support/daemon_process.h"

namespace strata::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr int kClients = 32;
constexpr int kRequestsPerClient = 50;
constexpr int kMaxTokens = 8;
constexpr int kDeadlineMs = 30000;  // every request completes or fails within this

struct ClientStats {
  std::vector<double> latencies_ms;
  int64_t tokens = 0;
  int completed = 0, dropped = 0;
  std::vector<std::string> problems;
};

// Checks one answer; returns the completion tokens, or -1 with a problem noted. Zero tokens is a
// valid answer when the end-of-generation token was sampled first (finish_reason "stop"): with
// temperature 0.7 on the random tiny model that happens about once in a couple of thousand.
int64_t check_answer(const HttpResponse& r, bool stream, ClientStats& st) {
  auto problem = [&](const std::string& what) {
    st.problems.push_back(what + ": " + r.body.substr(0, 300));
    return -1;
  };
  if (r.status != 200) return problem("status " + std::to_string(r.status));
  try {
    if (!stream) {
      json::object o = json::parse(r.body).as_object();
      if (o.at("object") != "text_completion") return problem("wrong object");
      if (!o.at("choices").at(0).at("text").is_string()) return problem("no text");
      const int64_t n = o.at("usage").at("completion_tokens").as_int64();
      const bool stopped = o.at("choices").at(0).at("finish_reason") == "stop";
      if (n < (stopped ? 0 : 1) || n > kMaxTokens) return problem("bad usage");
      return n;
    }
    const auto events = sse_events(r.body);
    if (events.size() < 2 || events.back() != "[DONE]") return problem("no [DONE]");
    for (size_t i = 0; i + 2 < events.size(); ++i)
      if (!json::parse(events[i]).at("choices").at(0).at("text").is_string()) return problem("bad chunk");
    json::object last = json::parse(events[events.size() - 2]).as_object();
    if (!last.at("choices").at(0).at("finish_reason").is_string()) return problem("no finish_reason");
    const int64_t n = last.at("usage").at("completion_tokens").as_int64();
    const bool stopped = last.at("choices").at(0).at("finish_reason") == "stop";
    if (n < (stopped ? 0 : 1) || n > kMaxTokens) return problem("bad usage");
    return n;
  } catch (const std::exception& e) {
    return problem(std::string("malformed: ") + e.what());
  }
}

void run_client(const std::filesystem::path& socket, int id, ClientStats& st) {
  std::mt19937 rng(static_cast<unsigned>(id) * 7919u + 17u);
  std::optional<HttpConnection> conn;
  for (int i = 0; i < kRequestsPerClient; ++i) {
    const bool stream = (i + id) % 2 == 0;
    const bool drop = stream && rng() % 100 < 10;  // streams are half the requests: ~5% of all
    try {
      if (!conn) conn.emplace(HttpConnection::unix_socket(socket));
      const std::string body = R"({"model":"tiny","prompt":"Client )" + std::to_string(id) + " request " +
                               std::to_string(i) + R"(","max_tokens":)" + std::to_string(kMaxTokens) +
                               R"(,"temperature":0.7,"stream":)" + (stream ? "true" : "false") + "}";
      const auto t0 = Clock::now();
      conn->send_request("POST", "/v1/completions", body);
      if (drop) {
        HttpResponse head = conn->read_head(kDeadlineMs);
        if (head.status == 200) conn->next_event(kDeadlineMs);
        conn.reset();  // hang up mid-stream
        ++st.dropped;
        continue;
      }
      HttpResponse r = conn->read_response(kDeadlineMs);
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      const int64_t n = check_answer(r, stream, st);
      if (n >= 0) {
        st.latencies_ms.push_back(ms);
        st.tokens += n;
        ++st.completed;
      }
    } catch (const std::exception& e) {
      st.problems.push_back(std::string("request failed: ") + e.what());
      conn.reset();
    }
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

TEST(DaemonLoad, ManyClientsWithDroppedStreams) {
  DaemonOptions o;
  o.config_text = "[limits]\nmax_sequences = 16\nmax_queue = 256\n";
  DaemonProcess d(o);
  // Load the model before timing.
  ASSERT_EQ(
      http_request(d.socket(), "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":1})").status,
      200);

  std::vector<ClientStats> stats(kClients);
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int c = 0; c < kClients; ++c) threads.emplace_back(run_client, d.socket(), c, std::ref(stats[c]));
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

  std::vector<double> all;
  int64_t tokens = 0;
  int completed = 0, dropped = 0;
  std::vector<std::string> problems;
  for (const auto& s : stats) {
    all.insert(all.end(), s.latencies_ms.begin(), s.latencies_ms.end());
    tokens += s.tokens;
    completed += s.completed;
    dropped += s.dropped;
    problems.insert(problems.end(), s.problems.begin(), s.problems.end());
  }
  std::printf("load: %d clients x %d requests: %d completed, %d dropped mid-stream, in %.2f s\n", kClients,
              kRequestsPerClient, completed, dropped, secs);
  std::printf("load: %.1f requests/s, %.1f generated tokens/s; latency p50 %.1f ms, p99 %.1f ms\n", completed / secs,
              static_cast<double>(tokens) / secs, percentile(all, 0.50), percentile(all, 0.99));
  for (size_t i = 0; i < std::min<size_t>(problems.size(), 10); ++i) ADD_FAILURE() << problems[i];
  EXPECT_TRUE(problems.empty()) << problems.size() << " problems";
  EXPECT_EQ(completed + dropped, kClients * kRequestsPerClient);
  EXPECT_GT(dropped, 0);

  // Nothing left running, and the daemon still serves.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  json::object s;
  while (Clock::now() < deadline) {
    s = json::parse(http_request(d.socket(), "GET", "/strata/v1/status").body).as_object();
    if (s.at("requests").at("generating") == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(s.at("requests").at("generating"), 0);
  EXPECT_EQ(s.at("models").at(0).at("queue").at("running"), 0);
  EXPECT_EQ(
      http_request(d.socket(), "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":2})").status,
      200);
  EXPECT_EQ(d.stop(), 0) << d.log();
}

}  // namespace
}  // namespace strata::test
