#include "engine/weights/weight_options.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/core/error.h"

namespace strata {

std::string_view weight_format_name(WeightFormat f) { return f == WeightFormat::Q4G ? "q4g" : "native"; }

std::optional<WeightFormat> parse_weight_format(std::string_view name) {
  if (name == "native" || name == "") return WeightFormat::Native;
  if (name == "q4g") return WeightFormat::Q4G;
  return std::nullopt;
}

std::string_view mmap_mode_name(MmapMode m) {
  switch (m) {
    case MmapMode::On: return "on";
    case MmapMode::Off: return "off";
    case MmapMode::Auto: break;
  }
  return "auto";
}

std::optional<MmapMode> parse_mmap_mode(std::string_view name) {
  if (name == "auto" || name.empty()) return MmapMode::Auto;
  if (name == "on") return MmapMode::On;
  if (name == "off") return MmapMode::Off;
  return std::nullopt;
}

std::optional<TierShares> TierShares::parse(std::string_view text, std::string_view what) {
  if (text == "auto" || text.empty()) return std::nullopt;
  auto bad = [&](const std::string& why) {
    return Error(ErrorKind::InvalidArgument, std::string(what) + ": '" + std::string(text) + "': " + why +
                                                 " (write auto, ram=50,ssd=50 or gpu,ram,ssd percentages like 0,50,50)");
  };
  TierShares s{0, 0, 0};
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  auto number = [&](std::string_view v) {
    double d = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (ec != std::errc() || p != v.data() + v.size() || !(d >= 0) || d > 100) throw bad("a share must be 0..100");
    return d;
  };
  const bool named = text.find('=') != std::string_view::npos;
  if (!named && parts.size() != 3) throw bad("three positional shares are needed");
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!named) {
      (i == 0 ? s.gpu : i == 1 ? s.ram : s.ssd) = number(parts[i]);
      continue;
    }
    const size_t eq = parts[i].find('=');
    if (eq == std::string_view::npos) throw bad("mixes named and positional shares");
    const auto key = parts[i].substr(0, eq);
    const double v = number(parts[i].substr(eq + 1));
    if (key == "gpu") s.gpu = v;
    else if (key == "ram") s.ram = v;
    else if (key == "ssd") s.ssd = v;
    else throw bad("unknown tier '" + std::string(key) + "'");
  }
  if (std::fabs(s.gpu + s.ram + s.ssd - 100.0) > 1e-6) throw bad("the shares must sum to 100");
  return s;
}

std::string TierShares::to_string() const {
  char b[96];
  std::snprintf(b, sizeof(b), "gpu=%g,ram=%g,ssd=%g", gpu, ram, ssd);
  return b;
}

}  // namespace strata
