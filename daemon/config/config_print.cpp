// --print-config: the effective configuration as TOML, each key preceded by its documentation.
#include <cstdio>
#include <sstream>

#include "daemon/config/config.h"
#include "daemon/config/config_keys.h"

namespace strata::daemon {
namespace {

using config_keys::KeyDef;

// A TOML basic string: quotes, backslashes and control characters escaped, UTF-8 kept as is.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string toml_key(std::string_view k) {
  for (char c : k) {
    const bool bare =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!bare) return quote(k);
  }
  return k.empty() ? quote(k) : std::string(k);
}

template <class S>
void print_key(std::ostringstream& os, const KeyDef<S>& def, const S& s) {
  os << "# " << def.doc << "\n" << def.name << " = ";
  if (auto p = std::get_if<std::string S::*>(&def.field)) {
    os << quote(s.*(*p));
  } else if (auto p = std::get_if<int64_t S::*>(&def.field)) {
    os << s.*(*p);
  } else if (auto p = std::get_if<std::vector<std::string> S::*>(&def.field)) {
    os << "[";
    const auto& v = s.*(*p);
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << quote(v[i]);
    os << "]";
  }
  os << "\n";
}

}  // namespace

std::string print_config(const Config& config) {
  std::ostringstream os;
  os << "# stratad: effective configuration (see docs/config.md)\n";
  for (std::string_view table : config_keys::table_order()) {
    os << "\n[" << table << "]\n";
    for (const auto& def : config_keys::daemon_keys())
      if (def.table == table) print_key(os, def, config);
  }
  for (const auto& [name, model] : config.models) {
    os << "\n[models." << toml_key(name) << "]\n";
    for (const auto& def : config_keys::model_keys()) print_key(os, def, model);
  }
  return os.str();
}

std::vector<std::pair<std::string, std::string>> documented_keys() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& d : config_keys::daemon_keys())
    out.emplace_back(std::string(d.table) + "." + std::string(d.name), std::string(d.doc));
  for (const auto& d : config_keys::model_keys())
    out.emplace_back("models.NAME." + std::string(d.name), std::string(d.doc));
  return out;
}

}  // namespace strata::daemon
