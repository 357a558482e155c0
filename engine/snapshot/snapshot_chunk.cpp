#include "engine/snapshot/snapshot_chunk.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>

namespace strata::snapshot {

static_assert(std::endian::native == std::endian::little, "chunk files are little-endian; so is this host");

namespace {

// Header field offsets (see docs/snapshot-format.md).
enum : size_t {
  kOffMagic = 0,
  kOffVersion = 4,
  kOffFingerprint = 8,
  kOffKey = 24,
  kOffKvType = 40,
  kOffGroup = 44,
  kOffLayers = 48,
  kOffHeadsKv = 52,
  kOffHeadDim = 56,
  kOffPageTokens = 60,
  kOffFirstToken = 64,
  kOffTokens = 72,
  kOffPayloadBytes = 80,
  kOffHeaderSum = 88,
};

template <class T>
void put(uint8_t* h, size_t off, T v) {
  std::memcpy(h + off, &v, sizeof v);
}
template <class T>
T get(const uint8_t* h, size_t off) {
  T v;
  std::memcpy(&v, h + off, sizeof v);
  return v;
}

std::string errno_text() { return std::strerror(errno); }

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw Error(ErrorKind::Io, path + ": write failed: " + errno_text());
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Reads exactly n bytes at `offset`; false at end of file first.
bool read_at(int fd, void* data, size_t n, uint64_t offset, const std::string& path) {
  auto* p = static_cast<uint8_t*>(data);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error(ErrorKind::Io, path + ": read failed: " + errno_text());
    if (r == 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

void fsync_dir(const std::filesystem::path& dir) {
  Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0 || ::fsync(d.fd) != 0)
    throw Error(ErrorKind::Io, dir.string() + ": cannot fsync the folder: " + errno_text());
}

uint32_t kv_type_code(KvType t) { return static_cast<uint32_t>(t); }

// The header as the layout and key describe it (header checksum filled in).
std::array<uint8_t, kChunkHeaderBytes> make_header(const KvLayout& l, const ChunkKey& key, int64_t page_index) {
  std::array<uint8_t, kChunkHeaderBytes> h{};
  uint8_t* p = h.data();
  put<uint32_t>(p, kOffMagic, kChunkMagic);
  put<uint32_t>(p, kOffVersion, kChunkFormatVersion);
  std::memcpy(p + kOffFingerprint, l.fingerprint.bytes.data(), 16);
  std::memcpy(p + kOffKey, key.bytes.data(), 16);
  put<uint32_t>(p, kOffKvType, kv_type_code(l.format.type));
  put<uint32_t>(p, kOffGroup, l.format.type == KvType::Q4G ? static_cast<uint32_t>(l.format.group) : 0);
  put<uint32_t>(p, kOffLayers, static_cast<uint32_t>(l.geometry.n_layer));
  put<uint32_t>(p, kOffHeadsKv, static_cast<uint32_t>(l.geometry.n_head_kv));
  put<uint32_t>(p, kOffHeadDim, static_cast<uint32_t>(l.geometry.head_dim));
  put<uint32_t>(p, kOffPageTokens, static_cast<uint32_t>(l.page_tokens));
  put<uint64_t>(p, kOffFirstToken, static_cast<uint64_t>(page_index * l.page_tokens));
  put<uint64_t>(p, kOffTokens, static_cast<uint64_t>(l.page_tokens));
  put<uint64_t>(p, kOffPayloadBytes, l.page_bytes());
  put<uint64_t>(p, kOffHeaderSum, XXH3_64bits(p, kOffHeaderSum));
  return h;
}

// Reads the header and checks it is a chunk header of this format version.
std::array<uint8_t, kChunkHeaderBytes> read_header(int fd, const std::string& path) {
  std::array<uint8_t, kChunkHeaderBytes> h{};
  if (!read_at(fd, h.data(), h.size(), 0, path)) throw ChunkError(path, "header", "truncated file");
  if (get<uint32_t>(h.data(), kOffMagic) != kChunkMagic) throw ChunkError(path, "magic", "not a Strata KV chunk");
  if (const uint32_t v = get<uint32_t>(h.data(), kOffVersion); v != kChunkFormatVersion)
    throw ChunkError(path, "format_version",
                     "version " + std::to_string(v) + ", this build reads " + std::to_string(kChunkFormatVersion));
  if (get<uint64_t>(h.data(), kOffHeaderSum) != XXH3_64bits(h.data(), kOffHeaderSum))
    throw ChunkError(path, "header_checksum", "the header is corrupt");
  return h;
}

// Reads tokens and payload after a checked header, verifying the trailing checksum. `payload`
// receives payload_bytes bytes.
void read_body(int fd, const uint8_t* h, const std::string& path, std::vector<int32_t>& tokens, uint8_t* payload) {
  const uint64_t n_tokens = get<uint64_t>(h, kOffTokens), payload_bytes = get<uint64_t>(h, kOffPayloadBytes);
  tokens.resize(n_tokens);
  const uint64_t tok_bytes = n_tokens * sizeof(int32_t);
  if (!read_at(fd, tokens.data(), tok_bytes, kChunkHeaderBytes, path)) throw ChunkError(path, "tokens", "truncated file");
  if (!read_at(fd, payload, payload_bytes, kChunkHeaderBytes + tok_bytes, path))
    throw ChunkError(path, "payload", "truncated file");
  uint64_t stored = 0;
  uint8_t extra = 0;
  const uint64_t sum_at = kChunkHeaderBytes + tok_bytes + payload_bytes;
  if (!read_at(fd, &stored, sizeof stored, sum_at, path)) throw ChunkError(path, "checksum", "truncated file");
  if (read_at(fd, &extra, 1, sum_at + sizeof stored, path))
    throw ChunkError(path, "size", "bytes after the checksum");
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, tokens.data(), tok_bytes);
  XXH3_64bits_update(st, payload, payload_bytes);
  const uint64_t actual = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  if (actual != stored) throw ChunkError(path, "checksum", "the token ids or the KV payload are corrupt");
}

}  // namespace

uint64_t KvLayout::page_bytes() const {
  return 2 * uint64_t(geometry.n_layer) * geometry.n_head_kv * page_tokens * format.row_bytes(geometry.head_dim);
}

uint64_t KvLayout::chunk_file_bytes() const {
  return kChunkHeaderBytes + uint64_t(page_tokens) * sizeof(int32_t) + page_bytes() + sizeof(uint64_t);
}

std::string KvLayout::kv_name() const {
  std::string n(kv_type_name(format.type));
  if (format.type == KvType::Q4G) n.append("/").append(std::to_string(format.group));
  return n;
}

std::vector<ChunkKey> chunk_keys(const KvLayout& layout, std::span<const int32_t> tokens, int64_t n_pages) {
  // One running hash over (format version, fingerprint, layout, tokens...): its digest at each
  // page end is that page's key. XXH3's digest leaves the state usable, so this is one pass.
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  const uint32_t fixed[7] = {kChunkFormatVersion,
                             kv_type_code(layout.format.type),
                             layout.format.type == KvType::Q4G ? uint32_t(layout.format.group) : 0u,
                             uint32_t(layout.geometry.n_layer),
                             uint32_t(layout.geometry.n_head_kv),
                             uint32_t(layout.geometry.head_dim),
                             uint32_t(layout.page_tokens)};
  XXH3_128bits_update(st, layout.fingerprint.bytes.data(), layout.fingerprint.bytes.size());
  XXH3_128bits_update(st, fixed, sizeof fixed);
  std::vector<ChunkKey> keys;
  for (int64_t i = 0; i < n_pages; ++i) {
    XXH3_128bits_update(st, tokens.data() + i * layout.page_tokens, layout.page_tokens * sizeof(int32_t));
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    ChunkKey k;
    std::memcpy(k.bytes.data(), c.digest, 16);
    keys.push_back(k);
  }
  XXH3_freeState(st);
  return keys;
}

void write_chunk(const std::filesystem::path& path, const KvLayout& layout, const ChunkKey& key, int64_t page_index,
                 std::span<const int32_t> tokens, const uint8_t* payload) {
  static std::atomic<uint64_t> counter{0};
  const auto tmp = path.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  const auto header = make_header(layout, key, page_index);
  try {
    Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
    if (f.fd < 0) throw Error(ErrorKind::Io, tmp + ": cannot create: " + errno_text());
    const uint64_t tok_bytes = tokens.size() * sizeof(int32_t);
    write_all(f.fd, header.data(), header.size(), tmp);
    write_all(f.fd, tokens.data(), tok_bytes, tmp);
    write_all(f.fd, payload, layout.page_bytes(), tmp);
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, tokens.data(), tok_bytes);
    XXH3_64bits_update(st, payload, layout.page_bytes());
    const uint64_t sum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    write_all(f.fd, &sum, sizeof sum, tmp);
    if (::fsync(f.fd) != 0) throw Error(ErrorKind::Io, tmp + ": fsync failed: " + errno_text());
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw Error(ErrorKind::Io, path.string() + ": cannot rename from the temporary file: " + errno_text());
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(path.parent_path());
}

void read_chunk(const std::filesystem::path& path, const KvLayout& layout, const ChunkKey& key, int64_t page_index,
                std::span<const int32_t> tokens, uint8_t* payload) {
  const std::string p = path.string();
  Fd f{::open(p.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) throw ChunkError(p, "file", "cannot open: " + errno_text());
  const auto h = read_header(f.fd, p);
  // Compare with the header this chunk should have, field by field, to name what differs.
  const auto want = make_header(layout, key, page_index);
  auto differs = [&](size_t off, size_t n) { return std::memcmp(h.data() + off, want.data() + off, n) != 0; };
  if (differs(kOffFingerprint, 16)) throw ChunkError(p, "fingerprint", "the chunk belongs to another model");
  if (differs(kOffKvType, 8)) throw ChunkError(p, "kv_type", "the chunk holds another KV format");
  if (differs(kOffLayers, 12)) throw ChunkError(p, "geometry", "the chunk has another layer/head geometry");
  if (differs(kOffPageTokens, 4)) throw ChunkError(p, "page_tokens", "the chunk has another page size");
  if (differs(kOffFirstToken, 16)) throw ChunkError(p, "token_range", "the chunk covers other positions");
  if (differs(kOffKey, 16)) throw ChunkError(p, "key", "the chunk holds another token prefix");
  if (differs(kOffPayloadBytes, 8)) throw ChunkError(p, "payload_bytes", "the payload size does not match");
  std::vector<int32_t> stored;
  read_body(f.fd, h.data(), p, stored, payload);
  if (!std::equal(stored.begin(), stored.end(), tokens.begin(), tokens.end()))
    throw ChunkError(p, "tokens", "the chunk covers other token ids");
}

void verify_chunk_file(const std::filesystem::path& path) {
  const std::string p = path.string();
  Fd f{::open(p.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) throw ChunkError(p, "file", "cannot open: " + errno_text());
  const auto h = read_header(f.fd, p);
  const uint64_t payload_bytes = get<uint64_t>(h.data(), kOffPayloadBytes);
  const uint64_t n_tokens = get<uint64_t>(h.data(), kOffTokens);
  // Bounds before allocating: a page of 1 M tokens or 64 GiB is no chunk of ours.
  if (n_tokens > (1u << 20) || payload_bytes > (uint64_t(64) << 30))
    throw ChunkError(p, "header", "implausible sizes");
  std::vector<uint8_t> payload(payload_bytes);
  std::vector<int32_t> tokens;
  read_body(f.fd, h.data(), p, tokens, payload.data());
}

}  // namespace strata::snapshot

namespace strata::snapshot {

ParsedChunk parse_chunk(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() < kChunkHeaderBytes) throw ChunkError(name, "header", "truncated chunk");
  const uint8_t* h = bytes.data();
  if (get<uint32_t>(h, kOffMagic) != kChunkMagic) throw ChunkError(name, "magic", "not a Strata KV chunk");
  if (const uint32_t v = get<uint32_t>(h, kOffVersion); v != kChunkFormatVersion)
    throw ChunkError(name, "format_version",
                     "version " + std::to_string(v) + ", this build reads " + std::to_string(kChunkFormatVersion));
  if (get<uint64_t>(h, kOffHeaderSum) != XXH3_64bits(h, kOffHeaderSum))
    throw ChunkError(name, "header_checksum", "the header is corrupt");
  ParsedChunk c;
  const uint32_t type = get<uint32_t>(h, kOffKvType);
  if (type > kv_type_code(KvType::Q4G)) throw ChunkError(name, "kv_type", "unknown KV type " + std::to_string(type));
  c.layout.geometry = {static_cast<int>(get<uint32_t>(h, kOffLayers)), static_cast<int>(get<uint32_t>(h, kOffHeadsKv)),
                       static_cast<int>(get<uint32_t>(h, kOffHeadDim))};
  c.layout.page_tokens = get<uint32_t>(h, kOffPageTokens);
  const auto& g = c.layout.geometry;
  if (g.n_layer <= 0 || g.n_layer > 4096 || g.n_head_kv <= 0 || g.n_head_kv > 4096 || g.head_dim <= 0 ||
      g.head_dim > 4096 || c.layout.page_tokens <= 0 || c.layout.page_tokens > (1 << 20))
    throw ChunkError(name, "geometry", "implausible layer/head/page sizes");
  try {
    c.layout.format = KvFormat::make(static_cast<KvType>(type), g.head_dim,
                                     type == kv_type_code(KvType::Q4G) ? static_cast<int>(get<uint32_t>(h, kOffGroup)) : 64);
  } catch (const Error& e) {
    throw ChunkError(name, "kv_type", e.what());
  }
  std::memcpy(c.layout.fingerprint.bytes.data(), h + kOffFingerprint, 16);
  std::memcpy(c.key.bytes.data(), h + kOffKey, 16);
  const uint64_t first = get<uint64_t>(h, kOffFirstToken), n_tokens = get<uint64_t>(h, kOffTokens);
  const uint64_t P = static_cast<uint64_t>(c.layout.page_tokens);
  if (n_tokens != P || first % P != 0) throw ChunkError(name, "token_range", "not one whole page");
  c.page_index = static_cast<int64_t>(first / P);
  const uint64_t payload_bytes = get<uint64_t>(h, kOffPayloadBytes);
  if (payload_bytes != c.layout.page_bytes())
    throw ChunkError(name, "payload_bytes", "the payload size does not match the stated layout");
  if (bytes.size() != c.layout.chunk_file_bytes())
    throw ChunkError(name, "size", std::to_string(bytes.size()) + " bytes, the layout needs " +
                                       std::to_string(c.layout.chunk_file_bytes()));
  const uint64_t tok_bytes = n_tokens * sizeof(int32_t);
  c.tokens.resize(n_tokens);
  std::memcpy(c.tokens.data(), h + kChunkHeaderBytes, tok_bytes);
  c.payload = bytes.subspan(kChunkHeaderBytes + tok_bytes, payload_bytes);
  // Tokens and payload are contiguous in the file: one hash over both.
  if (get<uint64_t>(h, kChunkHeaderBytes + tok_bytes + payload_bytes) !=
      XXH3_64bits(h + kChunkHeaderBytes, tok_bytes + payload_bytes))
    throw ChunkError(name, "checksum", "the token ids or the KV payload are corrupt");
  return c;
}

}  // namespace strata::snapshot
