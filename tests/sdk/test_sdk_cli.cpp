// The `strata` client subcommands (run, chat, sessions, status, models) as a user runs them,
// against the fake server: what they send, what they print, their exit codes.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "tests/sdk/fake_server.h"
#include "tests/support/run_process.h"
#include "tests/support/test_paths.h"

namespace strata::test {
namespace {

namespace json = boost::json;

class SdkCli : public ::testing::Test {
 protected:
  std::string socket = (temp_dir("sdk-cli") / "d.sock").string();
  FakeServer server{socket};
  std::shared_ptr<CannedDaemon> daemon = std::make_shared<CannedDaemon>();

  void SetUp() override {
    install_canned_daemon(server, daemon);
    unsetenv("STRATA_MODEL");
    unsetenv("STRATA_TOKEN");
    setenv("STRATA_SOCKET", socket.c_str(), 1);
  }
  void TearDown() override { unsetenv("STRATA_SOCKET"); }

  ProcessResult strata(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), bin_path("strata").string());
    return run_process(args, input, 60);
  }
  // The generate requests the daemon received, as JSON.
  std::vector<json::object> generate_bodies() {
    std::vector<json::object> out;
    for (const auto& r : server.requests())
      if (r.target == "/strata/v1/generate") out.push_back(json::parse(r.body).as_object());
    return out;
  }
};

TEST_F(SdkCli, RunStreamsTheReplyWithTheFirstModel) {
  auto r = strata({"run", "Once", "upon", "a", "time"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello world!\n");
  EXPECT_EQ(r.err, "");  // stderr is not a terminal: no session line, no indicator
  auto bodies = generate_bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0].at("prompt"), "Once upon a time");
  EXPECT_EQ(bodies[0].at("model"), "tiny");
  EXPECT_EQ(bodies[0].at("stream"), true);
  EXPECT_FALSE(bodies[0].contains("session"));
  EXPECT_FALSE(bodies[0].contains("max_tokens"));
}

TEST_F(SdkCli, RunJoinsArgumentsAndStdin) {
  // `printf 'x' | strata run "review this"`
  auto r = strata({"run", "review this"}, "x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(generate_bodies().back().at("prompt"), "review this\n\nx");
  r = strata({"run"}, "only stdin\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(generate_bodies().back().at("prompt"), "only stdin\n");
}

TEST_F(SdkCli, RunOptions) {
  auto r = strata({"run", "--model", "small", "--max-tokens", "5", "--temp", "0", "--seed", "7", "hi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto b = generate_bodies().back();
  EXPECT_EQ(b.at("model"), "small");
  EXPECT_EQ(b.at("max_tokens"), 5);
  EXPECT_EQ(b.at("temperature").to_number<double>(), 0.0);
  EXPECT_EQ(b.at("seed").to_number<int64_t>(), 7);

  setenv("STRATA_MODEL", "small", 1);
  r = strata({"run", "hi"});
  unsetenv("STRATA_MODEL");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(generate_bodies().back().at("model"), "small");
}

TEST_F(SdkCli, RunContinuesASessionWithItsModel) {
  auto first = strata({"run", "--model", "small", "--json", "one"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // --json prints the daemon's native response object.
  const json::object doc = json::parse(first.out).as_object();
  EXPECT_EQ(doc.at("text"), "Hello world!");
  EXPECT_EQ(doc.at("tokens"), (json::array{100, 101, 102}));
  const std::string session(doc.at("session").as_string());
  EXPECT_EQ(generate_bodies().back().at("stream"), false);

  auto second = strata({"run", "--session", session, "two"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  auto b = generate_bodies().back();
  EXPECT_EQ(b.at("session").as_string(), session);
  EXPECT_EQ(b.at("model"), "small");  // the session's own model
  std::lock_guard lock(daemon->mu);
  EXPECT_EQ(daemon->sessions.at(0).text, "oneHello world!twoHello world!");
}

TEST_F(SdkCli, ExitCodes) {
  auto unknown_session = strata({"run", "--session", "0123456789abcdef0123456789abcdef", "x"});
  EXPECT_EQ(unknown_session.exit_code, 1);
  EXPECT_EQ(unknown_session.err, "strata: error: unknown session\n");

  auto unknown_model = strata({"run", "--model", "nope", "x"});
  EXPECT_EQ(unknown_model.exit_code, 1);
  EXPECT_NE(unknown_model.err.find("known models: tiny, small"), std::string::npos) << unknown_model.err;

  auto no_prompt = strata({"run"});
  EXPECT_EQ(no_prompt.exit_code, 2);
  EXPECT_NE(no_prompt.err.find("no prompt"), std::string::npos);

  auto bad_option = strata({"run", "--max-tokens", "-3", "x"});
  EXPECT_EQ(bad_option.exit_code, 2);

  const std::string missing = (temp_dir("sdk-cli-none") / "none.sock").string();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"run", "--socket", missing, "x"}, {"status", "--socket", missing},
        {"models", "--socket", missing}, {"sessions", "ls", "--socket", missing}, {"chat", "--socket", missing}}) {
    auto r = strata(args, "hi\n");
    EXPECT_EQ(r.exit_code, 4) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("strata: error: cannot connect to stratad at " + missing), std::string::npos) << r.err;
  }
  auto bad_tcp = strata({"status", "--tcp", "nonsense"});
  EXPECT_EQ(bad_tcp.exit_code, 2) << bad_tcp.err;
}

TEST_F(SdkCli, Sessions) {
  ASSERT_EQ(strata({"run", "one"}).exit_code, 0);
  ASSERT_EQ(strata({"run", "--model", "small", "two"}).exit_code, 0);
  std::string id1, id2;
  {
    std::lock_guard lock(daemon->mu);
    id1 = daemon->sessions.at(0).id;
    id2 = daemon->sessions.at(1).id;
  }
  auto ls = strata({"sessions", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out.rfind("ID", 0), 0u) << ls.out;
  EXPECT_NE(ls.out.find("LAST USED"), std::string::npos);
  EXPECT_NE(ls.out.find(id1 + "  tiny"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find(id2 + "  small"), std::string::npos) << ls.out;

  auto raw = strata({"sessions", "ls", "--json"});
  ASSERT_EQ(raw.exit_code, 0);
  EXPECT_EQ(json::parse(raw.out).at("sessions").as_array().size(), 2u);

  auto show = strata({"sessions", "show", id1});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("model:     tiny"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("\noneHello world!\n"), std::string::npos) << show.out;

  auto rm = strata({"sessions", "rm", id1});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out, "deleted " + id1 + "\n");
  auto again = strata({"sessions", "rm", id1});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err, "strata: error: unknown session\n");
  EXPECT_EQ(strata({"sessions"}).exit_code, 2);  // a subcommand is required
  ASSERT_EQ(strata({"sessions", "rm", id2}).exit_code, 0);
  EXPECT_EQ(strata({"sessions", "ls"}).out, "no sessions\n");
}

TEST_F(SdkCli, StatusAndModels) {
  auto st = strata({"status"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("stratad 0.1.0 at unix:" + socket + ", up 1h 02m, 0 sessions"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("MODEL"), std::string::npos);
  EXPECT_NE(st.out.find("tiny   loaded"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("12.0 MiB"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("/models/small.gguf"), std::string::npos);
  auto raw = strata({"status", "--json"});
  ASSERT_EQ(raw.exit_code, 0);
  EXPECT_EQ(json::parse(raw.out).at("version"), "0.1.0");

  auto models = strata({"models"});
  ASSERT_EQ(models.exit_code, 0) << models.err;
  EXPECT_NE(models.out.find("tiny   loaded"), std::string::npos) << models.out;
  EXPECT_NE(models.out.find("small  not loaded"), std::string::npos) << models.out;
  auto models_raw = strata({"models", "--json"});
  EXPECT_EQ(json::parse(models_raw.out).at("data").as_array().size(), 2u);
}

TEST_F(SdkCli, ChatKeepsOneSession) {
  auto r = strata({"chat", "--max-tokens", "4"}, "hello\n\nhow are you\n/exit\nnot sent\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello world!\nHello world!\n");
  auto bodies = generate_bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[0].at("prompt"), "hello\n");
  EXPECT_FALSE(bodies[0].contains("session"));
  EXPECT_EQ(bodies[1].at("prompt"), "how are you\n");
  EXPECT_EQ(bodies[1].at("max_tokens"), 4);
  std::lock_guard lock(daemon->mu);
  ASSERT_EQ(daemon->sessions.size(), 1u);
  EXPECT_EQ(bodies[1].at("session").as_string(), daemon->sessions[0].id);
  EXPECT_EQ(r.err, "");
}

// Runs strata with stderr on a pseudo-terminal (stdin and stdout on pipes); returns what the
// terminal showed.
ProcessResult run_with_tty_stderr(const std::vector<std::string>& argv) {
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  EXPECT_GE(master, 0);
  grantpt(master);
  unlockpt(master);
  const std::string slave_name = ptsname(master);
  int out_pipe[2];
  EXPECT_EQ(pipe(out_pipe), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    const int slave = open(slave_name.c_str(), O_RDWR | O_NOCTTY);
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out_pipe[1], 1);
    dup2(slave, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  ProcessResult r;
  char buf[4096];
  bool out_open = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int status = 0;
  bool exited = false;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd fds[2] = {{master, POLLIN, 0}, {out_pipe[0], POLLIN, 0}};
    poll(fds, out_open ? 2 : 1, 50);
    if (fds[0].revents & POLLIN) {
      const ssize_t n = read(master, buf, sizeof buf);
      if (n > 0) r.err.append(buf, static_cast<size_t>(n));
    }
    if (out_open && (fds[1].revents & (POLLIN | POLLHUP))) {
      const ssize_t n = read(out_pipe[0], buf, sizeof buf);
      if (n > 0) r.out.append(buf, static_cast<size_t>(n));
      else out_open = false;
    }
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) exited = true;
    if (exited && !out_open && !(fds[0].revents & POLLIN)) break;
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  close(out_pipe[0]);
  close(master);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

TEST_F(SdkCli, AtATerminalRunShowsTheSessionAndTheLoadingIndicator) {
  auto r = run_with_tty_stderr({bin_path("strata").string(), "run", "--socket", socket, "hi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello world!\n");
  std::string id;
  {
    std::lock_guard lock(daemon->mu);
    id = daemon->sessions.at(0).id;
  }
  EXPECT_NE(r.err.find("session " + id + " (continue: strata run --session " + id), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("loading model"), std::string::npos) << r.err;  // tiny is loaded

  // "small" is not loaded and its first token takes a second: the indicator runs until then,
  // then erases itself.
  {
    std::lock_guard lock(daemon->mu);
    daemon->small_loading = true;
    daemon->first_token_delay_ms = 1000;
  }
  auto loading = run_with_tty_stderr({bin_path("strata").string(), "run", "--socket", socket, "--model", "small", "hi"});
  ASSERT_EQ(loading.exit_code, 0) << loading.err;
  EXPECT_NE(loading.err.find("loading model small"), std::string::npos) << loading.err;
  EXPECT_NE(loading.err.find("\r\033[K"), std::string::npos);
  EXPECT_LT(loading.err.find("loading model small"), loading.err.find("\r\033[K"));
  EXPECT_EQ(loading.out, "Hello world!\n");
}

}  // namespace
}  // namespace strata::test
