// A session archive: one self-describing file that carries a session from one daemon (or state
// folder) to another: its model name, its whole token history and its chunk files byte for byte
// as the store keeps them, each with its own checksum. The layout is in docs/snapshot-format.md.
//
// decode_archive() checks only the container (magic, version, sizes, checksums); what the chunks
// state (model fingerprint, KV type, keys) is checked by the importer against its own model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"

namespace strata::snapshot {

inline constexpr uint32_t kArchiveMagic = 0x41535453;  // "STSA" read as a little-endian u32
inline constexpr uint32_t kArchiveFormatVersion = 1;

struct SessionArchive {
  std::string model;            // the daemon's model name
  std::vector<int32_t> tokens;  // the whole history
  std::vector<std::string> chunks;  // chunk files of pages 0, 1, ... (fewer pages than the history may cover)
};

// An archive that cannot be used. `field` names the part that was wrong ("magic", "chunk 3", ...).
class ArchiveError : public Error {
 public:
  ArchiveError(std::string field, const std::string& what)
      : Error(ErrorKind::InvalidArgument, "session archive: " + field + ": " + what), field_(std::move(field)) {}
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

std::string encode_archive(const SessionArchive& archive);
// Throws ArchiveError naming the first part that is wrong.
SessionArchive decode_archive(std::string_view bytes);

}  // namespace strata::snapshot
