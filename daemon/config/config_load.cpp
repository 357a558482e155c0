// Reading the configuration: defaults, the TOML file, command-line overrides.
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "daemon/config/config.h"
#include "daemon/config/config_keys.h"
#include "daemon/log/logger.h"

namespace strata::daemon {
namespace {

using config_keys::KeyDef;

std::string env_or(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::string position(const std::string& source, const toml::source_region& r) {
  return source + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column) + ": ";
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

template <class S>
void apply_key(const KeyDef<S>& def, const toml::node& node, S& out, const std::string& source,
               const std::string& full_name) {
  const std::string at = position(source, node.source());
  auto wrong_type = [&](const char* want) {
    return ConfigError(at + "'" + full_name + "' must be " + want + ", not " + type_name(node));
  };
  if (auto p = std::get_if<std::string S::*>(&def.field)) {
    if (!node.is_string()) throw wrong_type("a string");
    std::string v = node.as_string()->get();
    if (def.check) {
      const std::string why = def.check(v);
      if (!why.empty()) throw ConfigError(at + "'" + full_name + "' " + why);
    }
    out.*(*p) = std::move(v);
  } else if (auto p = std::get_if<int64_t S::*>(&def.field)) {
    if (!node.is_integer()) throw wrong_type("an integer");
    const int64_t v = node.as_integer()->get();
    if (v < def.min || v > def.max)
      throw ConfigError(at + "'" + full_name + "' must be in [" + std::to_string(def.min) + ", " +
                        std::to_string(def.max) + "], got " + std::to_string(v));
    out.*(*p) = v;
  } else if (auto p = std::get_if<std::vector<std::string> S::*>(&def.field)) {
    if (!node.is_array()) throw wrong_type("an array of strings");
    std::vector<std::string> values;
    for (const toml::node& e : *node.as_array()) {
      if (!e.is_string())
        throw ConfigError(position(source, e.source()) + "'" + full_name + "' must hold only strings, not " +
                          type_name(e));
      values.push_back(e.as_string()->get());
    }
    out.*(*p) = std::move(values);
  }
}

template <class S>
void apply_table(std::span<const KeyDef<S>> keys, std::string_view table, const toml::table& t, S& out,
                 const std::string& source, const std::string& prefix) {
  for (auto&& [key, node] : t) {
    const KeyDef<S>* def = nullptr;
    for (const auto& d : keys)
      if (d.table == table && d.name == key.str()) def = &d;
    const std::string full = prefix + std::string(key.str());
    if (!def) throw ConfigError(position(source, key.source()) + "unknown key '" + full + "'");
    apply_key(*def, node, out, source, full);
  }
}

bool valid_model_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == ':' || c == '/';
    if (!ok) return false;
  }
  return true;
}
constexpr const char* kModelNameRule = "model names are 1-128 characters of A-Z a-z 0-9 . _ - : /";

}  // namespace

Environment Environment::from_process() {
  Environment e;
  e.uid = static_cast<uint32_t>(geteuid());
  e.xdg_runtime_dir = env_or("XDG_RUNTIME_DIR");
  e.xdg_config_home = env_or("XDG_CONFIG_HOME");
  e.xdg_state_home = env_or("XDG_STATE_HOME");
  e.home = env_or("HOME");
  return e;
}

Config default_config(const Environment& env) {
  Config c;
  if (env.user_instance()) {
    c.socket = env.xdg_runtime_dir + "/strata/stratad.sock";
    const std::string state = !env.xdg_state_home.empty() ? env.xdg_state_home
                              : !env.home.empty()         ? env.home + "/.local/state"
                                                          : env.xdg_runtime_dir;
    c.state_dir = state + "/strata";
  } else {
    c.socket = "/run/strata/stratad.sock";
    c.state_dir = "/var/lib/strata";
  }
  return c;
}

std::optional<std::filesystem::path> find_config_file(const std::optional<std::string>& explicit_path,
                                                      const Environment& env) {
  namespace fs = std::filesystem;
  if (explicit_path) {
    std::error_code ec;
    if (!fs::is_regular_file(*explicit_path, ec)) throw ConfigError(*explicit_path + ": no such configuration file");
    return fs::path(*explicit_path);
  }
  std::vector<fs::path> candidates;
  if (!env.xdg_config_home.empty())
    candidates.push_back(fs::path(env.xdg_config_home) / "strata/stratad.toml");
  else if (!env.home.empty())
    candidates.push_back(fs::path(env.home) / ".config/strata/stratad.toml");
  candidates.push_back("/etc/strata/stratad.toml");
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return c;
  }
  return std::nullopt;
}

Config parse_config(std::string_view toml_text, const std::string& source_name, Config base) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    throw ConfigError(position(source_name, e.source()) + std::string(e.description()));
  }
  const auto tables = config_keys::table_order();
  for (auto&& [key, node] : root) {
    const std::string name(key.str());
    const std::string at = position(source_name, key.source());
    if (name == "models") {
      if (!node.is_table()) throw ConfigError(at + "'models' must be a table of [models.NAME] tables");
      for (auto&& [mkey, mnode] : *node.as_table()) {
        const std::string mname(mkey.str());
        const std::string mat = position(source_name, mkey.source());
        if (!valid_model_name(mname)) throw ConfigError(mat + "bad model name '" + mname + "': " + kModelNameRule);
        if (!mnode.is_table()) throw ConfigError(mat + "'models." + mname + "' must be a table");
        ModelConfig m = base.models.count(mname) ? base.models[mname] : ModelConfig{};
        apply_table(config_keys::model_keys(), "", *mnode.as_table(), m, source_name, "models." + mname + ".");
        if (m.path.empty()) throw ConfigError(mat + "'models." + mname + ".path' is required");
        base.models[mname] = std::move(m);
      }
    } else if (std::find(tables.begin(), tables.end(), name) != tables.end()) {
      if (!node.is_table()) throw ConfigError(at + "'" + name + "' must be a table");
      apply_table(config_keys::daemon_keys(), name, *node.as_table(), base, source_name, name + ".");
    } else {
      throw ConfigError(at + "unknown key '" + name + "'");
    }
  }
  return base;
}

Config load_config_file(const std::filesystem::path& path, Config base) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ConfigError(path.string() + ": cannot read the configuration file");
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_config(ss.str(), path.string(), std::move(base));
}

void apply_overrides(Config& config, const CommandLineOverrides& o) {
  if (o.socket) {
    if (o.socket->empty()) throw ConfigError("--socket must not be empty");
    config.socket = *o.socket;
  }
  if (o.state_dir) {
    if (o.state_dir->empty()) throw ConfigError("--state-dir must not be empty");
    config.state_dir = *o.state_dir;
  }
  if (o.log_level) {
    if (!parse_log_level(*o.log_level)) throw ConfigError("--log-level must be one of error, warn, info, debug");
    config.log_level = *o.log_level;
  }
  for (const auto& spec : o.models) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw ConfigError("--model expects NAME=PATH, got '" + spec + "'");
    const std::string name = spec.substr(0, eq);
    if (!valid_model_name(name)) throw ConfigError("--model: bad model name '" + name + "': " + kModelNameRule);
    config.models[name].path = spec.substr(eq + 1);
  }
}

void validate(const Config& c) {
  if (!c.tcp_listen.empty() && c.tcp_token_file.empty())
    throw ConfigError("server.tcp_listen is set but server.tcp_token_file is not: the TCP listener requires a token");
  if (c.default_max_tokens > c.max_tokens)
    throw ConfigError("limits.default_max_tokens (" + std::to_string(c.default_max_tokens) +
                      ") must not exceed limits.max_tokens (" + std::to_string(c.max_tokens) + ")");
  for (const auto& [name, m] : c.models)
    if (m.path.empty()) throw ConfigError("models." + name + ".path is required");
}

std::optional<uint64_t> parse_size(std::string_view text) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = text.substr(i);
  if (unit.starts_with(' ')) unit.remove_prefix(1);
  static constexpr struct {
    std::string_view name;
    uint64_t factor;
  } kUnits[] = {{"", 1},
                {"B", 1},
                {"K", 1ull << 10},
                {"KiB", 1ull << 10},
                {"KB", 1000},
                {"M", 1ull << 20},
                {"MiB", 1ull << 20},
                {"MB", 1000000},
                {"G", 1ull << 30},
                {"GiB", 1ull << 30},
                {"GB", 1000000000},
                {"T", 1ull << 40},
                {"TiB", 1ull << 40},
                {"TB", 1000000000000}};
  for (const auto& u : kUnits) {
    if (u.name != unit) continue;
    if (value > UINT64_MAX / u.factor) return std::nullopt;
    return value * u.factor;
  }
  return std::nullopt;
}

}  // namespace strata::daemon
