// `strata`: the command-line client. The offline subcommands here load a model in-process.
#include <cstdio>
#include <exception>

#include "engine/core/error.h"
#include "engine/core/version.h"
#include "sdk/cli/commands.h"

namespace strata::cli {
int g_exit_code = kExitOk;
}

namespace {

int exit_code_for(const strata::Error& e) {
  switch (e.kind()) {
    case strata::ErrorKind::ModelFile:
    case strata::ErrorKind::Unsupported:
      return strata::cli::kExitBadModel;
    case strata::ErrorKind::InvalidArgument:
      return strata::cli::kExitUsage;
    default:
      return strata::cli::kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata::cli;
  CLI::App app{"strata: run language models locally.\n"
               "Exit codes: 0 success, 2 usage error, 3 unusable model file, 4 daemon not reachable, 1 anything else.",
               "strata"};
  app.set_version_flag("--version", strata::version_string());
  app.require_subcommand(1);
  add_inspect(app);
  add_tokenize(app);
  add_generate(app);
  add_model(app);
  add_bench(app);
  add_memory(app);
  add_eval_kv(app);
  add_plan(app);
  add_eval_weights(app);
  add_run(app);
  add_chat(app);
  add_sessions(app);
  add_status(app);
  add_models(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const strata::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "strata: error: %s\n", e.what());
    return exit_code_for(e);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "strata: error: %s\n", e.what());
    return kExitFailure;
  }
  return g_exit_code;
}
