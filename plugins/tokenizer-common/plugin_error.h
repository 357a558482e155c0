// How tokenizer plugin code reports failures: it throws PluginError, and the C entry points
// (plugin_api.cpp) turn it into a STRATA_PLUGIN_E* code plus a one-line message. Nothing ever
// unwinds through the C boundary.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "strata/plugin.h"

namespace strata::tokenizer_plugin {

class PluginError : public std::runtime_error {
 public:
  PluginError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

[[noreturn]] inline void fail(int code, const std::string& message) { throw PluginError(code, message); }

// Copies a message into the caller's error record (truncated to fit, always NUL-terminated,
// line breaks replaced so it stays one line). `err` may be NULL.
void set_error(strata_plugin_error* err, std::string_view message);

}  // namespace strata::tokenizer_plugin
