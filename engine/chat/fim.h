// Fill-in-the-middle prompts for code models: the model sees the text before and after the
// cursor and generates what goes between.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace strata {

class Tokenizer;

// The tokens of a prefix-suffix-middle prompt:
//   [BOS] FIM_PRE prefix FIM_SUF suffix FIM_MID
// BOS only when the tokenizer adds one (Tokenizer::adds_bos()). The prefix and suffix are
// encoded as plain text (special-token text inside them stays text, so a file that contains
// "<fim_middle>" cannot steer the prompt). Throws Error(Unsupported) naming `model_name` when
// the tokenizer has no FIM prefix, suffix or middle token.
std::vector<int32_t> build_fim_prompt(const Tokenizer& tokenizer, std::string_view prefix, std::string_view suffix,
                                      std::string_view model_name = "the model");

}  // namespace strata
