// The `strata` command's subcommands. Each registers its options and its action on the app;
// actions throw strata::Error (mapped to exit codes in main.cpp) or return an exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace strata::cli {

// Exit codes, documented in `strata --help` and docs/cli.md.
enum ExitCode { kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitBadModel = 3 };

// Set by the action that ran; main returns it.
extern int g_exit_code;

void add_inspect(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_generate(CLI::App& app);
void add_model(CLI::App& app);  // `strata model synth`
void add_bench(CLI::App& app);
void add_memory(CLI::App& app);  // `strata memory`: predicted memory per context and KV type

}  // namespace strata::cli
