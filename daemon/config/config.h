// stratad's configuration: every key is defined once, in the key tables of config_keys.cpp
// (name, type, bounds, documentation and the struct field it sets). Loading, printing and the
// documentation test all walk those tables.
//
// Sources, lowest precedence first: built-in defaults (which depend on the environment: user or
// system instance), one TOML file (--config, else $XDG_CONFIG_HOME/strata/stratad.toml, else
// /etc/strata/stratad.toml, else none), then command-line overrides (--socket, --state-dir,
// --model NAME=PATH, --log-level).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace strata::daemon {

struct ModelConfig {
  std::string path{};                 // GGUF file
  int64_t context = 0;                // context length of new sequences; 0 = the model's training context
  int64_t threads = 0;                // decoder threads; 0 = every core
  std::string chat_template{};        // "" = detect from the GGUF's tokenizer.chat_template; else a template name
  std::string kv = "f16";             // KV cache storage: f16, q8_0 or q4g
  int64_t kv_group = 64;              // q4g: elements per quantization group
  std::string ram_budget{};           // tiered weights: RAM for weights, bytes or "PCT%"; "" = all in RAM (see mmap)
  std::string gpu_budget{};           // tiered weights: GPU memory (no GPU tier yet)
  std::string weights = "native";     // "native" or "q4g" (compress f16/bf16/f32 matrices at load)
  std::string weight_tiers = "auto";  // "auto" or shares such as "ram=50,ssd=50"
  std::string mmap = "auto";          // plain loads: "on" maps the file, "off" copies it to RAM, "auto" chooses

  bool operator==(const ModelConfig&) const = default;
};

struct Config {
  // [server]
  std::string socket;                     // Unix socket path
  std::string tcp_listen;                 // "" = no TCP listener; else "127.0.0.1:PORT" or "[::1]:PORT"
  std::string tcp_token_file;             // bearer token for the TCP listener (required with tcp_listen)
  int64_t max_connections = 256;          // open client connections at most
  int64_t keep_alive_seconds = 60;        // an idle connection is closed after this
  int64_t shutdown_timeout_seconds = 10;  // SIGTERM: in-flight requests get this long, then are cancelled
  // [limits]
  int64_t max_body_bytes = 8 << 20;  // request body size at most (413 beyond)
  int64_t max_import_bytes = int64_t(1) << 30;  // POST /strata/v1/sessions/import: archive size at most
  int64_t max_tokens = 4096;         // max_tokens a request may ask for at most (400 beyond)
  int64_t default_max_tokens = 256;  // max_tokens when a request gives none
  int64_t max_sequences = 8;         // per model: sequences decoded together at most
  int64_t max_queue = 64;            // per model: requests waiting for a slot at most (429 beyond)
  int64_t max_sessions = 1024;       // sessions held at most (429 beyond)
  int64_t shm_max_bytes = 256 << 20;    // size of one shared-memory channel at most (400 beyond)
  int64_t shm_channels_per_user = 4;    // open shared-memory channels per uid at most (429 beyond); 0 = no shm
  // [memory]
  std::string budget = "0";           // "0" = unlimited, else bytes with an optional K/M/G/T(i)B suffix
  int64_t idle_unload_seconds = 300;  // a model with no requests for this long is unloaded; 0 = never
  // [snapshots]
  int64_t snapshots_enabled = 1;            // 1: sessions are saved to <state_dir>/snapshots and survive restarts
  int64_t snapshot_idle_save_seconds = 30;  // a session idle this long is saved; 0: after every request
  std::string snapshot_quota = "0";         // disk for chunk files: "0" (unlimited) or a size such as "20GiB"
  int64_t snapshot_cross_uid_prefix = 0;    // 1: a prompt may reuse another uid's stored prefix chunks
  int64_t snapshot_shutdown_seconds = 10;   // SIGTERM: sessions are saved for at most this long
  // [daemon]
  std::string state_dir;
  std::vector<std::string> plugin_dirs;  // empty = the built-in plugin search path
  std::string log_level = "info";
  // [models.NAME]
  std::map<std::string, ModelConfig> models;

  bool operator==(const Config&) const = default;
};

// What the defaults depend on; from_process() reads the real environment.
struct Environment {
  uint32_t uid = 0;
  std::string xdg_runtime_dir, xdg_config_home, xdg_state_home, home;
  static Environment from_process();
  // A user instance (non-root with XDG_RUNTIME_DIR) or the system service.
  bool user_instance() const { return uid != 0 && !xdg_runtime_dir.empty(); }
};

// A configuration problem. For problems inside a file the message starts "FILE:LINE:COLUMN: ".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Built-in defaults: socket $XDG_RUNTIME_DIR/strata/stratad.sock (user) or
// /run/strata/stratad.sock (system); state dir $XDG_STATE_HOME/strata (user, default
// ~/.local/state/strata) or /var/lib/strata (system).
Config default_config(const Environment& env);

// The file to read: `explicit_path` when given (it must exist), else the first existing of
// $XDG_CONFIG_HOME/strata/stratad.toml (XDG_CONFIG_HOME defaults to ~/.config) and
// /etc/strata/stratad.toml; std::nullopt when there is none.
std::optional<std::filesystem::path> find_config_file(const std::optional<std::string>& explicit_path,
                                                      const Environment& env);

// Applies a TOML document over `base`. `source_name` prefixes error positions. Throws
// ConfigError for a syntax error, an unknown key, a wrong type or an out-of-range value.
Config parse_config(std::string_view toml_text, const std::string& source_name, Config base);
Config load_config_file(const std::filesystem::path& path, Config base);

struct CommandLineOverrides {
  std::optional<std::string> socket, state_dir, log_level;
  std::vector<std::string> models;  // "NAME=PATH"
};
// Throws ConfigError for a malformed --model value or log level.
void apply_overrides(Config& config, const CommandLineOverrides& overrides);

// Cross-key checks (a TCP listener needs a token file, it must be loopback, ...). Throws ConfigError.
void validate(const Config& config);

// The effective configuration as TOML that parse_config reads back to the same Config.
std::string print_config(const Config& config);

// "16GiB" -> 17179869184; "0" -> 0; std::nullopt when malformed.
std::optional<uint64_t> parse_size(std::string_view text);

// Key documentation for tests and tools: ("server.socket", doc), ..., ("models.NAME.path", doc).
std::vector<std::pair<std::string, std::string>> documented_keys();

}  // namespace strata::daemon
