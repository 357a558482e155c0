// Eviction under the memory budget, with the real stratad: when a request's KV growth would pass
// `memory.budget`, idle sessions' KV is saved to the snapshot store and dropped (least recently
// used first) instead of refusing; the evicted session resumes from its snapshot token-identically
// (or re-prefills its history when snapshots are off); and 429 memory_budget still comes when
// no idle session can make room.
#include <filesystem>
#include <random>

#include "engine/model/synth.h"
#include "tests/daemon/daemon_test_util.h"
#include "tests/support/synth_shape.h"

namespace strata::test {
namespace {

class DaemonEviction : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // f16 KV of 4 layers x 4 KV heads x 32 dims: 2 KiB per token, 512 KiB per 256-token page, so
    // that a session's KV is large beside the vocabulary's share of the file.
    model_dir_ = new std::filesystem::path(temp_dir("eviction-model"));
    SynthSpec spec = synth_shape(128, 4, 4, 4, 256, 4096);
    spec.seed = 21;
    synthesize_model(spec, *model_dir_ / "syn.gguf");
  }
  static void TearDownTestSuite() { delete model_dir_; }

  void SetUp() override {
    if (!std::filesystem::exists(shared_path("models/vocab/ggml-vocab-llama-spm.gguf")))
      GTEST_SKIP() << "shared vocabulary missing";
  }

  static DaemonOptions options(uint64_t budget, bool snapshots) {
    DaemonOptions o;
    o.tiny_model = false;
    o.state_dir = temp_dir("eviction-state");
    o.config_text = "[memory]\nbudget = \"" + std::to_string(budget) + "\"\n[models.syn]\npath = \"" +
                    (*model_dir_ / "syn.gguf").string() + "\"\nthreads = 2\n[snapshots]\nenabled = " +
                    (snapshots ? "1" : "0") + "\nidle_save_seconds = 3600\n";
    return o;
  }

  static std::vector<int32_t> random_ids(size_t n, uint32_t seed, bool bos) { return random_token_ids(n, seed, bos); }

  static HttpResponse generate_raw(const DaemonProcess& d, const std::vector<int32_t>& prompt, int max_tokens,
                                   const std::string& session = "") {
    return http_request(d.socket(), "POST", "/strata/v1/generate",
                        greedy_generate_body("syn", prompt, max_tokens, session));
  }
  static json::object generate(const DaemonProcess& d, const std::vector<int32_t>& prompt, int max_tokens,
                               const std::string& session = "") {
    const HttpResponse r = generate_raw(d, prompt, max_tokens, session);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse_object(r.body);
  }

  static int64_t usage(const json::object& r, const char* field) { return r.at("usage").at(field).as_int64(); }
  static std::string id_of(const json::object& r) { return std::string(r.at("session").as_string()); }

  // The session's entry in the status ({} when absent).
  static json::object session_status(const DaemonProcess& d, const std::string& id) {
    const json::object status = get_json(d, "/strata/v1/status");
    for (const auto& s : status.at("sessions").as_array())
      if (s.at("id").as_string() == id) return s.as_object();
    ADD_FAILURE() << "session " << id << " not in the status";
    return {};
  }
  static bool resident(const DaemonProcess& d, const std::string& id) {
    const auto s = session_status(d, id);
    return s.contains("kv_resident") && s.at("kv_resident").as_bool();
  }
  static uint64_t evicted(const DaemonProcess& d) {
    return get_json(d, "/strata/v1/status").at("memory").at("sessions_evicted").to_number<uint64_t>();
  }

  // Turn 1 of sessions A and B (600-token prompts), turn 2 of A (12 tokens).
  const std::vector<int32_t> prompt_a_ = random_ids(600, 1, true);
  const std::vector<int32_t> prompt_b_ = random_ids(600, 2, true);
  const std::vector<int32_t> turn2_ = random_ids(12, 3, false);

  struct Reference {
    std::vector<int32_t> a1, a2;  // A's tokens in turns 1 and 2, never evicted
    uint64_t base = 0;            // weights + scratch
    uint64_t budget = 0;          // base + 1.5 x one session's KV
    uint64_t session_kv = 0;      // A's KV after turn 1
  };
  // Runs A uninterrupted in a daemon without a budget and measures what the budget must hold.
  Reference reference() {
    Reference ref;
    DaemonOptions o = options(0, true);
    DaemonProcess d(o);
    const auto r1 = generate(d, prompt_a_, 8);
    ref.a1 = ids(r1.at("tokens"));
    // B too, so that the scheduler's scratch has seen both prompts.
    generate(d, prompt_b_, 8);
    const auto status = get_json(d, "/strata/v1/status");
    const auto& mem = status.at("models").as_array().at(0).at("memory").as_object();
    const uint64_t base = mem.at("weights_bytes").to_number<uint64_t>() + mem.at("scratch_bytes").to_number<uint64_t>();
    ref.session_kv = session_status(d, id_of(r1)).at("kv_bytes").to_number<uint64_t>();
    ref.base = base;
    ref.budget = base + ref.session_kv + ref.session_kv / 2;
    ref.a2 = ids(generate(d, turn2_, 8, id_of(r1)).at("tokens"));
    // Loading the model reserves its file size: the budget must let it load.
    EXPECT_LE(std::filesystem::file_size(*model_dir_ / "syn.gguf"), ref.budget);
    EXPECT_EQ(ref.session_kv, 3u * 512 * 1024);  // 608 tokens: 3 pages of 512 KiB
    return ref;
  }

  static inline std::filesystem::path* model_dir_ = nullptr;
};

TEST_F(DaemonEviction, AnIdleSessionIsSavedAndEvictedAndResumesFromItsSnapshotTokenIdentically) {
  const Reference ref = reference();
  DaemonProcess d(options(ref.budget, true));
  const auto a = generate(d, prompt_a_, 8);
  const std::string id_a = id_of(a);
  EXPECT_EQ(ids(a.at("tokens")), ref.a1);
  EXPECT_TRUE(resident(d, id_a));
  EXPECT_EQ(evicted(d), 0u);

  // B needs the pages A holds: A is saved and evicted, B is served.
  const auto b = generate(d, prompt_b_, 8);
  const std::string id_b = id_of(b);
  EXPECT_FALSE(resident(d, id_a));
  EXPECT_EQ(session_status(d, id_a).at("kv_bytes").to_number<uint64_t>(), 0u);
  EXPECT_EQ(session_status(d, id_a).at("tokens").as_int64(), 608);  // the history stays
  EXPECT_TRUE(resident(d, id_b));
  EXPECT_EQ(evicted(d), 1u);
  EXPECT_TRUE(d.wait_for_log("evicted session " + id_a));
  EXPECT_TRUE(d.wait_for_log("saved to the snapshot store"));
  const auto snap = get_json(d, "/strata/v1/status").at("snapshots").as_object();
  EXPECT_EQ(snap.at("saves").to_number<uint64_t>(), 1u);  // A's eviction save
  EXPECT_GE(snap.at("chunks_written").to_number<uint64_t>(), 2u);
  EXPECT_LE(get_json(d, "/strata/v1/status").at("memory").at("in_use_bytes").to_number<uint64_t>(), ref.budget);

  // A resumes from its snapshot: its 2 full pages restored, the partial one and turn 2
  // prefilled, the same tokens as without eviction. Room for it is made by evicting B.
  const auto a2 = generate(d, turn2_, 8, id_a);
  EXPECT_EQ(ids(a2.at("tokens")), ref.a2);
  EXPECT_EQ(usage(a2, "restored_tokens"), 512);
  EXPECT_EQ(usage(a2, "prefilled_tokens"), 608 - 512 + 12);
  EXPECT_TRUE(resident(d, id_a));
  EXPECT_FALSE(resident(d, id_b));
  EXPECT_EQ(evicted(d), 2u);
  const std::string metrics = http_request(d.socket(), "GET", "/metrics").body;
  EXPECT_EQ(metric(metrics, "strata_sessions_evicted_total"), 2);
  EXPECT_GE(metric(metrics, "strata_sessions_evicted_bytes_total"), int64_t(ref.session_kv));
  EXPECT_LE(get_json(d, "/strata/v1/status").at("memory").at("in_use_bytes").to_number<uint64_t>(), ref.budget);
}

TEST_F(DaemonEviction, WithSnapshotsOffAnEvictedSessionRePrefillsItsHistoryTokenIdentically) {
  const Reference ref = reference();
  DaemonProcess d(options(ref.budget, false));
  const std::string id_a = id_of(generate(d, prompt_a_, 8));
  generate(d, prompt_b_, 8);
  EXPECT_FALSE(resident(d, id_a));
  EXPECT_EQ(evicted(d), 1u);
  EXPECT_TRUE(d.wait_for_log("not saved (snapshots off)"));
  const auto a2 = generate(d, turn2_, 8, id_a);
  EXPECT_EQ(ids(a2.at("tokens")), ref.a2);
  EXPECT_EQ(usage(a2, "restored_tokens"), 0);
  EXPECT_EQ(usage(a2, "prefilled_tokens"), 608 + 12);
}

TEST_F(DaemonEviction, WithNoIdleSessionToEvictTheRequestIsStillRefused) {
  const Reference ref = reference();
  DaemonProcess d(options(ref.budget, true));
  const std::string id_a = id_of(generate(d, prompt_a_, 8));
  const std::string id_b = id_of(generate(d, prompt_b_, 8));  // evicts A
  ASSERT_TRUE(resident(d, id_b));
  ASSERT_FALSE(resident(d, id_a));

  // B itself asking for more than the budget holds beside its own KV: the only other session
  // holds no KV, and a session never evicts itself.
  HttpResponse r = generate_raw(d, turn2_, 700, id_b);
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(parse_object(r.body).at("error").at("code"), "memory_budget");
  EXPECT_TRUE(resident(d, id_b));
  EXPECT_EQ(evicted(d), 1u);

  // A new session that would not fit even with B evicted: refused, and B keeps its KV.
  r = generate_raw(d, random_ids(600, 4, true), 3000);
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(parse_object(r.body).at("error").at("code"), "memory_budget");
  EXPECT_TRUE(resident(d, id_b));
  EXPECT_EQ(evicted(d), 1u);
  EXPECT_EQ(get_json(d, "/strata/v1/sessions").at("sessions").as_array().size(), 2u);  // the refused one is gone

  // Still serving: B continues within the budget.
  EXPECT_EQ(generate_raw(d, turn2_, 4, id_b).status, 200);
}

TEST_F(DaemonEviction, TheLeastRecentlyUsedIdleSessionIsEvictedFirst) {
  const Reference ref = reference();
  // Room for two sessions' KV, not three.
  DaemonProcess d(options(ref.base + 2 * ref.session_kv + ref.session_kv / 2, true));
  const std::string id_a = id_of(generate(d, prompt_a_, 8));
  const std::string id_b = id_of(generate(d, prompt_b_, 8));
  EXPECT_TRUE(resident(d, id_a));
  EXPECT_TRUE(resident(d, id_b));
  EXPECT_EQ(evicted(d), 0u);
  // A is used again (within the same second as B, most likely): B is now the least recent.
  EXPECT_EQ(ids(generate(d, turn2_, 8, id_a).at("tokens")), ref.a2);
  const std::string id_c = id_of(generate(d, random_ids(600, 5, true), 8));
  EXPECT_TRUE(resident(d, id_a));
  EXPECT_FALSE(resident(d, id_b));
  EXPECT_TRUE(resident(d, id_c));
  EXPECT_EQ(evicted(d), 1u);
}

}  // namespace
}  // namespace strata::test
