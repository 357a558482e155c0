// The key tables: the one place where each configuration key is defined (internal to config/).
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/config/config.h"

namespace strata::daemon::config_keys {

template <class S>
struct KeyDef {
  std::string_view table;  // "server", "limits", ...; "" for the keys of a [models.NAME] table
  std::string_view name;
  std::string_view doc;  // one sentence for --print-config and docs/config.md
  std::variant<std::string S::*, int64_t S::*, std::vector<std::string> S::*> field;
  int64_t min = 0;
  int64_t max = std::numeric_limits<int64_t>::max();
  // For string keys: a description of what is wrong with `value`, or "" when it is fine.
  std::string (*check)(const std::string& value) = nullptr;
};

std::span<const KeyDef<Config>> daemon_keys();
std::span<const KeyDef<ModelConfig>> model_keys();
// The fixed tables, in printing order ("models" is separate: a table of tables).
std::span<const std::string_view> table_order();

}  // namespace strata::daemon::config_keys
