// The snapshot index codec: round trips, compatibility rules, and a hostile decoder input.
#include "index/codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "blobstate/index.h"
#include "index/fields.h"
#include "index/index_testing.h"
#include "index/wire.h"
#include "util/hash.h"

namespace blobstate {
namespace {

using namespace index_fields;  // NOLINT: field ids only
using testing::DumpIndex;
using testing::MakeFile;
using testing::SealIndexBody;

// Decodes `bytes`, expecting failure with `code`; returns the message. An IndexFile must
// reject `bytes` with the same error.
std::string DecodeError(std::string_view bytes, StatusCode code = StatusCode::kInvalidArgument,
                        bool same_message_from_file = true) {
  Result<SnapshotIndex> r = DecodeSnapshotIndex(bytes);
  EXPECT_FALSE(r.ok()) << DumpIndex(*r);
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), code) << r.status();
  Result<SnapshotIndex> from_file = testing::ReadThroughFile(bytes);
  EXPECT_FALSE(from_file.ok());
  EXPECT_EQ(from_file.status().code(), code) << from_file.status();
  if (same_message_from_file) {
    EXPECT_EQ(from_file.status().message(), r.status().message());
  }
  return r.status().message();
}

void ExpectRoundTrip(const SnapshotIndex& index) {
  const std::string bytes = EncodeSnapshotIndex(index);
  Result<SnapshotIndex> back = DecodeSnapshotIndex(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(DumpIndex(*back), DumpIndex(index));
  EXPECT_TRUE(*back == index);
}

SnapshotIndex WithRootFiles(std::vector<FileIndex> files) {
  SnapshotIndex index;
  index.root.files_present = std::move(files);
  return index;
}

DirIndex NamedDir(std::string name) {
  DirIndex d;
  d.name = std::move(name);
  return d;
}

// A body whose root holds the one file message `file`.
std::string BodyWithFile(std::string_view file) {
  WireWriter root, body;
  root.BytesField(kDirFilesPresent, file);
  body.BytesField(kIndexRoot, root.data());
  return SealIndexBody(body.data());
}

TEST(CodecTest, RoundTripsEmptyIndexAsHeaderAndChecksumOnly) {
  EXPECT_EQ(EncodeSnapshotIndex(SnapshotIndex{}).size(), 16u);
  ExpectRoundTrip(SnapshotIndex{});
}

TEST(CodecTest, RoundTripsNestedTree) { ExpectRoundTrip(testing::NestedTreeIndex()); }

TEST(CodecTest, RoundTripsUnicodeNames) { ExpectRoundTrip(testing::UnicodeNamesIndex()); }

TEST(CodecTest, RoundTripsExtremeValues) {
  FileIndex f = MakeFile("f", std::numeric_limits<uint64_t>::max(), uint64_t{1} << 62);
  f.metadata.mtime_ns = std::numeric_limits<int64_t>::min();
  f.metadata.mode = 07777;
  f.metadata.uid = f.metadata.gid = std::numeric_limits<uint32_t>::max();
  f.metadata.device = f.metadata.inode = std::numeric_limits<uint64_t>::max();
  f.checksum = Checksum{~uint64_t{0}, 1};
  SnapshotIndex index = WithRootFiles({f});
  index.creation_time_ms = std::numeric_limits<int64_t>::max();
  index.metadata.job_name = std::string(100'000, 'j');
  index.prev_snapshot_index_blob_id = std::string("\0\xff", 2);
  ExpectRoundTrip(index);
  index.creation_time_ms = std::numeric_limits<int64_t>::min();
  ExpectRoundTrip(index);
}

TEST(CodecTest, StreamedEncodingIsTheEncodingInPiecesOfAboutAChunk) {
  const SnapshotIndex index = testing::WideIndex(20'000);
  std::vector<std::string> pieces;
  const uint64_t size =
      EncodeSnapshotIndexTo(index, [&](std::string_view p) { pieces.emplace_back(p); });
  std::string whole;
  for (const std::string& p : pieces) whole += p;
  EXPECT_EQ(whole, EncodeSnapshotIndex(index));
  EXPECT_EQ(size, whole.size());
  ASSERT_GT(pieces.size(), 2u);  // the index is several MiB
  for (const std::string& p : pieces) EXPECT_LT(p.size(), kIndexChunkSize + 4096);
  EXPECT_EQ(pieces.back().size(), 8u);  // the checksum comes last, on its own
}

TEST(CodecTest, DecodingFileByFileVisitsEveryFileAndKeepsNone) {
  const SnapshotIndex index = testing::NestedTreeIndex();
  const std::string bytes = EncodeSnapshotIndex(index);
  std::multiset<std::string> present, removed;
  Result<SnapshotIndex> visited =
      DecodeSnapshotIndexFiles(bytes, [&](const FileIndex& f, bool is_removed) {
        (is_removed ? removed : present).insert(f.name + "@" + std::to_string(f.blobs.size()));
      });
  ASSERT_TRUE(visited.ok()) << visited.status();
  // What the whole decode holds, listed the same way: present files of present directories;
  // every other file as removed.
  std::multiset<std::string> want_present, want_removed;
  std::function<void(const DirIndex&, bool)> walk = [&](const DirIndex& d, bool in_removed) {
    for (const FileIndex& f : d.files_present) {
      (in_removed ? want_removed : want_present)
          .insert(f.name + "@" + std::to_string(f.blobs.size()));
    }
    for (const FileIndex& f : d.files_removed) {
      want_removed.insert(f.name + "@" + std::to_string(f.blobs.size()));
    }
    for (const DirIndex& sub : d.subdirs_present) walk(sub, in_removed);
    for (const DirIndex& sub : d.subdirs_removed) walk(sub, true);
  };
  walk(index.root, false);
  EXPECT_EQ(present, want_present);
  EXPECT_EQ(removed, want_removed);
  ASSERT_FALSE(want_removed.empty());
  // The tree without its files.
  std::function<void(DirIndex&)> strip = [&](DirIndex& d) {
    d.files_present.clear();
    d.files_removed.clear();
    for (auto* list : {&d.subdirs_present, &d.subdirs_removed}) {
      for (DirIndex& sub : *list) strip(sub);
    }
  };
  SnapshotIndex want = index;
  strip(want.root);
  EXPECT_EQ(DumpIndex(*visited), DumpIndex(want));
}

TEST(CodecTest, DecodingFileByFileChecksAsTheWholeDecodeDoes) {
  FileIndex f = MakeFile("x", 10);
  const std::string bytes = EncodeSnapshotIndex(WithRootFiles({f, f}));  // a duplicate name
  Result<SnapshotIndex> r = DecodeSnapshotIndexFiles(bytes, [](const FileIndex&, bool) {});
  EXPECT_EQ(r.status().message(), DecodeError(bytes));
  std::string corrupt = bytes;
  corrupt[corrupt.size() / 2] ^= 1;
  EXPECT_EQ(DecodeSnapshotIndexFiles(corrupt, [](const FileIndex&, bool) {}).status().code(),
            StatusCode::kDataLoss);
}

TEST(CodecTest, EncodingIsDeterministic) {
  const SnapshotIndex index = testing::NestedTreeIndex();
  const SnapshotIndex copy = index;
  EXPECT_TRUE(EncodeSnapshotIndex(index) == EncodeSnapshotIndex(copy));
}

TEST(CodecTest, OmitsDefaultFields) {
  // A file with a name only: key+len+"x" inside key+len, inside the root's key+len.
  SnapshotIndex index = WithRootFiles({FileIndex{.name = "x"}});
  EXPECT_EQ(EncodeSnapshotIndex(index).size(), 16u + 2 + 2 + 3);
}

TEST(CodecTest, DecodingIgnoresFieldOrder) {
  WireWriter meta, file, root, body;
  meta.BytesField(kMetaStoreName, "s");
  meta.BytesField(kMetaCheckpointId, "c");
  file.BytesField(kFileName, "x");
  root.BytesField(kDirSubdirsPresent, [] {
    WireWriter d;
    d.BytesField(kDirName, "d");
    return d.data();
  }());
  root.BytesField(kDirFilesPresent, file.data());
  body.BytesField(kIndexPrevBlobId, "p");
  body.BytesField(kIndexRoot, root.data());
  body.BytesField(kIndexMetadata, meta.data());
  body.VarintField(kIndexCreationTimeMs, ZigZagEncode(-5));
  Result<SnapshotIndex> r = DecodeSnapshotIndex(SealIndexBody(body.data()));
  ASSERT_TRUE(r.ok()) << r.status();
  SnapshotIndex expected = WithRootFiles({FileIndex{.name = "x"}});
  expected.root.subdirs_present = {NamedDir("d")};
  expected.metadata = {.checkpoint_id = "c", .store_name = "s"};
  expected.prev_snapshot_index_blob_id = "p";
  expected.creation_time_ms = -5;
  EXPECT_EQ(DumpIndex(*r), DumpIndex(expected));
}

TEST(CodecTest, RejectsDuplicateScalarField) {
  WireWriter body;
  body.VarintField(kIndexCreationTimeMs, 2);
  body.VarintField(kIndexCreationTimeMs, 4);
  EXPECT_EQ(DecodeError(SealIndexBody(body.data())),
            "snapshot index: SnapshotIndex field 1 (creation_time_ms): duplicate field");
  WireWriter file;
  file.BytesField(kFileName, "x");
  file.BytesField(kFileName, "y");
  EXPECT_EQ(DecodeError(BodyWithFile(file.data())),
            "snapshot index: file \"x\": FileIndex field 1 (name): duplicate field");
}

TEST(CodecTest, SkipsUnknownOptionalField) {
  Result<SnapshotIndex> r = DecodeSnapshotIndex(testing::UnknownOptionalFieldsBytes());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(DumpIndex(*r), DumpIndex(testing::UnknownOptionalFieldsIndex()));
}

TEST(CodecTest, RejectsUnknownMustUnderstandField) {
  WireWriter file;
  file.BytesField(kFileName, "x");
  file.Key(9, WireType::kVarint, /*must_understand=*/true);
  file.Varint(1);
  EXPECT_EQ(DecodeError(BodyWithFile(file.data())),
            "snapshot index: file \"x\": FileIndex field 9: unknown field marked "
            "must-understand (written by a newer blobstate?)");
  WireWriter body;
  body.Key(77, WireType::kLen, /*must_understand=*/true);
  body.Varint(0);
  EXPECT_EQ(DecodeError(SealIndexBody(body.data())),
            "snapshot index: SnapshotIndex field 77: unknown field marked must-understand "
            "(written by a newer blobstate?)");
}

TEST(CodecTest, AcceptsMustUnderstandBitOnKnownField) {
  WireWriter body;
  body.Key(kIndexPrevBlobId, WireType::kLen, /*must_understand=*/true);
  body.Varint(1);
  body.Raw("p");
  Result<SnapshotIndex> r = DecodeSnapshotIndex(SealIndexBody(body.data()));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->prev_snapshot_index_blob_id, "p");
}

TEST(CodecTest, RejectsWrongWireTypeForKnownField) {
  WireWriter body;
  body.VarintField(kIndexRoot, 3);
  EXPECT_EQ(DecodeError(SealIndexBody(body.data())),
            "snapshot index: SnapshotIndex field 3 (root): wire type VARINT, expected LEN");
}

TEST(CodecTest, RejectsNewerVersion) {
  std::string bytes = EncodeSnapshotIndex(testing::EmptyStoreIndex());
  bytes[4] = 4;
  EXPECT_EQ(DecodeError(bytes),
            "unsupported snapshot index format version 4 (this build reads up to 3)");
  bytes[4] = 0;
  EXPECT_EQ(DecodeError(bytes),
            "unsupported snapshot index format version 0 (this build reads up to 3)");
}

TEST(CodecTest, RejectsBadMagic) {
  std::string bytes = EncodeSnapshotIndex(testing::EmptyStoreIndex());
  bytes[0] = 'X';
  EXPECT_NE(DecodeError(bytes).find("not a snapshot index"), std::string::npos);
}

TEST(CodecTest, RejectsChecksumMismatch) {
  std::string bytes = EncodeSnapshotIndex(testing::NestedTreeIndex());
  bytes[bytes.size() / 2] ^= 0x10;
  EXPECT_NE(DecodeError(bytes, StatusCode::kDataLoss).find("checksum mismatch"), std::string::npos);
}

TEST(CodecTest, RejectsTruncatedInput) {
  const std::string bytes = EncodeSnapshotIndex(testing::NestedTreeIndex());
  for (size_t len : {size_t{0}, size_t{3}, size_t{7}, size_t{15}, bytes.size() - 1}) {
    SCOPED_TRACE(len);
    DecodeError(bytes.substr(0, len), StatusCode::kDataLoss);
  }
}

TEST(CodecTest, EveryTruncationFails) {
  const std::string bytes = EncodeSnapshotIndex(testing::NestedTreeIndex());
  for (size_t len = 0; len < bytes.size(); ++len) {
    Result<SnapshotIndex> r = DecodeSnapshotIndex(bytes.substr(0, len));
    ASSERT_FALSE(r.ok()) << len;
    ASSERT_EQ(r.status().code(), StatusCode::kDataLoss) << len << ": " << r.status();
  }
}

// Truncating the body and fixing the checksum reaches the body parser at every length.
TEST(CodecTest, EveryResealedBodyTruncationFailsOrDecodes) {
  const std::string bytes = EncodeSnapshotIndex(testing::NestedTreeIndex());
  const std::string_view body(bytes.data() + 8, bytes.size() - 16);
  for (size_t len = 0; len < body.size(); ++len) {
    Result<SnapshotIndex> r = DecodeSnapshotIndex(SealIndexBody(body.substr(0, len)));
    if (!r.ok()) {
      ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status();
    }
  }
}

TEST(CodecTest, BitFlipsNeverCrash) {
  const std::string bytes = EncodeSnapshotIndex(testing::NestedTreeIndex());
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string flipped = bytes;
    flipped[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    ASSERT_FALSE(DecodeSnapshotIndex(flipped).ok()) << bit;
    // With the checksum fixed, the flip reaches the body: it decodes or is rejected.
    if (bit / 8 < 8 || bit / 8 >= bytes.size() - 8) continue;
    Result<SnapshotIndex> r = DecodeSnapshotIndex(testing::Reseal(flipped));
    Result<SnapshotIndex> from_file = testing::ReadThroughFile(testing::Reseal(flipped));
    ASSERT_EQ(from_file.ok(), r.ok()) << bit << from_file.status() << r.status();
    if (!r.ok()) {
      ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bit << r.status();
      continue;
    }
    Result<SnapshotIndex> again = DecodeSnapshotIndex(EncodeSnapshotIndex(*r));
    ASSERT_TRUE(again.ok()) << bit << again.status();
    ASSERT_TRUE(*again == *r) << bit;
  }
}

TEST(CodecTest, RejectsDotDotName) {
  SnapshotIndex index;
  index.root.subdirs_present = {NamedDir("a")};
  index.root.subdirs_present[0].files_present = {MakeFile("..", 1)};
  EXPECT_EQ(DecodeError(EncodeSnapshotIndex(index)),
            "snapshot index: dir \"a\": file \"..\": name \".\" or \"..\" is not allowed");
}

TEST(CodecTest, RejectsInvalidNamesOfEveryEntryKind) {
  const struct {
    std::string name;
    const char* error;
  } kNames[] = {
      {"", "empty name"},
      {".", "name \".\" or \"..\" is not allowed"},
      {"..", "name \".\" or \"..\" is not allowed"},
      {"a/b", "name contains '/'"},
      {std::string("a\0b", 3), "name contains NUL"},
      {std::string(256, 'n'), "name longer than 255 bytes"},
  };
  for (const auto& n : kNames) {
    SCOPED_TRACE(n.error);
    SnapshotIndex index;
    index.root.files_present = {MakeFile(n.name, 0)};
    EXPECT_NE(DecodeError(EncodeSnapshotIndex(index)).find(n.error), std::string::npos);
    index = SnapshotIndex{};
    index.root.files_removed = {MakeFile(n.name, 0)};
    EXPECT_NE(DecodeError(EncodeSnapshotIndex(index)).find(n.error), std::string::npos);
    index = SnapshotIndex{};
    index.root.subdirs_present = {NamedDir(n.name)};
    EXPECT_NE(DecodeError(EncodeSnapshotIndex(index)).find(n.error), std::string::npos);
    index = SnapshotIndex{};
    index.root.subdirs_removed = {NamedDir("ok")};
    index.root.subdirs_removed[0].subdirs_present = {NamedDir(n.name)};
    EXPECT_NE(DecodeError(EncodeSnapshotIndex(index)).find(n.error), std::string::npos);
  }
}

TEST(CodecTest, RejectsNamedRoot) {
  SnapshotIndex index;
  index.root.name = "root";
  EXPECT_EQ(DecodeError(EncodeSnapshotIndex(index)),
            "snapshot index: root dir: root has a name, \"root\"");
}

TEST(CodecTest, RejectsDuplicateNames) {
  SnapshotIndex two_files = WithRootFiles({MakeFile("x", 1), MakeFile("x", 2)});
  EXPECT_EQ(DecodeError(EncodeSnapshotIndex(two_files)),
            "snapshot index: root dir: duplicate name \"x\"");
  SnapshotIndex file_and_dir = WithRootFiles({MakeFile("x", 1)});
  file_and_dir.root.subdirs_present = {NamedDir("a"), NamedDir("x")};
  EXPECT_EQ(DecodeError(EncodeSnapshotIndex(file_and_dir)),
            "snapshot index: root dir: duplicate name \"x\"");
  SnapshotIndex two_dirs;
  two_dirs.root.subdirs_present = {NamedDir("a")};
  two_dirs.root.subdirs_present[0].subdirs_present = {NamedDir("d"), NamedDir("d")};
  EXPECT_EQ(DecodeError(EncodeSnapshotIndex(two_dirs)),
            "snapshot index: dir \"a\": duplicate name \"d\"");
}

// A file that changed is present (new blobs) and removed (old blobs) under one name.
TEST(CodecTest, AcceptsRemovedEntryWithPresentName) {
  SnapshotIndex index = WithRootFiles({MakeFile("x", 1, 1, 1)});
  index.root.files_removed = {MakeFile("x", 1, 1, 2)};
  index.root.subdirs_removed = {NamedDir("x")};
  ExpectRoundTrip(index);
}

TEST(CodecTest, RejectsNonIncreasingOffsets) {
  const struct {
    const char* what;
    uint64_t size;
    std::vector<FileBlob> blobs;
    const char* error;
  } kCases[] = {
      {"first not 0", 10, {{"a", 1}}, "blob 0: first offset is 1, not 0"},
      {"equal", 10, {{"a", 0}, {"b", 5}, {"c", 5}}, "blob 2: blob offsets not increasing"},
      {"decreasing", 10, {{"a", 0}, {"b", 5}, {"c", 3}}, "blob 2: blob offsets not increasing"},
      {"at size", 10, {{"a", 0}, {"b", 10}}, "blob 1: offset 10 not below file size 10"},
      {"empty file with blobs", 0, {{"a", 0}}, "empty file has blobs"},
      {"non-empty file without", 10, {}, "non-empty file has no blobs"},
      {"empty blob id", 10, {{"a", 0}, {"", 5}}, "blob 1: empty blob id"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.what);
    FileIndex f = MakeFile("x", c.size);
    f.blobs = c.blobs;
    SnapshotIndex index;
    index.root.subdirs_present = {NamedDir("a")};
    index.root.subdirs_present[0].subdirs_present = {NamedDir("b")};
    index.root.subdirs_present[0].subdirs_present[0].files_present = {f};
    EXPECT_EQ(DecodeError(EncodeSnapshotIndex(index)),
              std::string("snapshot index: dir \"a/b\": file \"x\": ") + c.error);
  }
}

// Version 2: a file's parts record their checksums all or none, and when they do, the
// file's checksum is made of theirs. A version 1 index never carries them.
TEST(CodecTest, PartChecksumsAreAllOrNoneAndMakeTheFilesChecksum) {
  auto encode = [](const FileIndex& f) {
    SnapshotIndex index;
    index.root.files_present = {f};
    return EncodeSnapshotIndex(index);
  };
  FileIndex f = MakeFile("x", 10, 4);  // 3 parts
  std::vector<Checksum> parts;
  for (FileBlob& b : f.blobs) {
    b.checksum = HashBytes(b.blob_id.data(), b.blob_id.size());
    parts.push_back(*b.checksum);
  }
  f.checksum = FileChecksumOfParts(parts);
  Result<SnapshotIndex> good = DecodeSnapshotIndex(encode(f));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->root.files_present[0], f);

  FileIndex partial = f;
  partial.blobs[1].checksum.reset();
  EXPECT_EQ(DecodeError(encode(partial)),
            "snapshot index: file \"x\": only 2 of 3 parts record a checksum");
  FileIndex other = f;
  other.checksum.low ^= 1;
  EXPECT_NE(DecodeError(encode(other)).find("is not the one of its parts"), std::string::npos);

  std::string v1 = encode(f);  // the same body in a version 1 envelope: no part checksums
  Result<SnapshotIndex> old =
      DecodeSnapshotIndex(testing::SealIndexBody(std::string_view(v1).substr(8, v1.size() - 16)));
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_FALSE(old->root.files_present[0].blobs[0].checksum.has_value());
}

// Version 3: parts record their chunks' checksums all or none, one per chunk, each part
// beside its own checksum. A version 2 index never carries them.
TEST(CodecTest, ChunkChecksumsAreAllOrNoneOnePerChunkBesideThePartsChecksum) {
  auto encode = [](const FileIndex& f) {
    SnapshotIndex index;
    index.root.files_present = {f};
    return EncodeSnapshotIndex(index);
  };
  FileIndex f = MakeFile("x", 3 * kChunkSize + 10, 2 * kChunkSize);  // 2 chunks, then 2
  std::vector<Checksum> parts;
  for (FileBlob& b : f.blobs) {
    b.checksum = HashBytes(b.blob_id.data(), b.blob_id.size());
    b.chunk_checksums = {1, 2};
    parts.push_back(*b.checksum);
  }
  f.checksum = FileChecksumOfParts(parts);
  Result<SnapshotIndex> good = DecodeSnapshotIndex(encode(f));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->root.files_present[0], f);
  EXPECT_EQ(good->root.files_present[0].blobs[1].chunk_checksums, (std::vector<uint64_t>{1, 2}));

  FileIndex partial = f;
  partial.blobs[1].chunk_checksums.clear();
  EXPECT_EQ(DecodeError(encode(partial)),
            "snapshot index: file \"x\": only 1 of 2 parts record chunk checksums");
  FileIndex miscounted = f;
  miscounted.blobs[1].chunk_checksums.push_back(3);
  EXPECT_EQ(DecodeError(encode(miscounted)),
            "snapshot index: file \"x\": blob 1: 3 chunk checksums for 65546 bytes, expected 2");
  FileIndex alone = MakeFile("x", 10, 10);  // no part checksum
  alone.blobs[0].chunk_checksums = {1};
  EXPECT_EQ(DecodeError(encode(alone)),
            "snapshot index: file \"x\": blob 0: chunk checksums without a checksum");

  WireWriter blob;  // a field of 7 bytes
  blob.BytesField(index_fields::kBlobId, "b");
  blob.BytesField(index_fields::kBlobChunkChecksums, "1234567");
  WireWriter file;
  file.BytesField(index_fields::kFileName, "x");
  file.BytesField(index_fields::kFileBlobs, blob.data());
  WireWriter root;
  root.BytesField(index_fields::kDirFilesPresent, file.data());
  WireWriter body;
  body.BytesField(index_fields::kIndexRoot, root.data());
  EXPECT_NE(DecodeError(testing::SealIndexBody(body.data(), 3))
                .find("FileBlob field 4 (chunk_checksums): 7 bytes, not a positive multiple of 8"),
            std::string::npos);

  const std::string v3 = encode(f);  // the same body in a version 2 envelope: no chunks
  Result<SnapshotIndex> old = DecodeSnapshotIndex(
      testing::SealIndexBody(std::string_view(v3).substr(8, v3.size() - 16), 2));
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_TRUE(old->root.files_present[0].blobs[0].chunk_checksums.empty());
  EXPECT_TRUE(old->root.files_present[0].blobs[0].checksum.has_value());
}

TEST(CodecTest, ErrorsNameRemovedEntries) {
  SnapshotIndex index;
  index.root.subdirs_removed = {NamedDir("gone")};
  FileIndex bad = MakeFile("f", 10);
  bad.blobs.clear();
  index.root.subdirs_removed[0].files_removed = {bad};
  EXPECT_EQ(DecodeError(EncodeSnapshotIndex(index)),
            "snapshot index: removed dir \"gone\": removed file \"f\": non-empty file has no "
            "blobs");
}

SnapshotIndex Chain(int depth) {
  SnapshotIndex index;
  DirIndex* d = &index.root;
  for (int i = 0; i < depth; ++i) {
    d->subdirs_present = {NamedDir("d")};
    d = &d->subdirs_present[0];
  }
  return index;
}

TEST(CodecTest, RejectsDeepNesting) {
  ExpectRoundTrip(Chain(kMaxDirDepth));
  const std::string deep = EncodeSnapshotIndex(Chain(kMaxDirDepth + 1));
  // The decoder checks the depth before it reads the name; an IndexFile knows the name.
  const std::string error = DecodeError(deep, StatusCode::kInvalidArgument, false);
  EXPECT_NE(error.find("d/d/[0]\": directories nested deeper than 256"), std::string::npos)
      << error;
  const std::string from_file = testing::ReadThroughFile(deep).status().message();
  EXPECT_NE(from_file.find("d/d/d\": directories nested deeper than 256"), std::string::npos)
      << from_file;
}

TEST(CodecTest, RejectsOutOfRangeValues) {
  WireWriter meta;
  meta.VarintField(kFileMetaMode, 0100644);
  WireWriter file;
  file.BytesField(kFileName, "x");
  file.BytesField(kFileMetadata, meta.data());
  EXPECT_EQ(DecodeError(BodyWithFile(file.data())),
            "snapshot index: file \"x\": FileMetadata field 3 (mode): mode 33188 has bits "
            "beyond 07777");
  meta = WireWriter();
  meta.VarintField(kFileMetaUid, uint64_t{1} << 32);
  file = WireWriter();
  file.BytesField(kFileMetadata, meta.data());
  EXPECT_EQ(DecodeError(BodyWithFile(file.data())),
            "snapshot index: file \"[0]\": FileMetadata field 4 (uid): 4294967296 above "
            "2^32-1");
  file = WireWriter();
  file.BytesField(kFileName, "x");
  file.BytesField(kFileChecksum, std::string(15, 'c'));
  EXPECT_EQ(DecodeError(BodyWithFile(file.data())),
            "snapshot index: file \"x\": FileIndex field 4 (checksum): checksum of 15 bytes, "
            "expected 16");
}

TEST(CodecTest, RejectsLengthPastEndOfNestedMessage) {
  WireWriter file;
  file.BytesField(kFileName, "x");
  file.LenHeader(kFileBlobs, uint64_t{1} << 62);  // claims far more than there is
  EXPECT_EQ(DecodeError(BodyWithFile(file.data())),
            "snapshot index: file \"x\": FileIndex: field 2: length 4611686018427387904 runs "
            "past the end (0 bytes left)");
}

// Its speed is measured by bench/diff_bench.cc (BM_EncodeIndex100kFiles and
// BM_DecodeIndex100kFiles), not here.
TEST(CodecTest, RoundTripsAnIndexOf100000Files) {
  const SnapshotIndex index = testing::WideIndex(100'000);
  Result<SnapshotIndex> back = DecodeSnapshotIndex(EncodeSnapshotIndex(index));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == index);
}

TEST(IndexNameTest, IsValidNameFollowsTheHeaderRule) {
  EXPECT_TRUE(IsValidName("a"));
  EXPECT_TRUE(IsValidName("..."));
  EXPECT_TRUE(IsValidName(".hidden"));
  EXPECT_TRUE(IsValidName("日本語"));
  EXPECT_TRUE(IsValidName("line\nbreak"));
  EXPECT_TRUE(IsValidName(std::string(255, 'n')));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("."));
  EXPECT_FALSE(IsValidName(".."));
  EXPECT_FALSE(IsValidName("a/b"));
  EXPECT_FALSE(IsValidName("/"));
  EXPECT_FALSE(IsValidName(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidName(std::string(256, 'n')));
}

}  // namespace
}  // namespace blobstate
