// The `strata` binary as a user runs it: output formats, exit codes, errors on stderr.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <iterator>

#include "engine/gguf/gguf_file.h"
#include "tests/gguf/malformed_gguf.h"
#include "tests/support/run_process.h"
#include "tests/support/test_paths.h"

namespace strata {
namespace {

using test::ProcessResult;

ProcessResult strata_cli(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), test::bin_path("strata").string());
  return test::run_process(args, input, 300);
}

std::string tiny() { return test::shared_path("models/llama-2-tiny-random.gguf").string(); }

std::vector<int64_t> int_array(const boost::json::value& v) {
  std::vector<int64_t> out;
  for (const auto& x : v.as_array()) out.push_back(x.to_number<int64_t>());
  return out;
}

TEST(Cli, InspectJsonDescribesTheModel) {
  auto r = strata_cli({"inspect", tiny(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = boost::json::parse(r.out).as_object();
  EXPECT_EQ(j.at("architecture").as_string(), "llama");
  EXPECT_EQ(j.at("vocab_size").to_number<int64_t>(), 32000);
  EXPECT_EQ(j.at("context_length").to_number<int64_t>(), 4096);
  EXPECT_EQ(j.at("n_layer").to_number<int64_t>(), 1);
  EXPECT_EQ(j.at("tokenizer").as_string(), "llama");
  // The parameter count is the sum of the tensors' element counts.
  auto file = gguf::GgufFile::open(tiny());
  int64_t params = 0;
  for (const auto& t : file.tensors()) params += t.n_elements();
  EXPECT_EQ(j.at("parameters").to_number<int64_t>(), params);
  bool f16_listed = false;
  for (const auto& t : j.at("tensor_types").as_array()) f16_listed |= t.at("type").as_string() == "f16";
  EXPECT_TRUE(f16_listed);

  auto text = strata_cli({"inspect", tiny()});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("architecture:   llama"), std::string::npos) << text.out;
}

TEST(Cli, TokenizeAddsBosAsTheMetadataSays) {
  auto r = strata_cli({"tokenize", "--model", tiny(), "--text", "Hello, my name is", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(int_array(boost::json::parse(r.out).at("tokens")), (std::vector<int64_t>{1, 15043, 29892, 590, 1024, 338}));
  auto no_bos = strata_cli({"tokenize", "--model", tiny(), "--text", "Hello, my name is", "--json", "--no-bos"});
  ASSERT_EQ(no_bos.exit_code, 0) << no_bos.err;
  EXPECT_EQ(int_array(boost::json::parse(no_bos.out).at("tokens")), (std::vector<int64_t>{15043, 29892, 590, 1024, 338}));
}

TEST(Cli, GenerateGreedyMatchesLlamaCppOnTheTinyModel) {
  // ../shared/golden/tiny-random-greedy.json, first case: ids up to the first step whose
  // top1-top2 margin is below 0.002 (step 11).
  const std::vector<int64_t> golden = {30960, 16768, 5815, 17433, 357, 16021, 3852, 26270, 16404, 9069, 21352};
  auto r = strata_cli({"generate", "--model", tiny(), "--prompt", "Hello, my name is", "--max-tokens", "24", "--temp",
                       "0", "--json", "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = boost::json::parse(r.out).as_object();
  EXPECT_EQ(int_array(j.at("prompt_tokens")), (std::vector<int64_t>{1, 15043, 29892, 590, 1024, 338}));
  auto tokens = int_array(j.at("tokens"));
  ASSERT_EQ(tokens.size(), 24u);
  EXPECT_EQ(std::vector<int64_t>(tokens.begin(), tokens.begin() + golden.size()), golden);
  EXPECT_TRUE(j.at("text").is_string());
  EXPECT_GT(j.at("timings").at("prompt_ms").to_number<double>(), 0);
}

TEST(Cli, GenerateReadsThePromptFromStdinAndStreams) {
  auto from_stdin = strata_cli({"generate", "--model", tiny(), "--max-tokens", "8", "--temp", "0"}, "Hello, my name is");
  auto from_arg = strata_cli({"generate", "--model", tiny(), "--prompt", "Hello, my name is", "--max-tokens", "8", "--temp", "0"});
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  ASSERT_EQ(from_arg.exit_code, 0) << from_arg.err;
  EXPECT_EQ(from_stdin.out, from_arg.out);
  EXPECT_FALSE(from_arg.out.empty());
}

TEST(Cli, SeededSamplingIsReproducible) {
  std::vector<std::string> args = {"generate", "--model", tiny(), "--prompt", "Once upon a time", "--max-tokens", "16",
                                   "--temp", "1.0", "--top-k", "0", "--top-p", "1", "--min-p", "0", "--json"};
  auto a = args, b = args, c = args;
  a.insert(a.end(), {"--seed", "42"});
  b.insert(b.end(), {"--seed", "42"});
  c.insert(c.end(), {"--seed", "43"});
  auto ra = strata_cli(a), rb = strata_cli(b), rc = strata_cli(c);
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  auto ta = int_array(boost::json::parse(ra.out).at("tokens"));
  EXPECT_EQ(ta, int_array(boost::json::parse(rb.out).at("tokens")));
  EXPECT_NE(ta, int_array(boost::json::parse(rc.out).at("tokens")));
}

TEST(Cli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(strata_cli({}).exit_code, 2);
  EXPECT_EQ(strata_cli({"generate"}).exit_code, 2);                          // --model missing
  EXPECT_EQ(strata_cli({"inspect", tiny(), "--no-such-flag"}).exit_code, 2);
  auto bad_temp = strata_cli({"generate", "--model", tiny(), "--prompt", "x", "--temp", "-1"});
  EXPECT_EQ(bad_temp.exit_code, 2) << bad_temp.err;
  auto bad_type = strata_cli({"model", "synth", "--vocab-from", tiny(), "--type", "q3_x", "--out", "/dev/null"});
  EXPECT_EQ(bad_type.exit_code, 2);
  EXPECT_NE(bad_type.err.find("q3_x"), std::string::npos) << bad_type.err;
}

TEST(Cli, MissingModelFileExitsWithThree) {
  auto r = strata_cli({"inspect", "/nonexistent/model.gguf"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
}

TEST(Cli, EveryMalformedFileExitsWithThreeAndNamesTheCause) {
  const auto dir = test::temp_dir("cli-malformed");
  const auto cases = test::make_malformed_gguf_cases(dir);
  ASSERT_GE(cases.size(), 15u);
  for (const auto& c : cases) {
    for (const char* cmd : {"inspect", "generate"}) {
      std::vector<std::string> args = std::string(cmd) == "inspect"
                                           ? std::vector<std::string>{"inspect", c.path.string()}
                                           : std::vector<std::string>{"generate", "--model", c.path.string(), "--prompt", "x"};
      auto r = strata_cli(args);
      EXPECT_EQ(r.exit_code, 3) << c.name << " (" << cmd << "): " << r.err;
      EXPECT_NE(r.err.find(c.path.filename().string()), std::string::npos) << c.name << ": " << r.err;
      EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.name << ": expected '" << c.expected << "' in " << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    }
  }
}

TEST(Cli, MemoryPredictsEveryContextAndKvTypeAndDrawsAChart) {
  const auto svg = test::temp_dir("cli-memory") / "memory.svg";
  const auto model = test::shared_path("models/mini-llama2-Q8_0.gguf").string();
  auto r = strata_cli({"memory", "--model", model, "--ctx", "1024,2048", "--kv", "f16,q8_0,q4g", "--json", "--plot", svg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = boost::json::parse(r.out).at("rows").as_array();
  ASSERT_EQ(rows.size(), 6u);
  // mini-llama2: 4 layers x 4 KV heads x head size 32, K and V.
  const double elements_per_token = 2.0 * 4 * 4 * 32;
  for (const auto& row : rows) {
    const std::string kv(row.at("kv").as_string());
    const double per_element = kv == "f16" ? 2.0 : kv == "q8_0" ? 34.0 / 32 : 20.0 / 32;  // q4g: group clamped to 32
    EXPECT_DOUBLE_EQ(row.at("kv_bytes_per_token").to_number<double>(), elements_per_token * per_element) << kv;
    EXPECT_EQ(row.at("kv_bytes").to_number<double>(), row.at("ctx").to_number<double>() * elements_per_token * per_element);
    EXPECT_EQ(row.at("total_bytes").to_number<int64_t>(), row.at("weights_bytes").to_number<int64_t>() +
                                                              row.at("kv_bytes").to_number<int64_t>() +
                                                              row.at("scratch_bytes").to_number<int64_t>());
  }
  std::ifstream in(svg);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("KV q4g"), std::string::npos);
  EXPECT_NE(text.find("context (tokens)"), std::string::npos);
  EXPECT_EQ(strata_cli({"memory", "--model", model, "--kv", "q3"}).exit_code, 2);
}

TEST(Cli, GenerateWithQuantizedKvStaysCloseToF16) {
  const auto model = test::shared_path("models/mini-llama2-Q8_0.gguf").string();
  std::vector<std::vector<int64_t>> outputs;
  for (const char* kv : {"f16", "q8_0", "q4g"}) {
    auto r = strata_cli({"generate", "--model", model, "--prompt", "The capital of France is", "-n", "4", "--temp", "0",
                         "--json", "--kv", kv});
    ASSERT_EQ(r.exit_code, 0) << kv << ": " << r.err;
    outputs.push_back(int_array(boost::json::parse(r.out).at("tokens")));
  }
  // The first greedy token has a margin of 2.4 logits (golden file): quantized KV keeps it.
  EXPECT_EQ(outputs[1][0], outputs[0][0]);
  EXPECT_EQ(outputs[2][0], outputs[0][0]);
}

TEST(Cli, GenerateFillHoldsTheFilledContextsPagesAndReportsPeakRss) {
  // mini-llama2: 4 layers x 4 KV heads x head size 32; a page holds 256 positions.
  const auto model = test::shared_path("models/mini-llama2-Q8_0.gguf").string();
  const int64_t page_f16 = 4 * 2 * 4 * 256 * 32 * 2, page_q4g = page_f16 * 20 / 64;  // q4g: group clamped to 32
  for (const auto& [kv, page] : {std::pair{"f16", page_f16}, std::pair{"q4g", page_q4g}}) {
    auto r = strata_cli({"generate", "--model", model, "--prompt", "Hello", "-n", "2", "--temp", "0", "--json", "--kv",
                         kv, "--ctx", "2048", "--fill", "1000"});
    ASSERT_EQ(r.exit_code, 0) << kv << ": " << r.err;
    const auto mem = boost::json::parse(r.out).at("memory").as_object();
    // 1000 filled + the prompt + 2 generated tokens: four pages, not the 2048-token context's eight.
    EXPECT_EQ(mem.at("kv_bytes").to_number<int64_t>(), 4 * page) << kv;
    EXPECT_GT(mem.at("peak_rss_bytes").to_number<int64_t>(), 4 * page) << kv;
  }
  auto over = strata_cli({"generate", "--model", model, "--prompt", "Hello", "--ctx", "512", "--fill", "511"});
  EXPECT_EQ(over.exit_code, 2) << over.err;
  EXPECT_NE(over.err.find("511 filled positions"), std::string::npos) << over.err;
}

TEST(Cli, EvalKvReportsDivergenceAndAgreementPerType) {
  const auto text = test::temp_dir("cli-evalkv") / "text.txt";
  {
    std::ofstream out(text);
    for (int i = 0; i < 8; ++i) out << "The quick brown fox jumps over the lazy dog while the cat sleeps in the sun. ";
  }
  auto r = strata_cli({"eval-kv", "--model", test::shared_path("models/mini-llama2-Q8_0.gguf").string(), "--text",
                       text.string(), "--ctx", "96", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto results = boost::json::parse(r.out).at("results").as_array();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].at("kv").as_string(), "q8_0");
  EXPECT_EQ(results[1].at("kv").as_string(), "q4g");
  for (const auto& x : results) {
    const double kl = x.at("mean_kl").to_number<double>(), agree = x.at("greedy_agreement").to_number<double>();
    EXPECT_GE(kl, 0.0);
    EXPECT_LT(kl, 0.5);
    EXPECT_GE(agree, 0.8);
    EXPECT_LE(agree, 1.0);
    EXPECT_EQ(x.at("positions").to_number<int64_t>(), 95);
  }
  // 8-bit storage loses less than 4-bit storage.
  EXPECT_LT(results[0].at("mean_kl").to_number<double>(), results[1].at("mean_kl").to_number<double>());
}

TEST(Cli, BenchJsonReportsBothTests) {
  auto r = strata_cli({"bench", "--model", tiny(), "-p", "16", "-n", "4", "--reps", "2", "--json", "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = boost::json::parse(r.out).as_object();
  EXPECT_EQ(j.at("threads").to_number<int64_t>(), 1);
  const auto& results = j.at("results").as_array();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].at("test").as_string(), "pp16");
  EXPECT_EQ(results[1].at("test").as_string(), "tg4");
  for (const auto& x : results) EXPECT_GT(x.at("tokens_per_s").to_number<double>(), 0);
}

TEST(Cli, BenchJsonRecordsTheMachineAndTheDecodeRoofline) {
  auto r = strata_cli({"bench", "--model", tiny(), "-p", "0", "-n", "2", "--reps", "1", "--json", "--threads", "1",
                       "--bandwidth", "--probe-window", "0.2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = boost::json::parse(r.out).as_object();
  EXPECT_FALSE(j.at("cpu").as_string().empty());
  EXPECT_TRUE(j.at("cpu_features").as_object().contains("avx2"));
  EXPECT_GE(j.at("logical_cpus").to_number<int64_t>(), 1);
  const std::string prefetch(j.at("prefetch").as_string());
  EXPECT_TRUE(prefetch == "intel" || prefetch == "amd") << prefetch;
  EXPECT_GT(j.at("weight_bytes_per_token").to_number<double>(), 0);
  const auto& bw = j.at("bandwidth").as_object();
  const double bytes_per_s = bw.at("read_bytes_per_s").to_number<double>();
  EXPECT_GT(bytes_per_s, 0);
  // Sustained over windows of the length asked; a window's rate is a mean of its passes, so never
  // above the fastest single pass.
  EXPECT_DOUBLE_EQ(bw.at("window_s").to_number<double>(), 0.2);
  EXPECT_LE(bytes_per_s, bw.at("burst_read_bytes_per_s").to_number<double>());
  EXPECT_NEAR(bw.at("decode_roofline_tokens_per_s").to_number<double>(),
              bytes_per_s / j.at("weight_bytes_per_token").to_number<double>(), 1e-6 * bytes_per_s);
  const auto& tg = j.at("results").as_array().at(0).as_object();
  EXPECT_EQ(tg.at("test").as_string(), "tg2");
  EXPECT_GT(tg.at("roofline_fraction").to_number<double>(), 0);
  // Probes before and after the repetition (--reps 1), and the share is the repetition's own
  // tokens/s against the roofline of their mean.
  const auto& paired = tg.at("paired").as_array();
  ASSERT_EQ(paired.size(), 1u);
  const auto& p = paired.at(0).as_object();
  const double probe = p.at("read_bytes_per_s").to_number<double>();
  EXPECT_GT(probe, 0);
  EXPECT_DOUBLE_EQ(probe, (p.at("read_bytes_per_s_before").to_number<double>() +
                           p.at("read_bytes_per_s_after").to_number<double>()) /
                              2);
  EXPECT_NEAR(p.at("roofline_fraction").to_number<double>(),
              p.at("tokens_per_s").to_number<double>() * j.at("weight_bytes_per_token").to_number<double>() / probe,
              1e-9);
  EXPECT_NEAR(p.at("tokens_per_s").to_number<double>(), tg.at("tokens_per_s").to_number<double>(), 1e-9);
}

TEST(Cli, SynthWritesAModelThatInspectAndGenerateAccept) {
  const auto out = test::temp_dir("cli-synth") / "m.gguf";
  auto s = strata_cli({"model", "synth", "--arch", "llama", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads",
                       "2", "--ffn", "128", "--vocab-from", test::shared_path("models/vocab/ggml-vocab-gpt-2.gguf").string(),
                       "--type", "q8_0", "--out", out.string()});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto i = strata_cli({"inspect", out.string(), "--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  auto j = boost::json::parse(i.out).as_object();
  EXPECT_EQ(j.at("n_layer").to_number<int64_t>(), 2);
  EXPECT_EQ(j.at("n_head_kv").to_number<int64_t>(), 2);
  EXPECT_EQ(j.at("tokenizer").as_string(), "gpt2");
  auto g = strata_cli({"generate", "--model", out.string(), "--prompt", "Hello", "--max-tokens", "4", "--temp", "0", "--json"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(int_array(boost::json::parse(g.out).at("tokens")).size(), 4u);
}

}  // namespace
}  // namespace strata
