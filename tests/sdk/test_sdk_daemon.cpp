// libstrata and the `strata` client subcommands against the real stratad (build/bin/stratad)
// serving the shared tiny model. Skipped only when stratad is not built.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "strata/strata.h"
#include "strata/strata.hpp"
#include "tests/support/daemon_process.h"
#include "tests/support/run_process.h"
#include "tests/support/test_paths.h"

namespace strata::test {
namespace {

namespace json = boost::json;

class SdkLiveDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(bin_path("stratad"))) GTEST_SKIP() << "stratad not built";
    unsetenv("STRATA_MODEL");
    unsetenv("STRATA_SOCKET");
    daemon_ = std::make_unique<DaemonProcess>(options());
  }
  virtual DaemonOptions options() { return {}; }

  ProcessResult strata(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), bin_path("strata").string());
    args.push_back("--socket");
    args.push_back(daemon_->socket().string());
    return run_process(args, input, 120);
  }
  // A C API client of the daemon; shm_threshold_bytes as in strata_client_options (0: default).
  std::unique_ptr<strata_client, void (*)(strata_client*)> c_client(int64_t shm_threshold_bytes = 0) {
    strata_client_options o;
    strata_client_options_init(&o);
    const std::string socket = daemon_->socket().string();
    o.socket_path = socket.c_str();
    o.shm_threshold_bytes = shm_threshold_bytes;
    strata_client* c = nullptr;
    EXPECT_EQ(strata_client_create(&o, &c), STRATA_OK);
    return {c, &strata_client_destroy};
  }
  json::object session_json(const std::string& id) {
    auto r = strata({"sessions", "show", id, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out).as_object();
  }

  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(SdkLiveDaemon, RunStreamsAndContinuesASession) {
  auto first = strata({"run", "-n", "6", "--temp", "0", "--json", "Hello, my name is"});
  ASSERT_EQ(first.exit_code, 0) << first.err << daemon_->log();
  const json::object doc = json::parse(first.out).as_object();
  EXPECT_EQ(doc.at("model"), "tiny");  // the daemon's only model, found through /v1/models
  EXPECT_EQ(doc.at("tokens").as_array().size(), 6u);
  const std::string id(doc.at("session").as_string());
  const int64_t tokens_before = session_json(id).at("tokens").to_number<int64_t>();

  auto streamed = strata({"run", "--session", id, "-n", "4", "--temp", "0", "and I like"});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_FALSE(streamed.out.empty());
  EXPECT_EQ(streamed.out.back(), '\n');
  EXPECT_GT(session_json(id).at("tokens").to_number<int64_t>(), tokens_before + 4);
  EXPECT_NE(std::string(session_json(id).at("text").as_string()).find("and I like"), std::string::npos);
}

TEST_F(SdkLiveDaemon, GreedyRunsRepeat) {
  auto a = strata({"run", "-n", "8", "--temp", "0", "The capital of France is"});
  auto b = strata({"run", "-n", "8", "--temp", "0", "The capital of France is"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST_F(SdkLiveDaemon, PipedInputFollowsTheArguments) {
  // printf 'x' | strata run "review this"
  auto r = strata({"run", "-n", "3", "--json", "review this"}, "x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id(json::parse(r.out).at("session").as_string());
  const std::string text(session_json(id).at("text").as_string());
  EXPECT_NE(text.find("review this\n\nx"), std::string::npos) << text;
}

TEST_F(SdkLiveDaemon, SessionsStatusModels) {
  auto r = strata({"run", "-n", "2", "--json", "hi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id(json::parse(r.out).at("session").as_string());

  auto ls = strata({"sessions", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find(id + "  tiny"), std::string::npos) << ls.out;
  auto st = strata({"status"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("tiny   loaded  f16"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find(", 1 session\n"), std::string::npos) << st.out;
  // The session table: its id, model, tokens and the one KV page of the tiny model (8 KiB in f16).
  EXPECT_NE(st.out.find("SESSION"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find(id + "  tiny"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("8.0 KiB"), std::string::npos) << st.out;
  auto models = strata({"models"});
  ASSERT_EQ(models.exit_code, 0) << models.err;
  EXPECT_NE(models.out.find("\ntiny   loaded"), std::string::npos) << models.out;

  auto rm = strata({"sessions", "rm", id});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out, "deleted " + id + "\n");
  EXPECT_EQ(strata({"sessions", "ls"}).out, "no sessions\n");
  auto again = strata({"sessions", "rm", id});
  EXPECT_EQ(again.exit_code, 1);
  auto cont = strata({"run", "--session", id, "more"});
  EXPECT_EQ(cont.exit_code, 1);
}

TEST_F(SdkLiveDaemon, ChatKeepsItsSession) {
  auto r = strata({"chat", "-n", "3"}, "hello\nhow are you\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ls = strata({"sessions", "ls", "--json"});
  const json::value doc = json::parse(ls.out);
  const auto& sessions = doc.at("sessions").as_array();
  ASSERT_EQ(sessions.size(), 1u);
  const std::string text(session_json(std::string(sessions[0].at("id").as_string())).at("text").as_string());
  EXPECT_NE(text.find("hello\n"), std::string::npos);
  EXPECT_NE(text.find("how are you\n"), std::string::npos);
}

TEST_F(SdkLiveDaemon, UnknownModelAndStoppedDaemon) {
  auto bad = strata({"run", "--model", "nope", "x"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("nope"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("tiny"), std::string::npos) << bad.err;
  ASSERT_EQ(daemon_->stop(), 0);
  auto down = strata({"status"});
  EXPECT_EQ(down.exit_code, 4) << down.err;
}

TEST_F(SdkLiveDaemon, CApiStreamsCancelsAndReportsErrors) {
  const auto owner = c_client();
  strata_client* c = owner.get();
  ASSERT_NE(c, nullptr);

  struct Seen {
    std::vector<int32_t> ids;
    std::string text;
    size_t cancel_after = 0;
  } seen;
  auto on_token = [](void* user, int32_t id, const char* text, size_t len) -> int {
    auto* s = static_cast<Seen*>(user);
    s->ids.push_back(id);
    s->text.append(text, len);
    return s->cancel_after && s->ids.size() >= s->cancel_after;
  };
  strata_generate_params p;
  strata_generate_params_init(&p);
  p.model = "tiny";
  p.prompt = "Once upon a time";
  p.max_tokens = 12;
  p.temperature = 0;
  strata_response* r = nullptr;
  ASSERT_EQ(strata_generate(c, &p, on_token, &seen, &r), STRATA_OK) << strata_last_error(c);
  ASSERT_EQ(r->n_tokens, 12u);
  EXPECT_EQ(seen.ids, std::vector<int32_t>(r->tokens, r->tokens + r->n_tokens));
  EXPECT_EQ(seen.text, r->text);
  EXPECT_EQ(r->completion_tokens, 12);
  const std::string session = r->session;
  strata_free_response(r);

  // Cancelled after 2 of up to 4000 tokens: the call returns at once and the daemon goes on.
  seen = Seen{};
  seen.cancel_after = 2;
  p.max_tokens = 4000;
  EXPECT_EQ(strata_generate(c, &p, on_token, &seen, &r), STRATA_ERR_CANCELLED);
  EXPECT_EQ(seen.ids.size(), 2u);
  strata_status* st = nullptr;
  ASSERT_EQ(strata_status_get(c, &st), STRATA_OK) << strata_last_error(c);
  ASSERT_EQ(st->n_models, 1u);
  EXPECT_STREQ(st->models[0]->name, "tiny");
  EXPECT_EQ(st->models[0]->loaded, 1);
  EXPECT_GT(st->models[0]->weights_bytes, 0);
  strata_free_status(st);

  strata_session_info* info = nullptr;
  ASSERT_EQ(strata_session_get(c, session.c_str(), &info), STRATA_OK);
  EXPECT_STREQ(info->model, "tiny");
  EXPECT_GT(info->tokens, 12);
  strata_free_session(info);
  ASSERT_EQ(strata_session_delete(c, session.c_str()), STRATA_OK);
  EXPECT_EQ(strata_session_get(c, session.c_str(), &info), STRATA_ERR_NOT_FOUND);
  EXPECT_EQ(strata_last_http_status(c), 404);

  p.model = "nope";
  p.max_tokens = 2;
  EXPECT_EQ(strata_generate(c, &p, nullptr, nullptr, nullptr), STRATA_ERR_NOT_FOUND);
  p.model = "tiny";
  p.temperature = 1e9;  // out of range
  EXPECT_EQ(strata_generate(c, &p, nullptr, nullptr, nullptr), STRATA_ERR_INVALID_REQUEST) << strata_last_error(c);
  EXPECT_EQ(strata_last_http_status(c), 400);
}

TEST_F(SdkLiveDaemon, CApiExportsAndImportsASession) {
  strata_client_options o;
  strata_client_options_init(&o);
  const std::string socket = daemon_->socket().string();
  o.socket_path = socket.c_str();
  strata_client* c = nullptr;
  ASSERT_EQ(strata_client_create(&o, &c), STRATA_OK);
  std::unique_ptr<strata_client, void (*)(strata_client*)> owner(c, &strata_client_destroy);
  client::Options co;
  co.socket_path = socket;
  client::Client cpp(co);
  const auto r = cpp.generate([] {
    client::GenerateRequest q;
    q.model = "tiny";
    q.prompt = "Once upon a time";
    q.max_tokens = 6;
    q.temperature = 0;
    return q;
  }());
  const auto file = (temp_dir("sdk-archive") / "s.stsa").string();

  ASSERT_EQ(strata_session_export(c, r.session.c_str(), file.c_str()), STRATA_OK) << strata_last_error(c);
  char* id = nullptr;
  ASSERT_EQ(strata_session_import(c, file.c_str(), &id), STRATA_OK) << strata_last_error(c);
  const std::string imported = id;
  strata_free_string(id);
  EXPECT_NE(imported, r.session);
  EXPECT_EQ(cpp.session(imported).tokens, cpp.session(r.session).tokens);

  // Unknown session: 404 and no file; an unreadable file: STRATA_ERR_IO; a damaged archive: 400.
  const std::string missing = file + ".missing";
  EXPECT_EQ(strata_session_export(c, std::string(32, '0').c_str(), missing.c_str()), STRATA_ERR_NOT_FOUND);
  EXPECT_FALSE(std::filesystem::exists(missing));
  EXPECT_FALSE(std::filesystem::exists(missing + ".tmp"));
  EXPECT_EQ(strata_session_import(c, missing.c_str(), &id), STRATA_ERR_IO);
  EXPECT_EQ(id, nullptr);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(24);  // in the token ids
    f.put('\x55');
  }
  EXPECT_EQ(strata_session_import(c, file.c_str(), &id), STRATA_ERR_INVALID_REQUEST);
  EXPECT_NE(std::string(strata_last_error(c)).find("metadata_checksum"), std::string::npos) << strata_last_error(c);
  EXPECT_EQ(cpp.sessions().sessions.size(), 2u);
}

class SdkSmallBodyDaemon : public SdkLiveDaemon {
  DaemonOptions options() override {
    DaemonOptions o;
    o.config_text = "[limits]\nmax_body_bytes = 65536\n";
    return o;
  }
};

TEST_F(SdkSmallBodyDaemon, ABodyOverTheLimitIsReportedAsSuchNotAsABrokenConnection) {
  const auto owner = c_client(-1);  // the body over the socket, where the limit applies
  strata_client* c = owner.get();
  ASSERT_NE(c, nullptr);
  // 4 MiB of prompt: the daemon answers 413 once it has the headers and closes, long before the
  // client has written the body; the client reads that answer instead of reporting the send.
  const std::string prompt(4 << 20, 'a');
  strata_generate_params p;
  strata_generate_params_init(&p);
  p.model = "tiny";
  p.prompt = prompt.c_str();
  p.max_tokens = 1;
  EXPECT_EQ(strata_generate(c, &p, nullptr, nullptr, nullptr), STRATA_ERR_INVALID_REQUEST) << strata_last_error(c);
  EXPECT_EQ(strata_last_http_status(c), 413) << strata_last_error(c);
  EXPECT_NE(std::string(strata_last_error(c)).find("larger than 65536 bytes"), std::string::npos)
      << strata_last_error(c);
  // The same client goes on, on a new connection.
  p.prompt = "hi";
  p.max_tokens = 2;
  EXPECT_EQ(strata_generate(c, &p, nullptr, nullptr, nullptr), STRATA_OK) << strata_last_error(c);
}

class SdkLiveChatDaemon : public SdkLiveDaemon {
  DaemonOptions options() override {
    DaemonOptions o;
    o.tiny_model = false;
    o.config_text = "[models.tinychat]\npath = \"" + shared_path("models/llama-2-tiny-random.gguf").string() +
                    "\"\nchat_template = \"llama-2\"\n";
    return o;
  }
};

TEST_F(SdkLiveChatDaemon, ChatCompletionsStream) {
  client::Options o;
  o.socket_path = daemon_->socket().string();
  client::Client c(o);
  client::ChatRequest req;
  req.model = "tinychat";
  req.messages = {{"system", "Be brief."}, {"user", "Hi"}};
  req.max_tokens = 5;
  req.temperature = 0;
  std::string streamed;
  client::Response r = c.chat(req, [&](int32_t token, std::string_view text) {
    EXPECT_EQ(token, -1);
    streamed += text;
    return true;
  });
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(r.completion_tokens, 5);
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(c.chat(req).text, r.text);  // greedy: the same without streaming
}

class SdkSocketActivatedDaemon : public SdkLiveDaemon {
  DaemonOptions options() override {
    // As stratad.socket starts it: systemd passes the bound, listening socket (LISTEN_FDS).
    DaemonOptions o;
    socket_ = temp_dir("sdk-activated") / "stratad.sock";
    o.command_prefix = {"/usr/bin/systemd-socket-activate", "-l", socket_.string()};
    o.use_socket_option = false;
    o.wait_ready = false;
    return o;
  }

 protected:
  std::filesystem::path socket_;
};

TEST_F(SdkSocketActivatedDaemon, ServesTheActivatedSocket) {
  if (!std::filesystem::exists("/usr/bin/systemd-socket-activate")) GTEST_SKIP() << "no systemd-socket-activate";
  // systemd-socket-activate binds the socket; the first connection starts the daemon, which
  // answers on the socket it was passed.
  for (int i = 0; i < 200 && !socket_accepts(socket_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto r = run_process({bin_path("strata").string(), "run", "--socket", socket_.string(), "-n", "2", "hi"}, "", 120);
  ASSERT_EQ(r.exit_code, 0) << r.err << daemon_->log();
  auto st = run_process({bin_path("strata").string(), "status", "--socket", socket_.string()}, "", 60);
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("tiny"), std::string::npos);
}

}  // namespace
}  // namespace strata::test
