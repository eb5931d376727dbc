// IndexFile and IndexWriter: the same indexes, bytes and errors as the in-memory codec.
#include "index/index_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "index/codec.h"
#include "index/index_testing.h"
#include "index/index_writer.h"

namespace blobstate {
namespace {

using testing::DumpIndex;
using testing::IndexFileOf;
using testing::ReadThroughFile;

// Writes `index` with an IndexWriter, its directories' files given in a shuffled order.
Result<std::shared_ptr<const IndexFile>> WriteShuffled(const SnapshotIndex& index, uint32_t seed) {
  ASSIGN_OR_RETURN(auto writer, IndexWriter::Create(""));
  std::vector<std::pair<IndexWriter::DirId, const DirIndex*>> dirs;
  auto add = [&](auto& self, IndexWriter::DirId id, const DirIndex& d) -> void {
    dirs.emplace_back(id, &d);
    for (const DirIndex& sub : d.subdirs_present)
      self(self, writer->AddDir(id, sub.name, false), sub);
    for (const DirIndex& sub : d.subdirs_removed)
      self(self, writer->AddDir(id, sub.name, true), sub);
  };
  add(add, writer->root(), index.root);
  std::shuffle(dirs.begin(), dirs.end(), std::mt19937(seed));
  for (const auto& [id, d] : dirs) {
    // Present files in two calls, as a backup gives retained files, then uploaded ones.
    const size_t half = d->files_present.size() / 2;
    RETURN_IF_ERROR(writer->AppendFiles(
        id, std::vector<FileIndex>(d->files_present.begin(), d->files_present.begin() + half), {}));
    RETURN_IF_ERROR(writer->AppendFiles(
        id, std::vector<FileIndex>(d->files_present.begin() + half, d->files_present.end()),
        d->files_removed));
  }
  return writer->Finish(index);
}

std::string Contents(const IndexFile& file) {
  std::string bytes(file.size(), '\0');
  EXPECT_EQ(*file.ReadAt(bytes.data(), bytes.size(), 0), bytes.size());
  return bytes;
}

std::vector<SnapshotIndex> Samples() {
  return {testing::EmptyStoreIndex(),    testing::NestedTreeIndex(), testing::UnicodeNamesIndex(),
          testing::PartChecksumsIndex(), testing::WideIndex(2500),   SnapshotIndex{}};
}

TEST(IndexFileTest, ReadsWhatTheDecoderReads) {
  for (const SnapshotIndex& index : Samples()) {
    const std::string bytes = EncodeSnapshotIndex(index);
    Result<SnapshotIndex> back = ReadThroughFile(bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(DumpIndex(*back), DumpIndex(index));
  }
  Result<SnapshotIndex> unknown = ReadThroughFile(testing::UnknownOptionalFieldsBytes());
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ(DumpIndex(*unknown), DumpIndex(testing::UnknownOptionalFieldsIndex()));
}

TEST(IndexFileTest, ReadDirGivesOneDirectoryAndWhereItsSubdirectoriesAre) {
  const SnapshotIndex index = testing::NestedTreeIndex();
  Result<std::shared_ptr<const IndexFile>> file = IndexFileOf(EncodeSnapshotIndex(index));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->header().metadata, index.metadata);
  EXPECT_EQ((*file)->header().creation_time_ms, index.creation_time_ms);
  EXPECT_TRUE((*file)->header().root == DirIndex{});
  Result<IndexFile::Dir> root = (*file)->ReadDir((*file)->root());
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->files_present, index.root.files_present);
  EXPECT_EQ(root->files_removed, index.root.files_removed);
  ASSERT_EQ(root->subdirs_present.size(), index.root.subdirs_present.size());
  ASSERT_EQ(root->subdirs_removed.size(), index.root.subdirs_removed.size());
  for (size_t i = 0; i < root->subdirs_present.size(); ++i) {
    const IndexFile::DirRef& ref = root->subdirs_present[i];
    EXPECT_EQ(ref.name, index.root.subdirs_present[i].name);
    EXPECT_EQ(ref.depth, 1);
    EXPECT_FALSE(ref.removed);
    Result<IndexFile::Dir> sub = (*file)->ReadDir(ref);
    ASSERT_TRUE(sub.ok()) << sub.status();
    EXPECT_EQ(sub->files_present, index.root.subdirs_present[i].files_present);
  }
  for (const IndexFile::DirRef& ref : root->subdirs_removed) EXPECT_TRUE(ref.removed);
}

TEST(IndexFileTest, VisitsEveryFileAsTheFileByFileDecoder) {
  const std::string bytes = EncodeSnapshotIndex(testing::NestedTreeIndex());
  std::multiset<std::pair<std::string, bool>> want, got;
  ASSERT_TRUE(DecodeSnapshotIndexFiles(bytes, [&](const FileIndex& f, bool removed) {
                want.emplace(f.name, removed);
              }).ok());
  Result<std::shared_ptr<const IndexFile>> file = IndexFileOf(bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(
      (*file)
          ->VisitFiles([&](const FileIndex& f, bool removed) { got.emplace(f.name, removed); })
          .ok());
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(got, want);
}

TEST(IndexFileTest, RejectsWhatTheDecoderRejectsWithItsError) {
  std::string bytes = EncodeSnapshotIndex(testing::NestedTreeIndex());
  std::string corrupt = bytes;
  corrupt[bytes.size() / 2] ^= 1;
  for (const std::string& bad : {corrupt, bytes.substr(0, 6), std::string("BSIX\x09\0\0\0", 8),
                                 bytes.substr(0, bytes.size() - 1)}) {
    Result<SnapshotIndex> want = DecodeSnapshotIndex(bad);
    Result<SnapshotIndex> got = ReadThroughFile(bad);
    ASSERT_FALSE(want.ok());
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), want.status().code());
    EXPECT_EQ(got.status().message(), want.status().message());
  }
}

TEST(IndexWriterTest, WritesWhatTheEncoderWritesWhateverTheOrderOfTheDirectories) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    for (const SnapshotIndex& index : Samples()) {
      Result<std::shared_ptr<const IndexFile>> written = WriteShuffled(index, seed);
      ASSERT_TRUE(written.ok()) << written.status();
      EXPECT_TRUE(Contents(**written) == EncodeSnapshotIndex(index)) << DumpIndex(index);
    }
  }
}

TEST(IndexWriterTest, ADirectoryWithoutFilesIsItsNameAndSubdirectories) {
  SnapshotIndex index;
  index.root.subdirs_present.push_back(DirIndex{.name = "a"});
  index.root.subdirs_present[0].subdirs_present.push_back(DirIndex{.name = "b"});
  index.root.subdirs_removed.push_back(DirIndex{.name = "gone"});
  Result<std::unique_ptr<IndexWriter>> writer = IndexWriter::Create("");
  ASSERT_TRUE(writer.ok()) << writer.status();
  IndexWriter::DirId a = (*writer)->AddDir((*writer)->root(), "a", false);
  (*writer)->AddDir(a, "b", false);
  (*writer)->AddDir((*writer)->root(), "gone", true);
  Result<std::shared_ptr<const IndexFile>> file = (*writer)->Finish(index);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(Contents(**file) == EncodeSnapshotIndex(index));
  EXPECT_EQ((*file)->ReadDir((*file)->root())->subdirs_present[0].name, "a");
}

TEST(IndexWriterTest, AnAbandonedWriterFinishesWhatItWasGivenAndCanFinishAgain) {
  Result<std::unique_ptr<IndexWriter>> writer = IndexWriter::Create("");
  ASSERT_TRUE(writer.ok()) << writer.status();
  IndexWriter::DirId a = (*writer)->AddDir((*writer)->root(), "a", false);
  (*writer)->AddDir((*writer)->root(), "b", false);  // never given files
  ASSERT_TRUE(
      (*writer)->AppendFiles(a, {testing::MakeFile("x", 10)}, {testing::MakeFile("y", 5)}).ok());
  for (int i = 0; i < 2; ++i) {
    Result<std::shared_ptr<const IndexFile>> file = (*writer)->Finish(SnapshotIndex{});
    ASSERT_TRUE(file.ok()) << file.status();
    std::set<std::pair<std::string, bool>> seen;
    ASSERT_TRUE(
        (*file)
            ->VisitFiles([&](const FileIndex& f, bool removed) { seen.emplace(f.name, removed); })
            .ok());
    EXPECT_EQ(seen, (std::set<std::pair<std::string, bool>>{{"x", false}, {"y", true}}));
  }
}

}  // namespace
}  // namespace blobstate
