// The prompt token ids llama.cpp produced for the shared models (../shared/golden), BOS included
// as the models' metadata asks: the tokenizers must reproduce them exactly.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "engine/gguf/gguf_file.h"
#include "tests/support/test_paths.h"
#include "tests/tokenizer/tokenizer_test_support.h"

namespace strata::test {
namespace {

boost::json::value read_json(const std::string& relative) {
  std::ifstream in(shared_path(relative), std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str());
}

// Checks every case of one golden model entry; `model_file` is "shared/models/...".
void check_model(const boost::json::object& entry, const boost::json::array& cases) {
  std::string file(entry.at("model_file").as_string());
  if (file.rfind("shared/", 0) == 0) file = file.substr(7);
  SCOPED_TRACE(file);
  const auto gguf = gguf::GgufFile::open(shared_path(file));
  const Tokenizer tok = Tokenizer::create(plugins(), gguf);
  for (const auto& c : cases) {
    const auto& obj = c.as_object();
    std::vector<int32_t> want;
    for (const auto& id : obj.at("prompt_tokens").as_array()) want.push_back(static_cast<int32_t>(id.as_int64()));
    const std::string prompt(obj.at("prompt").as_string());
    EXPECT_EQ(tok.encode(prompt, /*add_special=*/true, /*parse_special=*/true), want) << prompt.substr(0, 60);
  }
}

TEST(GoldenPrompts, TinyRandomLlama2) {
  const auto doc = read_json("golden/tiny-random-greedy.json");
  check_model(doc.as_object(), doc.at("cases").as_array());
}

TEST(GoldenPrompts, MiniLlamas) {
  const auto doc = read_json("golden/mini-llama.json");
  for (const auto& m : doc.at("models").as_array()) check_model(m.as_object(), m.at("cases").as_array());
}

}  // namespace
}  // namespace strata::test
