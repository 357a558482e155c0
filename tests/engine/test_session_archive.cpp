// Session archives (engine/snapshot/session_archive.h) and parse_chunk: what is encoded decodes
// to the same session; every kind of damage is refused and named; a chunk's bytes parse to the
// layout, key, page and tokens it was written with.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "engine/snapshot/session_archive.h"
#include "engine/snapshot/snapshot_chunk.h"
#include "tests/engine/snapshot_test_util.h"
#include "tests/support/test_paths.h"

namespace strata::snapshot {
namespace {

std::string field_of(std::string_view bytes) {
  try {
    decode_archive(bytes);
  } catch (const ArchiveError& e) {
    return e.field();
  }
  return "";
}

SessionArchive sample() {
  SessionArchive a;
  a.model = "syn";
  a.tokens = {1, 5, 7, 9, 11};
  a.chunks = {std::string("first chunk"), std::string(300, 'x')};
  return a;
}

TEST(SessionArchive, RoundTrips) {
  const SessionArchive a = sample();
  const SessionArchive b = decode_archive(encode_archive(a));
  EXPECT_EQ(b.model, a.model);
  EXPECT_EQ(b.tokens, a.tokens);
  EXPECT_EQ(b.chunks, a.chunks);
}

TEST(SessionArchive, NamesWhatIsWrong) {
  const std::string good = encode_archive(sample());
  auto flipped = [&](size_t at) {
    std::string s = good;
    s[at] ^= 0x01;
    return s;
  };
  EXPECT_EQ(field_of(flipped(0)), "magic");
  EXPECT_EQ(field_of(flipped(4)), "format_version");
  EXPECT_EQ(field_of(flipped(13)), "metadata_checksum");  // in the model name
  EXPECT_EQ(field_of(flipped(20)), "tokens");             // the token count: implausible
  EXPECT_EQ(field_of(flipped(25)), "metadata_checksum");  // in the token ids
  EXPECT_EQ(field_of(flipped(good.size() - 10)), "chunk 1");
  EXPECT_EQ(field_of(good.substr(0, good.size() - 1)), "chunk 1");  // truncated
  EXPECT_EQ(field_of(good + "z"), "size");
  EXPECT_EQ(field_of(""), "magic");
}

TEST(ParseChunk, ReturnsWhatTheChunkWasWrittenWith) {
  const auto dir = test::temp_dir("parse-chunk");
  auto pool = KvPagePool::create({2, 2, 64}, KvType::F16, 16);
  KvLayout layout;
  layout.fingerprint.bytes.fill(0xcd);
  layout.format = pool->format();
  layout.geometry = pool->geometry();
  layout.page_tokens = 16;
  const auto tokens = test::token_run(32, 3);
  auto kv = test::filled_kv(pool, 32, 2);
  const auto keys = chunk_keys(layout, tokens, 2);
  write_chunk(dir / "c.kv", layout, keys[1], 1, std::span(tokens).subspan(16, 16), kv->page_data(1));
  std::ifstream f(dir / "c.kv", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto as_span = [](const std::string& s) { return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };

  const ParsedChunk c = parse_chunk(as_span(bytes), "c");
  EXPECT_EQ(c.key, keys[1]);
  EXPECT_EQ(c.page_index, 1);
  EXPECT_EQ(c.layout.fingerprint, layout.fingerprint);
  EXPECT_EQ(c.layout.kv_name(), layout.kv_name());
  EXPECT_EQ(c.layout.page_bytes(), layout.page_bytes());
  EXPECT_EQ(c.tokens, std::vector<int32_t>(tokens.begin() + 16, tokens.end()));
  ASSERT_EQ(c.payload.size(), layout.page_bytes());
  EXPECT_EQ(std::memcmp(c.payload.data(), kv->page_data(1), c.payload.size()), 0);

  auto error_of = [&](std::string s) -> std::string {
    try {
      parse_chunk(as_span(s), "c");
    } catch (const ChunkError& e) {
      return e.field();
    }
    return "";
  };
  auto flip = [&](size_t at) {
    std::string s = bytes;
    s[at] ^= 0x01;
    return s;
  };
  EXPECT_EQ(error_of(flip(0)), "magic");
  EXPECT_EQ(error_of(flip(4)), "format_version");
  EXPECT_EQ(error_of(flip(30)), "header_checksum");
  EXPECT_EQ(error_of(flip(bytes.size() / 2)), "checksum");
  EXPECT_EQ(error_of(bytes.substr(0, bytes.size() - 1)), "size");
  EXPECT_EQ(error_of(bytes.substr(0, 50)), "header");
}

}  // namespace
}  // namespace strata::snapshot
