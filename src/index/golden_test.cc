// Golden files: encodings of each format version, committed once and decoded forever.
//
// testdata/index/v1/<case>.bin is the encoding; <case>.txt its DumpIndex(), the expected
// decoding field by field. To write them (only when adding a case or a version; files
// already committed must never change):
//   BLOBSTATE_REGENERATE_GOLDEN=1 blobstate_tests --gtest_filter='IndexGoldenTest.*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "blobstate/index.h"
#include "index/index_testing.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using testing::DumpIndex;

struct GoldenCase {
  const char* name;
  SnapshotIndex (*expected)();
  // The bytes to write; nullptr: EncodeSnapshotIndex(expected()).
  std::string (*bytes)();
};

const GoldenCase kVersion1Cases[] = {
    {"empty_store", testing::EmptyStoreIndex, nullptr},
    {"nested_tree", testing::NestedTreeIndex, nullptr},
    {"unicode_names", testing::UnicodeNamesIndex, nullptr},
    {"unknown_optional_fields", testing::UnknownOptionalFieldsIndex,
     testing::UnknownOptionalFieldsBytes},
};

std::string Version1Path(const GoldenCase& c, const char* ext) {
  return std::string(BLOBSTATE_SOURCE_DIR) + "/testdata/index/v1/" + c.name + ext;
}

TEST(IndexGoldenTest, DecodesVersion1Files) {
  for (const GoldenCase& c : kVersion1Cases) {
    SCOPED_TRACE(c.name);
    Result<std::string> bytes = ReadSmallFile(Version1Path(c, ".bin"));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    Result<std::string> dump = ReadSmallFile(Version1Path(c, ".txt"));
    ASSERT_TRUE(dump.ok()) << dump.status();

    Result<SnapshotIndex> decoded = DecodeSnapshotIndex(*bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(DumpIndex(*decoded), *dump);
    EXPECT_TRUE(*decoded == c.expected());
  }
}

TEST(IndexGoldenTest, Version1FilesStartWithMagicAndVersion) {
  for (const GoldenCase& c : kVersion1Cases) {
    SCOPED_TRACE(c.name);
    Result<std::string> bytes = ReadSmallFile(Version1Path(c, ".bin"));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(bytes->substr(0, 8), std::string("BSIX\x01\x00\x00\x00", 8));
  }
}

// While version 1 is the current version, the encoder must reproduce the files byte for
// byte: a difference is a format change and needs a new version and new golden files.
TEST(IndexGoldenTest, EncoderReproducesVersion1Files) {
  if (kSnapshotIndexFormatVersion != 1) GTEST_SKIP() << "the encoder writes a later version";
  for (const GoldenCase& c : kVersion1Cases) {
    if (c.bytes != nullptr) continue;
    SCOPED_TRACE(c.name);
    Result<std::string> bytes = ReadSmallFile(Version1Path(c, ".bin"));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_TRUE(EncodeSnapshotIndex(c.expected()) == *bytes);
  }
}

TEST(IndexGoldenTest, RegeneratesGoldenFilesWhenAsked) {
  const char* env = std::getenv("BLOBSTATE_REGENERATE_GOLDEN");
  if (env == nullptr || std::string(env) != "1") {
    GTEST_SKIP() << "set BLOBSTATE_REGENERATE_GOLDEN=1 to write testdata/index/v1";
  }
  ASSERT_EQ(kSnapshotIndexFormatVersion, 1u)
      << "version 1 files are frozen; add the cases of the new version instead";
  ASSERT_TRUE(MakeDirs(std::string(BLOBSTATE_SOURCE_DIR) + "/testdata/index/v1").ok());
  for (const GoldenCase& c : kVersion1Cases) {
    const std::string bytes = c.bytes ? c.bytes() : EncodeSnapshotIndex(c.expected());
    ASSERT_TRUE(WriteFileAtomic(Version1Path(c, ".bin"), bytes).ok());
    ASSERT_TRUE(WriteFileAtomic(Version1Path(c, ".txt"), DumpIndex(c.expected())).ok());
  }
}

}  // namespace
}  // namespace blobstate
