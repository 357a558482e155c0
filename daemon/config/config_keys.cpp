#include "daemon/config/config_keys.h"

#include <array>

#include "daemon/log/logger.h"
#include "daemon/server/listen_address.h"
#include "engine/chat/chat_template.h"

namespace strata::daemon::config_keys {
namespace {

std::string check_log_level(const std::string& v) {
  return parse_log_level(v) ? "" : "must be one of error, warn, info, debug";
}
std::string check_size(const std::string& v) {
  return parse_size(v) ? "" : "must be a byte count such as \"0\", \"512MiB\" or \"16GiB\"";
}
std::string check_listen(const std::string& v) {
  if (v.empty()) return "";
  std::string why;
  return parse_loopback_address(v, why) ? "" : why;
}
std::string check_chat_template(const std::string& v) {
  if (v.empty() || parse_chat_template_name(v)) return "";
  return "is not a known chat template (llama-2, llama-3, chatml, mistral-v1, mistral-v3, mistral-v3-tekken, gemma, "
         "phi-3, or the aliases llama2, llama3, mistral, qwen, phi3)";
}
std::string check_not_empty(const std::string& v) { return v.empty() ? "must not be empty" : ""; }

constexpr int64_t kMaxSeconds = 365LL * 24 * 3600;

const std::array<KeyDef<Config>, 17> kDaemonKeys{{
    {"server", "socket", "Path of the Unix socket clients connect to (created 0660, group strata when it exists).",
     &Config::socket, 0, 0, check_not_empty},
    {"server", "tcp_listen", "Loopback TCP listener, \"127.0.0.1:PORT\" or \"[::1]:PORT\"; empty: none.",
     &Config::tcp_listen, 0, 0, check_listen},
    {"server", "tcp_token_file",
     "File holding the bearer token TCP clients must send; must not be group- or world-readable.",
     &Config::tcp_token_file},
    {"server", "max_connections", "Open client connections at most; more are answered 429 and closed.",
     &Config::max_connections, 1, 100000},
    {"server", "keep_alive_seconds", "An idle keep-alive connection is closed after this many seconds.",
     &Config::keep_alive_seconds, 1, kMaxSeconds},
    {"server", "shutdown_timeout_seconds",
     "On SIGTERM, in-flight requests may finish for this many seconds, then are cancelled.",
     &Config::shutdown_timeout_seconds, 0, 3600},
    {"limits", "max_body_bytes", "Largest request body accepted (413 beyond).", &Config::max_body_bytes, 1024,
     1LL << 32},
    {"limits", "max_tokens", "Largest max_tokens a request may ask for (400 beyond).", &Config::max_tokens, 1, 1 << 24},
    {"limits", "default_max_tokens", "max_tokens of a request that gives none.", &Config::default_max_tokens, 1,
     1 << 24},
    {"limits", "max_sequences", "Per model: sequences decoded together at most; more requests wait in the queue.",
     &Config::max_sequences, 1, 4096},
    {"limits", "max_queue", "Per model: requests waiting for a slot at most (429 beyond).", &Config::max_queue, 0,
     1 << 20},
    {"limits", "max_sessions", "Sessions held in memory at most, all users together (429 beyond).",
     &Config::max_sessions, 1, 1 << 24},
    {"memory", "budget",
     "Memory for model weights and KV caches: \"0\" (unlimited) or a size such as \"16GiB\"; a model that "
     "would pass it is refused (429) after idle models are unloaded.",
     &Config::budget, 0, 0, check_size},
    {"memory", "idle_unload_seconds", "A model with no request for this many seconds is unloaded; 0: never.",
     &Config::idle_unload_seconds, 0, kMaxSeconds},
    {"daemon", "state_dir", "Directory for the daemon's persistent state (created 0700 when missing).",
     &Config::state_dir, 0, 0, check_not_empty},
    {"daemon", "plugin_dirs",
     "Directories searched for tokenizer and model-family plugins; empty: $STRATA_PLUGIN_DIR, the build tree, "
     "then ../lib/strata/plugins beside the executable.",
     &Config::plugin_dirs},
    {"daemon", "log_level", "error, warn, info or debug.", &Config::log_level, 0, 0, check_log_level},
}};

const std::array<KeyDef<ModelConfig>, 4> kModelKeys{{
    {"", "path", "The model's GGUF file (required).", &ModelConfig::path, 0, 0, check_not_empty},
    {"", "context", "Context length of the model's sequences; 0: the model's training context.", &ModelConfig::context,
     0, 1LL << 24},
    {"", "threads", "Decoder threads; 0: every core.", &ModelConfig::threads, 0, 1024},
    {"", "chat_template",
     "Chat template name overriding detection from the GGUF's tokenizer.chat_template; empty: detect.",
     &ModelConfig::chat_template, 0, 0, check_chat_template},
}};

const std::array<std::string_view, 4> kTables{"server", "limits", "memory", "daemon"};

}  // namespace

std::span<const KeyDef<Config>> daemon_keys() { return kDaemonKeys; }
std::span<const KeyDef<ModelConfig>> model_keys() { return kModelKeys; }
std::span<const std::string_view> table_order() { return kTables; }

}  // namespace strata::daemon::config_keys
