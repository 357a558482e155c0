#include "tests/support/test_paths.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace strata::test {
namespace {

std::filesystem::path env_path(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return std::filesystem::path(v && *v ? v : fallback);
}

struct TempDirs {
  std::mutex mu;
  std::vector<std::filesystem::path> dirs;
  ~TempDirs() {
    std::error_code ec;
    for (auto& d : dirs) std::filesystem::remove_all(d, ec);
  }
};
TempDirs& temp_dirs() {
  static TempDirs t;
  return t;
}

}  // namespace

std::filesystem::path shared_dir() { return env_path("STRATA_SHARED_DIR", STRATA_TEST_SHARED_DIR); }
std::filesystem::path shared_path(const std::string& relative) { return shared_dir() / relative; }
std::filesystem::path build_dir() { return env_path("STRATA_BUILD_DIR", STRATA_TEST_BUILD_DIR); }
std::filesystem::path bin_path(const std::string& name) { return build_dir() / "bin" / name; }

std::filesystem::path temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  auto base = std::filesystem::temp_directory_path() /
              ("strata-test-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  auto& t = temp_dirs();
  std::lock_guard lock(t.mu);
  t.dirs.push_back(base);
  return base;
}

}  // namespace strata::test
