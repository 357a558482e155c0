// A table of malformed requests: each gets a 4xx with a JSON error body, and the daemon keeps
// serving after every one.
#include <gtest/gtest.h>

#include "tests/daemon/daemon_test_util.h"

namespace strata::test {
namespace {

struct Malformed {
  const char* name;
  std::string method, target, body;
  int status;
  const char* code;  // expected error.code, or nullptr
};

TEST(DaemonMalformed, EveryRequestGets4xxWithJsonAndTheDaemonKeepsServing) {
  DaemonProcess d(two_models("[limits]\nmax_body_bytes = 65536\nmax_tokens = 512\n"));
  const std::string big_prompt(70000, 'a');
  std::string nested;
  for (int i = 0; i < 100; ++i) nested += "{\"a\":";
  std::string huge_tokens = "[";
  for (int i = 0; i < 5000; ++i) huge_tokens += (i ? ",1" : "1");
  huge_tokens += "]";
  const std::vector<Malformed> cases = {
      {"bad json", "POST", "/v1/completions", R"({"model":"tiny","prompt":)", 400, "invalid_json"},
      {"not an object", "POST", "/v1/completions", "[1,2,3]", 400, "invalid_json"},
      {"empty body", "POST", "/v1/completions", "", 400, "empty_body"},
      {"model wrong type", "POST", "/v1/completions", R"({"model":7,"prompt":"x"})", 400, "invalid_type"},
      {"missing model", "POST", "/v1/completions", R"({"prompt":"x"})", 400, "missing_field"},
      {"missing prompt", "POST", "/v1/completions", R"({"model":"tiny"})", 400, "missing_field"},
      {"negative max_tokens", "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":-5})", 400,
       "invalid_value"},
      {"huge max_tokens", "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":99999999999999})",
       400, "invalid_value"},
      {"max_tokens too big for the limit", "POST", "/v1/completions",
       R"({"model":"tiny","prompt":"x","max_tokens":513})", 400, "invalid_value"},
      {"temperature NaN string", "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","temperature":"NaN"})", 400,
       "invalid_type"},
      {"temperature infinite", "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","temperature":1e999})", 400,
       nullptr},
      {"negative temperature", "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","temperature":-1})", 400,
       "invalid_value"},
      {"top_p zero", "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","top_p":0})", 400, "invalid_value"},
      {"bad stop array", "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","stop":["a",2]})", 400,
       "invalid_type"},
      {"too many stops", "POST", "/v1/completions",
       R"({"model":"tiny","prompt":"x","stop":["1","2","3","4","5","6","7","8","9","10","11","12","13","14",)"
       R"("15","16","17"]})",
       400, "invalid_value"},
      {"invalid utf-8", "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"\xc3\x28\"}", 400, "invalid_json"},
      {"stream not a bool", "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","stream":1})", 400,
       "invalid_type"},
      {"seed a string", "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","seed":"7"})", 400, "invalid_type"},
      {"n > 1", "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","n":3})", 400, "invalid_value"},
      {"token outside the vocabulary", "POST", "/v1/completions", R"({"model":"tiny","prompt":[1,999999]})", 400,
       "invalid_token"},
      {"prompt longer than the context", "POST", "/v1/completions", R"({"model":"tiny","prompt":)" + huge_tokens + "}",
       400, "context_length_exceeded"},
      {"too deeply nested", "POST", "/v1/completions", nested, 400, "invalid_json"},
      {"oversized body", "POST", "/v1/completions", R"({"model":"tiny","prompt":")" + big_prompt + R"("})", 413,
       "body_too_large"},
      {"unknown model", "POST", "/v1/completions", R"({"model":"ghost","prompt":"x"})", 404, "model_not_found"},
      {"messages not an array", "POST", "/v1/chat/completions", R"({"model":"tinychat","messages":"hi"})", 400,
       "invalid_type"},
      {"empty messages", "POST", "/v1/chat/completions", R"({"model":"tinychat","messages":[]})", 400, "invalid_value"},
      {"bad role", "POST", "/v1/chat/completions", R"({"model":"tinychat","messages":[{"role":"x","content":"y"}]})",
       400, "invalid_value"},
      {"chat turns out of order", "POST", "/v1/chat/completions",
       R"({"model":"tinychat","messages":[{"role":"assistant","content":"y"}]})", 400, "invalid_messages"},
      {"unknown session", "POST", "/strata/v1/generate",
       R"({"model":"tiny","prompt":"x","session":"0123456789abcdef0123456789abcdef"})", 404, "session_not_found"},
      {"malformed session id", "POST", "/strata/v1/generate", R"({"model":"tiny","prompt":"x","session":"../etc"})",
       404, "session_not_found"},
      {"native unknown field", "POST", "/strata/v1/generate", R"({"model":"tiny","prompt":"x","promt":"y"})", 400,
       "unknown_field"},
      {"unknown session GET", "GET", "/strata/v1/sessions/ffffffffffffffffffffffffffffffff", "", 404,
       "session_not_found"},
      {"unknown session DELETE", "DELETE", "/strata/v1/sessions/nope", "", 404, "session_not_found"},
      {"unknown route", "GET", "/v1/engines", "", 404, "unknown_route"},
      {"wrong method", "GET", "/v1/completions", "", 405, "method_not_allowed"},
      {"wrong method on models", "POST", "/v1/models", "{}", 405, "method_not_allowed"},
  };
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    HttpResponse r = http_request(d.socket(), c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/json") << c.name;
    try {
      json::object e = parse_object(r.body);
      const auto& err = e.at("error").as_object();
      EXPECT_TRUE(err.at("message").is_string()) << c.name;
      EXPECT_FALSE(err.at("message").as_string().empty()) << c.name;
      EXPECT_TRUE(err.at("type").is_string()) << c.name;
      if (c.code) {
        EXPECT_EQ(err.at("code"), c.code) << c.name << ": " << r.body;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.name << ": not a JSON error body: " << r.body;
    }
    // The daemon keeps serving after each.
    ASSERT_EQ(http_request(d.socket(), "GET", "/v1/models").status, 200) << "after " << c.name;
  }
  // Broken HTTP itself.
  {
    HttpConnection c = HttpConnection::unix_socket(d.socket());
    c.send_raw("THIS IS NOT HTTP\r\n\r\n");
    HttpResponse r = c.read_response();
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(parse_object(r.body).contains("error"));
  }
  {
    HttpConnection c = HttpConnection::unix_socket(d.socket());
    c.send_raw("GET /v1/models HTTP/1.1\r\nX-Big: " + std::string(20000, 'x') + "\r\n\r\n");
    EXPECT_EQ(c.read_response().status, 431);
  }
  {
    // Declared larger than the limit: refused before the body is read.
    HttpConnection c = HttpConnection::unix_socket(d.socket());
    c.send_raw("POST /v1/completions HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n");
    EXPECT_EQ(c.read_response().status, 413);
  }
  EXPECT_EQ(http_request(d.socket(), "GET", "/v1/models").status, 200);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace strata::test
