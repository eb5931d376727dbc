// Golden files: encodings of each format version, committed once and decoded forever.
//
// testdata/index/v<N>/<case>.bin is the encoding; <case>.txt its DumpIndex(), the expected
// decoding field by field. The files of a version are written once, by the change that
// introduces the version (EncodeSnapshotIndex and DumpIndex of its cases), and never change.
#include <gtest/gtest.h>

#include <span>
#include <string>

#include "blobstate/index.h"
#include "index/codec.h"
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
const GoldenCase kVersion2Cases[] = {
    {"empty_store", testing::EmptyStoreIndex, nullptr},
    {"nested_tree", testing::NestedTreeIndex, nullptr},
    {"part_checksums", testing::PartChecksumsIndex, nullptr},
};
const GoldenCase kVersion3Cases[] = {
    {"empty_store", testing::EmptyStoreIndex, nullptr},
    {"nested_tree", testing::NestedTreeIndex, nullptr},
    {"chunk_checksums", testing::ChunkChecksumsIndex, nullptr},
};

struct Version {
  uint32_t number;
  std::span<const GoldenCase> cases;
};
const Version kVersions[] = {{1, kVersion1Cases}, {2, kVersion2Cases}, {3, kVersion3Cases}};

std::string GoldenPath(uint32_t version, const GoldenCase& c, const char* ext) {
  return std::string(BLOBSTATE_SOURCE_DIR) + "/testdata/index/v" + std::to_string(version) + "/" +
         c.name + ext;
}

TEST(IndexGoldenTest, DecodesTheFilesOfEveryVersion) {
  for (const Version& v : kVersions) {
    for (const GoldenCase& c : v.cases) {
      SCOPED_TRACE("v" + std::to_string(v.number) + "/" + c.name);
      Result<std::string> bytes = ReadSmallFile(GoldenPath(v.number, c, ".bin"));
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      Result<std::string> dump = ReadSmallFile(GoldenPath(v.number, c, ".txt"));
      ASSERT_TRUE(dump.ok()) << dump.status();
      EXPECT_EQ(bytes->substr(0, 8),
                std::string("BSIX", 4) + static_cast<char>(v.number) + std::string(3, '\0'));

      Result<SnapshotIndex> decoded = DecodeSnapshotIndex(*bytes);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(DumpIndex(*decoded), *dump);
      EXPECT_TRUE(*decoded == c.expected());
      Result<SnapshotIndex> from_file = testing::ReadThroughFile(*bytes);  // IndexFile
      ASSERT_TRUE(from_file.ok()) << from_file.status();
      EXPECT_TRUE(*from_file == c.expected());
    }
  }
}

// The encoder must reproduce the current version's files byte for byte: a difference is a
// format change and needs a new version and new golden files.
TEST(IndexGoldenTest, EncoderReproducesTheCurrentVersionsFiles) {
  const Version& current = kVersions[std::size(kVersions) - 1];
  ASSERT_EQ(current.number, kSnapshotIndexFormatVersion) << "golden files of the new version?";
  for (const GoldenCase& c : current.cases) {
    if (c.bytes != nullptr) continue;
    SCOPED_TRACE(c.name);
    Result<std::string> bytes = ReadSmallFile(GoldenPath(current.number, c, ".bin"));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_TRUE(EncodeSnapshotIndex(c.expected()) == *bytes);
  }
}

}  // namespace
}  // namespace blobstate
