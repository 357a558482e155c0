// strata tokenize --model MODEL --text TEXT [--json] [--no-bos] [--no-special]
#include <cstdio>
#include <string>

#include "sdk/cli/commands.h"
#include "sdk/cli/json_out.h"
#include "sdk/cli/offline_model.h"

namespace strata::cli {
namespace {

struct TokenizeOptions {
  std::string model, text;
  bool json = false, no_bos = false, no_special = false, pieces = false;
};

void run_tokenize(const TokenizeOptions& o) {
  auto m = load_offline_model(o.model);
  const Tokenizer& tok = m.model->tokenizer();
  const auto ids = tok.encode(o.text, /*add_special=*/!o.no_bos, /*parse_special=*/!o.no_special);
  if (o.json) {
    boost::json::array a;
    for (int32_t id : ids) a.push_back(id);
    boost::json::object j{{"tokens", std::move(a)}};
    if (o.pieces) {
      boost::json::array p;
      for (int32_t id : ids) p.push_back(boost::json::string(tok.piece(id, true)));
      j["pieces"] = std::move(p);
    }
    print_json(j);
    return;
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (o.pieces)
      std::printf("%d\t'%s'\n", ids[i], tok.piece(ids[i], true).c_str());
    else
      std::printf(i + 1 < ids.size() ? "%d " : "%d\n", ids[i]);
  }
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  auto* sub = app.add_subcommand("tokenize", "Print the token ids of a text");
  sub->add_option("-m,--model", o->model, "GGUF model file")->required();
  sub->add_option("-t,--text", o->text, "Text to tokenize")->required();
  sub->add_flag("--json", o->json, "Print {\"tokens\":[...]}");
  sub->add_flag("--no-bos", o->no_bos, "Do not add BOS/EOS even where the model's metadata asks for it");
  sub->add_flag("--no-special", o->no_special, "Treat special-token text such as <|eot_id|> as plain text");
  sub->add_flag("--pieces", o->pieces, "Show each token's text too");
  sub->callback([o] { run_tokenize(*o); });
}

}  // namespace strata::cli
