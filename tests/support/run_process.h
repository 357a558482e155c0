// Runs a program (a real binary of the build) and collects its exit code and output.
#pragma once

#include <string>
#include <vector>

namespace strata::test {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal number when killed by a signal
  std::string out;
  std::string err;
};

// argv[0] is the program path. `input` is written to its stdin, which is then closed.
// The child is killed after `timeout_s` seconds.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "", int timeout_s = 120);

}  // namespace strata::test
