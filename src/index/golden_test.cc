// Golden files: encodings of each format version, committed once and decoded forever.
//
// testdata/index/v1/<case>.bin is the encoding; <case>.txt its DumpIndex(), the expected
// decoding field by field. The files of a version are written once, by the change that
// introduces the version (EncodeSnapshotIndex and DumpIndex of its cases), and never change.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace blobstate
