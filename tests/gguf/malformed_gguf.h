// Malformed GGUF files, each with one defect, and what the reader must say about it.
//
// Used by the GGUF reader's tests (the message names the field and the byte offset), by the CLI
// tests (a malformed model gives the model-file exit code and a message naming the file) and as
// fuzzing seeds. The expected offsets are derived while building the bytes, not hard-coded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace strata::test {

// One malformed file in memory.
struct MalformedGguf {
  std::string name;            // short id, e.g. "tensor_dim_zero"
  std::vector<uint8_t> bytes;  // the file
  std::string field;           // the expected ModelFileError::field()
  uint64_t offset = 0;         // the expected ModelFileError::offset()
  std::string what;            // the start of the expected description
  // A substring of the expected message: "<field>: <what>".
  std::string expected() const { return field + ": " + what; }
  // The message's offset suffix: "(at byte <offset>)".
  std::string expected_at() const { return "(at byte " + std::to_string(offset) + ")"; }
};

std::vector<MalformedGguf> malformed_gguf_samples();

// One malformed file on disk.
struct MalformedCase {
  std::string name;
  std::filesystem::path path;  // <dir>/<name>.gguf
  std::string expected;        // substring of the message: "<field>: <start of description>"
  std::string field;           // the expected ModelFileError::field()
  uint64_t offset = 0;         // the expected ModelFileError::offset()
};

// Writes every sample to `dir` (created if needed) as <name>.gguf.
std::vector<MalformedCase> make_malformed_gguf_cases(const std::filesystem::path& dir);

}  // namespace strata::test
