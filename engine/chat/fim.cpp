#include "engine/chat/fim.h"

#include <string>
#include <utility>

#include "engine/core/error.h"
#include "engine/tokenizer/tokenizer.h"

namespace strata {

std::vector<int32_t> build_fim_prompt(const Tokenizer& tokenizer, std::string_view prefix, std::string_view suffix,
                                      std::string_view model_name) {
  const int32_t pre = tokenizer.fim_pre(), suf = tokenizer.fim_suf(), mid = tokenizer.fim_mid();
  if (pre < 0 || suf < 0 || mid < 0) {
    std::string missing;
    for (auto [id, name] : {std::pair{pre, "prefix"}, std::pair{suf, "suffix"}, std::pair{mid, "middle"}})
      if (id < 0) missing += std::string(missing.empty() ? "" : ", ") + name;
    throw Error(ErrorKind::Unsupported, std::string(model_name) +
                                            " does not support fill-in-the-middle: its vocabulary has no FIM " + missing +
                                            " token (tokenizer.ggml.fim_*_token_id)");
  }
  std::vector<int32_t> out;
  if (tokenizer.adds_bos() && tokenizer.bos() >= 0) out.push_back(tokenizer.bos());
  out.push_back(pre);
  if (!prefix.empty()) {
    const auto ids = tokenizer.encode(prefix, /*add_special=*/false, /*parse_special=*/false);
    out.insert(out.end(), ids.begin(), ids.end());
  }
  out.push_back(suf);
  if (!suffix.empty()) {
    const auto ids = tokenizer.encode(suffix, false, false);
    out.insert(out.end(), ids.begin(), ids.end());
  }
  out.push_back(mid);
  return out;
}

}  // namespace strata
