// The systemd units as `cmake --install` writes them: `systemd-analyze verify` accepts them
// (offline; no systemd needs to run), ExecStart names the installed stratad, the hardening
// keeps the exposure score "OK", and sysusers/tmpfiles entries apply to an empty root.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/run_process.h"
#include "tests/support/test_paths.h"

namespace strata::test {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs a command with extra environment variables (NAME=VALUE).
ProcessResult run_env(const std::vector<std::string>& env, std::vector<std::string> argv) {
  std::vector<std::string> full = {"/usr/bin/env"};
  full.insert(full.end(), env.begin(), env.end());
  full.insert(full.end(), argv.begin(), argv.end());
  return run_process(full, "", 120);
}

class SdkSystemdUnits : public ::testing::Test {
 protected:
  fs::path prefix = temp_dir("systemd") / "prefix";
  fs::path system_dir = prefix / "lib/systemd/system";
  fs::path user_dir = prefix / "lib/systemd/user";

  void SetUp() override {
    if (!fs::exists("/usr/bin/systemd-analyze")) GTEST_SKIP() << "systemd-analyze is not installed (package systemd)";
    auto inst = run_process({STRATA_TEST_CMAKE, "--install", build_dir().string(), "--component", "systemd", "--prefix",
                             prefix.string()});
    ASSERT_EQ(inst.exit_code, 0) << inst.out << inst.err;
    // The units name PREFIX/bin/stratad, which verify requires to be an executable: the build's
    // stratad, as `cmake --install` would put it there; a stand-in script while the daemon is
    // not built.
    fs::create_directories(prefix / "bin");
    const fs::path built = bin_path("stratad");
    if (fs::exists(built)) {
      fs::copy_file(built, prefix / "bin/stratad");
    } else {
      std::ofstream(prefix / "bin/stratad") << "#!/bin/sh\nexit 0\n";
      fs::permissions(prefix / "bin/stratad", fs::perms::owner_all, fs::perm_options::add);
    }
  }
};

TEST_F(SdkSystemdUnits, InstalledWhereSystemdLooks) {
  for (const fs::path& f : {system_dir / "stratad.service", system_dir / "stratad.socket", user_dir / "stratad.service",
                            user_dir / "stratad.socket", prefix / "lib/sysusers.d/strata.conf",
                            prefix / "lib/tmpfiles.d/strata.conf", prefix / "share/strata/systemd/stratad-gpu.conf"})
    EXPECT_TRUE(fs::exists(f)) << f;
  const std::string exec = "\nExecStart=" + (prefix / "bin/stratad").string() + "\n";
  EXPECT_NE(read(system_dir / "stratad.service").find(exec), std::string::npos);
  EXPECT_NE(read(user_dir / "stratad.service").find(exec), std::string::npos);
  EXPECT_EQ(read(system_dir / "stratad.service").find("@STRATA_"), std::string::npos);  // every @VAR@ replaced
}

TEST_F(SdkSystemdUnits, SystemUnitsVerify) {
  auto r = run_env({"SYSTEMD_UNIT_PATH=" + system_dir.string() + ":"},
                   {"systemd-analyze", "verify", "--man=no", (system_dir / "stratad.service").string(),
                    (system_dir / "stratad.socket").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // verify reports unknown keys and bad values as warnings, with status 0
  EXPECT_EQ(r.out, "");
}

TEST_F(SdkSystemdUnits, UserUnitsVerify) {
  const fs::path runtime = temp_dir("systemd-xdg");
  fs::permissions(runtime, fs::perms::owner_all, fs::perm_options::replace);
  auto r = run_env({"SYSTEMD_UNIT_PATH=" + user_dir.string() + ":", "XDG_RUNTIME_DIR=" + runtime.string()},
                   {"systemd-analyze", "--user", "verify", "--man=no", (user_dir / "stratad.service").string(),
                    (user_dir / "stratad.socket").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(SdkSystemdUnits, GpuDropInVerifies) {
  // As an administrator installs it: /etc/systemd/system/stratad.service.d/gpu.conf.
  const fs::path units = temp_dir("systemd-gpu");
  fs::copy(system_dir, units);
  fs::create_directories(units / "stratad.service.d");
  fs::copy_file(prefix / "share/strata/systemd/stratad-gpu.conf", units / "stratad.service.d/gpu.conf");
  auto r = run_env({"SYSTEMD_UNIT_PATH=" + units.string() + ":"},
                   {"systemd-analyze", "verify", "--man=no", (units / "stratad.service").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(SdkSystemdUnits, ExposureIsOk) {
  auto r = run_env({"SYSTEMD_UNIT_PATH=" + system_dir.string() + ":"},
                   {"systemd-analyze", "security", "--offline=yes", "--threshold=20",
                    (system_dir / "stratad.service").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto at = r.out.find("Overall exposure level for stratad.service: ");
  ASSERT_NE(at, std::string::npos) << r.out << r.err;
  const double score = std::stod(r.out.substr(at + std::string("Overall exposure level for stratad.service: ").size()));
  EXPECT_LE(score, 2.0) << r.out;
}

TEST_F(SdkSystemdUnits, SysusersAndTmpfilesApply) {
  const fs::path root = temp_dir("systemd-root");
  fs::create_directories(root / "etc");
  auto users = run_process({"/usr/bin/systemd-sysusers", "--root=" + root.string(),
                            (prefix / "lib/sysusers.d/strata.conf").string()});
  ASSERT_EQ(users.exit_code, 0) << users.err;
  const std::string passwd = read(root / "etc/passwd");
  EXPECT_NE(passwd.find("strata:x:"), std::string::npos) << passwd;
  EXPECT_NE(passwd.find(":/var/lib/strata:"), std::string::npos) << passwd;
  EXPECT_NE(read(root / "etc/group").find("strata:x:"), std::string::npos);
  if (geteuid() != 0) GTEST_SKIP() << "systemd-tmpfiles --create changes owners: needs root";
  auto tmp = run_process({"/usr/bin/systemd-tmpfiles", "--root=" + root.string(), "--create",
                          (prefix / "lib/tmpfiles.d/strata.conf").string()});
  EXPECT_EQ(tmp.exit_code, 0) << tmp.err;
  EXPECT_TRUE(fs::is_directory(root / "run/strata"));
  EXPECT_TRUE(fs::is_directory(root / "var/lib/strata/models"));
  EXPECT_EQ(fs::status(root / "var/lib/strata/models").permissions() & fs::perms::all,
            fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
}

}  // namespace
}  // namespace strata::test
