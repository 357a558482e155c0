// The engine's error style: exceptions, thrown where a cause is detected and caught at the
// boundaries (the CLI, the daemon's request handler, the C ABI), which map them to exit codes,
// HTTP statuses or documented result codes.
//
// Errors caused by our own bugs are assertions, not exceptions.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace strata {

enum class ErrorKind {
  InvalidArgument,  // a caller passed something unusable (bad option, bad request value)
  ModelFile,        // a model file is missing, truncated, corrupt or unsupported
  Plugin,           // a plugin could not be loaded or refused the model
  Io,               // an operating-system call failed (open, read, write, mmap)
  OutOfMemory,      // a memory budget or allocation limit was hit
  Unsupported,      // a valid request for something this build does not do
  Internal,         // anything else
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// An unusable model file. The message names the file, the field and the byte offset, e.g.
// "model.gguf: tensor 'blk.0.attn_q.weight': data offset 123456 is outside the file (size 1000) at byte 812".
class ModelFileError : public Error {
 public:
  // For problems found in already-parsed metadata, where no single byte is to blame.
  static constexpr uint64_t kNoOffset = UINT64_MAX;

  ModelFileError(std::string path, std::string field, uint64_t offset, const std::string& what)
      : Error(ErrorKind::ModelFile, path + ": " + field + ": " + what +
                                        (offset == kNoOffset ? "" : " (at byte " + std::to_string(offset) + ")")),
        path_(std::move(path)),
        field_(std::move(field)),
        offset_(offset) {}
  const std::string& path() const noexcept { return path_; }
  const std::string& field() const noexcept { return field_; }
  uint64_t offset() const noexcept { return offset_; }

 private:
  std::string path_;
  std::string field_;
  uint64_t offset_;
};

}  // namespace strata
