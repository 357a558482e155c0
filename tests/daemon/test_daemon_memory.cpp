// The real stratad's memory accounting: a KV storage type per model (models.NAME.kv), KV pages
// counted once per model pool, and the categories of /strata/v1/status adding up.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "engine/plugin/plugin_registry.h"
#include "tests/daemon/daemon_test_util.h"
#include "tests/support/run_process.h"

namespace strata::test {
namespace {

// Bytes of one KV page of the tiny model in `type`, from the engine's own layout arithmetic.
uint64_t tiny_page_bytes(KvType type) {
  const PluginRegistry plugins = PluginRegistry::load_default();
  const auto model = Model::load(tiny_path(), plugins);
  const auto& d = model->desc();
  const KvGeometry g{static_cast<int>(d.n_layer), static_cast<int>(d.n_head_kv), static_cast<int>(d.head_dim)};
  return SequenceKvCache::page_bytes(g, KvFormat::make(type, g.head_dim), SequenceKvCache::kDefaultPageTokens);
}

const json::object& model_named(const json::object& status, const std::string& name) {
  for (const auto& m : status.at("models").as_array())
    if (m.at("name") == json::value(name)) return m.as_object();
  ADD_FAILURE() << "no model " << name << " in " << json::serialize(status);
  static const json::object none;
  return none;
}

int64_t field(const json::object& o, const char* key) { return o.at(key).to_number<int64_t>(); }

TEST(DaemonMemory, KvTypePerModelAndCategoriesAddUp) {
  DaemonOptions o;
  o.config_text = "[models.tiny4]\npath = \"" + tiny_path() + "\"\nkv = \"q4g\"\n";
  DaemonProcess d(o);
  const std::string request = R"(,"prompt":[1,450,4996,17354],"max_tokens":5,"temperature":0})";
  json::object f16 = post_json(d, "/strata/v1/generate", R"({"model":"tiny")" + request);
  json::object q4g = post_json(d, "/strata/v1/generate", R"({"model":"tiny4")" + request);
  EXPECT_EQ(q4g["tokens"].as_array().size(), 5u) << "generation works over q4g KV";

  const json::object s = get_json(d, "/strata/v1/status");
  const json::object& a = model_named(s, "tiny");
  const json::object& b = model_named(s, "tiny4");
  EXPECT_EQ(a.at("kv_type"), "f16");
  EXPECT_EQ(b.at("kv_type"), "q4g");
  // Each model holds one session of 9 tokens: one page of its own storage type.
  const uint64_t f16_page = tiny_page_bytes(KvType::F16), q4g_page = tiny_page_bytes(KvType::Q4G);
  ASSERT_LT(q4g_page, f16_page);
  EXPECT_EQ(field(a.at("memory").as_object(), "kv_bytes"), static_cast<int64_t>(f16_page));
  EXPECT_EQ(field(b.at("memory").as_object(), "kv_bytes"), static_cast<int64_t>(q4g_page));

  int64_t sum_total = 0, sum_kv = 0;
  for (const json::object* m : {&a, &b}) {
    const json::object& mem = m->at("memory").as_object();
    EXPECT_GT(field(mem, "weights_bytes"), 0);
    EXPECT_GT(field(mem, "scratch_bytes"), 0) << "the scheduler's activations are counted";
    EXPECT_EQ(field(mem, "total_bytes"), field(mem, "weights_bytes") + field(mem, "kv_bytes") +
                                             field(mem, "kv_free_bytes") + field(mem, "scratch_bytes"));
    sum_total += field(mem, "total_bytes");
    sum_kv += field(mem, "kv_bytes");
  }
  const json::object& all = s.at("memory").as_object();
  EXPECT_EQ(field(all, "total_bytes"), sum_total);
  EXPECT_EQ(field(all, "kv_bytes"), sum_kv);
  EXPECT_EQ(field(all, "in_use_bytes"), sum_total) << "nothing is loading";

  // Per session: its tokens and its pages.
  ASSERT_EQ(s.at("sessions").as_array().size(), 2u);
  for (const auto& sv : s.at("sessions").as_array()) {
    const json::object& sess = sv.as_object();
    const bool quantized = sess.at("model") == "tiny4";
    EXPECT_EQ(field(sess, "tokens"), 9);
    EXPECT_EQ(field(sess, "kv_bytes"), static_cast<int64_t>(quantized ? q4g_page : f16_page));
    EXPECT_EQ(sess.at("kv_resident"), true);
  }

  // Deleting a session returns its page to the model's pool (kept for reuse, not in use).
  ASSERT_EQ(http_request(d.socket(), "DELETE", "/strata/v1/sessions/" + std::string(q4g["session"].as_string())).status,
            200);
  const json::object after = model_named(get_json(d, "/strata/v1/status"), "tiny4").at("memory").as_object();
  EXPECT_EQ(field(after, "kv_bytes"), 0);
  EXPECT_EQ(field(after, "kv_free_bytes"), static_cast<int64_t>(q4g_page));

  const std::string metrics = http_request(d.socket(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("strata_model_kv_bytes{model=\"tiny\"} " + std::to_string(f16_page) + "\n"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(d.stop(), 0);
}

TEST(DaemonMemory, AKvTypeTheHeadSizeCannotTakeFailsTheLoadNamingIt) {
  // q8_0 stores blocks of 32 elements; the tiny model's heads have 4.
  DaemonOptions o;
  o.config_text = "[models.tiny8]\npath = \"" + tiny_path() + "\"\nkv = \"q8_0\"\n";
  DaemonProcess d(o);
  HttpResponse r = http_request(d.socket(), "POST", "/strata/v1/generate", R"({"model":"tiny8","prompt":"x"})");
  EXPECT_GE(r.status, 400);
  EXPECT_NE(r.body.find("tiny8"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("q8_0"), std::string::npos) << r.body;
  // The daemon keeps serving the other model.
  EXPECT_EQ(http_request(d.socket(), "POST", "/strata/v1/generate", R"({"model":"tiny","prompt":"x","max_tokens":1})")
                .status,
            200);
  EXPECT_EQ(d.stop(), 0);
}

TEST(DaemonMemory, AnUnknownKvTypeIsAConfigErrorWithItsPosition) {
  DaemonOptions o;
  o.config_text = "[models.bad]\npath = \"" + tiny_path() + "\"\nkv = \"q5\"\n";
  o.wait_ready = false;
  DaemonProcess d(o);
  for (int i = 0; i < 500 && d.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(d.running());
  EXPECT_NE(d.log().find(":3:"), std::string::npos) << d.log();
  EXPECT_NE(d.log().find("f16, q8_0, q4g"), std::string::npos) << d.log();
}

TEST(DaemonMemory, WeightsOnTheSsdTierShowInStatusAndStrataStatus) {
  DaemonOptions o;
  o.config_text = "[models.tiered]\npath = \"" + tiny_path() + "\"\nweight_tiers = \"ram=0,ssd=100\"\n";
  DaemonProcess d(o);
  const std::string request = R"({"prompt":[1,450,4996],"max_tokens":4,"temperature":0,"model":)";
  const json::object in_ram = post_json(d, "/strata/v1/generate", request + R"("tiny"})");
  const json::object on_ssd = post_json(d, "/strata/v1/generate", request + R"("tiered"})");
  EXPECT_EQ(on_ssd.at("tokens"), in_ram.at("tokens")) << "the tier does not change the output";

  const json::object status = get_json(d, "/strata/v1/status");
  const json::object& w = model_named(status, "tiered").at("weights").as_object();
  EXPECT_GT(field(w, "ssd_bytes"), 0);
  EXPECT_GT(field(w, "ssd_bytes_read"), 0) << "SSD-tier layers are read for each use";
  EXPECT_GT(w.at("ssd_bytes_per_token").to_number<double>(), 0);

  const ProcessResult st = run_process({bin_path("strata").string(), "status", "--socket", d.socket().string()}, "", 60);
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("SSD READ/TOKEN"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("\ntiered "), std::string::npos) << st.out;
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace strata::test
