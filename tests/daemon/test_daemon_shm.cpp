// Shared-memory channels (POST /strata/v1/shm) against the real stratad: the segment's name, mode
// and owner, its removal with the connection, with DELETE and at start-up after a crash, its use
// by generate requests (prompt in, top_probs and logits out), and the errors of malformed uses.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/daemon/daemon_test_util.h"
#include "tests/support/run_process.h"

namespace strata::test {
namespace {

// /dev/shm/<name without the leading slash>: where glibc keeps POSIX shared memory.
std::filesystem::path segment_path(const json::object& opened) {
  std::string name(opened.at("name").as_string());
  return std::filesystem::path("/dev/shm") / name.substr(1);
}

json::object open_channel(HttpConnection& c, int64_t size, int want = 200) {
  c.send_request("POST", "/strata/v1/shm", R"({"size":)" + std::to_string(size) + "}");
  HttpResponse r = c.read_response();
  EXPECT_EQ(r.status, want) << r.body;
  return parse_object(r.body);
}

bool wait_gone(const std::filesystem::path& p, int timeout_ms = 5000) {
  for (int i = 0; i < timeout_ms / 10; ++i) {
    if (!std::filesystem::exists(p)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Writes into the segment by name: the test runs as the daemon's uid (or root), which may.
void write_segment(const std::filesystem::path& p, uint64_t offset, const void* data, size_t n) {
  const int fd = ::open(p.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << p << ": " << std::strerror(errno);
  ASSERT_EQ(::pwrite(fd, data, n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
  ::close(fd);
}

std::vector<char> read_segment(const std::filesystem::path& p, uint64_t offset, size_t n) {
  std::vector<char> out(n);
  const int fd = ::open(p.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << p;
  if (fd < 0) return {};
  EXPECT_EQ(::pread(fd, out.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
  ::close(fd);
  return out;
}

std::string error_code(const HttpResponse& r) {
  json::value v = json::parse(r.body);
  return std::string(v.at("error").at("code").as_string());
}

TEST(DaemonShm, SegmentIsNamedUnguessablyAndPrivateToItsOwner) {
  DaemonProcess d;
  HttpConnection c = HttpConnection::unix_socket(d.socket());
  const json::object a = open_channel(c, 1 << 20);
  const json::object b = open_channel(c, 1 << 20);
  const std::string id(a.at("channel").as_string());
  EXPECT_EQ(id.size(), 32u);
  EXPECT_NE(a.at("channel"), b.at("channel"));
  EXPECT_EQ(a.at("size").as_int64(), 1 << 20);
  const std::string name(a.at("name").as_string());
  EXPECT_TRUE(name.starts_with("/strata-")) << name;
  EXPECT_TRUE(name.ends_with("-" + id)) << name;

  struct stat st {};
  ASSERT_EQ(::stat(segment_path(a).c_str(), &st), 0) << segment_path(a);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(st.st_size, 1 << 20);
  EXPECT_EQ(d.stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(segment_path(a))) << "a clean stop removes the segments";
}

TEST(DaemonShm, SegmentGoesWithItsConnectionOrDelete) {
  DaemonProcess d;
  std::filesystem::path first, second;
  {
    HttpConnection c = HttpConnection::unix_socket(d.socket());
    const json::object a = open_channel(c, 65536);
    const json::object b = open_channel(c, 65536);
    first = segment_path(a);
    second = segment_path(b);
    ASSERT_TRUE(std::filesystem::exists(first));
    c.send_request("DELETE", "/strata/v1/shm/" + std::string(a.at("channel").as_string()));
    HttpResponse r = c.read_response();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_FALSE(std::filesystem::exists(first)) << "DELETE removes the segment at once";
    EXPECT_TRUE(std::filesystem::exists(second));
  }  // the connection closes
  EXPECT_TRUE(wait_gone(second)) << "the segment outlived its client's connection";
  EXPECT_EQ(http_request(d.socket(), "GET", "/v1/models").status, 200);
}

TEST(DaemonShm, StaleSegmentsAreRemovedAtStartUp) {
  const auto state = temp_dir("shm-state");
  std::filesystem::path left, other;
  {
    DaemonOptions o;
    o.state_dir = state;
    DaemonProcess d(o);
    HttpConnection c = HttpConnection::unix_socket(d.socket());
    left = segment_path(open_channel(c, 65536));
    // A crash leaves the segment behind.
    d.signal(SIGKILL);
    for (int i = 0; i < 500 && d.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(std::filesystem::exists(left));
  }
  // Another daemon's segment (another state directory) must survive this one's start-up.
  DaemonProcess stranger;
  HttpConnection sc = HttpConnection::unix_socket(stranger.socket());
  other = segment_path(open_channel(sc, 65536));

  DaemonOptions o;
  o.state_dir = state;
  DaemonProcess d(o);
  EXPECT_FALSE(std::filesystem::exists(left)) << d.log();
  EXPECT_TRUE(d.wait_for_log("left by an earlier run")) << d.log();
  EXPECT_TRUE(std::filesystem::exists(other)) << "a daemon removed another daemon's segment";
}

TEST(DaemonShm, PromptInAndOutputsOutMatchTheJsonAnswer) {
  DaemonProcess d;
  const std::string prompt = "The quick brown fox jumps over the lazy dog";
  // The socket: everything inline.
  json::object inline_answer = post_json(d, "/strata/v1/generate",
                                         R"({"model":"tiny","prompt":")" + prompt +
                                             R"(","max_tokens":6,"temperature":0,"top_probs":5,"logits":true})");
  const auto tokens = ids(inline_answer.at("tokens"));
  ASSERT_EQ(tokens.size(), 6u);
  const json::array& steps = inline_answer.at("top_probs").as_array();
  ASSERT_EQ(steps.size(), tokens.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& probs = steps[i].at("probs").as_array();
    const auto top = ids(steps[i].at("tokens"));
    ASSERT_EQ(top.size(), 5u);
    EXPECT_EQ(top[0], tokens[i]) << "greedy picks the most likely token";
    double sum = 0;
    for (size_t j = 0; j < probs.size(); ++j) {
      sum += probs[j].as_double();
      if (j > 0) {
        EXPECT_GE(probs[j - 1].as_double(), probs[j].as_double());
      }
    }
    EXPECT_GT(sum, 0.0);
    EXPECT_LE(sum, 1.0 + 1e-6);
  }
  const json::array& logits = inline_answer.at("logits").as_array();
  ASSERT_EQ(logits.size(), 32000u);
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i].as_double() > logits[best].as_double()) best = i;
  EXPECT_EQ(static_cast<int32_t>(best), tokens.back()) << "the logits are those the last token was drawn from";

  // The channel: the prompt read from it, the outputs written to it.
  HttpConnection c = HttpConnection::unix_socket(d.socket());
  const json::object ch = open_channel(c, 1 << 20);
  const std::string id(ch.at("channel").as_string());
  write_segment(segment_path(ch), 0, prompt.data(), prompt.size());
  c.send_request("POST", "/strata/v1/generate",
                 R"({"model":"tiny","max_tokens":6,"temperature":0,"top_probs":5,"logits":true,"shm":{"channel":")" +
                     id + R"(","prompt":{"offset":0,"length":)" + std::to_string(prompt.size()) +
                     R"(},"output_offset":4096}})");
  HttpResponse r = c.read_response();
  ASSERT_EQ(r.status, 200) << r.body;
  json::object shm_answer = parse_object(r.body);
  EXPECT_EQ(ids(shm_answer.at("tokens")), tokens);
  EXPECT_FALSE(shm_answer.contains("top_probs"));
  EXPECT_FALSE(shm_answer.contains("logits"));
  const json::object& out = shm_answer.at("shm_output").as_object();
  EXPECT_EQ(out.at("channel"), json::value(id));
  const json::object& tp = out.at("top_probs").as_object();
  ASSERT_EQ(tp.at("k").as_int64(), 5);
  ASSERT_EQ(tp.at("steps").as_int64(), 6);
  const auto raw_ids = read_segment(segment_path(ch), tp.at("tokens_offset").as_int64(), 30 * 4);
  const auto raw_probs = read_segment(segment_path(ch), tp.at("probs_offset").as_int64(), 30 * 4);
  for (size_t i = 0; i < 6; ++i)
    for (size_t j = 0; j < 5; ++j) {
      int32_t t;
      float p;
      std::memcpy(&t, raw_ids.data() + (i * 5 + j) * 4, 4);
      std::memcpy(&p, raw_probs.data() + (i * 5 + j) * 4, 4);
      EXPECT_EQ(t, steps[i].at("tokens").as_array()[j].as_int64());
      EXPECT_EQ(p, static_cast<float>(steps[i].at("probs").as_array()[j].as_double())) << i << "," << j;
    }
  const json::object& lg = out.at("logits").as_object();
  ASSERT_EQ(lg.at("count").as_int64(), 32000);
  const auto raw_logits = read_segment(segment_path(ch), lg.at("offset").as_int64(), 32000 * 4);
  size_t mismatches = 0;
  for (size_t i = 0; i < 32000; ++i) {
    float f;
    std::memcpy(&f, raw_logits.data() + i * 4, 4);
    mismatches += f != static_cast<float>(logits[i].as_double());
  }
  EXPECT_EQ(mismatches, 0u);

}

TEST(DaemonShm, TokenIdsInTheChannelAreAPrompt) {
  DaemonProcess d;
  const std::vector<int32_t> prompt{1, 450, 4996, 17354, 1701, 29916};
  json::object direct = post_json(d, "/strata/v1/generate",
                                  R"({"model":"tiny","prompt":)" + ids_json(prompt) +
                                      R"(,"max_tokens":5,"temperature":0})");
  HttpConnection c = HttpConnection::unix_socket(d.socket());
  const json::object ch = open_channel(c, 65536);
  write_segment(segment_path(ch), 128, prompt.data(), prompt.size() * 4);
  c.send_request("POST", "/strata/v1/generate",
                 R"({"model":"tiny","max_tokens":5,"temperature":0,"shm":{"channel":")" +
                     std::string(ch.at("channel").as_string()) + R"(","prompt":{"offset":128,"length":)" +
                     std::to_string(prompt.size() * 4) + R"(,"type":"tokens"}}})");
  HttpResponse r = c.read_response();
  ASSERT_EQ(r.status, 200) << r.body;
  json::object via_shm = parse_object(r.body);
  EXPECT_EQ(ids(via_shm.at("tokens")), ids(direct.at("tokens")));
  EXPECT_EQ(via_shm.at("usage").at("prompt_tokens"), json::value(prompt.size()));
}

TEST(DaemonShm, MalformedUsesGet4xxAndTheDaemonKeepsServing) {
  DaemonOptions o;
  o.config_text = "[limits]\nshm_max_bytes = 1048576\nshm_channels_per_user = 2\n";
  DaemonProcess d(o);
  HttpConnection c = HttpConnection::unix_socket(d.socket());
  const json::object ch = open_channel(c, 65536);
  const std::string id(ch.at("channel").as_string());
  auto gen = [&](const std::string& shm, const std::string& extra = "") {
    c.send_request("POST", "/strata/v1/generate",
                   R"({"model":"tiny","max_tokens":2)" + extra + R"(,"shm":)" + shm + "}");
    return c.read_response();
  };
  const std::string ch_field = R"("channel":")" + id + R"(")";
  struct Case {
    std::string name, shm, extra;
    int status;
    std::string code;
  };
  const std::vector<Case> cases{
      {"unknown channel", R"({"channel":"0123456789abcdef0123456789abcdef","prompt":{"length":1}})", "", 404,
       "shm_channel_not_found"},
      {"not a channel id", R"({"channel":"../../etc/passwd","prompt":{"length":1}})", "", 404, "shm_channel_not_found"},
      {"prompt past the end", "{" + ch_field + R"(,"prompt":{"offset":65530,"length":10}})", "", 400,
       "shm_out_of_range"},
      {"offset past the end", "{" + ch_field + R"(,"prompt":{"offset":70000,"length":0}})", "", 400,
       "shm_out_of_range"},
      {"huge length", "{" + ch_field + R"(,"prompt":{"offset":8,"length":281474976710656}})", "", 400,
       "shm_out_of_range"},
      {"negative offset", "{" + ch_field + R"(,"prompt":{"offset":-1,"length":1}})", "", 400, "invalid_value"},
      {"offset not a number", "{" + ch_field + R"(,"prompt":{"offset":"0","length":1}})", "", 400, "invalid_type"},
      {"tokens not a multiple of 4", "{" + ch_field + R"(,"prompt":{"length":6,"type":"tokens"}})", "", 400,
       "invalid_value"},
      {"unknown prompt type", "{" + ch_field + R"(,"prompt":{"length":4,"type":"utf16"}})", "", 400, "invalid_value"},
      {"unknown shm field", "{" + ch_field + R"(,"size":4})", R"(,"prompt":"x")", 400, "unknown_field"},
      {"no channel", R"({"prompt":{"length":1}})", "", 400, "missing_field"},
      {"shm not an object", R"("abc")", "", 400, "invalid_type"},
      {"prompt twice", "{" + ch_field + R"(,"prompt":{"length":1}})", R"(,"prompt":"x")", 400, "invalid_value"},
      {"output offset past the end", "{" + ch_field + R"(,"output_offset":70000})", R"(,"prompt":"x","logits":true)",
       400, "shm_out_of_range"},
      {"output offset unaligned", "{" + ch_field + R"(,"output_offset":3})", R"(,"prompt":"x","logits":true)", 400,
       "invalid_value"},
      {"outputs too large for it", "{" + ch_field + R"(,"output_offset":0})", R"(,"prompt":"x","logits":true)", 400,
       "shm_too_small"},
      {"invalid UTF-8 in the channel", "{" + ch_field + R"(,"prompt":{"offset":0,"length":2}})", "", 400,
       "invalid_value"},
  };
  const unsigned char bad_utf8[] = {0xC3, 0x28};
  write_segment(segment_path(ch), 0, bad_utf8, sizeof bad_utf8);
  for (const Case& k : cases) {
    HttpResponse r = gen(k.shm, k.extra);
    EXPECT_EQ(r.status, k.status) << k.name << ": " << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/json") << k.name;
    if (r.status >= 400) {
      EXPECT_EQ(error_code(r), k.code) << k.name << ": " << r.body;
    }
  }
  // Opening channels: bad sizes, over the limits.
  struct OpenCase {
    std::string body;
    int status;
    std::string code;
  };
  const std::vector<OpenCase> opens{
      {R"({"size":0})", 400, "invalid_value"},          {R"({"size":-5})", 400, "invalid_value"},
      {R"({"size":"big"})", 400, "invalid_type"},       {R"({})", 400, "missing_field"},
      {R"({"size":2097152})", 400, "invalid_value"},    {R"({"size":4096,"mode":"0777"})", 400, "unknown_field"},
      {R"([1])", 400, "invalid_json"},
  };
  for (const OpenCase& k : opens) {
    c.send_request("POST", "/strata/v1/shm", k.body);
    HttpResponse r = c.read_response();
    EXPECT_EQ(r.status, k.status) << k.body << ": " << r.body;
    if (r.status >= 400) {
      EXPECT_EQ(error_code(r), k.code) << k.body;
    }
  }
  open_channel(c, 4096);  // the second of two allowed
  c.send_request("POST", "/strata/v1/shm", R"({"size":4096})");
  HttpResponse over = c.read_response();
  EXPECT_EQ(over.status, 429) << over.body;
  EXPECT_EQ(error_code(over), "too_many_channels");
  c.send_request("DELETE", "/strata/v1/shm/0123456789abcdef0123456789abcdef");
  EXPECT_EQ(c.read_response().status, 404);
  c.send_request("GET", "/strata/v1/shm");
  EXPECT_EQ(c.read_response().status, 405);

  // Still serving, on the same connection and on others; the channel still works.
  std::string text = "Hello";
  write_segment(segment_path(ch), 0, text.data(), text.size());
  HttpResponse ok = gen("{" + ch_field + R"(,"prompt":{"offset":0,"length":5}})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(http_request(d.socket(), "POST", "/strata/v1/generate", R"({"model":"tiny","prompt":"Hi","max_tokens":1})")
                .status,
            200);
}

TEST(DaemonShm, ChannelBelongsToTheConnectionThatOpenedIt) {
  DaemonProcess d;
  HttpConnection owner = HttpConnection::unix_socket(d.socket());
  const json::object ch = open_channel(owner, 65536);
  const std::string id(ch.at("channel").as_string());
  HttpResponse r = http_request(d.socket(), "POST", "/strata/v1/generate",
                                R"({"model":"tiny","max_tokens":1,"shm":{"channel":")" + id +
                                    R"(","prompt":{"length":1}}})");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(http_request(d.socket(), "DELETE", "/strata/v1/shm/" + id).status, 404);
  EXPECT_TRUE(std::filesystem::exists(segment_path(ch)));
}

TEST(DaemonShm, AnotherUserCannotReachTheChannel) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user (nobody)";
  if (!std::filesystem::exists("/usr/bin/setpriv") || !std::filesystem::exists("/usr/bin/curl"))
    GTEST_SKIP() << "needs setpriv and curl";
  DaemonProcess d;
  ::chmod(d.dir().c_str(), 0755);
  ::chmod(d.socket().c_str(), 0666);
  HttpConnection c = HttpConnection::unix_socket(d.socket());
  const json::object ch = open_channel(c, 65536);
  const std::string id(ch.at("channel").as_string());
  auto as_nobody = [&](const std::vector<std::string>& tail) {
    std::vector<std::string> argv{"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"};
    argv.insert(argv.end(), tail.begin(), tail.end());
    return run_process(argv, "", 60);
  };
  // By name: the segment is 0600 and not nobody's.
  ProcessResult cat = as_nobody({"/bin/cat", segment_path(ch).string()});
  EXPECT_NE(cat.exit_code, 0) << "nobody could read the segment";
  // Through the daemon: the channel does not exist for nobody.
  ProcessResult curl = as_nobody({"/usr/bin/curl", "-s", "-w", "\n%{http_code}", "--unix-socket", d.socket().string(),
                                  "-d",
                                  R"({"model":"tiny","max_tokens":1,"shm":{"channel":")" + id +
                                      R"(","prompt":{"length":1}}})",
                                  "http://localhost/strata/v1/generate"});
  EXPECT_TRUE(curl.out.ends_with("\n404")) << curl.out;
  ProcessResult del = as_nobody({"/usr/bin/curl", "-s", "-w", "\n%{http_code}", "-X", "DELETE", "--unix-socket",
                                 d.socket().string(), "http://localhost/strata/v1/shm/" + id});
  EXPECT_TRUE(del.out.ends_with("\n404")) << del.out;
  EXPECT_TRUE(std::filesystem::exists(segment_path(ch)));
  // nobody's own channel is nobody's: a child process as nobody opens one and holds its
  // connection until told to go.
  const passwd* pw = ::getpwnam("nobody");
  ASSERT_NE(pw, nullptr);
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(to_parent[0]);
    ::close(to_child[1]);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
        ::setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0)
      ::_exit(3);
    std::string body;
    try {
      HttpConnection nc = HttpConnection::unix_socket(d.socket());
      nc.send_request("POST", "/strata/v1/shm", R"({"size":4096})");
      body = nc.read_response().body;
      (void)!::write(to_parent[1], body.data(), body.size());
      ::close(to_parent[1]);
      char byte;
      (void)!::read(to_child[0], &byte, 1);  // returns when the parent closes its end
    } catch (...) {
      ::_exit(4);
    }
    ::_exit(0);
  }
  ::close(to_parent[1]);
  ::close(to_child[0]);
  std::string body;
  char buf[512];
  for (ssize_t n; (n = ::read(to_parent[0], buf, sizeof buf)) > 0;) body.append(buf, static_cast<size_t>(n));
  ::close(to_parent[0]);
  std::filesystem::path nobody_segment;
  if (!body.empty()) nobody_segment = segment_path(parse_object(body));
  struct stat nst {};
  const bool exists = !body.empty() && ::stat(nobody_segment.c_str(), &nst) == 0;
  ::close(to_child[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child as nobody failed: " << status;
  ASSERT_TRUE(exists) << body;
  EXPECT_EQ(nst.st_uid, pw->pw_uid) << "a root daemon gives the segment to the client's uid";
  EXPECT_EQ(nst.st_mode & 07777, 0600u);
  EXPECT_TRUE(wait_gone(nobody_segment)) << "the segment outlived nobody's connection";
}

TEST(DaemonShm, TcpClientsAreRefused) {
  const auto dir = temp_dir("shm-tcp");
  const auto token_file = dir / "token";
  {
    std::ofstream(token_file) << "shm-test-token\n";
  }
  ::chmod(token_file.c_str(), 0600);
  DaemonOptions o;
  o.config_text = "[server]\ntcp_listen = \"127.0.0.1:0\"\ntcp_token_file = \"" + token_file.string() + "\"\n";
  DaemonProcess d(o);
  const std::string marker = "listening on tcp 127.0.0.1:";
  ASSERT_TRUE(d.wait_for_log(marker)) << d.log();
  const std::string log = d.log();
  const int port = std::stoi(log.substr(log.find(marker) + marker.size()));
  HttpConnection c = HttpConnection::tcp(port);
  c.send_request("POST", "/strata/v1/shm", R"({"size":4096})", {"Authorization: Bearer shm-test-token"});
  HttpResponse r = c.read_response();
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_code(r), "shm_unavailable");
}

}  // namespace
}  // namespace strata::test
