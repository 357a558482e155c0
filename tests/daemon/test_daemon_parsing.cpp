// Unit tests of the daemon's pure parts: routes, request parsing, auth helpers, listen
// addresses, metrics rendering, the session store.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>

#include "daemon/api/api_error.h"
#include "daemon/api/requests.h"
#include "daemon/api/routes.h"
#include "daemon/api/utf8.h"
#include "daemon/metrics/metrics.h"
#include "daemon/server/listen_address.h"
#include "daemon/server/token_auth.h"
#include "daemon/sessions/session_store.h"
#include "tests/support/test_paths.h"

namespace strata::daemon {
namespace {

int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    auto body = boost::json::parse(e.body());
    EXPECT_TRUE(body.at("error").at("message").is_string());
    EXPECT_TRUE(body.at("error").at("type").is_string());
    EXPECT_TRUE(body.at("error").at("code").is_string());
    return e.status();
  }
  return 0;
}

TEST(DaemonRoutes, MatchesEveryRoute) {
  EXPECT_EQ(match_route("GET", "/v1/models").route, Route::Models);
  EXPECT_EQ(match_route("POST", "/v1/completions").route, Route::Completions);
  EXPECT_EQ(match_route("POST", "/v1/chat/completions?x=1").route, Route::ChatCompletions);
  EXPECT_EQ(match_route("POST", "/strata/v1/generate").route, Route::Generate);
  EXPECT_EQ(match_route("GET", "/strata/v1/sessions").route, Route::ListSessions);
  auto m = match_route("GET", "/strata/v1/sessions/abc");
  EXPECT_EQ(m.route, Route::GetSession);
  EXPECT_EQ(m.session_id, "abc");
  EXPECT_EQ(match_route("DELETE", "/strata/v1/sessions/abc").route, Route::DeleteSession);
  EXPECT_EQ(match_route("GET", "/strata/v1/status").route, Route::Status);
  EXPECT_EQ(match_route("GET", "/metrics").route, Route::Metrics);
}

TEST(DaemonRoutes, UnknownPathIs404AndWrongMethodIs405) {
  EXPECT_EQ(status_of([] { match_route("GET", "/v2/models"); }), 404);
  EXPECT_EQ(status_of([] { match_route("GET", "/strata/v1/sessions/a/b"); }), 404);
  EXPECT_EQ(status_of([] { match_route("GET", ""); }), 404);
  EXPECT_EQ(status_of([] { match_route("GET", "/v1/completions"); }), 405);
  EXPECT_EQ(status_of([] { match_route("POST", "/strata/v1/sessions/x"); }), 405);
  EXPECT_EQ(status_of([] { match_route("PUT", "/metrics"); }), 405);
}

TEST(DaemonRequests, CompletionDefaultsAndFields) {
  ParseLimits limits{100, 16};
  auto r = parse_completion_request(R"({"model":"m","prompt":"hi"})", limits);
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.prompt.text, "hi");
  EXPECT_EQ(r.max_tokens, 16);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.seed_given);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 1.0f);
  r = parse_completion_request(
      R"({"model":"m","prompt":[1,2,3],"max_tokens":5.0,"temperature":0,"top_p":0.5,"stop":["a","b"],"seed":-1,)"
      R"("stream":true,"user":"ignored","temperature_extra":null})",
      limits);
  EXPECT_TRUE(r.prompt.is_tokens);
  EXPECT_EQ(r.prompt.tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r.max_tokens, 5);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.seed_given);
  EXPECT_EQ(r.sampling.seed, ~uint64_t{0});
  EXPECT_TRUE(r.stream);
  r = parse_completion_request(R"({"model":"m","prompt":["only"],"suffix":"tail","stop":"x"})", limits);
  EXPECT_EQ(r.prompt.text, "only");
  EXPECT_EQ(*r.suffix, "tail");
  EXPECT_EQ(r.stop, (std::vector<std::string>{"x"}));
}

TEST(DaemonRequests, RejectsBadValuesWith400) {
  ParseLimits limits{100, 16};
  const char* bad[] = {
      "",
      "{",
      "[]",
      R"({"prompt":"x"})",
      R"({"model":"","prompt":"x"})",
      R"({"model":"m"})",
      R"({"model":"m","prompt":5})",
      R"({"model":"m","prompt":"x","max_tokens":-1})",
      R"({"model":"m","prompt":"x","max_tokens":101})",
      R"({"model":"m","prompt":"x","max_tokens":1.5})",
      R"({"model":"m","prompt":"x","max_tokens":1e300})",
      R"({"model":"m","prompt":"x","max_tokens":"5"})",
      R"({"model":"m","prompt":"x","temperature":"NaN"})",
      R"({"model":"m","prompt":"x","temperature":-0.1})",
      R"({"model":"m","prompt":"x","top_p":0})",
      // > 0 as a double but 0 once rounded to the float the sampler keeps (found by the fuzzer).
      R"({"model":"m","prompt":"x","top_p":9e-72})",
      R"({"model":"m","prompt":"x","repeat_penalty":1e-50})",
      R"({"model":"m","prompt":"x","stop":[1]})",
      R"({"model":"m","prompt":"x","stop":{"a":1}})",
      R"({"model":"m","prompt":"x","stream":"yes"})",
      R"({"model":"m","prompt":"x","n":2})",
      R"({"model":"m","prompt":[1,-2]})",
      R"({"model":"m","prompt":[1,"a"]})",
      R"({"model":"m","prompt":["a","b"]})",
      R"({"model":"m","prompt":[1],"suffix":"x"})",
      "{\"model\":\"m\",\"prompt\":\"\xff\xfe\"}",
  };
  for (const char* b : bad) EXPECT_EQ(status_of([&] { parse_completion_request(b, limits); }), 400) << b;
  std::string deep(100, '[');
  EXPECT_EQ(status_of([&] { parse_completion_request(deep, limits); }), 400);
}

TEST(DaemonRequests, ChatMessages) {
  ParseLimits limits;
  auto r = parse_chat_request(R"({"model":"m","messages":[{"role":"system","content":"s"},)"
                              R"({"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},)"
                              R"({"role":"developer","content":"d"}],"max_completion_tokens":3})",
                              limits);
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(r.messages[2].role, "system");
  EXPECT_EQ(r.max_tokens, 3);
  for (const char* b : {R"({"model":"m"})", R"({"model":"m","messages":"hi"})", R"({"model":"m","messages":[]})",
                        R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})",
                        R"({"model":"m","messages":[{"content":"x"}]})",
                        R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]})"})
    EXPECT_EQ(status_of([&] { parse_chat_request(b, limits); }), 400) << b;
}

TEST(DaemonRequests, NativeGenerateIsStrict) {
  ParseLimits limits;
  auto r = parse_generate_request(R"({"model":"m","prompt":"x","session":"abc","top_k":5})", limits);
  EXPECT_EQ(r.session, "abc");
  EXPECT_EQ(r.sampling.top_k, 5);
  EXPECT_FLOAT_EQ(r.sampling.temperature, SamplerParams{}.temperature);
  EXPECT_EQ(status_of([&] { parse_generate_request(R"({"model":"m","prompt":"x","sesion":"a"})", limits); }), 400);
  EXPECT_EQ(status_of([&] { parse_generate_request(R"({"model":"m","prompt":"x","session":7})", limits); }), 400);
  EXPECT_TRUE(is_session_id("0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(is_session_id("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(is_session_id("abc"));
}

TEST(DaemonRequests, ErrorBodiesAreValidUtf8) {
  EXPECT_EQ(valid_utf8("plain"), "plain");
  EXPECT_EQ(valid_utf8("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x81"), "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x81");
  EXPECT_EQ(valid_utf8("a\xff\xc3"), "a??");
  EXPECT_EQ(valid_utf8("\xc0\xaf"), "??") << "overlong";
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"), "???") << "surrogate";
  const ApiError e = bad_request("x", "bad \xff byte");
  EXPECT_NO_THROW(boost::json::parse(e.body()));
  EXPECT_EQ(status_of([] { match_route("\xff\xfe", "/metrics"); }), 405);
}

TEST(DaemonAuth, ConstantTimeCompareAndBearer) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secreT", "secret"));
  EXPECT_FALSE(constant_time_equal("secret1", "secret"));
  EXPECT_FALSE(constant_time_equal("", "secret"));
  EXPECT_TRUE(bearer_matches("Bearer secret", "secret"));
  EXPECT_TRUE(bearer_matches("bearer  secret ", "secret"));
  EXPECT_FALSE(bearer_matches("Basic secret", "secret"));
  EXPECT_FALSE(bearer_matches("Bearer", "secret"));
}

TEST(DaemonAuth, TokenFileMustBePrivate) {
  const auto dir = test::temp_dir("token");
  const auto path = (dir / "token").string();
  std::ofstream(path) << "  s3cret-token\n";
  ::chmod(path.c_str(), 0644);
  EXPECT_THROW(load_token_file(path), std::runtime_error);
  ::chmod(path.c_str(), 0640);
  EXPECT_THROW(load_token_file(path), std::runtime_error);
  ::chmod(path.c_str(), 0600);
  const BearerToken t = load_token_file(path);
  EXPECT_EQ(t.token, "s3cret-token");
  EXPECT_EQ(t.owner_uid, ::geteuid());
  std::ofstream(path) << "\n";
  EXPECT_THROW(load_token_file(path), std::runtime_error);
  EXPECT_THROW(load_token_file((dir / "missing").string()), std::runtime_error);
  try {
    std::ofstream(path) << "hunter2-secret";
    ::chmod(path.c_str(), 0666);
    load_token_file(path);
  } catch (const std::exception& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << "the message must not leak the token";
  }
}

TEST(DaemonListen, LoopbackOnly) {
  std::string why;
  auto a = parse_loopback_address("127.0.0.1:8080", why);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port, 8080);
  EXPECT_FALSE(a->ipv6);
  a = parse_loopback_address("[::1]:0", why);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->ipv6);
  EXPECT_TRUE(parse_loopback_address("127.1.2.3:1", why));
  for (const char* bad : {"0.0.0.0:80", "192.168.1.1:80", "[::]:80", "localhost:80", "127.0.0.1", "127.0.0.1:99999",
                          "127.0.0.1:x", "[::1]80"})
    EXPECT_FALSE(parse_loopback_address(bad, why)) << bad;
}

TEST(DaemonMetrics, PrometheusText) {
  Metrics m;
  m.record_request("/v1/completions", 200, 0.003);
  m.record_request("/v1/completions", 200, 0.2);
  m.record_request("/v1/completions", 400, 0.001);
  m.add_generated_tokens(42);
  Metrics::Gauges g;
  g.sessions = 3;
  g.models.push_back({"tiny", true, false, 1, 2, 100});
  const std::string text = m.render(g);
  EXPECT_NE(text.find("strata_requests_total{route=\"/v1/completions\",status=\"200\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("strata_requests_total{route=\"/v1/completions\",status=\"400\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("strata_tokens_generated_total 42\n"), std::string::npos);
  EXPECT_NE(text.find("strata_request_duration_seconds_bucket{route=\"/v1/completions\",le=\"0.005\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("strata_request_duration_seconds_bucket{route=\"/v1/completions\",le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("strata_request_duration_seconds_count{route=\"/v1/completions\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("strata_sessions 3\n"), std::string::npos);
  EXPECT_NE(text.find("strata_model_loaded{model=\"tiny\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE strata_request_duration_seconds histogram\n"), std::string::npos);
}

TEST(DaemonSessions, OwnersAreIsolated) {
  SessionStore store(2);
  Session* a = store.create(1000, "tiny");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id.size(), 32u);
  EXPECT_TRUE(is_session_id(a->id));
  EXPECT_EQ(store.find(a->id, 1000), a);
  EXPECT_EQ(store.find(a->id, 1001), nullptr);
  Session* b = store.create(1001, "tiny");
  ASSERT_TRUE(b);
  EXPECT_NE(a->id, b->id);
  EXPECT_EQ(store.create(1000, "tiny"), nullptr) << "the limit is 2";
  EXPECT_EQ(store.list(1000).size(), 1u);
  EXPECT_EQ(store.list(1001).size(), 1u);
  a->history = {1, 2, 3};
  a->kv_bytes = 10;
  store.drop_kv("tiny");
  EXPECT_EQ(a->history.size(), 3u) << "the history survives an unload";
  EXPECT_EQ(a->kv_bytes, 0u) << "its KV went with the model";
  const std::string id = a->id;
  store.erase(id);
  EXPECT_EQ(store.find(id, 1000), nullptr);
  EXPECT_EQ(store.size(), 1u);
}

}  // namespace
}  // namespace strata::daemon
