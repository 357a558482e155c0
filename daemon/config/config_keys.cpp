#include "daemon/config/config_keys.h"

#include <array>

#include "daemon/log/logger.h"
#include "daemon/server/listen_address.h"
#include "engine/chat/chat_template.h"
#include "engine/core/error.h"
#include "engine/kv/kv_format.h"
#include "engine/weights/weight_options.h"

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
std::string check_kv_type(const std::string& v) {
  return parse_kv_type(v) ? "" : "must be one of f16, q8_0, q4g";
}
std::string check_not_empty(const std::string& v) { return v.empty() ? "must not be empty" : ""; }
// Tiered weights (docs/tiered-weights.md): the engine's own parsers, their messages.
template <typename Parse>
std::string check_with(Parse parse, const std::string& v) {
  try {
    parse(v);
    return "";
  } catch (const Error& e) {
    const std::string why = e.what();
    const auto colon = why.find(": ");  // drop the engine's "what: " prefix; the loader names the key
    return colon == std::string::npos ? why : why.substr(colon + 2);
  }
}
std::string check_budget(const std::string& v) { return check_with([](const std::string& x) { Budget::parse(x, "budget"); }, v); }
std::string check_weight_tiers(const std::string& v) {
  return check_with([](const std::string& x) { TierShares::parse(x, "weight_tiers"); }, v);
}
std::string check_mmap(const std::string& v) { return parse_mmap_mode(v) ? "" : "must be auto, on or off"; }
std::string check_weights(const std::string& v) { return parse_weight_format(v) ? "" : "must be native or q4g"; }

constexpr int64_t kMaxSeconds = 365LL * 24 * 3600;

const std::array<KeyDef<Config>, 25> kDaemonKeys{{
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
    {"limits", "max_import_bytes", "Largest session archive POST /strata/v1/sessions/import accepts (413 beyond).",
     &Config::max_import_bytes, 1024, 1LL << 40},
    {"limits", "max_tokens", "Largest max_tokens a request may ask for (400 beyond).", &Config::max_tokens, 1, 1 << 24},
    {"limits", "default_max_tokens", "max_tokens of a request that gives none.", &Config::default_max_tokens, 1,
     1 << 24},
    {"limits", "max_sequences", "Per model: sequences decoded together at most; more requests wait in the queue.",
     &Config::max_sequences, 1, 4096},
    {"limits", "max_queue", "Per model: requests waiting for a slot at most (429 beyond).", &Config::max_queue, 0,
     1 << 20},
    {"limits", "max_sessions", "Sessions held in memory at most, all users together (429 beyond).",
     &Config::max_sessions, 1, 1 << 24},
    {"limits", "shm_max_bytes", "Size of one shared-memory channel (POST /strata/v1/shm) at most (400 beyond).",
     &Config::shm_max_bytes, 4096, 1LL << 40},
    {"limits", "shm_channels_per_user",
     "Shared-memory channels one uid may have open at once (429 beyond); 0 turns the channels off.",
     &Config::shm_channels_per_user, 0, 1024},
    {"memory", "budget",
     "Memory for model weights and KV caches: \"0\" (unlimited) or a size such as \"16GiB\"; a model that "
     "would pass it is refused (429) after idle models are unloaded; a request whose KV would pass it first "
     "evicts idle sessions' KV (least recently used first, saved to the snapshot store when snapshots are on; "
     "they resume from it or re-prefill), then is refused (429).",
     &Config::budget, 0, 0, check_size},
    {"memory", "idle_unload_seconds", "A model with no request for this many seconds is unloaded; 0: never.",
     &Config::idle_unload_seconds, 0, kMaxSeconds},
    {"snapshots", "enabled",
     "1: sessions (history and KV) are saved under <state_dir>/snapshots and resumed after a restart; 0: off.",
     &Config::snapshots_enabled, 0, 1},
    {"snapshots", "idle_save_seconds", "A session idle for this many seconds is saved; 0: after every request.",
     &Config::snapshot_idle_save_seconds, 0, kMaxSeconds},
    {"snapshots", "quota",
     "Disk for KV chunk files: \"0\" (unlimited) or a size such as \"20GiB\"; past it, unreferenced chunks and then "
     "the least recently used sessions' KV are evicted (their history stays).",
     &Config::snapshot_quota, 0, 0, check_size},
    {"snapshots", "cross_uid_prefix", "1: a prompt may reuse stored prefix chunks of another uid's sessions; 0: never.",
     &Config::snapshot_cross_uid_prefix, 0, 1},
    {"snapshots", "shutdown_seconds", "On SIGTERM, sessions are saved for at most this many seconds.",
     &Config::snapshot_shutdown_seconds, 0, 3600},
    {"daemon", "state_dir", "Directory for the daemon's persistent state (created 0700 when missing).",
     &Config::state_dir, 0, 0, check_not_empty},
    {"daemon", "plugin_dirs",
     "Directories searched for tokenizer and model-family plugins; empty: $STRATA_PLUGIN_DIR, the build tree, "
     "then ../lib/strata/plugins beside the executable.",
     &Config::plugin_dirs},
    {"daemon", "log_level", "error, warn, info or debug.", &Config::log_level, 0, 0, check_log_level},
}};

const std::array<KeyDef<ModelConfig>, 11> kModelKeys{{
    {"", "path", "The model's GGUF file (required).", &ModelConfig::path, 0, 0, check_not_empty},
    {"", "context", "Context length of the model's sequences; 0: the model's training context.", &ModelConfig::context,
     0, 1LL << 24},
    {"", "threads", "Decoder threads; 0: every core.", &ModelConfig::threads, 0, 1024},
    {"", "chat_template",
     "Chat template name overriding detection from the GGUF's tokenizer.chat_template; empty: detect.",
     &ModelConfig::chat_template, 0, 0, check_chat_template},
    {"", "kv",
     "KV cache storage: f16, q8_0 (8-bit blocks of 32) or q4g (group-wise 4-bit); see docs/kv-cache.md.",
     &ModelConfig::kv, 0, 0, check_kv_type},
    {"", "kv_group", "q4g only: elements per quantization group (even, dividing the head size).",
     &ModelConfig::kv_group, 2, 4096},
    {"", "ram_budget",
     "Tiered weights: RAM for this model's weights, bytes (\"8GiB\") or \"PCT%\" of the model; layers that do not "
     "fit are read from SSD for each use. Empty: all weights in RAM (see mmap). See docs/tiered-weights.md.",
     &ModelConfig::ram_budget, 0, 0, check_budget},
    {"", "gpu_budget", "Tiered weights: GPU memory for weights (no GPU tier in this build yet).", &ModelConfig::gpu_budget,
     0, 0, check_budget},
    {"", "weights", "native, or q4g: compress f16/bf16/f32 weight matrices to group-wise 4-bit at load.",
     &ModelConfig::weights, 0, 0, check_weights},
    {"", "weight_tiers", "auto (the cost model places layers under ram_budget) or shares like \"ram=50,ssd=50\".",
     &ModelConfig::weight_tiers, 0, 0, check_weight_tiers},
    {"", "mmap",
     "Without ram_budget, weight_tiers or q4g: \"on\" serves the weights from the mapped file, \"off\" copies them "
     "into huge-page RAM (faster decode), \"auto\" copies when huge pages are on and the file is at most half of "
     "the available memory.",
     &ModelConfig::mmap, 0, 0, check_mmap},
}};

const std::array<std::string_view, 5> kTables{"server", "limits", "memory", "snapshots", "daemon"};

}  // namespace

std::span<const KeyDef<Config>> daemon_keys() { return kDaemonKeys; }
std::span<const KeyDef<ModelConfig>> model_keys() { return kModelKeys; }
std::span<const std::string_view> table_order() { return kTables; }

}  // namespace strata::daemon::config_keys
