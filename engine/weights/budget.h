// A memory budget as the user writes it: a byte count ("8G", "1073741824") or a share of the
// model's weight bytes ("50%"). Unset means no limit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata {

struct Budget {
  std::optional<uint64_t> bytes;    // absolute
  std::optional<double> percent;    // of the model's weight bytes (as stored in the file)

  bool set() const { return bytes || percent; }
  // Bytes allowed for a model whose tensors take `model_bytes`; UINT64_MAX when unset.
  uint64_t resolve(uint64_t model_bytes) const;
  std::string to_string() const;

  // Accepts "", "1073741824", "512M", "8G", "1.5GiB", "8GB" (powers of 1000), "50%". Throws Error(InvalidArgument)
  // naming `what` (the option or config key) for anything else.
  static Budget parse(std::string_view text, std::string_view what);
};

}  // namespace strata
