// Configuration: parsing errors with positions, printing that reads back, sources and their
// precedence (through the real binary), and documentation of every key.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "daemon/config/config.h"
#include "tests/support/run_process.h"
#include "tests/support/test_paths.h"

namespace strata::daemon {
namespace {

std::string error_of(std::string_view toml) {
  try {
    parse_config(toml, "test.toml", Config{});
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(DaemonConfig, UnknownKeysAndWrongTypesNamePosition) {
  EXPECT_EQ(error_of("[server]\nsocket = \"/tmp/s\"\nsockett = \"x\"\n"),
            "test.toml:3:1: unknown key 'server.sockett'");
  EXPECT_EQ(error_of("[server]\nmax_connections = \"many\"\n"),
            "test.toml:2:19: 'server.max_connections' must be an integer, not a string");
  EXPECT_EQ(error_of("[limits]\nmax_tokens = 0\n"),
            "test.toml:2:14: 'limits.max_tokens' must be in [1, 16777216], got 0");
  EXPECT_EQ(error_of("[daemon]\nplugin_dirs = [\"a\", 3]\n"),
            "test.toml:2:21: 'daemon.plugin_dirs' must hold only strings, not an integer");
  EXPECT_EQ(error_of("[daemon]\nlog_level = \"loud\"\n"),
            "test.toml:2:13: 'daemon.log_level' must be one of error, warn, info, debug");
  EXPECT_EQ(error_of("[bogus]\nx = 1\n"), "test.toml:1:2: unknown key 'bogus'");
  EXPECT_EQ(error_of("server = 5\n"), "test.toml:1:1: 'server' must be a table");
  EXPECT_EQ(error_of("[models.tiny]\ncontext = 5\n"), "test.toml:1:9: 'models.tiny.path' is required");
  EXPECT_EQ(error_of("[models.tiny]\npath = \"/m\"\ncontxt = 5\n"), "test.toml:3:1: unknown key 'models.tiny.contxt'");
  EXPECT_EQ(error_of("[models.tiny]\npath = \"/m\"\nchat_template = \"jinja\"\n").rfind("test.toml:3:17: ", 0), 0u);
  EXPECT_EQ(error_of("[memory]\nbudget = \"lots\"\n").rfind("test.toml:2:10: 'memory.budget' must be", 0), 0u);
  EXPECT_EQ(error_of("[server]\ntcp_listen = \"0.0.0.0:80\"\n").rfind("test.toml:2:14: 'server.tcp_listen' must be", 0),
            0u);
  // A syntax error carries the parser's position.
  EXPECT_EQ(error_of("[server\n").rfind("test.toml:1:", 0), 0u);
}

TEST(DaemonConfig, ParsesEveryKind) {
  const Config c = parse_config(R"(
[server]
socket = "/tmp/x.sock"
tcp_listen = "127.0.0.1:0"
tcp_token_file = "/etc/token"
[limits]
max_tokens = 64
default_max_tokens = 8
[memory]
budget = "2GiB"
idle_unload_seconds = 0
[daemon]
plugin_dirs = ["/a", "/b"]
[models.tiny]
path = "/m/tiny.gguf"
context = 512
threads = 1
chat_template = "llama-2"
[models."name:with/odd.chars"]
path = "/m/other.gguf"
)",
                                "t.toml", Config{});
  EXPECT_EQ(c.socket, "/tmp/x.sock");
  EXPECT_EQ(c.max_tokens, 64);
  EXPECT_EQ(c.plugin_dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(c.models.at("tiny").context, 512);
  EXPECT_EQ(c.models.at("tiny").chat_template, "llama-2");
  EXPECT_EQ(c.models.at("name:with/odd.chars").path, "/m/other.gguf");
  EXPECT_EQ(parse_size(c.budget), 2ull << 30);
  EXPECT_NO_THROW(validate(c));
}

TEST(DaemonConfig, TieredWeightKeys) {
  const Config c = parse_config(
      "[models.big]\npath = \"/m\"\nram_budget = \"50%\"\nweights = \"q4g\"\nweight_tiers = \"ram=25,ssd=75\"\n",
      "test.toml", Config{});
  EXPECT_EQ(c.models.at("big").ram_budget, "50%");
  EXPECT_EQ(c.models.at("big").weights, "q4g");
  EXPECT_EQ(c.models.at("big").weight_tiers, "ram=25,ssd=75");
  EXPECT_NE(error_of("[models.big]\npath = \"/m\"\nram_budget = \"lots\"\n").find("'models.big.ram_budget'"),
            std::string::npos);
  EXPECT_NE(error_of("[models.big]\npath = \"/m\"\nweights = \"q2\"\n").find("must be native or q4g"), std::string::npos);
  EXPECT_NE(error_of("[models.big]\npath = \"/m\"\nweight_tiers = \"ram=60,ssd=60\"\n").find("sum to 100"),
            std::string::npos);
  EXPECT_EQ(c.models.at("big").mmap, "auto");
  EXPECT_EQ(parse_config("[models.big]\npath = \"/m\"\nmmap = \"off\"\n", "test.toml", Config{}).models.at("big").mmap,
            "off");
  const std::string bad_mmap = error_of("[models.big]\npath = \"/m\"\nmmap = \"yes\"\n");
  EXPECT_NE(bad_mmap.find("'models.big.mmap'"), std::string::npos) << bad_mmap;
  EXPECT_NE(bad_mmap.find("must be auto, on or off"), std::string::npos) << bad_mmap;
}

TEST(DaemonConfig, PrintReadsBackToTheSameConfig) {
  Environment env;
  env.uid = 1000;
  env.xdg_runtime_dir = "/run/user/1000";
  env.home = "/home/u";
  Config c = default_config(env);
  c.models["tiny"] = {.path = "/m/a \"quoted\" \\ path.gguf", .context = 128, .threads = 2, .chat_template = "chatml"};
  c.models["x:y"] = {.path = "/m/b.gguf"};
  c.plugin_dirs = {"/p1", "/p\t2"};
  c.budget = "512MiB";
  const std::string printed = print_config(c);
  EXPECT_EQ(parse_config(printed, "printed", Config{}), c) << printed;
}

TEST(DaemonConfig, DefaultsForUserAndSystem) {
  Environment user;
  user.uid = 1000;
  user.xdg_runtime_dir = "/run/user/1000";
  user.home = "/home/u";
  Config c = default_config(user);
  EXPECT_EQ(c.socket, "/run/user/1000/strata/stratad.sock");
  EXPECT_EQ(c.state_dir, "/home/u/.local/state/strata");
  user.xdg_state_home = "/state";
  EXPECT_EQ(default_config(user).state_dir, "/state/strata");
  Environment system;
  c = default_config(system);
  EXPECT_EQ(c.socket, "/run/strata/stratad.sock");
  EXPECT_EQ(c.state_dir, "/var/lib/strata");
}

TEST(DaemonConfig, OverridesAndSizes) {
  Config c;
  CommandLineOverrides o;
  o.socket = "/s";
  o.state_dir = "/st";
  o.models = {"a=/m/a.gguf", "b=/m/b=c.gguf"};
  apply_overrides(c, o);
  EXPECT_EQ(c.socket, "/s");
  EXPECT_EQ(c.models.at("b").path, "/m/b=c.gguf");
  for (const char* bad : {"a", "=x", "a=", "bad name=x"}) {
    CommandLineOverrides b;
    b.models = {bad};
    EXPECT_THROW(apply_overrides(c, b), ConfigError) << bad;
  }
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("16GiB"), 16ull << 30);
  EXPECT_EQ(parse_size("3 MB"), 3000000u);
  EXPECT_EQ(parse_size("12"), 12u);
  EXPECT_FALSE(parse_size("GiB"));
  EXPECT_FALSE(parse_size("1PiB"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
  Config tcp;
  tcp.tcp_listen = "127.0.0.1:1";
  EXPECT_THROW(validate(tcp), ConfigError) << "a TCP listener needs a token file";
}

TEST(DaemonConfig, EveryKeyIsDocumented) {
  std::ifstream f(std::string(STRATA_TEST_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(f) << "docs/config.md is missing";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str();
  for (const auto& [key, text] : documented_keys()) {
    EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << key << " is not in docs/config.md";
    EXPECT_FALSE(text.empty());
  }
}

// ---- through the binary ----

std::string write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
  return p.string();
}

test::ProcessResult stratad(const std::vector<std::string>& env, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/env", "-i"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(test::bin_path("stratad").string());
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_process(argv, "", 30);
}

TEST(DaemonConfigBinary, ErrorsCarryFileLineColumn) {
  const auto dir = test::temp_dir("cfg");
  const auto path = write_file(dir / "bad.toml", "[server]\nmax_connections = \"many\"\n");
  auto r = stratad({}, {"--config", path, "--print-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(path + ":2:19: 'server.max_connections' must be an integer"), std::string::npos) << r.err;
  write_file(dir / "bad.toml", "[limits]\nmax_tokens = 5\nmax_tokenz = 5\n");
  r = stratad({}, {"--config", path, "--print-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(path + ":3:1: unknown key 'limits.max_tokenz'"), std::string::npos) << r.err;
  r = stratad({}, {"--config", (dir / "missing.toml").string()});
  EXPECT_EQ(r.exit_code, 2);
  r = stratad({}, {"--model", "nopath", "--print-config"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(DaemonConfigBinary, PrintConfigRoundTrips) {
  const auto dir = test::temp_dir("cfg");
  auto r =
      stratad({}, {"--socket", "/tmp/x y.sock", "--model", "tiny=/m/t.gguf", "--state-dir", "/st", "--print-config"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto path = write_file(dir / "printed.toml", r.out);
  auto again = stratad({}, {"--config", path, "--print-config"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
  EXPECT_NE(r.out.find("socket = \"/tmp/x y.sock\""), std::string::npos);
  EXPECT_NE(r.out.find("[models.tiny]\n"), std::string::npos);
  EXPECT_NE(r.out.find("state_dir = \"/st\""), std::string::npos);
}

TEST(DaemonConfigBinary, Precedence) {
  if (std::filesystem::exists("/etc/strata/stratad.toml")) GTEST_SKIP() << "/etc/strata/stratad.toml exists here";
  const auto dir = test::temp_dir("cfg");
  const std::string xdg = (dir / "xdg").string();
  write_file(dir / "xdg/strata/stratad.toml", "[limits]\nmax_tokens = 1111\n");
  const auto explicit_path = write_file(dir / "explicit.toml", "[limits]\nmax_tokens = 2222\n");
  // Nothing: the built-in defaults.
  auto r = stratad({"HOME=" + (dir / "home").string()}, {"--print-config"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("max_tokens = 4096\n"), std::string::npos);
  // $XDG_CONFIG_HOME/strata/stratad.toml.
  r = stratad({"XDG_CONFIG_HOME=" + xdg}, {"--print-config"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("max_tokens = 1111\n"), std::string::npos);
  // ~/.config when XDG_CONFIG_HOME is unset.
  write_file(dir / "home/.config/strata/stratad.toml", "[limits]\nmax_tokens = 3333\n");
  r = stratad({"HOME=" + (dir / "home").string()}, {"--print-config"});
  EXPECT_NE(r.out.find("max_tokens = 3333\n"), std::string::npos);
  // --config wins, and command-line options win over the file.
  r = stratad({"XDG_CONFIG_HOME=" + xdg}, {"--config", explicit_path, "--socket", "/x.sock", "--print-config"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("max_tokens = 2222\n"), std::string::npos);
  EXPECT_NE(r.out.find("socket = \"/x.sock\"\n"), std::string::npos);
}

TEST(DaemonConfigBinary, VersionAndHelp) {
  auto r = stratad({}, {"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("stratad ", 0), 0u);
  r = stratad({}, {"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--config", "--socket", "--state-dir", "--model", "--print-config", "--version"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

}  // namespace
}  // namespace strata::daemon
