// The snapshot store over real files and a real SQLite index: incremental saves, prefix
// sharing, restore with fallback when chunks are damaged or gone, the start-up reconcile, and
// the disk quota's LRU order.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/snapshot/snapshot_store.h"
#include "tests/engine/snapshot_test_util.h"
#include "tests/support/test_paths.h"

namespace strata::snapshot {
namespace {

constexpr int64_t P = 16;

class SnapshotStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("snapshot-store");
    pool_ = KvPagePool::create({2, 2, 64}, KvType::F16, P);
    layout_.fingerprint.bytes.fill(0x42);
    layout_.format = pool_->format();
    layout_.geometry = pool_->geometry();
    layout_.page_tokens = P;
  }
  std::unique_ptr<SnapshotStore> open(uint64_t quota = 0) {
    return std::make_unique<SnapshotStore>(SnapshotStoreOptions{dir_, quota, true});
  }
  static SessionRow row(const std::string& id, const std::vector<int32_t>& tokens, uint32_t owner = 1000) {
    SessionRow r;
    r.id = id;
    r.owner = owner;
    r.model = "m";
    r.tokens = tokens;
    r.created = r.last_used = 1700000000;
    return r;
  }
  uint64_t files_bytes() const {
    uint64_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_ / "chunks")) n += e.file_size();
    return n;
  }
  size_t file_count() const { return std::distance(std::filesystem::directory_iterator(dir_ / "chunks"), {}); }

  std::filesystem::path dir_;
  std::shared_ptr<KvPagePool> pool_;
  KvLayout layout_;
};

TEST_F(SnapshotStoreTest, SaveRestoreGivesTheSamePagesAndTheIndexIsSound) {
  const auto tokens = test::token_run(3 * P + 5, 1);
  auto kv = test::filled_kv(pool_, 3 * P + 5, 1);
  {
    auto store = open();
    const auto r = store->save(row("a", tokens), layout_, kv.get());
    EXPECT_EQ(r.chunks_written, 3);  // the partial fourth page is not saved
    EXPECT_EQ(r.tokens_in_chunks, 3 * P);
  }
  auto store = open();  // a restart
  EXPECT_EQ(store->startup_report().orphan_files + store->startup_report().missing_files +
                store->startup_report().corrupt_files, 0);
  const auto s = store->session("a");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->tokens, tokens);
  EXPECT_EQ(s->bytes, 3 * layout_.chunk_file_bytes());
  const auto r = store->restore("a", layout_, pool_, 1000);
  EXPECT_EQ(r.restored_tokens, 3 * P);
  EXPECT_TRUE(r.problems.empty());
  ASSERT_TRUE(r.kv);
  EXPECT_EQ(r.kv->size(), 3 * P);
  EXPECT_TRUE(test::same_pages(*kv, *r.kv, 3));
  EXPECT_EQ(store->integrity_check(), "ok");
  EXPECT_EQ(store->disk_bytes(), files_bytes());
}

TEST_F(SnapshotStoreTest, SavesAreIncrementalAndSessionsSharingAPrefixShareChunks) {
  auto store = open();
  auto tokens = test::token_run(2 * P, 1);
  auto kv = test::filled_kv(pool_, 2 * P, 1);
  EXPECT_EQ(store->save(row("a", tokens), layout_, kv.get()).chunks_written, 2);
  // The session grows by two pages: only those are written.
  tokens = test::token_run(4 * P, 1);
  kv = test::filled_kv(pool_, 4 * P, 1);
  auto r = store->save(row("a", tokens), layout_, kv.get());
  EXPECT_EQ(r.chunks_written, 2);
  EXPECT_EQ(r.chunks_reused, 2);
  // Session b shares a's first three pages and diverges in the fourth.
  auto b_tokens = tokens;
  b_tokens[3 * P + 2] += 1;
  r = store->save(row("b", b_tokens, 1001), layout_, kv.get());
  EXPECT_EQ(r.chunks_reused, 3);
  EXPECT_EQ(r.chunks_written, 1);
  EXPECT_EQ(file_count(), 5u);
  // Deleting a keeps the shared chunks for b; deleting b then removes everything.
  store->erase("a");
  EXPECT_EQ(file_count(), 4u);
  EXPECT_EQ(store->restore("b", layout_, pool_, 1000).restored_tokens, 4 * P);
  store->erase("b");
  EXPECT_EQ(file_count(), 0u);
  EXPECT_EQ(store->disk_bytes(), 0u);
}

TEST_F(SnapshotStoreTest, ADamagedChunkIsDroppedAndOnlyTheVerifiedPrefixIsRestored) {
  auto store = open();
  const auto tokens = test::token_run(4 * P, 1);
  auto kv = test::filled_kv(pool_, 4 * P, 1);
  store->save(row("a", tokens), layout_, kv.get());
  const auto keys = chunk_keys(layout_, tokens, 4);
  test::flip_byte(store->chunk_path(keys[2].hex()), kChunkHeaderBytes + P * 4 + 7);
  auto r = store->restore("a", layout_, pool_, 1000);
  EXPECT_EQ(r.restored_tokens, 2 * P);  // pages 0 and 1; 2 failed, 3 follows a gap
  EXPECT_EQ(r.chunks_dropped, 1);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("checksum"), std::string::npos) << r.problems[0];
  EXPECT_TRUE(test::same_pages(*kv, *r.kv, 2));
  EXPECT_FALSE(std::filesystem::exists(store->chunk_path(keys[2].hex())));
  // A second restore gives the same prefix without problems; a new save writes the dropped page
  // again and references the intact page 3, still on disk though unmapped.
  EXPECT_EQ(store->restore("a", layout_, pool_, 1000).restored_tokens, 2 * P);
  const auto saved = store->save(row("a", tokens), layout_, kv.get());
  EXPECT_EQ(saved.chunks_written, 1);
  EXPECT_EQ(saved.chunks_reused, 3);
  EXPECT_EQ(store->restore("a", layout_, pool_, 1000).restored_tokens, 4 * P);
}

TEST_F(SnapshotStoreTest, ASessionOfAnotherModelOrKvFormatRestoresNothing) {
  auto store = open();
  const auto tokens = test::token_run(2 * P, 1);
  auto kv = test::filled_kv(pool_, 2 * P, 1);
  store->save(row("a", tokens), layout_, kv.get());
  KvLayout other = layout_;
  other.fingerprint.bytes[0] ^= 1;
  EXPECT_EQ(store->restore("a", other, pool_, 1000).restored_tokens, 0);
  auto q8pool = KvPagePool::create({2, 2, 64}, KvType::Q8_0, P);
  KvLayout q8 = layout_;
  q8.format = q8pool->format();
  EXPECT_EQ(store->restore("a", q8, q8pool, 1000).restored_tokens, 0);
  EXPECT_EQ(store->restore("a", layout_, pool_, 1000).restored_tokens, 2 * P);  // still there for its own model
}

TEST_F(SnapshotStoreTest, ReconcileRemovesOrphansAndDropsMissingOrCorruptChunks) {
  const auto tokens = test::token_run(3 * P, 1);
  auto kv = test::filled_kv(pool_, 3 * P, 1);
  const auto keys = chunk_keys(layout_, tokens, 3);
  {
    auto store = open();
    store->save(row("a", tokens), layout_, kv.get());
    std::filesystem::remove(store->chunk_path(keys[1].hex()));
    test::flip_byte(store->chunk_path(keys[2].hex()), kChunkHeaderBytes + 1);  // a token id
  }
  // Leftovers of a crash: a temporary file and a renamed chunk whose transaction never ran.
  std::filesystem::copy_file(dir_ / "chunks" / (keys[0].hex() + ".kv"), dir_ / "chunks" / "x.kv.tmp.1.0");
  std::filesystem::copy_file(dir_ / "chunks" / (keys[0].hex() + ".kv"), dir_ / "chunks" / "0123.kv");
  auto store = open();
  EXPECT_EQ(store->startup_report().missing_files, 1);
  EXPECT_EQ(store->startup_report().corrupt_files, 1);
  EXPECT_EQ(store->startup_report().orphan_files, 2);
  EXPECT_EQ(file_count(), 1u);
  EXPECT_EQ(store->disk_bytes(), files_bytes());
  EXPECT_EQ(store->restore("a", layout_, pool_, 1000).restored_tokens, P);
  EXPECT_EQ(store->session("a")->tokens, tokens);  // the rest re-prefills from here
  EXPECT_EQ(store->integrity_check(), "ok");
}

TEST_F(SnapshotStoreTest, TheQuotaEvictsUnreferencedChunksThenLeastRecentlyUsedSessions) {
  const uint64_t chunk = layout_.chunk_file_bytes();
  auto store = open(6 * chunk + chunk / 2);
  // Three sessions of two pages each fill the quota: 6 chunks.
  std::vector<std::vector<int32_t>> tokens;
  for (int i = 0; i < 4; ++i) tokens.push_back(test::token_run(2 * P, 1000 * (i + 1)));
  auto kv = test::filled_kv(pool_, 2 * P, 3);
  for (int i = 0; i < 3; ++i) store->save(row("s" + std::to_string(i), tokens[i]), layout_, kv.get());
  EXPECT_EQ(file_count(), 6u);
  // s0 is used again: s1 becomes the least recently used.
  EXPECT_EQ(store->restore("s0", layout_, pool_, 1000).restored_tokens, 2 * P);
  // s3 needs two chunks: s1's go, in that order; s0 and s2 keep theirs.
  const auto r = store->save(row("s3", tokens[3]), layout_, kv.get());
  EXPECT_EQ(r.chunks_written, 2);
  EXPECT_LE(files_bytes(), store->quota_bytes() + chunk);
  EXPECT_EQ(store->restore("s1", layout_, pool_, 1000).restored_tokens, 0);
  EXPECT_EQ(store->session("s1")->tokens, tokens[1]) << "an evicted session keeps its history";
  for (const char* id : {"s0", "s2", "s3"}) EXPECT_EQ(store->restore(id, layout_, pool_, 1000).restored_tokens, 2 * P) << id;
  // A shrinking quota evicts down to it, least recently used first (s0, restored earliest).
  store->set_quota(4 * chunk);
  EXPECT_LE(files_bytes(), 4 * chunk);
  EXPECT_EQ(store->restore("s0", layout_, pool_, 1000).restored_tokens, 0);
  EXPECT_EQ(store->restore("s3", layout_, pool_, 1000).restored_tokens, 2 * P);
  // A session larger than the whole quota saves what fits and says so.
  const auto big_tokens = test::token_run(8 * P, 7);
  auto big = test::filled_kv(pool_, 8 * P, 4);
  const auto rb = store->save(row("big", big_tokens), layout_, big.get());
  EXPECT_TRUE(rb.quota_limited);
  EXPECT_EQ(rb.chunks_written, 4);
  EXPECT_LE(files_bytes(), 4 * chunk);
  EXPECT_EQ(store->disk_bytes(), files_bytes());
  EXPECT_EQ(store->integrity_check(), "ok");
}

TEST_F(SnapshotStoreTest, APromptReusesStoredPrefixPagesOfTheSameUidOnly) {
  auto store = open();
  const auto tokens = test::token_run(3 * P, 1);
  auto kv = test::filled_kv(pool_, 3 * P, 1);
  store->save(row("a", tokens, 1000), layout_, kv.get());
  // A new prompt: a's first two pages, then something else.
  auto prompt = tokens;
  prompt[2 * P + 3] += 1;
  auto r = store->restore_prefix(prompt, int64_t(prompt.size()) - 1, 1000, false, layout_, pool_, 1000);
  EXPECT_EQ(r.restored_tokens, 2 * P);
  EXPECT_TRUE(test::same_pages(*kv, *r.kv, 2));
  // The whole prompt stored: at most max_tokens are taken.
  EXPECT_EQ(store->restore_prefix(tokens, 3 * P - 1, 1000, false, layout_, pool_, 1000).restored_tokens, 2 * P);
  // Another uid gets nothing, unless sharing across uids is allowed.
  EXPECT_EQ(store->restore_prefix(prompt, 3 * P, 1001, false, layout_, pool_, 1000).restored_tokens, 0);
  EXPECT_EQ(store->restore_prefix(prompt, 3 * P, 1001, true, layout_, pool_, 1000).restored_tokens, 2 * P);
}

TEST_F(SnapshotStoreTest, AnIndexOfANewerSchemaIsRefusedWithItsPath) {
  open();
  {
    SqliteDb db(dir_ / "index.sqlite");
    db.exec("UPDATE schema_version SET version = 99");
  }
  try {
    open();
    FAIL() << "opened an index of a newer schema";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index.sqlite"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("schema_version 99"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::snapshot
