#include "tokenizer-common/tokenizer_base.h"

#include "tokenizer-common/plugin_error.h"
#include "tokenizer-common/special_splitter.h"

namespace strata::tokenizer_plugin {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

int byte_of_token_text(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  const int hi = hex_digit(text[3]), lo = hex_digit(text[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

void TokenizerBase::encode(std::string_view text, uint32_t flags, std::vector<int32_t>& out) const {
  const bool add_bos = (flags & STRATA_TOKENIZE_ADD_BOS) || ((flags & STRATA_TOKENIZE_ADD_DEFAULT) && vocab_.add_bos());
  const bool add_eos = (flags & STRATA_TOKENIZE_ADD_EOS) || ((flags & STRATA_TOKENIZE_ADD_DEFAULT) && vocab_.add_eos());
  const int32_t bos = vocab_.special(STRATA_SPECIAL_BOS), eos = vocab_.special(STRATA_SPECIAL_EOS);
  if (add_bos && bos < 0) fail(STRATA_PLUGIN_EINVAL, "BOS requested but the model has no BOS token");
  if (add_eos && eos < 0) fail(STRATA_PLUGIN_EINVAL, "EOS requested but the model has no EOS token");

  if (add_bos) out.push_back(bos);
  bool after_special = true;
  for (const Fragment& f : split_special(text, vocab_, flags & STRATA_TOKENIZE_PARSE_SPECIAL)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      encode_plain(text.substr(f.offset, f.length), after_special, out);
      after_special = false;
    }
  }
  if (add_eos) out.push_back(eos);
}

void TokenizerBase::piece(int32_t id, uint32_t flags, std::string& out) const {
  const uint32_t a = vocab_.attr(id);
  // Checked in this order on purpose: a token detected as EOT or FIM by its name carries both
  // CONTROL and its stored type, and renders as a control token.
  if (a & (STRATA_TOKEN_CONTROL | STRATA_TOKEN_UNKNOWN)) {
    if (flags & STRATA_PIECE_RENDER_SPECIAL) out.append(vocab_.text(id));
  } else if (a & STRATA_TOKEN_USER_DEFINED) {
    out.append(vocab_.text(id));  // added tokens are stored as the text they match
  } else if (a & STRATA_TOKEN_NORMAL) {
    normal_piece(id, out);
  } else if (a & STRATA_TOKEN_BYTE) {
    const int b = byte_of_token_text(vocab_.text(id));
    if (b >= 0) out.push_back(static_cast<char>(b));
  }
  // UNUSED and undefined tokens render as nothing.
}

}  // namespace strata::tokenizer_plugin
