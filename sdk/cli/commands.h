// The `strata` command's subcommands. Each registers its options and its action on the app;
// actions throw strata::Error (mapped to exit codes in main.cpp) or return an exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace strata::cli {

// Exit codes, documented in `strata --help` and docs/cli.md.
enum ExitCode { kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitBadModel = 3, kExitUnreachable = 4 };

// Set by the action that ran; main returns it.
extern int g_exit_code;

void add_inspect(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_generate(CLI::App& app);
void add_model(CLI::App& app);  // `strata model synth`
void add_bench(CLI::App& app);
void add_memory(CLI::App& app);
void add_plan(CLI::App& app);
void add_eval_weights(CLI::App& app);  // `strata eval-weights`: quality of q4g weights     // `strata plan`: tiered weight placement and predicted speed
void add_eval_kv(CLI::App& app);  // `strata eval-kv`: quality of quantized KV  // `strata memory`: predicted memory per context and KV type

// Client subcommands (libstrata; they talk to the daemon, never load a model): exit code
// kExitUnreachable when the daemon cannot be reached.
void add_run(CLI::App& app);       // `strata run`
void add_chat(CLI::App& app);      // `strata chat`
void add_sessions(CLI::App& app);  // `strata sessions ls|show|rm`
void add_status(CLI::App& app);    // `strata status`
void add_models(CLI::App& app);    // `strata models`

}  // namespace strata::cli
