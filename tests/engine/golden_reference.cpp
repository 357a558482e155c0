#include "tests/engine/golden_reference.h"

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/test_paths.h"

namespace strata::test {
namespace {

namespace json = boost::json;

std::vector<int32_t> ids(const json::value& v) {
  std::vector<int32_t> out;
  for (const auto& x : v.as_array()) out.push_back(static_cast<int32_t>(x.to_number<int64_t>()));
  return out;
}

GoldenTolerances tolerances(const json::object& o, GoldenTolerances def) {
  if (auto* t = o.if_contains("tolerances")) {
    const auto& to = t->as_object();
    def.free_run_margin = to.at("free_run_margin").to_number<double>();
    def.teacher_forced_margin = to.at("teacher_forced_margin").to_number<double>();
    def.logit_abs = to.at("logit_abs").to_number<double>();
  }
  return def;
}

GoldenModel model_entry(const std::filesystem::path& file, const json::object& m, GoldenTolerances def) {
  GoldenModel g;
  g.golden_file = file;
  // model_file is relative to the folder that holds shared/.
  g.model_path = shared_dir().parent_path() / std::string(m.at("model_file").as_string());
  g.tolerances = tolerances(m, def);
  for (const auto& c : m.at("cases").as_array()) {
    const auto& co = c.as_object();
    GoldenCase gc;
    gc.prompt = std::string(co.at("prompt").as_string());
    gc.prompt_tokens = ids(co.at("prompt_tokens"));
    gc.generated_tokens = ids(co.at("generated_tokens"));
    for (const auto& x : co.at("generated_top1_top2_margin").as_array()) gc.margins.push_back(x.to_number<double>());
    for (const auto& p : co.at("first_step_top10_logits").as_array())
      gc.top10_first.emplace_back(static_cast<int32_t>(p.as_array()[0].to_number<int64_t>()), p.as_array()[1].to_number<double>());
    g.cases.push_back(std::move(gc));
  }
  return g;
}

}  // namespace

std::vector<GoldenModel> load_all_golden() {
  std::vector<GoldenModel> out;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(shared_dir() / "golden"))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    const auto root = json::parse(ss.str()).as_object();
    const GoldenTolerances top = tolerances(root, {});
    if (auto* models = root.if_contains("models")) {
      for (const auto& m : models->as_array()) out.push_back(model_entry(f, m.as_object(), top));
    } else {
      out.push_back(model_entry(f, root, top));  // a single-model file: cases at the top level
    }
  }
  return out;
}

}  // namespace strata::test
