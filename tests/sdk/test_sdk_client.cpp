// libstrata's C API and C++ wrapper against a fake server that replays protocol responses.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "strata/strata.h"
#include "strata/strata.hpp"
#include "tests/sdk/fake_server.h"
#include "tests/support/test_paths.h"

extern "C" int strata_client_header_c_check(void);  // header_is_c.c

namespace strata::test {
namespace {

namespace json = boost::json;

struct ClientDeleter {
  void operator()(strata_client* c) const { strata_client_destroy(c); }
};
using ClientPtr = std::unique_ptr<strata_client, ClientDeleter>;

ClientPtr make_client(const std::string& socket, int io_timeout_ms = 0, const char* token = nullptr) {
  strata_client_options o;
  strata_client_options_init(&o);
  o.socket_path = socket.c_str();
  o.io_timeout_ms = io_timeout_ms;
  o.bearer_token = token;
  strata_client* c = nullptr;
  EXPECT_EQ(strata_client_create(&o, &c), STRATA_OK);
  return ClientPtr(c);
}

class SdkClient : public ::testing::Test {
 protected:
  std::string socket = (temp_dir("sdk-client") / "d.sock").string();
  FakeServer server{socket, /*tcp=*/true};
  std::shared_ptr<CannedDaemon> daemon = std::make_shared<CannedDaemon>();
  void SetUp() override { install_canned_daemon(server, daemon); }
};

struct Tokens {
  std::vector<int32_t> ids;
  std::string text;
  int cancel_after = -1;  // return non-zero after this many tokens
  static int on_token(void* user, int32_t id, const char* text, size_t len) {
    auto* t = static_cast<Tokens*>(user);
    EXPECT_EQ(text[len], '\0');
    t->ids.push_back(id);
    t->text.append(text, len);
    return t->cancel_after >= 0 && static_cast<int>(t->ids.size()) >= t->cancel_after;
  }
};

TEST(SdkBasics, VersionAndResultStrings) {
  EXPECT_STREQ(strata_version(), "0.1.0");
  EXPECT_EQ(strata_version_number(), static_cast<uint32_t>(STRATA_VERSION_NUMBER));
  EXPECT_EQ(client::version(), strata_version());
  for (int r = STRATA_OK; r <= STRATA_ERR_CANCELLED; ++r)
    EXPECT_STRNE(strata_result_string(r), "unknown result code") << r;
  EXPECT_STREQ(strata_result_string(999), "unknown result code");
}

TEST(SdkBasics, UsableFromC) { EXPECT_EQ(strata_client_header_c_check(), 0); }

TEST(SdkBasics, NullIsANoOpEverywhere) {
  strata_client_destroy(nullptr);
  strata_free_response(nullptr);
  strata_free_session(nullptr);
  strata_free_session_list(nullptr);
  strata_free_status(nullptr);
  strata_free_model_list(nullptr);
  strata_free_string(nullptr);
  strata_client_options_init(nullptr);
  strata_generate_params_init(nullptr);
  strata_chat_params_init(nullptr);
  EXPECT_STREQ(strata_last_error(nullptr), "");
  EXPECT_EQ(strata_last_http_status(nullptr), 0);
  EXPECT_STREQ(strata_client_endpoint(nullptr), "");
  EXPECT_EQ(strata_client_connect(nullptr), STRATA_ERR_INVALID_ARGUMENT);
  strata_generate_params p;
  strata_generate_params_init(&p);
  p.prompt = "x";
  strata_response* out = reinterpret_cast<strata_response*>(&p);
  EXPECT_EQ(strata_generate(nullptr, &p, nullptr, nullptr, &out), STRATA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(out, nullptr);
}

TEST(SdkBasics, CreateChecksItsArguments) {
  EXPECT_EQ(strata_client_create(nullptr, nullptr), STRATA_ERR_INVALID_ARGUMENT);
  strata_client_options o;
  strata_client_options_init(&o);
  o.struct_size = 4;
  strata_client* c = reinterpret_cast<strata_client*>(&o);
  EXPECT_EQ(strata_client_create(&o, &c), STRATA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(c, nullptr);
  EXPECT_EQ(strata_client_create(nullptr, &c), STRATA_OK);  // all defaults
  strata_client_destroy(c);
}

TEST(SdkBasics, NoDaemonIsAConnectError) {
  const std::string missing = (temp_dir("sdk-nodaemon") / "none.sock").string();
  ClientPtr c = make_client(missing);
  EXPECT_EQ(strata_client_connect(c.get()), STRATA_ERR_CONNECT);
  EXPECT_NE(std::string(strata_last_error(c.get())).find(missing), std::string::npos) << strata_last_error(c.get());
  strata_model_list* models = nullptr;
  EXPECT_EQ(strata_models_list(c.get(), &models), STRATA_ERR_CONNECT);
  EXPECT_EQ(models, nullptr);
  EXPECT_EQ(strata_last_http_status(c.get()), 0);
  EXPECT_EQ(std::string(strata_client_endpoint(c.get())), "unix:" + missing);
  EXPECT_NE(std::string(strata_last_error(c.get())).find(missing), std::string::npos);  // still there
}

TEST(SdkBasics, DefaultSocketPathFollowsTheEnvironment) {
  const auto dir = temp_dir("sdk-env");
  auto default_path = [] {
    char* p = nullptr;
    EXPECT_EQ(strata_default_socket_path(&p), STRATA_OK);
    std::string s = p;
    strata_free_string(p);
    return s;
  };
  const char* old_socket = std::getenv("STRATA_SOCKET");
  const char* old_xdg = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved_socket = old_socket ? old_socket : "", saved_xdg = old_xdg ? old_xdg : "";
  setenv("STRATA_SOCKET", "/somewhere/s.sock", 1);
  EXPECT_EQ(default_path(), "/somewhere/s.sock");
  unsetenv("STRATA_SOCKET");
  setenv("XDG_RUNTIME_DIR", dir.c_str(), 1);
  const bool system_socket = std::filesystem::exists("/run/strata/stratad.sock");
  // No socket in the user's runtime dir: the system one when it exists, else the user's path.
  EXPECT_EQ(default_path(), system_socket ? "/run/strata/stratad.sock" : (dir / "strata/stratad.sock").string());
  {
    std::filesystem::create_directories(dir / "strata");
    FakeServer user_daemon((dir / "strata/stratad.sock").string());
    EXPECT_EQ(default_path(), (dir / "strata/stratad.sock").string());
  }
  unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(default_path(), "/run/strata/stratad.sock");
  if (old_socket) setenv("STRATA_SOCKET", saved_socket.c_str(), 1);
  if (old_xdg) setenv("XDG_RUNTIME_DIR", saved_xdg.c_str(), 1);
}

TEST_F(SdkClient, GenerateWithoutStreaming) {
  ClientPtr c = make_client(socket);
  strata_generate_params p;
  strata_generate_params_init(&p);
  p.model = "tiny";
  p.prompt = "Once upon";
  p.max_tokens = 3;
  p.temperature = 0;
  p.has_seed = 1;
  p.seed = 42;
  const char* stop[] = {"\n", "END"};
  p.stop = stop;
  p.n_stop = 2;
  strata_response* r = nullptr;
  ASSERT_EQ(strata_generate(c.get(), &p, nullptr, nullptr, &r), STRATA_OK) << strata_last_error(c.get());
  EXPECT_EQ(r->struct_size, sizeof(strata_response));
  EXPECT_STREQ(r->text, "Hello world!");
  EXPECT_STREQ(r->model, "tiny");
  EXPECT_STREQ(r->finish_reason, "length");
  EXPECT_EQ(std::string(r->session).size(), 32u);
  EXPECT_STREQ(r->id, "");
  ASSERT_EQ(r->n_tokens, 3u);
  EXPECT_EQ(r->tokens[0], 100);
  EXPECT_EQ(r->tokens[2], 102);
  EXPECT_EQ(r->prompt_tokens, 9);
  EXPECT_EQ(r->completion_tokens, 3);
  EXPECT_EQ(json::parse(r->json).at("text"), "Hello world!");
  strata_free_response(r);

  const HttpRequest req = server.last_request();
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/strata/v1/generate");
  EXPECT_EQ(req.header("content-type"), "application/json");
  const json::object body = json::parse(req.body).as_object();
  EXPECT_EQ(body.at("model"), "tiny");
  EXPECT_EQ(body.at("prompt"), "Once upon");
  EXPECT_EQ(body.at("max_tokens"), 3);
  EXPECT_EQ(body.at("temperature").to_number<double>(), 0.0);
  EXPECT_EQ(body.at("seed").to_number<uint64_t>(), 42u);
  EXPECT_EQ(body.at("stop"), (json::array{"\n", "END"}));
  EXPECT_EQ(body.at("stream"), false);
  // Defaults are not sent: the daemon's apply.
  EXPECT_FALSE(body.contains("top_p"));
  EXPECT_FALSE(body.contains("top_k"));
  EXPECT_FALSE(body.contains("session"));
}

TEST_F(SdkClient, GenerateStreamsTokensAndContinuesTheSession) {
  ClientPtr c = make_client(socket);
  strata_generate_params p;
  strata_generate_params_init(&p);
  p.model = "tiny";
  p.prompt = "Once upon";
  Tokens t;
  strata_response* r = nullptr;
  ASSERT_EQ(strata_generate(c.get(), &p, Tokens::on_token, &t, &r), STRATA_OK) << strata_last_error(c.get());
  EXPECT_EQ(t.ids, (std::vector<int32_t>{100, 101, 102}));
  EXPECT_EQ(t.text, "Hello world!");
  EXPECT_STREQ(r->text, "Hello world!");
  const std::string session = r->session;
  strata_free_response(r);
  EXPECT_EQ(json::parse(server.last_request().body).at("stream"), true);
  EXPECT_NE(server.last_request().header("accept").find("text/event-stream"), std::string::npos);

  p.session = session.c_str();
  p.prompt = " a time";
  ASSERT_EQ(strata_generate(c.get(), &p, Tokens::on_token, &t, nullptr), STRATA_OK) << strata_last_error(c.get());
  EXPECT_EQ(json::parse(server.last_request().body).at("session").as_string(), session);
  std::lock_guard lock(daemon->mu);
  ASSERT_EQ(daemon->sessions.size(), 1u);
  EXPECT_EQ(daemon->sessions[0].text, "Once uponHello world! a timeHello world!");
}

TEST_F(SdkClient, CancellingClosesTheConnection) {
  std::atomic<bool> saw_close{false};
  server.route("POST", "/strata/v1/generate", [&](const HttpRequest&, FakeConnection& c) {
    c.write(sse_head());
    c.write(chunk(sse_data(R"({"token":1,"text":"a"})")));
    c.write(chunk(sse_data(R"({"token":2,"text":"b"})")));
    saw_close = c.wait_peer_closed(10000);  // the rest would never be sent to a cancelled client
    c.close();
  });
  ClientPtr cl = make_client(socket);
  strata_generate_params p;
  strata_generate_params_init(&p);
  p.model = "tiny";
  p.prompt = "x";
  Tokens t;
  t.cancel_after = 2;
  strata_response* r = nullptr;
  EXPECT_EQ(strata_generate(cl.get(), &p, Tokens::on_token, &t, &r), STRATA_ERR_CANCELLED);
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(t.text, "ab");
  for (int i = 0; i < 500 && !saw_close; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(saw_close);
  // The client reconnects for its next request.
  strata_model_list* models = nullptr;
  ASSERT_EQ(strata_models_list(cl.get(), &models), STRATA_OK) << strata_last_error(cl.get());
  strata_free_model_list(models);
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(SdkClient, HttpErrorsMapToResultCodesWithTheDaemonsMessage) {
  struct Case {
    int status;
    const char* type;
    strata_result want;
  };
  for (const Case& k : {Case{400, "invalid_request_error", STRATA_ERR_INVALID_REQUEST},
                        Case{401, "unauthorized", STRATA_ERR_UNAUTHORIZED},
                        Case{404, "not_found", STRATA_ERR_NOT_FOUND},
                        Case{413, "invalid_request_error", STRATA_ERR_INVALID_REQUEST},
                        Case{429, "rate_limited", STRATA_ERR_RATE_LIMITED},
                        Case{500, "server_error", STRATA_ERR_SERVER}}) {
    const std::string message = "cause " + std::to_string(k.status);
    server.route("GET", "/strata/v1/status", [&](const HttpRequest&, FakeConnection& c) {
      c.write(error_response(k.status, k.type, message));
    });
    ClientPtr c = make_client(socket);
    strata_status* st = nullptr;
    EXPECT_EQ(strata_status_get(c.get(), &st), k.want) << k.status;
    EXPECT_EQ(st, nullptr);
    EXPECT_EQ(strata_last_error(c.get()), message);
    EXPECT_EQ(strata_last_http_status(c.get()), k.status);
    // A success clears the error.
    strata_model_list* models = nullptr;
    ASSERT_EQ(strata_models_list(c.get(), &models), STRATA_OK);
    strata_free_model_list(models);
    EXPECT_STREQ(strata_last_error(c.get()), "");
    EXPECT_EQ(strata_last_http_status(c.get()), 0);
  }
  // An error body not in the protocol's shape: the status line and the start of the body.
  server.route("GET", "/strata/v1/status", [](const HttpRequest&, FakeConnection& c) {
    c.write(http_response(502, "upstream\nbroke", "text/plain"));
  });
  ClientPtr c = make_client(socket);
  strata_status* st = nullptr;
  EXPECT_EQ(strata_status_get(c.get(), &st), STRATA_ERR_SERVER);
  EXPECT_STREQ(strata_last_error(c.get()), "HTTP 502 Bad Gateway: upstream broke");
}

TEST_F(SdkClient, UnknownModelNamesTheKnownOnes) {
  ClientPtr c = make_client(socket);
  strata_generate_params p;
  strata_generate_params_init(&p);
  p.model = "nope";
  p.prompt = "x";
  EXPECT_EQ(strata_generate(c.get(), &p, nullptr, nullptr, nullptr), STRATA_ERR_NOT_FOUND);
  EXPECT_NE(std::string(strata_last_error(c.get())).find("known models: tiny, small"), std::string::npos);
}

TEST_F(SdkClient, MalformedAnswersAreProtocolErrors) {
  auto status_code = [&](std::string raw, bool close_after) {
    server.route("GET", "/strata/v1/status", [raw, close_after](const HttpRequest&, FakeConnection& c) {
      c.write(raw);
      if (close_after) c.close();
    });
    ClientPtr c = make_client(socket, 5000);
    strata_status* st = nullptr;
    const strata_result r = strata_status_get(c.get(), &st);
    strata_free_status(st);
    return r;
  };
  EXPECT_EQ(status_code("hello there\r\n\r\n", true), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(status_code(http_response(200, "not json"), false), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(status_code(http_response(200, "[1,2]"), false), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(status_code(http_response(200, R"({"version":7})"), false), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(status_code(http_response(200, R"({"models":[{"loaded":"yes"}]})"), false), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(status_code("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{", true), STRATA_ERR_IO);
  EXPECT_EQ(status_code("", true), STRATA_ERR_IO);
  EXPECT_EQ(status_code("HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n", false), STRATA_ERR_PROTOCOL);

  auto generate_code = [&](std::string events) {
    server.route("POST", "/strata/v1/generate", [events](const HttpRequest&, FakeConnection& c) {
      c.write(sse_head());
      c.write(chunk(events));
      c.write(last_chunk());
    });
    ClientPtr c = make_client(socket, 5000);
    strata_generate_params p;
    strata_generate_params_init(&p);
    p.model = "tiny";
    p.prompt = "x";
    Tokens t;
    return strata_generate(c.get(), &p, Tokens::on_token, &t, nullptr);
  };
  EXPECT_EQ(generate_code(sse_data(R"({"token":1,"text":"a"})") + sse_data("[DONE]")), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(generate_code(sse_data("{broken")), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(generate_code(sse_data(R"({"token":1,"text":"a"})") + "data: {\"session\""), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(generate_code(sse_data(R"({"error":{"message":"queue full","type":"rate_limited"}})")),
            STRATA_ERR_RATE_LIMITED);
  EXPECT_EQ(generate_code(sse_data(R"({"session":"s","text":"a","tokens":["x"]})")), STRATA_ERR_PROTOCOL);
}

TEST_F(SdkClient, KeepAliveReusesOneConnectionAndSurvivesAClosedOne) {
  ClientPtr c = make_client(socket);
  for (int i = 0; i < 3; ++i) {
    strata_model_list* m = nullptr;
    ASSERT_EQ(strata_models_list(c.get(), &m), STRATA_OK) << strata_last_error(c.get());
    strata_free_model_list(m);
  }
  EXPECT_EQ(server.connections(), 1);
  // The daemon closes a connection after its response: the next request notices and connects anew.
  server.route("GET", "/v1/models", [](const HttpRequest&, FakeConnection& c) {
    c.write(http_response(200, R"({"data":[{"id":"tiny"}]})"));
    c.close();
  });
  for (int i = 0; i < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    strata_model_list* m = nullptr;
    ASSERT_EQ(strata_models_list(c.get(), &m), STRATA_OK) << strata_last_error(c.get());
    EXPECT_EQ(m->count, 1u);
    strata_free_model_list(m);
  }
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(SdkClient, AKeptAliveConnectionClosedUnderARequestIsRetriedOnce) {
  // The daemon dropped the idle connection just as the request went out: it closes without a
  // byte of answer. The request was not served, so it is sent again on a fresh connection.
  std::atomic<int> calls{0};
  server.route("GET", "/v1/models", [&](const HttpRequest&, FakeConnection& c) {
    if (calls++ == 1) return c.close();
    c.write(http_response(200, R"({"data":[{"id":"tiny"}]})"));
  });
  ClientPtr c = make_client(socket);
  for (int i = 0; i < 2; ++i) {
    strata_model_list* m = nullptr;
    ASSERT_EQ(strata_models_list(c.get(), &m), STRATA_OK) << strata_last_error(c.get());
    strata_free_model_list(m);
  }
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(server.connections(), 2);
  // A fresh connection closed without an answer is not retried.
  server.route("GET", "/v1/models", [](const HttpRequest&, FakeConnection& c) { c.close(); });
  ClientPtr fresh = make_client(socket);
  strata_model_list* m = nullptr;
  EXPECT_EQ(strata_models_list(fresh.get(), &m), STRATA_ERR_IO);
  EXPECT_NE(std::string(strata_last_error(fresh.get())).find("without answering"), std::string::npos);
}

TEST_F(SdkClient, SilenceIsATimeout) {
  server.route("GET", "/strata/v1/status", [](const HttpRequest&, FakeConnection& c) { c.wait_peer_closed(10000); });
  ClientPtr c = make_client(socket, 200);
  strata_status* st = nullptr;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(strata_status_get(c.get(), &st), STRATA_ERR_TIMEOUT);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(SdkClient, Sessions) {
  ClientPtr c = make_client(socket);
  strata_generate_params p;
  strata_generate_params_init(&p);
  p.model = "tiny";
  p.prompt = "one";
  ASSERT_EQ(strata_generate(c.get(), &p, nullptr, nullptr, nullptr), STRATA_OK);
  p.prompt = "two";
  strata_response* r = nullptr;
  ASSERT_EQ(strata_generate(c.get(), &p, nullptr, nullptr, &r), STRATA_OK);
  const std::string second = r->session;
  strata_free_response(r);

  strata_session_list* list = nullptr;
  ASSERT_EQ(strata_sessions_list(c.get(), &list), STRATA_OK) << strata_last_error(c.get());
  ASSERT_EQ(list->count, 2u);
  EXPECT_EQ(list->items[1]->id, second);
  EXPECT_STREQ(list->items[1]->model, "tiny");
  EXPECT_EQ(list->items[1]->tokens, 6);
  EXPECT_EQ(list->items[1]->kv_bytes, 6 * 1024);
  EXPECT_EQ(list->items[1]->created, 1700000000);
  EXPECT_EQ(list->items[1]->last_used, 1700000100);
  EXPECT_STREQ(list->items[1]->text, "");
  EXPECT_EQ(json::parse(list->json).at("sessions").as_array().size(), 2u);
  strata_free_session_list(list);

  strata_session_info* s = nullptr;
  ASSERT_EQ(strata_session_get(c.get(), second.c_str(), &s), STRATA_OK);
  EXPECT_STREQ(s->text, "twoHello world!");
  strata_free_session(s);
  ASSERT_EQ(strata_session_delete(c.get(), second.c_str()), STRATA_OK);
  EXPECT_EQ(server.last_request().method, "DELETE");
  EXPECT_EQ(server.last_request().target, "/strata/v1/sessions/" + second);
  EXPECT_EQ(strata_session_delete(c.get(), second.c_str()), STRATA_ERR_NOT_FOUND);
  EXPECT_EQ(strata_session_get(c.get(), second.c_str(), &s), STRATA_ERR_NOT_FOUND);
  EXPECT_EQ(s, nullptr);
  // An id cannot reach another route.
  EXPECT_EQ(strata_session_get(c.get(), "../status", &s), STRATA_ERR_NOT_FOUND);
  EXPECT_EQ(server.last_request().target, "/strata/v1/sessions/..%2Fstatus");
  EXPECT_EQ(strata_session_get(c.get(), "", &s), STRATA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(strata_session_get(c.get(), nullptr, &s), STRATA_ERR_INVALID_ARGUMENT);
}

TEST_F(SdkClient, StatusAndModels) {
  ClientPtr c = make_client(socket);
  strata_status* st = nullptr;
  ASSERT_EQ(strata_status_get(c.get(), &st), STRATA_OK) << strata_last_error(c.get());
  EXPECT_STREQ(st->version, "0.1.0");
  EXPECT_DOUBLE_EQ(st->uptime_s, 3723.5);
  ASSERT_EQ(st->n_models, 2u);
  EXPECT_STREQ(st->models[0]->name, "tiny");
  EXPECT_STREQ(st->models[0]->path, "/models/tiny.gguf");
  EXPECT_EQ(st->models[0]->loaded, 1);
  EXPECT_EQ(st->models[0]->weights_bytes, 12582912);
  EXPECT_EQ(st->models[0]->scratch_bytes, 4096);
  EXPECT_EQ(st->models[1]->loaded, 0);
  EXPECT_EQ(st->models[1]->queued, 1);
  EXPECT_EQ(st->n_sessions, 0u);
  strata_free_status(st);

  strata_model_list* m = nullptr;
  ASSERT_EQ(strata_models_list(c.get(), &m), STRATA_OK);
  ASSERT_EQ(m->count, 2u);
  EXPECT_STREQ(m->names[0], "tiny");
  EXPECT_STREQ(m->names[1], "small");
  strata_free_model_list(m);
}

TEST_F(SdkClient, ChatStreamedAndNot) {
  ClientPtr c = make_client(socket);
  strata_message messages[] = {{"system", "Be brief."}, {"user", "Hi"}};
  strata_chat_params p;
  strata_chat_params_init(&p);
  p.model = "tiny";
  p.messages = messages;
  p.n_messages = 2;
  p.max_tokens = 8;
  Tokens t;
  strata_response* r = nullptr;
  ASSERT_EQ(strata_chat(c.get(), &p, Tokens::on_token, &t, &r), STRATA_OK) << strata_last_error(c.get());
  EXPECT_EQ(t.text, "Hi there");
  EXPECT_EQ(t.ids, (std::vector<int32_t>{-1, -1}));
  EXPECT_STREQ(r->text, "Hi there");
  EXPECT_STREQ(r->id, "chatcmpl-1");
  EXPECT_STREQ(r->finish_reason, "stop");
  EXPECT_STREQ(r->session, "");
  EXPECT_EQ(r->completion_tokens, 2);
  const json::value doc = json::parse(r->json);
  EXPECT_EQ(doc.at("object"), "chat.completion");
  EXPECT_EQ(doc.at("choices").at(0).at("message").at("content"), "Hi there");
  strata_free_response(r);
  const json::object body = json::parse(server.last_request().body).as_object();
  EXPECT_EQ(server.last_request().target, "/v1/chat/completions");
  EXPECT_EQ(body.at("messages").at(0).at("role"), "system");
  EXPECT_EQ(body.at("messages").at(1).at("content"), "Hi");
  EXPECT_EQ(body.at("max_tokens"), 8);

  ASSERT_EQ(strata_chat(c.get(), &p, nullptr, nullptr, &r), STRATA_OK);
  EXPECT_STREQ(r->text, "Hi there");
  EXPECT_EQ(r->prompt_tokens, 5);
  strata_free_response(r);

  strata_message bad[] = {{"user", nullptr}};
  p.messages = bad;
  p.n_messages = 1;
  EXPECT_EQ(strata_chat(c.get(), &p, nullptr, nullptr, &r), STRATA_ERR_INVALID_ARGUMENT);
}

TEST_F(SdkClient, ParamsMustBeInitialized) {
  ClientPtr c = make_client(socket);
  strata_generate_params p{};
  p.prompt = "x";
  EXPECT_EQ(strata_generate(c.get(), &p, nullptr, nullptr, nullptr), STRATA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(strata_last_error(c.get())).find("strata_generate_params_init"), std::string::npos);
  strata_generate_params_init(&p);
  EXPECT_EQ(strata_generate(c.get(), &p, nullptr, nullptr, nullptr), STRATA_ERR_INVALID_ARGUMENT);  // no prompt
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST_F(SdkClient, TcpWithABearerToken) {
  server.route("GET", "/v1/models", [](const HttpRequest& req, FakeConnection& c) {
    if (req.header("authorization") != "Bearer s3cret")
      return (void)c.write(error_response(401, "unauthorized", "a bearer token is required"));
    c.write(http_response(200, R"({"data":[{"id":"tiny"}]})"));
  });
  const std::string address = "127.0.0.1:" + std::to_string(server.tcp_port());
  for (const char* token : {"s3cret", "wrong"}) {
    strata_client_options o;
    strata_client_options_init(&o);
    o.tcp_address = address.c_str();
    o.bearer_token = token;
    strata_client* c = nullptr;
    ASSERT_EQ(strata_client_create(&o, &c), STRATA_OK);
    EXPECT_EQ(std::string(strata_client_endpoint(c)), "tcp:" + address);
    strata_model_list* m = nullptr;
    EXPECT_EQ(strata_models_list(c, &m), std::string(token) == "s3cret" ? STRATA_OK : STRATA_ERR_UNAUTHORIZED);
    strata_free_model_list(m);
    strata_client_destroy(c);
  }
  EXPECT_EQ(server.last_request().header("host"), address);

  strata_client_options o;
  strata_client_options_init(&o);
  o.tcp_address = "127.0.0.1";
  strata_client* c = nullptr;
  ASSERT_EQ(strata_client_create(&o, &c), STRATA_OK);
  EXPECT_EQ(strata_client_connect(c), STRATA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(strata_last_error(c)).find("HOST:PORT"), std::string::npos);
  strata_client_destroy(c);

  ClientPtr injected = make_client(socket, 0, "tok\r\nX-Evil: 1");
  strata_model_list* m = nullptr;
  EXPECT_EQ(strata_models_list(injected.get(), &m), STRATA_ERR_INVALID_ARGUMENT);
}

TEST_F(SdkClient, CppWrapper) {
  client::Options opts;
  opts.socket_path = socket;
  client::Client c(opts);
  c.connect();
  EXPECT_EQ(c.endpoint(), "unix:" + socket);

  client::GenerateRequest req;
  req.model = "tiny";
  req.prompt = "Hi";
  req.max_tokens = 3;
  std::string streamed;
  client::Response r = c.generate(req, [&](int32_t, std::string_view text) {
    streamed += text;
    return true;
  });
  EXPECT_EQ(streamed, "Hello world!");
  EXPECT_EQ(r.text, "Hello world!");
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{100, 101, 102}));
  EXPECT_EQ(r.session.size(), 32u);

  // Returning false cancels; an exception thrown by the handler comes out of the call.
  try {
    c.generate(req, [](int32_t, std::string_view) { return false; });
    FAIL() << "no exception";
  } catch (const client::Error& e) {
    EXPECT_EQ(e.code(), STRATA_ERR_CANCELLED);
  }
  EXPECT_THROW(c.generate(req, [](int32_t, std::string_view) -> bool { throw std::logic_error("mine"); }),
               std::logic_error);

  EXPECT_EQ(c.sessions().sessions.size(), 3u);
  client::Session s = c.session(r.session);
  EXPECT_EQ(s.text, "HiHello world!");
  c.delete_session(r.session);
  try {
    c.session(r.session);
    FAIL() << "no exception";
  } catch (const client::Error& e) {
    EXPECT_EQ(e.code(), STRATA_ERR_NOT_FOUND);
    EXPECT_EQ(e.http_status(), 404);
    EXPECT_STREQ(e.what(), "unknown session");
  }
  client::Status st = c.status();
  ASSERT_EQ(st.models.size(), 2u);
  EXPECT_TRUE(st.models[0].loaded);
  EXPECT_EQ(c.models().names, (std::vector<std::string>{"tiny", "small"}));

  client::ChatRequest chat;
  chat.model = "tiny";
  chat.messages = {{"user", "Hi"}};
  EXPECT_EQ(c.chat(chat).text, "Hi there");

  client::Client moved = std::move(c);
  EXPECT_EQ(moved.models().names.size(), 2u);
  EXPECT_THROW(c.models(), client::Error);  // NOLINT(bugprone-use-after-move): a moved-from client reports, not crashes
}

}  // namespace
}  // namespace strata::test
