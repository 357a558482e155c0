// Chunk files: a page written and read back is byte-identical; each kind of damage or mismatch
// is detected and named (flipped bytes, truncation, another fingerprint, another format version,
// another KV format, another session's chunk in its place).
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/snapshot/snapshot_chunk.h"
#include "tests/engine/snapshot_test_util.h"
#include "tests/support/test_paths.h"

namespace strata::snapshot {
namespace {

class SnapshotChunkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("snapshot-chunk");
    pool_ = KvPagePool::create({2, 2, 64}, KvType::F16, 16);
    layout_.fingerprint.bytes.fill(0xab);
    layout_.format = pool_->format();
    layout_.geometry = pool_->geometry();
    layout_.page_tokens = 16;
    tokens_ = test::token_run(48, 5);
    kv_ = test::filled_kv(pool_, 48, 1);
    keys_ = chunk_keys(layout_, tokens_, 3);
    path_ = dir_ / "c1.kv";
    write_chunk(path_, layout_, keys_[1], 1, page_tokens(1), kv_->page_data(1));
  }
  std::span<const int32_t> page_tokens(int64_t i) const { return std::span(tokens_).subspan(i * 16, 16); }
  // The field named by the ChunkError that reading `path` as page 1 gives, or "" when it reads.
  std::string read_error(const std::filesystem::path& path, const KvLayout& layout) {
    std::vector<uint8_t> buf(layout.page_bytes());
    try {
      read_chunk(path, layout, keys_[1], 1, page_tokens(1), buf.data());
    } catch (const ChunkError& e) {
      EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos) << "names the file";
      return e.field();
    }
    EXPECT_EQ(std::memcmp(buf.data(), kv_->page_data(1), buf.size()), 0);
    return "";
  }

  std::filesystem::path dir_, path_;
  std::shared_ptr<KvPagePool> pool_;
  KvLayout layout_;
  std::vector<int32_t> tokens_;
  std::unique_ptr<SequenceKvCache> kv_;
  std::vector<ChunkKey> keys_;
};

TEST_F(SnapshotChunkTest, RoundTripIsByteIdenticalAndTheFileHasTheDocumentedSize) {
  EXPECT_EQ(read_error(path_, layout_), "");
  EXPECT_EQ(std::filesystem::file_size(path_), layout_.chunk_file_bytes());
  EXPECT_EQ(layout_.chunk_file_bytes(), kChunkHeaderBytes + 16 * 4 + pool_->page_bytes() + 8);
  EXPECT_NO_THROW(verify_chunk_file(path_));
  // No temporary file is left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(SnapshotChunkTest, KeysDependOnEveryEarlierTokenAndOnTheLayout) {
  auto other = tokens_;
  other[3] += 1;  // a change in page 0 changes the keys of every later page
  const auto k2 = chunk_keys(layout_, other, 3);
  EXPECT_NE(k2[0], keys_[0]);
  EXPECT_NE(k2[2], keys_[2]);
  other = tokens_;
  other[40] += 1;  // a change in page 2 keeps the keys of pages 0 and 1
  const auto k3 = chunk_keys(layout_, other, 3);
  EXPECT_EQ(k3[1], keys_[1]);
  EXPECT_NE(k3[2], keys_[2]);
  KvLayout q8 = layout_;
  q8.format = KvFormat::make(KvType::Q8_0, 64);
  EXPECT_NE(chunk_keys(q8, tokens_, 1)[0], keys_[0]);
  KvLayout model2 = layout_;
  model2.fingerprint.bytes[0] ^= 1;
  EXPECT_NE(chunk_keys(model2, tokens_, 1)[0], keys_[0]);
}

TEST_F(SnapshotChunkTest, FlippedPayloadTokenOrHeaderBytesAreDetected) {
  const uint64_t payload_at = kChunkHeaderBytes + 16 * 4;
  for (uint64_t offset : {payload_at + 100, payload_at + pool_->page_bytes() - 1, kChunkHeaderBytes + 5,
                          layout_.chunk_file_bytes() - 3}) {
    write_chunk(path_, layout_, keys_[1], 1, page_tokens(1), kv_->page_data(1));
    test::flip_byte(path_, offset);
    EXPECT_EQ(read_error(path_, layout_), "checksum") << "offset " << offset;
    EXPECT_THROW(verify_chunk_file(path_), ChunkError);
  }
  write_chunk(path_, layout_, keys_[1], 1, page_tokens(1), kv_->page_data(1));
  test::flip_byte(path_, 50);  // inside the geometry fields
  EXPECT_EQ(read_error(path_, layout_), "header_checksum");
}

TEST_F(SnapshotChunkTest, TruncatedOrExtendedFilesAreDetected) {
  for (uint64_t size : {uint64_t(0), uint64_t(40), kChunkHeaderBytes + 10, layout_.chunk_file_bytes() - 1}) {
    write_chunk(path_, layout_, keys_[1], 1, page_tokens(1), kv_->page_data(1));
    std::filesystem::resize_file(path_, size);
    EXPECT_NE(read_error(path_, layout_), "") << "size " << size;
  }
  write_chunk(path_, layout_, keys_[1], 1, page_tokens(1), kv_->page_data(1));
  std::filesystem::resize_file(path_, layout_.chunk_file_bytes() + 1);
  EXPECT_EQ(read_error(path_, layout_), "size");
}

TEST_F(SnapshotChunkTest, AnotherFingerprintKvTypeOrFormatVersionIsNeverLoaded) {
  KvLayout other_model = layout_;
  other_model.fingerprint.bytes[7] ^= 0x10;
  EXPECT_EQ(read_error(path_, other_model), "fingerprint");

  // A q4g reader refuses an f16 chunk of the same model and tokens.
  KvLayout q4g = layout_;
  q4g.format = KvFormat::make(KvType::Q4G, 64, 64);
  EXPECT_EQ(read_error(path_, q4g), "kv_type");
}

TEST_F(SnapshotChunkTest, AWrongFormatVersionIsRefusedBeforeAnythingElse) {
  test::put_u32(path_, 4, kChunkFormatVersion + 1);
  EXPECT_EQ(read_error(path_, layout_), "format_version");
  test::put_u32(path_, 0, 0x12345678);
  EXPECT_EQ(read_error(path_, layout_), "magic");
}

TEST_F(SnapshotChunkTest, AnotherSessionsChunkInItsPlaceIsDetected) {
  // Session B shares nothing with A; its page 1 chunk is copied over A's file.
  const auto b_tokens = test::token_run(48, 999);
  auto b_kv = test::filled_kv(pool_, 48, 2);
  const auto b_keys = chunk_keys(layout_, b_tokens, 2);
  const auto b_path = dir_ / "b1.kv";
  write_chunk(b_path, layout_, b_keys[1], 1, std::span(b_tokens).subspan(16, 16), b_kv->page_data(1));
  std::filesystem::copy_file(b_path, path_, std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(read_error(path_, layout_), "key");
  // A's own page 0 in the place of page 1: other positions.
  write_chunk(b_path, layout_, keys_[0], 0, page_tokens(0), kv_->page_data(0));
  std::filesystem::copy_file(b_path, path_, std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(read_error(path_, layout_), "token_range");
}

}  // namespace
}  // namespace strata::snapshot
