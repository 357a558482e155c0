// Malformed files: each is refused with a ModelFileError naming the file, the field and the byte
// offset of the defect.
#include <gtest/gtest.h>

#include <set>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "tests/gguf/gguf_bytes.h"
#include "tests/gguf/malformed_gguf.h"
#include "tests/support/test_paths.h"

namespace strata::gguf {
namespace {

using strata::test::MalformedGguf;

TEST(GgufMalformed, EverySampleIsRefusedWithFieldAndOffset) {
  const auto samples = strata::test::malformed_gguf_samples();
  EXPECT_GE(samples.size(), 40u);
  std::set<std::string> names;
  for (const MalformedGguf& m : samples) {
    SCOPED_TRACE(m.name);
    EXPECT_TRUE(names.insert(m.name).second) << "duplicate sample name";
    try {
      GgufFile::parse(m.bytes, m.name + ".gguf");
      ADD_FAILURE() << "accepted";
    } catch (const ModelFileError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::ModelFile);
      EXPECT_EQ(e.path(), m.name + ".gguf");
      EXPECT_EQ(e.field(), m.field) << msg;
      EXPECT_EQ(e.offset(), m.offset) << msg;
      EXPECT_NE(msg.find(m.expected()), std::string::npos) << msg << "\n  expected: " << m.expected();
      EXPECT_NE(msg.find(m.expected_at()), std::string::npos) << msg;
      EXPECT_EQ(msg.rfind(m.name + ".gguf: ", 0), 0u) << msg;
    }
  }
}

TEST(GgufMalformed, FilesOnDiskGiveTheSameErrors) {
  const auto dir = strata::test::temp_dir("gguf-malformed");
  const auto cases = strata::test::make_malformed_gguf_cases(dir / "cases");
  EXPECT_EQ(cases.size(), strata::test::malformed_gguf_samples().size());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(std::filesystem::exists(c.path));
    try {
      GgufFile::open(c.path);
      ADD_FAILURE() << "accepted";
    } catch (const ModelFileError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(e.path(), c.path.string());
      EXPECT_EQ(e.field(), c.field);
      EXPECT_EQ(e.offset(), c.offset);
      EXPECT_NE(msg.find(c.expected), std::string::npos) << msg;
      EXPECT_NE(msg.find(c.path.string()), std::string::npos) << msg;
    }
  }
}

// Hostile names are escaped in messages: no raw control characters reach a terminal or a log.
TEST(GgufMalformed, NamesInMessagesAreEscaped) {
  const std::vector<uint8_t> bytes = [] {
    std::vector<uint8_t> b = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
    auto u64 = [&](uint64_t v) {
      for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    u64(0);
    u64(1);
    const std::string key = "a\nb\x1b[31m'";
    u64(key.size());
    b.insert(b.end(), key.begin(), key.end());
    b.insert(b.end(), {13, 0, 0, 0, 0, 0, 0, 0});  // unknown value type 13
    return b;
  }();
  try {
    GgufFile::parse(bytes, "hostile");
    FAIL() << "accepted";
  } catch (const ModelFileError& e) {
    EXPECT_EQ(e.field(), "metadata[0] 'a\\nb\\x1b[31m\\''");
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos);
    EXPECT_EQ(msg.find('\x1b'), std::string::npos);
  }
}

// Arrays of arrays cost a Value per element: their total is capped (real files have none).
TEST(GgufMalformed, NestedArrayElementsAreCapped) {
  constexpr uint64_t kCount = (uint64_t{1} << 20) + 1;
  strata::test::GgufBytes b;
  b.header(3, 0, 1).key("a.nested", 9).u32(9);
  const uint64_t at = b.pos();
  b.u64(kCount);
  for (uint64_t i = 0; i < kCount; ++i) b.u32(0).u64(0);  // empty u8 arrays
  try {
    GgufFile::parse(b.bytes(), "nested");
    FAIL() << "accepted";
  } catch (const ModelFileError& e) {
    EXPECT_EQ(e.field(), "metadata[0] 'a.nested'");
    EXPECT_EQ(e.offset(), at);
    EXPECT_NE(std::string(e.what()).find("more than 1048576 elements in arrays of arrays"), std::string::npos);
  }
  // One fewer is fine.
  strata::test::GgufBytes ok;
  ok.header(3, 0, 1).key("a.nested", 9).u32(9).u64(kCount - 1);
  for (uint64_t i = 0; i + 1 < kCount; ++i) ok.u32(0).u64(0);
  EXPECT_EQ(GgufFile::parse(ok.bytes(), "nested").require("a.nested").size(), kCount - 1);
}

}  // namespace
}  // namespace strata::gguf
