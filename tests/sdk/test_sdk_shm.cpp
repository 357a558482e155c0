// libstrata's shared-memory path against the real stratad: the same tokens, probabilities and
// logits as the socket, the threshold choosing the transport, the segment's life with the client,
// reconnection, and falling back to the socket when the daemon has no channels to give.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "strata/strata.h"
#include "strata/strata.hpp"
#include "tests/support/daemon_process.h"
#include "tests/support/test_paths.h"

namespace strata::test {
namespace {

namespace sc = strata::client;

// The segments in /dev/shm of one daemon (tests run in parallel: others have their own prefix).
std::set<std::string> segments_of(const DaemonProcess& d) {
  const std::string marker = "segments /dev/shm/";
  EXPECT_TRUE(d.wait_for_log(marker)) << d.log();
  const std::string log = d.log();
  const size_t at = log.find(marker) + marker.size();
  const std::string prefix = log.substr(at, log.find('*', at) - at);
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec))
    if (e.path().filename().string().starts_with(prefix)) out.insert(e.path().string());
  return out;
}

class SdkShm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(bin_path("stratad"))) GTEST_SKIP() << "stratad not built";
    unsetenv("STRATA_SOCKET");
    daemon_ = std::make_unique<DaemonProcess>(options());
  }
  virtual DaemonOptions options() { return {}; }

  sc::Client client(int64_t threshold) {
    sc::Options o;
    o.socket_path = daemon_->socket().string();
    o.shm_threshold_bytes = threshold;
    return sc::Client(o);
  }
  static sc::GenerateRequest request() {
    sc::GenerateRequest r;
    r.model = "tiny";
    r.prompt = "Once upon a time, in a land far away, there lived";
    r.max_tokens = 8;
    r.temperature = 0.7;
    r.seed = 1234;
    r.top_probs = 16;
    r.logits = true;
    return r;
  }
  std::unique_ptr<DaemonProcess> daemon_;
};

void expect_same_outputs(const sc::Response& a, const sc::Response& b) {
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.finish_reason, b.finish_reason);
  EXPECT_EQ(a.top_k, b.top_k);
  EXPECT_EQ(a.top_prob_tokens, b.top_prob_tokens);
  // Bit for bit: the daemon writes floats exactly in JSON too.
  EXPECT_EQ(a.top_prob_values, b.top_prob_values);
  EXPECT_EQ(a.logits, b.logits);
}

TEST_F(SdkShm, SharedMemoryGivesWhatTheSocketGives) {
  sc::Client via_socket = client(-1);
  sc::Client via_shm = client(1);
  const sc::Response s = via_socket.generate(request());
  const sc::Response m = via_shm.generate(request());
  EXPECT_FALSE(s.used_shm);
  EXPECT_TRUE(m.used_shm) << daemon_->log();
  ASSERT_EQ(s.tokens.size(), 8u);
  EXPECT_EQ(s.top_k, 16);
  EXPECT_EQ(s.top_prob_tokens.size(), 8u * 16);
  EXPECT_EQ(s.logits.size(), 32000u);
  expect_same_outputs(s, m);
  EXPECT_EQ(m.json.find("\"logits\":["), std::string::npos) << "the logits crossed the socket";

  // Streamed, the same again; and a prompt of token ids.
  std::vector<int32_t> streamed;
  const sc::Response ms = via_shm.generate(request(), [&](int32_t t, std::string_view) {
    streamed.push_back(t);
    return true;
  });
  EXPECT_TRUE(ms.used_shm);
  EXPECT_EQ(streamed, s.tokens);
  expect_same_outputs(s, ms);

  sc::GenerateRequest ids = request();
  ids.prompt.clear();
  ids.prompt_tokens = {1, 9038, 2501, 263, 931, 29892};
  const sc::Response is = via_socket.generate(ids);
  const sc::Response im = via_shm.generate(ids);
  EXPECT_TRUE(im.used_shm);
  expect_same_outputs(is, im);
  EXPECT_EQ(im.prompt_tokens, 6);
}

TEST_F(SdkShm, ThresholdChoosesTheTransport) {
  sc::Client c = client(0);  // the library's default threshold
  sc::GenerateRequest small = request();
  small.top_probs = 0;
  small.logits = false;
  EXPECT_FALSE(c.generate(small).used_shm);
  // Full-vocabulary logits are above the default threshold.
  EXPECT_TRUE(c.generate(request()).used_shm);
  sc::Client never = client(-1);
  EXPECT_FALSE(never.generate(request()).used_shm);
}

TEST_F(SdkShm, SegmentIsTheClientsAndGoesWithIt) {
  const std::set<std::string> before = segments_of(*daemon_);
  EXPECT_TRUE(before.empty());
  std::vector<std::string> mine;
  {
    sc::Client c = client(1);
    ASSERT_TRUE(c.generate(request()).used_shm);
    for (const auto& s : segments_of(*daemon_))
      if (!before.count(s)) mine.push_back(s);
    ASSERT_EQ(mine.size(), 1u) << "one channel for the client";
    struct stat st {};
    ASSERT_EQ(::stat(mine[0].c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, ::geteuid());
    // Reused by the next request: no second segment.
    ASSERT_TRUE(c.generate(request()).used_shm);
    EXPECT_EQ(segments_of(*daemon_).size(), before.size() + 1);
  }  // the client closes its connection
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = !std::filesystem::exists(mine[0]);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << mine[0] << " outlived its client";
}

class SdkShmShortKeepAlive : public SdkShm {
  DaemonOptions options() override {
    DaemonOptions o;
    o.config_text = "[server]\nkeep_alive_seconds = 1\n";
    return o;
  }
};

TEST_F(SdkShmShortKeepAlive, AChannelLostWithTheConnectionIsReopened) {
  sc::Client c = client(1);
  const sc::Response first = c.generate(request());
  ASSERT_TRUE(first.used_shm);
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));  // the daemon closes the idle connection
  const sc::Response again = c.generate(request());
  EXPECT_TRUE(again.used_shm);
  expect_same_outputs(first, again);
}

class SdkShmTurnedOff : public SdkShm {
  DaemonOptions options() override {
    DaemonOptions o;
    o.config_text = "[limits]\nshm_channels_per_user = 0\n";
    return o;
  }
};

TEST_F(SdkShmTurnedOff, FallsBackToTheSocket) {
  sc::Client c = client(1);
  const sc::Response r = c.generate(request());
  EXPECT_FALSE(r.used_shm);
  EXPECT_EQ(r.tokens.size(), 8u);
  EXPECT_EQ(r.logits.size(), 32000u);
  EXPECT_EQ(r.top_prob_values.size(), 8u * 16);
}

TEST_F(SdkShm, OlderCallersStructsStillWork) {
  // A caller built against the 0.1.0 header: its params end before prompt_tokens.
  strata_client_options o;
  strata_client_options_init(&o);
  o.struct_size = offsetof(strata_client_options, shm_threshold_bytes);
  const std::string sock = daemon_->socket().string();
  o.socket_path = sock.c_str();
  strata_client* c = nullptr;
  ASSERT_EQ(strata_client_create(&o, &c), STRATA_OK);
  strata_generate_params p;
  strata_generate_params_init(&p);
  p.struct_size = offsetof(strata_generate_params, prompt_tokens);
  p.model = "tiny";
  p.prompt = "Hello";
  p.max_tokens = 2;
  p.top_probs = 99;  // beyond the old struct: must be ignored
  strata_response* r = nullptr;
  ASSERT_EQ(strata_generate(c, &p, nullptr, nullptr, &r), STRATA_OK) << strata_last_error(c);
  EXPECT_EQ(r->n_tokens, 2u);
  EXPECT_EQ(r->n_top_probs, 0u);
  EXPECT_EQ(r->used_shm, 0);
  strata_free_response(r);
  strata_client_destroy(c);
}

}  // namespace
}  // namespace strata::test
