// One chunk file: the KV of one full page (page_tokens consecutive positions, every layer, K and
// V) of one sequence, with a header that says exactly which model, KV format, geometry and tokens
// it belongs to, and XXH3 checksums of the header and of the token ids + payload. The byte layout
// is in docs/snapshot-format.md.
//
// Chunks are content-addressed: the key hashes the model fingerprint, the KV layout and every
// token id from position 0 to the chunk's end, so two sequences with the same prefix produce the
// same key for the pages of that prefix and share the file.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/kv/kv_cache.h"
#include "engine/snapshot/model_fingerprint.h"

namespace strata::snapshot {

inline constexpr uint32_t kChunkMagic = 0x564b5453;  // "STKV" read as a little-endian u32
inline constexpr uint32_t kChunkFormatVersion = 1;
inline constexpr uint64_t kChunkHeaderBytes = 96;

// Everything a chunk must match to be loaded into a KV cache.
struct KvLayout {
  ModelFingerprint fingerprint;
  KvFormat format;
  KvGeometry geometry;
  int64_t page_tokens = 256;

  uint64_t page_bytes() const;
  // Bytes of a whole chunk file of this layout.
  uint64_t chunk_file_bytes() const;
  // "f16", or "q4g/64" (the group matters: it changes the bytes).
  std::string kv_name() const;
};

struct ChunkKey {
  std::array<uint8_t, 16> bytes{};
  std::string hex() const { return to_hex(bytes.data(), bytes.size()); }
  bool operator==(const ChunkKey&) const = default;
};

// Keys of the first n_pages full pages of `tokens` (tokens.size() >= n_pages * page_tokens):
// key i covers tokens [0, (i+1) * page_tokens).
std::vector<ChunkKey> chunk_keys(const KvLayout& layout, std::span<const int32_t> tokens, int64_t n_pages);

// A chunk that cannot be used. `field` names what was wrong ("checksum", "fingerprint", ...).
class ChunkError : public Error {
 public:
  ChunkError(const std::string& path, std::string field, const std::string& what)
      : Error(ErrorKind::Io, path + ": " + field + ": " + what), field_(std::move(field)) {}
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

// Writes the chunk of page `page_index` durably: to a temporary file in the same folder, fsync,
// rename to `path`, fsync the folder. `tokens` are that page's page_tokens token ids; `payload`
// is layout.page_bytes() bytes. Throws Error(Io) naming the file on failure (the temporary file
// is removed).
void write_chunk(const std::filesystem::path& path, const KvLayout& layout, const ChunkKey& key, int64_t page_index,
                 std::span<const int32_t> tokens, const uint8_t* payload);

// Reads and checks the chunk at `path` against what the caller expects (layout, key, page index,
// token ids) and copies its payload into `payload` (layout.page_bytes() bytes). Throws
// ChunkError naming the file and the first field that does not match, or Error(Io).
void read_chunk(const std::filesystem::path& path, const KvLayout& layout, const ChunkKey& key, int64_t page_index,
                std::span<const int32_t> tokens, uint8_t* payload);

// A chunk file's bytes taken apart (a chunk received in a session archive): the layout, key and
// page its header states, its token ids and a view of its payload inside `bytes`.
struct ParsedChunk {
  KvLayout layout;
  ChunkKey key;
  int64_t page_index = 0;
  std::vector<int32_t> tokens;
  std::span<const uint8_t> payload;
};

// Checks the bytes of one chunk file on their own (magic, format version, header checksum, KV
// type, sizes, token-and-payload checksum, nothing after it) and returns what it states; the
// caller checks that against what it expects. Throws ChunkError naming `name` and the field.
ParsedChunk parse_chunk(std::span<const uint8_t> bytes, const std::string& name);

// Checks a chunk file's own consistency only (header checksum, size, payload checksum), without
// knowing what it should hold: for the start-up reconcile. Throws ChunkError.
void verify_chunk_file(const std::filesystem::path& path);

}  // namespace strata::snapshot
