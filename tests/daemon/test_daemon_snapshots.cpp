// Session snapshots with the real stratad: a long session survives SIGTERM and a restart and
// continues token-identically with its history restored (not prefilled); a loop of SIGKILLs at
// random moments while snapshots are written never corrupts the index nor gives wrong tokens;
// another uid can do nothing with a restored session; an exported session imports into a fresh
// daemon and continues token-identically from the archive's KV, while damaged or foreign archives
// are refused.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <random>
#include <thread>

#include "engine/model/synth.h"
#include "engine/snapshot/session_archive.h"
#include "engine/snapshot/sqlite_db.h"
#include "tests/daemon/daemon_test_util.h"
#include "tests/support/run_process.h"
#include "tests/support/synth_shape.h"

namespace strata::test {
namespace {

class DaemonSnapshots : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Tiny in width and depth so that a 2,000-token prefill takes well under a second, also
    // under the sanitizers.
    model_dir_ = new std::filesystem::path(temp_dir("snapshot-model"));
    SynthSpec spec = synth_shape(64, 2, 4, 2, 128, 4096);
    spec.seed = 11;
    synthesize_model(spec, *model_dir_ / "syn.gguf");
  }
  static void TearDownTestSuite() { delete model_dir_; }

  void SetUp() override {
    if (!std::filesystem::exists(shared_path("models/vocab/ggml-vocab-llama-spm.gguf")))
      GTEST_SKIP() << "shared vocabulary missing";
    state_ = temp_dir("snapshot-state");
  }

  DaemonOptions options(const std::string& snapshots = "idle_save_seconds = 3600\n") const {
    DaemonOptions o;
    o.tiny_model = false;
    o.state_dir = state_;
    o.config_text = "[models.syn]\npath = \"" + (*model_dir_ / "syn.gguf").string() +
                    "\"\nthreads = 2\n[snapshots]\n" + snapshots;
    return o;
  }

  static std::vector<int32_t> random_ids(size_t n, uint32_t seed, bool bos) { return random_token_ids(n, seed, bos); }

  static json::object generate(const DaemonProcess& d, const std::vector<int32_t>& prompt, int max_tokens,
                               const std::string& session = "") {
    return post_json(d, "/strata/v1/generate", greedy_generate_body("syn", prompt, max_tokens, session));
  }

  static int64_t usage(const json::object& r, const char* field) { return r.at("usage").at(field).as_int64(); }

  static inline std::filesystem::path* model_dir_ = nullptr;
  std::filesystem::path state_;
};

TEST_F(DaemonSnapshots, ALongSessionSurvivesSigtermAndContinuesTokenIdentically) {
  const auto prompt = random_ids(2000, 1, true);
  const auto turn2 = random_ids(12, 2, false);
  std::string interrupted;
  std::vector<int32_t> want;
  {
    DaemonProcess a(options());
    // Two sessions with the same first turn: one continues now (the reference), one after the restart.
    const auto r1 = generate(a, prompt, 8);
    const auto r2 = generate(a, prompt, 8);
    ASSERT_EQ(ids(r1.at("tokens")), ids(r2.at("tokens")));
    ASSERT_EQ(r1.at("finish_reason"), "length");
    EXPECT_EQ(usage(r1, "restored_tokens"), 0);
    EXPECT_EQ(usage(r1, "prefilled_tokens"), 2000);
    interrupted = std::string(r2.at("session").as_string());
    want = ids(generate(a, turn2, 16, std::string(r1.at("session").as_string())).at("tokens"));
    ASSERT_EQ(a.stop(), 0);  // SIGTERM: the sessions are saved on the way out
    EXPECT_TRUE(a.wait_for_log("stopped"));
  }
  DaemonProcess b(options());
  auto list = get_json(b, "/strata/v1/sessions").at("sessions").as_array();
  EXPECT_EQ(list.size(), 2u);
  const auto r = generate(b, turn2, 16, interrupted);
  EXPECT_EQ(ids(r.at("tokens")), want);
  // History: 2000 prompt + 8 generated = 2008 tokens, 7 full pages of 256 restored; the partial
  // page (216 tokens) and the new prompt are prefilled.
  EXPECT_EQ(usage(r, "restored_tokens"), 7 * 256);
  EXPECT_EQ(usage(r, "prefilled_tokens"), 2008 - 7 * 256 + 12);
  const auto status = get_json(b, "/strata/v1/status").at("snapshots").as_object();
  EXPECT_EQ(status.at("hits").to_number<uint64_t>(), 1u);
  EXPECT_EQ(status.at("misses").to_number<uint64_t>(), 0u);
  EXPECT_EQ(status.at("restored_tokens").to_number<uint64_t>(), 7u * 256);
  EXPECT_GT(status.at("disk_bytes").to_number<uint64_t>(), 0u);
  const std::string metrics = http_request(b.socket(), "GET", "/metrics").body;
  EXPECT_EQ(metric(metrics, "strata_snapshot_restored_tokens_total"), 7 * 256);
  EXPECT_EQ(metric(metrics, "strata_snapshot_hits_total"), 1);
}

TEST_F(DaemonSnapshots, DamagedChunksFallBackToPrefillWithTheSameTokens) {
  const auto prompt = random_ids(700, 3, true);
  const auto turn2 = random_ids(5, 4, false);
  std::string session;
  std::vector<int32_t> want;
  {
    DaemonProcess a(options());
    const auto r = generate(a, prompt, 4);
    session = std::string(r.at("session").as_string());
    // The reference: the same history re-prefilled in a fresh session.
    auto history = prompt;
    const auto out = ids(r.at("tokens"));
    history.insert(history.end(), out.begin(), out.end());
    history.insert(history.end(), turn2.begin(), turn2.end());
    const auto ref = generate(a, history, 10);
    want = ids(ref.at("tokens"));
    EXPECT_EQ(http_request(a.socket(), "DELETE", "/strata/v1/sessions/" + std::string(ref.at("session").as_string())).status, 200);
    EXPECT_EQ(post_json(a, "/strata/v1/sessions/" + session + "/snapshot", "").at("session").as_string(), session);
    ASSERT_EQ(a.stop(), 0);
  }
  // Flip a byte in the middle of every chunk file: every chunk fails its checksum.
  int damaged = 0;
  for (const auto& e : std::filesystem::directory_iterator(state_ / "snapshots" / "chunks")) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(e.file_size() / 2));
    f.put('\x7f');
    ++damaged;
  }
  EXPECT_EQ(damaged, 2);
  DaemonProcess b(options());
  EXPECT_TRUE(b.wait_for_log("failed their checksums"));
  const auto r = generate(b, turn2, 10, session);
  EXPECT_EQ(ids(r.at("tokens")), want);
  EXPECT_EQ(usage(r, "restored_tokens"), 0);
  EXPECT_EQ(usage(r, "prefilled_tokens"), 704 + 5);
}

TEST_F(DaemonSnapshots, ANewSessionReusesTheStoredPrefixOfTheSameUid) {
  DaemonProcess d(options());
  const auto first = generate(d, random_ids(600, 6, true), 4);
  auto prompt = random_ids(600, 6, true);
  const auto out = ids(first.at("tokens"));
  prompt.insert(prompt.end(), out.begin(), out.end());
  const auto more = random_ids(30, 7, false);
  prompt.insert(prompt.end(), more.begin(), more.end());
  // Before anything is on disk: the whole prompt is prefilled.
  const auto ref = generate(d, prompt, 6);
  EXPECT_EQ(usage(ref, "restored_tokens"), 0);
  post_json(d, "/strata/v1/sessions/" + std::string(first.at("session").as_string()) + "/snapshot", "");
  // After the first session's two full pages were saved, they are reused.
  const auto got = generate(d, prompt, 6);
  EXPECT_EQ(usage(got, "restored_tokens"), 512);
  EXPECT_EQ(usage(got, "prefilled_tokens"), int64_t(prompt.size()) - 512);
  EXPECT_EQ(ids(got.at("tokens")), ids(ref.at("tokens")));
}

TEST_F(DaemonSnapshots, AnotherUidCanNeitherListResumeSnapshotNorDeleteARestoredSession) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user (nobody)";
  if (!std::filesystem::exists("/usr/bin/setpriv") || !std::filesystem::exists("/usr/bin/curl"))
    GTEST_SKIP() << "needs setpriv and curl";
  std::string session;
  {
    DaemonProcess a(options());
    session = std::string(generate(a, random_ids(300, 5, true), 2).at("session").as_string());
    ASSERT_EQ(a.stop(), 0);
  }
  DaemonProcess d(options());
  ::chmod(d.dir().c_str(), 0755);
  ::chmod(d.socket().c_str(), 0666);
  auto as_nobody = [&](const std::vector<std::string>& curl_args) {
    std::vector<std::string> argv{"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                  "/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket",
                                  d.socket().string()};
    argv.insert(argv.end(), curl_args.begin(), curl_args.end());
    return run_process(argv, "", 60).out;
  };
  const std::string url = "http://localhost/strata/v1/sessions/" + session;
  EXPECT_EQ(as_nobody({"-d", R"({"model":"syn","prompt":[5],"max_tokens":1,"session":")" + session + R"("})",
                       "http://localhost/strata/v1/generate"}),
            "404");
  EXPECT_EQ(as_nobody({"-X", "POST", url + "/snapshot"}), "404");
  EXPECT_EQ(as_nobody({url}), "404");
  EXPECT_EQ(as_nobody({"-X", "DELETE", url}), "404");
  // Their listing is empty; the owner's still has it, and the owner may delete it for good.
  const ProcessResult list = run_process({"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                          "/usr/bin/curl", "-s", "--unix-socket", d.socket().string(),
                                          "http://localhost/strata/v1/sessions"},
                                         "", 60);
  EXPECT_TRUE(json::parse(list.out).at("sessions").as_array().empty()) << list.out;
  EXPECT_EQ(get_json(d, "/strata/v1/sessions").at("sessions").as_array().size(), 1u);
  EXPECT_EQ(http_request(d.socket(), "DELETE", "/strata/v1/sessions/" + session).status, 200);
  ASSERT_EQ(d.stop(), 0);
  DaemonProcess e(options());
  EXPECT_TRUE(get_json(e, "/strata/v1/sessions").at("sessions").as_array().empty());
}

// Session archives: an exported session imported into a daemon with a fresh state folder
// continues token-identically, its KV restored from the archive's chunks.
TEST_F(DaemonSnapshots, AnExportedSessionImportsIntoAFreshDaemonAndContinuesTokenIdentically) {
  const auto prompt = random_ids(700, 8, true);
  const auto turn2 = random_ids(6, 9, false);
  DaemonProcess a(options());
  const auto r1 = generate(a, prompt, 4);
  const auto r2 = generate(a, prompt, 4);
  ASSERT_EQ(ids(r1.at("tokens")), ids(r2.at("tokens")));
  const std::string session(r1.at("session").as_string());
  const auto want = ids(generate(a, turn2, 10, std::string(r2.at("session").as_string())).at("tokens"));
  const HttpResponse archive = http_request(a.socket(), "GET", "/strata/v1/sessions/" + session + "/export");
  ASSERT_EQ(archive.status, 200) << archive.body;
  EXPECT_EQ(archive.headers.at("content-type"), "application/vnd.strata.session-archive");
  EXPECT_EQ(http_request(a.socket(), "DELETE", "/strata/v1/sessions/" + session).status, 200);
  EXPECT_EQ(http_request(a.socket(), "GET", "/strata/v1/sessions/" + session + "/export").status, 404);

  DaemonOptions fresh = options();
  fresh.state_dir = temp_dir("snapshot-import");
  DaemonProcess b(fresh);
  const auto imported = post_json(b, "/strata/v1/sessions/import", archive.body);
  const std::string id(imported.at("id").as_string());
  EXPECT_NE(id, session);
  EXPECT_EQ(imported.at("tokens").as_int64(), 704);
  const auto r = generate(b, turn2, 10, id);
  EXPECT_EQ(ids(r.at("tokens")), want);
  EXPECT_EQ(usage(r, "restored_tokens"), 2 * 256);  // 704 tokens: 2 full pages came from the archive
  EXPECT_EQ(usage(r, "prefilled_tokens"), 704 - 512 + 6);
}

TEST_F(DaemonSnapshots, ADamagedOrForeignArchiveIsRefusedAndNothingIsImported) {
  std::string archive;
  {
    DaemonProcess a(options());
    const std::string session(generate(a, random_ids(600, 10, true), 2).at("session").as_string());
    const HttpResponse r = http_request(a.socket(), "GET", "/strata/v1/sessions/" + session + "/export");
    ASSERT_EQ(r.status, 200) << r.body;
    archive = r.body;
  }
  // Archives have their own size limit: max_body_bytes (here below the archive's size) does not apply.
  ASSERT_GT(archive.size(), 65536u);
  DaemonOptions fresh = options("idle_save_seconds = 3600\n[limits]\nmax_body_bytes = 65536\n");
  fresh.state_dir = temp_dir("snapshot-import");
  DaemonProcess b(fresh);
  auto refused = [&](std::string bytes, const std::string& cause) {
    const HttpResponse r = http_request(b.socket(), "POST", "/strata/v1/sessions/import", bytes);
    EXPECT_EQ(r.status, 400) << cause << ": " << r.body;
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    const auto e = parse_object(r.body).at("error").as_object();
    EXPECT_EQ(e.at("code"), "invalid_archive");
    EXPECT_NE(std::string(e.at("message").as_string()).find(cause), std::string::npos) << r.body;
  };
  auto flipped = [&](size_t at) {
    std::string bytes = archive;
    bytes[at] ^= 0x10;
    return bytes;
  };
  refused(flipped(archive.size() - 100), "chunk 1");      // in the second chunk's payload
  refused(flipped(30), "metadata_checksum");              // in the token ids
  refused(flipped(0), "magic");
  refused(archive.substr(0, archive.size() - 1), "truncated");
  refused(archive + "x", "bytes after the last chunk");
  // Well-formed containers whose content does not fit together.
  auto rebuilt = [&](auto change) {
    auto a = snapshot::decode_archive(archive);
    change(a);
    return snapshot::encode_archive(a);
  };
  refused(rebuilt([](auto& a) { a.tokens[5] ^= 1; }), "chunk 0: key");
  refused(rebuilt([](auto& a) { std::swap(a.chunks[0], a.chunks[1]); }), "chunk 0: token_range");
  refused(rebuilt([](auto& a) { a.model = "other"; }), "model 'other' is not configured");
  refused(rebuilt([](auto& a) { a.tokens.resize(300); }), "more tokens than the history");
  // The same name configured for another model file: every chunk's fingerprint differs.
  SynthSpec spec;
  spec.dim = 64;
  spec.layers = 2;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.ffn = 128;
  spec.context = 4096;
  spec.vocab_from = shared_path("models/vocab/ggml-vocab-llama-spm.gguf");
  spec.seed = 12;
  spec.threads = 2;
  const auto other_dir = temp_dir("snapshot-other-model");
  synthesize_model(spec, other_dir / "syn.gguf");
  DaemonOptions other = options();
  other.state_dir = temp_dir("snapshot-import-other");
  other.config_text = "[models.syn]\npath = \"" + (other_dir / "syn.gguf").string() + "\"\nthreads = 2\n[snapshots]\n";
  {
    DaemonProcess c(other);
    const HttpResponse r = http_request(c.socket(), "POST", "/strata/v1/sessions/import", archive);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("fingerprint"), std::string::npos) << r.body;
    EXPECT_TRUE(get_json(c, "/strata/v1/sessions").at("sessions").as_array().empty());
  }
  // Nothing was imported, nothing written, and the daemon still serves.
  EXPECT_TRUE(get_json(b, "/strata/v1/sessions").at("sessions").as_array().empty());
  EXPECT_TRUE(std::filesystem::is_empty(fresh.state_dir / "snapshots" / "chunks"));
  EXPECT_EQ(get_json(b, "/strata/v1/status").count("snapshots"), 1u);
  EXPECT_EQ(post_json(b, "/strata/v1/sessions/import", archive).at("tokens").as_int64(), 602);
  // The same model file with another configured KV type: the chunks' f16 KV is refused.
  {
    DaemonOptions q4 = options();
    q4.state_dir = temp_dir("snapshot-import-q4g");
    q4.config_text = "[models.syn]\npath = \"" + (*model_dir_ / "syn.gguf").string() +
                     "\"\nthreads = 2\nkv = \"q4g\"\n[snapshots]\n";
    DaemonProcess e(q4);
    const HttpResponse r = http_request(e.socket(), "POST", "/strata/v1/sessions/import", archive);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("chunk 0: kv_type"), std::string::npos) << r.body;
  }
  // With cross-uid prefix reuse on, imported KV would reach other users: refused.
  {
    DaemonOptions shared = options("cross_uid_prefix = 1\n");
    shared.state_dir = temp_dir("snapshot-import-shared");
    DaemonProcess e(shared);
    const HttpResponse r = http_request(e.socket(), "POST", "/strata/v1/sessions/import", archive);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("import_disabled"), std::string::npos) << r.body;
  }
  // Past limits.max_import_bytes: 413 before the body is read.
  DaemonOptions small = options("idle_save_seconds = 3600\n[limits]\nmax_import_bytes = 4096\n");
  small.state_dir = temp_dir("snapshot-import-small");
  DaemonProcess d(small);
  const HttpResponse big = http_request(d.socket(), "POST", "/strata/v1/sessions/import", archive);
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_NE(big.body.find("max_import_bytes"), std::string::npos) << big.body;
  EXPECT_TRUE(get_json(d, "/strata/v1/sessions").at("sessions").as_array().empty());
}

TEST_F(DaemonSnapshots, AnotherUidCannotExportASession) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user (nobody)";
  if (!std::filesystem::exists("/usr/bin/setpriv") || !std::filesystem::exists("/usr/bin/curl"))
    GTEST_SKIP() << "needs setpriv and curl";
  DaemonProcess d(options());
  const std::string session(generate(d, random_ids(300, 11, true), 2).at("session").as_string());
  ::chmod(d.dir().c_str(), 0755);
  ::chmod(d.socket().c_str(), 0666);
  const ProcessResult r = run_process({"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                       "/usr/bin/curl", "-s", "-w", "\n%{http_code}", "--unix-socket",
                                       d.socket().string(),
                                       "http://localhost/strata/v1/sessions/" + session + "/export"},
                                      "", 60);
  EXPECT_TRUE(r.out.ends_with("\n404")) << r.out;
  EXPECT_NE(r.out.find("session_not_found"), std::string::npos) << r.out;
  EXPECT_EQ(http_request(d.socket(), "GET", "/strata/v1/sessions/" + session + "/export").status, 200);
}

// The CLI end to end: `strata sessions export` then `strata sessions import` into a fresh daemon.
TEST_F(DaemonSnapshots, TheCliExportsAndImportsASession) {
  const auto file = temp_dir("snapshot-cli") / "session.stsa";
  auto strata = [](std::vector<std::string> args, const DaemonProcess& d) {
    args.insert(args.begin(), bin_path("strata").string());
    args.push_back("--socket");
    args.push_back(d.socket().string());
    return run_process(args, "", 60);
  };
  std::string session;
  {
    DaemonProcess a(options());
    session = std::string(generate(a, random_ids(520, 12, true), 3).at("session").as_string());
    const auto r = strata({"sessions", "export", session, file.string()}, a);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "exported " + session + " to " + file.string() + "\n");
    EXPECT_NE(strata({"sessions", "export", std::string(32, 'a'), file.string() + ".x"}, a).exit_code, 0);
    EXPECT_FALSE(std::filesystem::exists(file.string() + ".x"));
  }
  DaemonOptions fresh = options();
  fresh.state_dir = temp_dir("snapshot-import");
  DaemonProcess b(fresh);
  const auto r = strata({"sessions", "import", file.string(), "--json"}, b);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id(parse_object(r.out).at("id").as_string());
  EXPECT_EQ(usage(generate(b, random_ids(4, 13, false), 2, id), "restored_tokens"), 2 * 256);
  // A damaged file: refused with the cause, nothing imported.
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bytes[bytes.size() / 2] ^= 0x01;
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  const auto bad = strata({"sessions", "import", file.string()}, b);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("chunk"), std::string::npos) << bad.err;
  EXPECT_EQ(get_json(b, "/strata/v1/sessions").at("sessions").as_array().size(), 1u);
}

TEST_F(DaemonSnapshots, SigkillAtRandomMomentsNeverCorruptsTheIndexNorTheTokens) {
  constexpr int kIterations = 50;
  std::mt19937 rng(20261122);
  std::string session;
  // The history the client saw after each completed turn; the daemon resumes from one of them.
  std::vector<std::vector<int32_t>> histories;
  int resumed = 0, restored_any = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int it = 0; it < kIterations; ++it) {
    DaemonProcess d(options("idle_save_seconds = 0\n"));
    std::vector<int32_t> base;
    if (!session.empty()) {
      HttpResponse s = http_request(d.socket(), "GET", "/strata/v1/sessions/" + session);
      if (s.status == 200) {
        const size_t n = parse_object(s.body).at("tokens").as_int64();
        for (const auto& h : histories)
          if (h.size() == n) base = h;
        ASSERT_FALSE(base.empty()) << "iteration " << it << ": the session came back with " << n
                                   << " tokens, which no completed turn had";
      } else {
        ASSERT_EQ(s.status, 404);
        histories.clear();  // never saved before the kill: start again
        session.clear();
      }
    }
    const auto prompt = random_ids(session.empty() ? 300 : 16, 100 + it, session.empty());
    const auto r = generate(d, prompt, 4, session);
    ASSERT_EQ(r.at("finish_reason"), "length");
    if (!session.empty()) {
      ++resumed;
      restored_any += usage(r, "restored_tokens") > 0;
      // The same history re-prefilled in a fresh session gives the same tokens.
      auto full = base;
      full.insert(full.end(), prompt.begin(), prompt.end());
      const auto ref = generate(d, full, 4);
      EXPECT_EQ(ids(r.at("tokens")), ids(ref.at("tokens"))) << "iteration " << it;
      http_request(d.socket(), "DELETE", "/strata/v1/sessions/" + std::string(ref.at("session").as_string()));
    }
    session = std::string(r.at("session").as_string());
    auto h = base;
    h.insert(h.end(), prompt.begin(), prompt.end());
    const auto out = ids(r.at("tokens"));
    h.insert(h.end(), out.begin(), out.end());
    histories.push_back(h);
    // Snapshots are being written now (the idle save at the next tick, and this request): kill
    // the daemon at a random moment among them.
    std::thread snap([&d, session] {
      try {
        http_request(d.socket(), "POST", "/strata/v1/sessions/" + session + "/snapshot", "", 2000);
      } catch (const std::exception&) {
        // killed mid-request
      }
    });
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 15000)(rng)));
    d.signal(SIGKILL);
    snap.join();
    for (int i = 0; i < 200 && d.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    snapshot::SqliteDb db(state_ / "snapshots" / "index.sqlite");
    ASSERT_EQ(db.query_int("SELECT COUNT(*) FROM sessions").has_value(), true);
    snapshot::SqliteStmt check(db, "PRAGMA integrity_check");
    ASSERT_TRUE(check.step());
    ASSERT_EQ(check.text_at(0), "ok") << "iteration " << it;
  }
  EXPECT_GT(resumed, kIterations / 2);
  EXPECT_GT(restored_any, 0) << "no iteration restored KV from disk";
  std::cerr << "crash loop: " << kIterations << " iterations in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s, " << resumed
            << " resumed, " << restored_any << " with KV restored\n";
}

}  // namespace
}  // namespace strata::test
