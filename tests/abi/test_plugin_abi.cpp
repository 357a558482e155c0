// The plugin host: loads the real plugins, refuses libraries of another ABI version or without
// an entry point with a message naming the file and the cause.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/core/error.h"
#include "engine/plugin/plugin_registry.h"
#include "tests/support/test_paths.h"

extern "C" int strata_abi_c_check(void);

namespace strata {
namespace {

std::filesystem::path test_plugin(const std::string& name) { return test::build_dir() / "test-plugins" / name; }

TEST(PluginAbi, HeaderCompilesAsC) { EXPECT_GT(strata_abi_c_check(), 0); }

TEST(PluginAbi, LoadsTheProjectPlugins) {
  auto reg = PluginRegistry::load_default();
  EXPECT_NE(reg.find_family("llama"), nullptr) << reg.describe();
  EXPECT_NE(reg.find_family("mistral"), nullptr);
  EXPECT_EQ(reg.find_family("no-such-architecture"), nullptr);
  int tokenizers = 0;
  for (const auto& p : reg.plugins()) {
    EXPECT_EQ(p->descriptor().abi_version, STRATA_PLUGIN_ABI_VERSION);
    tokenizers += p->descriptor().kind == STRATA_PLUGIN_TOKENIZER;
  }
  EXPECT_GE(tokenizers, 2);
}

TEST(PluginAbi, RefusesAnotherAbiVersionByName) {
  try {
    LoadedPlugin::open(test_plugin("wrong-abi-plugin.so"));
    FAIL() << "a plugin of another ABI version was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::Plugin);
    EXPECT_NE(m.find("wrong-abi-plugin.so"), std::string::npos) << m;
    EXPECT_NE(m.find("ABI version " + std::to_string(STRATA_PLUGIN_ABI_VERSION + 1)), std::string::npos) << m;
  }
}

TEST(PluginAbi, RefusesALibraryWithoutEntryPoint) {
  try {
    LoadedPlugin::open(test_plugin("no-entry-plugin.so"));
    FAIL() << "a library without entry point was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("strata_plugin_entry"), std::string::npos) << e.what();
  }
}

TEST(PluginAbi, RefusesAFileThatIsNoLibrary) {
  auto dir = test::temp_dir("abi");
  auto path = dir / "garbage.so";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs("not an ELF file", f);
  std::fclose(f);
  EXPECT_THROW(LoadedPlugin::open(path), Error);
  EXPECT_THROW(PluginRegistry::load_from({dir}), Error);
}

}  // namespace
}  // namespace strata
