#include "diff/diff.h"

#include <gtest/gtest.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "index/codec.h"
#include "index/index_testing.h"
#include "util/fs.h"
#include "util/hash.h"

namespace blobstate {
namespace {

// A tree: file path -> content; a path ending in '/' is an (empty) directory.
using Tree = std::map<std::string, std::string>;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/blobstate-diff-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { RemoveAll(path_).IgnoreError(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Write(const std::string& root, const Tree& tree) {
  for (const auto& [path, content] : tree) {
    std::string full = JoinPath(root, path);
    if (path.back() == '/') {
      ASSERT_TRUE(MakeDirs(full).ok());
      continue;
    }
    ASSERT_TRUE(MakeDirs(DirName(full)).ok());
    ASSERT_TRUE(WriteFileAtomic(full, content).ok());
  }
}

// Sets a file's mtime to long ago, so that its identity is trusted (not racily fresh).
void Age(const std::string& path) {
  struct timeval tv[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
  ASSERT_EQ(utimes(path.c_str(), tv), 0);
}

// Every directory TreeDiff gives for `dir` against `previous` (the root of the last
// snapshot), in order.
Result<std::vector<DirDelta>> DiffAll(const std::string& dir, const DirIndex& previous,
                                      DiffOptions options = {}) {
  ASSIGN_OR_RETURN(std::shared_ptr<const IndexFile> index,
                   testing::IndexFileOf(EncodeSnapshotIndex(SnapshotIndex{.root = previous})));
  TreeDiff diff(dir, std::move(index), std::move(options));
  std::vector<DirDelta> out;
  while (true) {
    ASSIGN_OR_RETURN(std::optional<DirDelta> next, diff.Next());
    if (!next) return out;
    out.push_back(std::move(*next));
  }
}

// The index a backup of `deltas` of the local tree `root` would produce, with a made-up
// blob per file.
DirIndex IndexFromDiff(const std::string& root, const std::vector<DirDelta>& deltas) {
  std::vector<DirIndex> dirs(deltas.size());
  for (const DirDelta& d : deltas) {
    DirIndex& out = dirs[d.number];
    out.name = d.name;
    out.files_present = d.files_retained;
    for (const LocalFile& f : d.files_added) {
      std::string path = JoinPath(JoinPath(root, d.path), f.name);
      FileIndex fi;
      fi.name = f.name;
      struct stat st;
      EXPECT_EQ(lstat(path.c_str(), &st), 0);
      fi.metadata = MetadataForIndex(st, std::chrono::system_clock::now());
      fi.checksum = *HashFile(path);
      if (fi.metadata.size > 0) fi.blobs.push_back({"blob-" + path, 0});
      out.files_present.push_back(std::move(fi));
    }
  }
  for (size_t i = deltas.size(); i-- > 1;) {  // children come after their parents
    if (deltas[i].removed) continue;
    auto& siblings = dirs[deltas[i].parent].subdirs_present;
    siblings.insert(siblings.begin(), std::move(dirs[i]));
  }
  return dirs.empty() ? DirIndex{} : std::move(dirs[0]);
}

// Whether `index` has the directory `path` ("a/b").
bool HasDir(const DirIndex& index, const std::string& path) {
  const DirIndex* at = &index;
  size_t start = 0;
  while (start < path.size()) {
    const size_t slash = std::min(path.find('/', start), path.size());
    const std::string name = path.substr(start, slash - start);
    auto it = std::find_if(at->subdirs_present.begin(), at->subdirs_present.end(),
                           [&](const DirIndex& d) { return d.name == name; });
    if (it == at->subdirs_present.end()) return false;
    at = &*it;
    start = slash + 1;
  }
  return true;
}

// The paths of a diff against `previous`, flattened: "+f" added, "=f" retained, "-f"
// removed, "+d/" a directory new since `previous`, "-d/" a removed directory.
std::set<std::string> Flatten(const std::vector<DirDelta>& deltas, const DirIndex& previous) {
  std::set<std::string> out;
  for (const DirDelta& d : deltas) {
    const std::string prefix = d.path.empty() ? "" : d.path + "/";
    if (d.listed_removed) out.insert("-" + prefix);
    if (d.removed) continue;
    if (!d.path.empty() && !HasDir(previous, d.path)) out.insert("+" + prefix);
    for (const LocalFile& f : d.files_added) out.insert("+" + prefix + f.name);
    for (const FileIndex& f : d.files_retained) out.insert("=" + prefix + f.name);
    for (const FileIndex& f : d.files_removed) out.insert("-" + prefix + f.name);
  }
  return out;
}

struct DiffCase {
  std::string name;
  Tree before;
  std::function<void(const std::string& root)> change;
  std::set<std::string> expected;
};

class DiffTableTest : public ::testing::TestWithParam<DiffCase> {};

TEST_P(DiffTableTest, DiffsAgainstPreviousSnapshot) {
  const DiffCase& c = GetParam();
  TempDir dir;
  Write(dir.path(), c.before);
  Result<std::vector<DirDelta>> first = DiffAll(dir.path(), DirIndex{});
  ASSERT_TRUE(first.ok()) << first.status();
  DirIndex previous = IndexFromDiff(dir.path(), *first);
  c.change(dir.path());
  Result<std::vector<DirDelta>> second = DiffAll(dir.path(), previous);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Flatten(*second, previous), c.expected);
}

const Tree kBase = {{"a", "alpha"}, {"b", "bravo"}, {"d/c", "charlie"}, {"d/e/f", "foxtrot"}};

INSTANTIATE_TEST_SUITE_P(
    Cases, DiffTableTest,
    ::testing::Values(
        DiffCase{
            "NothingChanged", kBase, [](const std::string&) {}, {"=a", "=b", "=d/c", "=d/e/f"}},
        DiffCase{"FileAdded",
                 kBase,
                 [](const std::string& r) {
                   Write(r, {{"n", "new"}});
                 },
                 {"=a", "=b", "+n", "=d/c", "=d/e/f"}},
        DiffCase{"FileRemoved",
                 kBase,
                 [](const std::string& r) { ASSERT_EQ(unlink((r + "/b").c_str()), 0); },
                 {"=a", "-b", "=d/c", "=d/e/f"}},
        DiffCase{"ChangedSameSize",
                 kBase,
                 [](const std::string& r) {
                   Write(r, {{"a", "ALPHA"}});
                 },
                 {"+a", "-a", "=b", "=d/c", "=d/e/f"}},
        DiffCase{"Renamed",
                 kBase,
                 [](const std::string& r) {
                   ASSERT_EQ(rename((r + "/a").c_str(), (r + "/z").c_str()), 0);
                 },
                 {"-a", "+z", "=b", "=d/c", "=d/e/f"}},
        DiffCase{"NestedChange",
                 kBase,
                 [](const std::string& r) {
                   Write(r, {{"d/e/f", "foxtrot2"}, {"d/e/g/h", "x"}});
                 },
                 {"=a", "=b", "=d/c", "+d/e/f", "-d/e/f", "+d/e/g/", "+d/e/g/h"}},
        DiffCase{"SubdirRemoved",
                 kBase,
                 [](const std::string& r) { ASSERT_TRUE(RemoveAll(r + "/d/e").ok()); },
                 {"=a", "=b", "=d/c", "-d/e/"}},
        DiffCase{"EmptyFilesAndDirs",
                 Tree{{"empty", ""}, {"emptydir/", ""}},
                 [](const std::string& r) {
                   Write(r, {{"e2", ""}, {"ed2/sub/", ""}});
                 },
                 {"+e2", "=empty", "+ed2/", "+ed2/sub/"}},
        DiffCase{"EmptyFileBecomesNonEmpty",
                 Tree{{"f", ""}},
                 [](const std::string& r) {
                   Write(r, {{"f", "now data"}});
                 },
                 {"+f", "-f"}},
        DiffCase{"TouchedButSameContent",
                 kBase,
                 [](const std::string& r) {
                   Write(r, {{"a", "alpha"}});
                 },
                 {"=a", "=b", "=d/c", "=d/e/f"}},
        DiffCase{"FileReplacedByDir",
                 kBase,
                 [](const std::string& r) {
                   ASSERT_EQ(unlink((r + "/a").c_str()), 0);
                   Write(r, {{"a/x", "x"}});
                 },
                 {"-a", "+a/", "+a/x", "=b", "=d/c", "=d/e/f"}}),
    [](const ::testing::TestParamInfo<DiffCase>& info) { return info.param.name; });

TEST(DiffTest, RejectsSymlinkNamingIt) {
  TempDir dir;
  Write(dir.path(), {{"real", "x"}});
  ASSERT_EQ(symlink("real", (dir.path() + "/link").c_str()), 0);
  Result<std::vector<DirDelta>> d = DiffAll(dir.path(), DirIndex{});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find(dir.path() + "/link"), std::string::npos);
}

TEST(DiffTest, RejectsFifo) {
  TempDir dir;
  ASSERT_EQ(mkfifo((dir.path() + "/pipe").c_str(), 0600), 0);
  EXPECT_EQ(DiffAll(dir.path(), DirIndex{}).status().code(), StatusCode::kInvalidArgument);
}

TEST(DiffTest, RejectsTreesNestedDeeperThanAnIndexMayHold) {
  TempDir dir;
  std::string path = dir.path();
  for (int i = 0; i < kMaxDirectoryDepth; ++i) path += "/d";
  ASSERT_TRUE(MakeDirs(path).ok());
  EXPECT_TRUE(DiffAll(dir.path(), DirIndex{}).ok());  // exactly the limit is fine
  ASSERT_TRUE(MakeDirs(path + "/d").ok());
  Result<std::vector<DirDelta>> deeper = DiffAll(dir.path(), DirIndex{});
  EXPECT_EQ(deeper.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deeper.status().message().find("deeper than 256"), std::string::npos);
}

TEST(DiffTest, MissingDirIsNotFound) {
  EXPECT_EQ(DiffAll("/nonexistent/blobstate", DirIndex{}).status().code(), StatusCode::kNotFound);
}

TEST(DiffTest, ExcludedNamesAreIgnored) {
  TempDir dir;
  Write(dir.path(), {{"a", "x"}, {"OFFSET", "17"}, {"sub/OFFSET", "3"}});
  Result<std::vector<DirDelta>> d = DiffAll(dir.path(), DirIndex{}, {.excluded_names = {"OFFSET"}});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Flatten(*d, DirIndex{}), (std::set<std::string>{"+a", "+sub/"}));
}

// Z.4: files listed as not local (a lazy restore's) are kept as the previous snapshot
// holds them, sorted among the local ones; a local file of that name is diffed as usual.
TEST(DiffTest, FilesNotLocalAreRetainedAsThePreviousSnapshotHoldsThem) {
  TempDir dir;
  Write(dir.path(), {{"a.sst", "aaa"}, {"b.sst", "bbb"}, {"c.sst", "ccc"}, {"MANIFEST", "m"}});
  DirIndex previous = IndexFromDiff(dir.path(), *DiffAll(dir.path(), DirIndex{}));
  SnapshotIndex remote;
  for (const FileIndex& f : previous.files_present) {
    if (f.name != "MANIFEST") remote.root.files_present.push_back(f);
  }
  ASSERT_EQ(unlink((dir.path() + "/a.sst").c_str()), 0);
  ASSERT_EQ(unlink((dir.path() + "/c.sst").c_str()), 0);
  Write(dir.path(), {{"b.sst", "BBB"}, {"d.sst", "ddd"}});  // b local again, and changed
  Result<std::vector<DirDelta>> d =
      DiffAll(dir.path(), previous, {.remote = *testing::IndexFileOf(EncodeSnapshotIndex(remote))});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Flatten(*d, previous),
            (std::set<std::string>{"=a.sst", "+b.sst", "-b.sst", "=c.sst", "+d.sst", "=MANIFEST"}));
  std::vector<std::string> retained;
  for (const FileIndex& f : (*d)[0].files_retained) retained.push_back(f.name);
  EXPECT_EQ(retained, (std::vector<std::string>{"MANIFEST", "a.sst", "c.sst"}));  // by name
  EXPECT_EQ((*d)[0].files_retained[1].blobs, previous.files_present[1].blobs);

  // One the previous snapshot holds with other content (or not at all) cannot be kept.
  remote.root.files_present[0].checksum = Checksum{1, 2};
  d = DiffAll(dir.path(), previous, {.remote = *testing::IndexFileOf(EncodeSnapshotIndex(remote))});
  EXPECT_EQ(d.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(d.status().message().find(dir.path() + "/a.sst"), std::string::npos) << d.status();
}

TEST(DiffTest, ReusesChecksumWhileIdentityUnchanged) {
  TempDir dir;
  Write(dir.path(), {{"sst", "original content"}});
  Age(dir.path() + "/sst");
  DirIndex previous = IndexFromDiff(dir.path(), *DiffAll(dir.path(), DirIndex{}));
  ASSERT_NE(previous.files_present[0].metadata.inode, 0u);
  // Same inode, size and mtime: the recorded checksum is trusted without reading, so a
  // checksum that disagrees with the content goes unnoticed (proving the file was not read).
  previous.files_present[0].checksum = Checksum{1, 2};
  Result<std::vector<DirDelta>> d = DiffAll(dir.path(), previous);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Flatten(*d, previous), (std::set<std::string>{"=sst"}));
}

TEST(DiffTest, HardLinkedCheckpointReusesChecksum) {
  TempDir dir;
  Write(dir.path(), {{"ckpt-1/000001.sst", "sst bytes"}});
  Age(dir.path() + "/ckpt-1/000001.sst");
  DirIndex previous =
      IndexFromDiff(dir.path() + "/ckpt-1", *DiffAll(dir.path() + "/ckpt-1", DirIndex{}));
  previous.files_present[0].checksum = Checksum{7, 7};  // only a reuse keeps this
  ASSERT_TRUE(MakeDirs(dir.path() + "/ckpt-2").ok());
  ASSERT_EQ(link((dir.path() + "/ckpt-1/000001.sst").c_str(),
                 (dir.path() + "/ckpt-2/000001.sst").c_str()),
            0);  // changes ctime, not identity
  Result<std::vector<DirDelta>> d = DiffAll(dir.path() + "/ckpt-2", previous);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ((*d)[0].files_retained.size(), 1u);
  EXPECT_EQ((*d)[0].files_retained[0].checksum, (Checksum{7, 7}));
}

TEST(DiffTest, RacilyFreshFileIsHashedAgain) {
  TempDir dir;
  Write(dir.path(), {{"f", "content"}});  // mtime is now: racily fresh
  DirIndex previous = IndexFromDiff(dir.path(), *DiffAll(dir.path(), DirIndex{}));
  EXPECT_EQ(previous.files_present[0].metadata.inode, 0u);
  previous.files_present[0].checksum = Checksum{1, 2};  // wrong: a re-hash must notice
  Result<std::vector<DirDelta>> d = DiffAll(dir.path(), previous);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Flatten(*d, previous), (std::set<std::string>{"+f", "-f"}));
}

TEST(DiffTest, ChangedContentWithSameSizeAndMtimeIsDetectedWhenIdentityDiffers) {
  TempDir dir;
  Write(dir.path(), {{"f", "aaaa"}});
  Age(dir.path() + "/f");
  DirIndex previous = IndexFromDiff(dir.path(), *DiffAll(dir.path(), DirIndex{}));
  // Replace the file (new inode) with other bytes of the same size and the same mtime.
  Write(dir.path(), {{"f", "bbbb"}});
  Age(dir.path() + "/f");
  Result<std::vector<DirDelta>> d = DiffAll(dir.path(), previous);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Flatten(*d, previous), (std::set<std::string>{"+f", "-f"}));
}

// A file recorded part by part (index version 2) is compared by hashing the local file at
// the recorded offsets: same content, same checksum; one byte changed, another.
TEST(ChecksumLikeTest, HashesTheWayTheRecordedFileWasHashed) {
  TempDir dir;
  std::string content(3000, 'x');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7);
  Write(dir.path(), {{"f", content}});
  FileIndex recorded{.name = "f", .metadata = {.size = 3000}};
  std::vector<Checksum> parts;
  for (uint64_t off : {0, 1000, 2000}) {
    parts.push_back(HashBytes(content.data() + off, 1000));
    recorded.blobs.push_back({"blob-" + std::to_string(off), off, parts.back()});
  }
  recorded.checksum = FileChecksumOfParts(parts);
  uint64_t size = 0;
  Result<Checksum> same = ChecksumLike(dir.path() + "/f", recorded, &size);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(*same, recorded.checksum);
  EXPECT_EQ(size, 3000u);
  content[2500] ^= 1;
  Write(dir.path(), {{"f", content}});
  EXPECT_NE(*ChecksumLike(dir.path() + "/f", recorded, &size), recorded.checksum);
  FileIndex whole = recorded;  // as a version 1 writer recorded it: the content's checksum
  for (FileBlob& b : whole.blobs) b.checksum.reset();
  whole.checksum = HashBytes(content.data(), content.size());
  EXPECT_EQ(*ChecksumLike(dir.path() + "/f", whole, &size), whole.checksum);
}

TEST(DiffTest, GivesParentsBeforeChildrenAndSiblingsByName) {
  TempDir dir;
  Write(dir.path(), {{"b/x", "1"}, {"a/y/z", "2"}, {"c/", ""}, {"f", "3"}});
  Result<std::vector<DirDelta>> d = DiffAll(dir.path(), DirIndex{});
  ASSERT_TRUE(d.ok()) << d.status();
  std::vector<std::string> paths;
  for (const DirDelta& delta : *d) {
    EXPECT_EQ(delta.number, paths.size());
    if (delta.number > 0) {
      EXPECT_EQ((*d)[delta.parent].path, DirName("/" + delta.path).substr(1));
    }
    paths.push_back(delta.path);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"", "a", "a/y", "b", "c"}));
}

TEST(DiffTest, ARemovedDirectoryListsWhatItHeldAsGone) {
  TempDir dir;
  Write(dir.path(), {{"keep", "k"}, {"gone/a", "1"}, {"gone/sub/b", "22"}});
  DirIndex previous = IndexFromDiff(dir.path(), *DiffAll(dir.path(), DirIndex{}));
  ASSERT_TRUE(RemoveAll(dir.path() + "/gone").ok());
  Result<std::vector<DirDelta>> d = DiffAll(dir.path(), previous);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->size(), 3u);
  EXPECT_TRUE((*d)[1].listed_removed && (*d)[1].removed);
  EXPECT_EQ((*d)[1].files_retained.size(), 1u);  // "a", listed in the removed directory
  EXPECT_TRUE(!(*d)[2].listed_removed && (*d)[2].removed);
  EXPECT_EQ((*d)[2].path, "gone/sub");
  EXPECT_EQ((*d)[2].files_retained[0].name, "b");
}

TEST(DiffTest, ACorruptPreviousIndexFailsNamingTheDirectory) {
  TempDir dir;
  Write(dir.path(), {{"d/f", "x"}});
  DirIndex previous = IndexFromDiff(dir.path(), *DiffAll(dir.path(), DirIndex{}));
  previous.subdirs_present[0].files_present.push_back(previous.subdirs_present[0].files_present[0]);
  Result<std::vector<DirDelta>> d = DiffAll(dir.path(), previous);
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("dir \"d\": duplicate name \"f\""), std::string::npos)
      << d.status();
}

}  // namespace
}  // namespace blobstate
