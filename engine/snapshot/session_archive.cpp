#include "engine/snapshot/session_archive.h"

#include <xxhash.h>

#include <cstring>

namespace strata::snapshot {
namespace {

constexpr uint64_t kMaxModelName = 4096;
constexpr uint64_t kMaxTokens = uint64_t(1) << 26;  // 64 Mi tokens: far past any context

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Reads the archive front to back; every read is bounds-checked and names what it was reading.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  template <class T>
  T get(const std::string& field) {
    T v;
    std::memcpy(&v, take(sizeof v, field).data(), sizeof v);
    return v;
  }
  std::string_view take(uint64_t n, const std::string& field) {
    if (n > b_.size() - pos_) throw ArchiveError(field, "truncated archive");
    const auto s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  size_t pos() const { return pos_; }
  bool done() const { return pos_ == b_.size(); }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

}  // namespace

std::string encode_archive(const SessionArchive& a) {
  std::string out;
  put<uint32_t>(out, kArchiveMagic);
  put<uint32_t>(out, kArchiveFormatVersion);
  put<uint32_t>(out, static_cast<uint32_t>(a.model.size()));
  out += a.model;
  put<uint64_t>(out, a.tokens.size());
  out.append(reinterpret_cast<const char*>(a.tokens.data()), a.tokens.size() * sizeof(int32_t));
  put<uint64_t>(out, XXH3_64bits(out.data(), out.size()));  // covers everything above
  put<uint32_t>(out, static_cast<uint32_t>(a.chunks.size()));
  for (const auto& c : a.chunks) {
    put<uint64_t>(out, c.size());
    put<uint64_t>(out, XXH3_64bits(c.data(), c.size()));
    out += c;
  }
  return out;
}

SessionArchive decode_archive(std::string_view bytes) {
  Reader r(bytes);
  SessionArchive a;
  if (r.get<uint32_t>("magic") != kArchiveMagic) throw ArchiveError("magic", "not a Strata session archive");
  if (const auto v = r.get<uint32_t>("format_version"); v != kArchiveFormatVersion)
    throw ArchiveError("format_version",
                       "version " + std::to_string(v) + ", this build reads " + std::to_string(kArchiveFormatVersion));
  const auto name_len = r.get<uint32_t>("model");
  if (name_len == 0 || name_len > kMaxModelName) throw ArchiveError("model", "implausible name length");
  a.model = std::string(r.take(name_len, "model"));
  const auto n_tokens = r.get<uint64_t>("tokens");
  if (n_tokens > kMaxTokens) throw ArchiveError("tokens", "implausible token count");
  const auto tok = r.take(n_tokens * sizeof(int32_t), "tokens");
  a.tokens.resize(n_tokens);
  if (n_tokens) std::memcpy(a.tokens.data(), tok.data(), tok.size());
  const size_t meta_end = r.pos();
  if (r.get<uint64_t>("metadata_checksum") != XXH3_64bits(bytes.data(), meta_end))
    throw ArchiveError("metadata_checksum", "the model name or the token ids are corrupt");
  const auto n_chunks = r.get<uint32_t>("chunk_count");
  for (uint32_t i = 0; i < n_chunks; ++i) {
    const std::string field = "chunk " + std::to_string(i);
    const auto size = r.get<uint64_t>(field);
    const auto sum = r.get<uint64_t>(field);
    const auto c = r.take(size, field);
    if (XXH3_64bits(c.data(), c.size()) != sum) throw ArchiveError(field, "checksum mismatch: the chunk is corrupt");
    a.chunks.emplace_back(c);
  }
  if (!r.done()) throw ArchiveError("size", "bytes after the last chunk");
  return a;
}

}  // namespace strata::snapshot
