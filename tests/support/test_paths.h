// Where tests find shared data, the build's binaries and its plugins.
#pragma once

#include <filesystem>
#include <string>

namespace strata::test {

// ../shared beside the checkout (STRATA_SHARED_DIR, set by ctest).
std::filesystem::path shared_dir();
// A file under shared_dir(), e.g. shared_path("models/llama-2-tiny-random.gguf").
std::filesystem::path shared_path(const std::string& relative);
// The build directory (STRATA_BUILD_DIR); binaries are in bin/, plugins in plugins/.
std::filesystem::path build_dir();
std::filesystem::path bin_path(const std::string& name);
// A fresh, empty temporary directory removed when the process exits normally.
std::filesystem::path temp_dir(const std::string& tag);

}  // namespace strata::test
