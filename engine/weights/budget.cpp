#include "engine/weights/budget.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "engine/core/error.h"

namespace strata {

uint64_t Budget::resolve(uint64_t model_bytes) const {
  if (bytes) return *bytes;
  if (percent) return static_cast<uint64_t>(std::floor(static_cast<double>(model_bytes) * *percent / 100.0));
  return UINT64_MAX;
}

std::string Budget::to_string() const {
  if (bytes) return std::to_string(*bytes);
  if (percent) {
    char b[32];
    std::snprintf(b, sizeof(b), "%g%%", *percent);
    return b;
  }
  return "unlimited";
}

Budget Budget::parse(std::string_view text, std::string_view what) {
  Budget b;
  if (text.empty()) return b;
  auto bad = [&] {
    return Error(ErrorKind::InvalidArgument, std::string(what) + ": '" + std::string(text) +
                                                 "' is not a byte count (e.g. 8G, 512M, 1073741824) or a percentage (e.g. 50%)");
  };
  double value = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || !(value >= 0) || !std::isfinite(value)) throw bad();
  std::string unit;
  for (; p != end; ++p) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
  if (unit == "%") {
    if (value > 100) throw bad();
    b.percent = value;
    return b;
  }
  // As the daemon's memory.budget: K/M/G/T and KiB/MiB/... are powers of 1024, KB/MB/... of 1000.
  static constexpr std::string_view kPrefixes = "kmgt";
  double scale = 1;
  const size_t power = unit.empty() ? std::string::npos : kPrefixes.find(unit[0]);
  const std::string suffix = unit.size() > 1 ? unit.substr(1) : "";
  if (unit == "" || unit == "b") scale = 1;
  else if (power != std::string::npos && (suffix == "" || suffix == "ib")) scale = std::pow(1024.0, double(power + 1));
  else if (power != std::string::npos && suffix == "b") scale = std::pow(1000.0, double(power + 1));
  else throw bad();
  b.bytes = static_cast<uint64_t>(value * scale);
  return b;
}

}  // namespace strata
