// The SDK as a third party gets it: `cmake --install --component sdk` into a temporary prefix,
// then tests/sdk/consumer (a C and a C++ program) configured with find_package(strata), built,
// and run, alone and against the fake server.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/sdk/fake_server.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run_process.h"
#include "tests/support/test_paths.h"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

ProcessResult run(const std::vector<std::string>& argv) { return run_process(argv, "", 600); }

TEST(SdkInstall, AConsumerBuildsAndRunsAgainstTheInstalledSdk) {
  const fs::path work = temp_dir("sdk-install");
  const fs::path prefix = work / "prefix";
  auto inst = run({STRATA_TEST_CMAKE, "--install", build_dir().string(), "--component", "sdk", "--prefix", prefix.string()});
  ASSERT_EQ(inst.exit_code, 0) << inst.out << inst.err;

  const fs::path lib = prefix / STRATA_TEST_LIBDIR;
  for (const fs::path& f : {prefix / "include/strata/strata.h", prefix / "include/strata/strata.hpp", lib / "libstrata.so",
                            lib / "libstrata.so.0.1", lib / "libstrata.so.0.1.0", lib / "cmake/strata/strataConfig.cmake",
                            lib / "cmake/strata/strataConfigVersion.cmake", lib / "cmake/strata/strataTargets.cmake"})
    EXPECT_TRUE(fs::exists(f)) << f;
  // Only the SDK: no internal archive, no engine, no plugin ABI header.
  EXPECT_FALSE(fs::exists(lib / "libstrata_client_core.a"));
  EXPECT_FALSE(fs::exists(prefix / "bin"));

  const fs::path build = work / "build";
  std::vector<std::string> configure = {STRATA_TEST_CMAKE, "-S", STRATA_TEST_CONSUMER_DIR, "-B", build.string(),
                                        "-G", STRATA_TEST_GENERATOR, "-DCMAKE_MAKE_PROGRAM=" STRATA_TEST_MAKE_PROGRAM,
                                        "-DCMAKE_PREFIX_PATH=" + prefix.string(),
                                        "-DCMAKE_C_COMPILER=" STRATA_TEST_C_COMPILER,
                                        "-DCMAKE_CXX_COMPILER=" STRATA_TEST_CXX_COMPILER};
  // A sanitized libstrata needs its runtime in the program that loads it.
  if (std::string(STRATA_TEST_SANITIZE_FLAGS).size()) {
    configure.push_back("-DCMAKE_C_FLAGS=" STRATA_TEST_SANITIZE_FLAGS);
    configure.push_back("-DCMAKE_CXX_FLAGS=" STRATA_TEST_SANITIZE_FLAGS);
    configure.push_back("-DCMAKE_EXE_LINKER_FLAGS=" STRATA_TEST_SANITIZE_FLAGS);
    configure.push_back("-DCONSUMER_EXTRA_LINK_OPTIONS=" STRATA_TEST_SANITIZE_LINK_FLAGS);
    configure.push_back("-DCONSUMER_EXTRA_LIBS=stdc++");
  }
  auto conf = run(configure);
  ASSERT_EQ(conf.exit_code, 0) << conf.out << conf.err;
  auto make = run({STRATA_TEST_CMAKE, "--build", build.string()});
  ASSERT_EQ(make.exit_code, 0) << make.out << make.err;

  auto version = run({(build / "consumer").string()});
  ASSERT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out, "libstrata 0.1.0\n");
  auto cpp = run({(build / "consumer_cpp").string()});
  ASSERT_EQ(cpp.exit_code, 0) << cpp.err;
  EXPECT_EQ(cpp.out, "libstrata 0.1.0 (C++)\n");

  // The programs load the installed library, not the build tree's.
  auto ldd = run({"/usr/bin/ldd", (build / "consumer").string()});
  EXPECT_NE(ldd.out.find((lib / "libstrata.so.0.1").string()), std::string::npos) << ldd.out;

  FakeServer server((work / "d.sock").string());
  install_canned_daemon(server, std::make_shared<CannedDaemon>());
  auto gen = run({(build / "consumer").string(), server.socket_path(), "tiny", "Once upon a time"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_NE(gen.out.find("Hello world!\nsession 00000000000000000000000000000001, 3 tokens streamed, 3 in the response"),
            std::string::npos)
      << gen.out;
  auto models = run({(build / "consumer_cpp").string(), server.socket_path()});
  ASSERT_EQ(models.exit_code, 0) << models.err;
  EXPECT_EQ(models.out, "libstrata 0.1.0 (C++)\ntiny\nsmall\n");

  // And against the real daemon, when it is built.
  if (fs::exists(bin_path("stratad"))) {
    DaemonProcess daemon;
    auto live = run({(build / "consumer").string(), daemon.socket().string(), "tiny", "Once upon a time"});
    ASSERT_EQ(live.exit_code, 0) << live.err << daemon.log();
    EXPECT_NE(live.out.find(", 8 tokens streamed, 8 in the response\n"), std::string::npos) << live.out;
    auto live_models = run({(build / "consumer_cpp").string(), daemon.socket().string()});
    EXPECT_EQ(live_models.out, "libstrata 0.1.0 (C++)\ntiny\n");
  }

  auto down = run({(build / "consumer").string(), (work / "none.sock").string(), "tiny", "x"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("consumer: stratad is not reachable: cannot connect"), std::string::npos) << down.err;
}

TEST(SdkInstall, TheLibraryExportsOnlyItsCApi) {
  auto nm = run({"/usr/bin/nm", "-D", "--defined-only", (build_dir() / "lib/libstrata.so").string()});
  ASSERT_EQ(nm.exit_code, 0) << nm.err;
  int exported = 0;
  std::istringstream lines(nm.out);
  for (std::string line; std::getline(lines, line);) {
    const std::string name = line.substr(line.rfind(' ') + 1);
    if (name.empty()) continue;
    EXPECT_EQ(name.rfind("strata_", 0), 0u) << "exported: " << name;
    ++exported;
  }
  EXPECT_GE(exported, 20);
  auto soname = run({"/usr/bin/objdump", "-p", (build_dir() / "lib/libstrata.so").string()});
  EXPECT_NE(soname.out.find("SONAME               libstrata.so.0.1"), std::string::npos) << soname.out;
  EXPECT_EQ(soname.out.find("libstrata_engine"), std::string::npos);  // the client never links the engine
}

}  // namespace
}  // namespace strata::test
