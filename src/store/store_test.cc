#include "blobstate/store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "blobstate/checkpoint.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using testing::ReadModes;
using testing::ReadTree;
using testing::TempDir;
using testing::Tree;
using testing::WriteTree;

StoreConfig DirectoryStore(const std::string& dir) {
  return {.name = "s", .dir = dir, .engine = StoreEngine::kDirectory};
}

ino_t Inode(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST(StoreTest, CheckpointDirOfAppendsTheIdWithoutTrailingSlashes) {
  EXPECT_EQ(CheckpointDirOf("/state/a", "id"), "/state/a-id");
  EXPECT_EQ(CheckpointDirOf("/state/a//", "id"), "/state/a-id");
  EXPECT_EQ(CheckpointDirOf("a", "id"), "a-id");
}

TEST(StoreTest, CheckpointDirsAreListedInIdOrderAndDeletedExceptKept) {
  TempDir tmp;
  const std::string store = tmp.Sub("a");
  const std::string id1 = NewCheckpointId(), id2 = NewCheckpointId(), id3 = NewCheckpointId();
  ASSERT_TRUE(WriteTree(store, {{"f", "x"}}).ok());
  for (const std::string& id : {id3, id1, id2}) {
    ASSERT_TRUE(WriteTree(CheckpointDirOf(store, id), {{"f", id}}).ok());
  }
  // Not checkpoint directories of `a`: a file, a symlink, another store's, a bad id.
  ASSERT_TRUE(WriteTree(tmp.path(), {{"a-" + NewCheckpointId(), "file"},
                                     {"a-b-" + NewCheckpointId() + "/f", "other store"},
                                     {"a-123-abc/f", "bad id"}})
                  .ok());
  const std::string link = CheckpointDirOf(store, NewCheckpointId());
  ASSERT_EQ(::symlink(store.c_str(), link.c_str()), 0);

  Result<std::vector<std::string>> dirs = ListCheckpointDirs(store + "/");
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  EXPECT_EQ(*dirs,
            (std::vector<std::string>{CheckpointDirOf(store, id1), CheckpointDirOf(store, id2),
                                      CheckpointDirOf(store, id3)}));

  ASSERT_TRUE(DeleteCheckpointDirs(store, id2).ok());
  EXPECT_EQ(*ListCheckpointDirs(store), std::vector<std::string>{CheckpointDirOf(store, id2)});
  EXPECT_TRUE(PathExists(link));  // never followed nor removed
  EXPECT_TRUE(PathExists(store + "/f"));
  EXPECT_TRUE(PathExists(tmp.Sub("a-123-abc/f")));

  ASSERT_TRUE(DeleteCheckpointDirs(store, "").ok());
  EXPECT_TRUE(ListCheckpointDirs(store)->empty());
  EXPECT_TRUE(DeleteCheckpointDirs(tmp.Sub("missing/store"), "").ok());
  EXPECT_TRUE(ListCheckpointDirs(tmp.Sub("missing/store"))->empty());
}

// Z.4: a checkpoint directory's manifest (of a store warming up) goes with it, and one
// whose directory is gone goes too; the kept checkpoint's stays, and nothing else is touched.
TEST(StoreTest, DeleteCheckpointDirsTakesTheirManifests) {
  TempDir tmp;
  const std::string store = tmp.Sub("a");
  const std::string kept = NewCheckpointId(), gone = NewCheckpointId(), stray = NewCheckpointId();
  ASSERT_TRUE(WriteTree(store, {{"f", "x"}}).ok());
  for (const std::string& id : {kept, gone}) {
    ASSERT_TRUE(WriteTree(CheckpointDirOf(store, id), {{"f", id}}).ok());
  }
  for (const std::string& id : {kept, gone, stray}) {
    ASSERT_TRUE(WriteFileAtomic(RemoteManifestOf(CheckpointDirOf(store, id)), "listed").ok());
  }
  ASSERT_TRUE(WriteFileAtomic(RemoteManifestOf(store), "the store's own").ok());
  ASSERT_TRUE(WriteFileAtomic(tmp.Sub("a-b-" + stray + ".remote"), "another store's").ok());

  ASSERT_TRUE(DeleteCheckpointDirs(store, kept).ok());
  EXPECT_EQ(*ListCheckpointDirs(store), std::vector<std::string>{CheckpointDirOf(store, kept)});
  EXPECT_TRUE(PathExists(RemoteManifestOf(CheckpointDirOf(store, kept))));
  EXPECT_FALSE(PathExists(RemoteManifestOf(CheckpointDirOf(store, gone))));
  EXPECT_FALSE(PathExists(RemoteManifestOf(CheckpointDirOf(store, stray))));
  EXPECT_TRUE(PathExists(RemoteManifestOf(store)));
  EXPECT_TRUE(PathExists(tmp.Sub("a-b-" + stray + ".remote")));
}

TEST(StoreTest, DirectorySnapshotHardLinksFilesAndKeepsEmptyDirs) {
  TempDir tmp;
  const std::string store = tmp.Sub("s"), dest = CheckpointDirOf(store, NewCheckpointId());
  const Tree tree = {{"a", "1"}, {"d/b", "22"}, {"d/e/", ""}, {"empty/", ""}, {"d/", ""}};
  ASSERT_TRUE(WriteTree(store, tree).ok());
  ASSERT_TRUE(SnapshotClosedStore(DirectoryStore(store), dest).ok());
  EXPECT_EQ(*ReadTree(dest), tree);
  EXPECT_EQ(Inode(store + "/a"), Inode(dest + "/a"));
  EXPECT_EQ(Inode(store + "/d/b"), Inode(dest + "/d/b"));
  EXPECT_EQ(SnapshotClosedStore(DirectoryStore(store), dest).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*ReadTree(dest), tree);  // left alone
}

TEST(StoreTest, DirectorySnapshotTakesOverTheNewestCheckpointDirChangingOnlyWhatDiffers) {
  TempDir tmp;
  const std::string store = tmp.Sub("s");
  const std::string older = CheckpointDirOf(store, "1700000000001-00000000000000aa"),
                    newer = CheckpointDirOf(store, "1700000000002-00000000000000bb"),
                    dest = CheckpointDirOf(store, "1700000000003-00000000000000cc");
  ASSERT_TRUE(WriteTree(store, {{"kept", "1"}, {"changed", "2"}, {"gone", "3"}}).ok());
  ASSERT_TRUE(SnapshotClosedStore(DirectoryStore(store), older).ok());
  ASSERT_TRUE(SnapshotClosedStore(DirectoryStore(store), newer).ok());
  EXPECT_FALSE(PathExists(older));                               // taken over by the newer
  ASSERT_TRUE(WriteFileAtomic(store + "/changed", "two").ok());  // replaced, as stores do
  ASSERT_EQ(::unlink((store + "/gone").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(store + "/new", "4").ok());
  const ino_t kept = Inode(newer + "/kept");

  ASSERT_TRUE(SnapshotClosedStore(DirectoryStore(store), dest).ok());
  EXPECT_EQ(*ListCheckpointDirs(store), std::vector<std::string>{dest});
  EXPECT_EQ(*ReadTree(dest), (Tree{{"changed", "two"}, {"kept", "1"}, {"new", "4"}}));
  EXPECT_EQ(Inode(dest + "/kept"), kept);
  for (const char* name : {"/kept", "/changed", "/new"}) {
    EXPECT_EQ(Inode(store + name), Inode(dest + name)) << name;
  }
}

// /dev/shm is a tmpfs on most Linux hosts: another file system than /tmp.
TEST(StoreTest, DirectorySnapshotAcrossFileSystemsCopiesKeepingModeAndMtime) {
  char tmpl[] = "/dev/shm/blobstate-test-XXXXXX";
  struct stat shm, tmp_st;
  if (::mkdtemp(tmpl) == nullptr) GTEST_SKIP() << "no writable /dev/shm";
  const std::string other = tmpl;
  TempDir tmp;
  ASSERT_EQ(::stat(other.c_str(), &shm), 0);
  ASSERT_EQ(::stat(tmp.path().c_str(), &tmp_st), 0);
  if (shm.st_dev == tmp_st.st_dev) {
    RemoveAll(other).IgnoreError();
    GTEST_SKIP() << "/dev/shm and /tmp are one file system";
  }
  const std::string store = tmp.Sub("s"), dest = other + "/s-copy";
  const std::string big = testing::RandomBytes(3 * kIoChunkSize + 17, 7);
  ASSERT_TRUE(WriteTree(store, {{"big", big}, {"d/small", "x"}, {"e/", ""}}).ok());
  ASSERT_EQ(::chmod((store + "/d/small").c_str(), 0600), 0);
  Status s = SnapshotClosedStore(DirectoryStore(store), dest);
  Result<Tree> copied = ReadTree(dest);
  Result<std::map<std::string, std::pair<mode_t, int64_t>>> modes = ReadModes(dest);
  auto want_modes = ReadModes(store);
  RemoveAll(other).IgnoreError();
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(copied.ok() && modes.ok() && want_modes.ok());
  EXPECT_EQ(*copied, (Tree{{"big", big}, {"d/", ""}, {"d/small", "x"}, {"e/", ""}}));
  EXPECT_EQ(*modes, *want_modes);
}

TEST(StoreTest, SnapshotRejectsSymlinkNamingIt) {
  TempDir tmp;
  const std::string store = tmp.Sub("s"), dest = tmp.Sub("s-snap");
  ASSERT_TRUE(WriteTree(store, {{"a", "1"}, {"d/b", "2"}}).ok());
  ASSERT_EQ(::symlink("/etc/passwd", (store + "/d/link").c_str()), 0);
  Status s = SnapshotClosedStore(DirectoryStore(store), dest);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(store + "/d/link"), std::string::npos) << s;
  EXPECT_FALSE(PathExists(dest)) << "a partial snapshot is removed";
}

TEST(StoreTest, SnapshotRejectsSpecialFileNamingIt) {
  TempDir tmp;
  const std::string store = tmp.Sub("s");
  ASSERT_TRUE(WriteTree(store, {{"a", "1"}}).ok());
  ASSERT_EQ(::mkfifo((store + "/fifo").c_str(), 0600), 0);
  Status s = SnapshotClosedStore(DirectoryStore(store), tmp.Sub("s-snap"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(store + "/fifo"), std::string::npos) << s;
}

TEST(StoreTest, SnapshotOfMissingStoreIsNotFound) {
  TempDir tmp;
  for (StoreEngine engine : {StoreEngine::kDirectory, StoreEngine::kRocksDb}) {
    StoreConfig config{.name = "s", .dir = tmp.Sub("missing"), .engine = engine};
    Status s = SnapshotClosedStore(config, tmp.Sub("missing-snap"));
    EXPECT_EQ(s.code(), StatusCode::kNotFound) << s;
    EXPECT_NE(s.message().find(tmp.Sub("missing")), std::string::npos) << s;
    EXPECT_FALSE(PathExists(tmp.Sub("missing-snap")));
  }
}

TEST(StoreTest, SnapshotOfInMemoryStoreIsFailedPrecondition) {
  TempDir tmp;
  StoreConfig config{.name = "mem", .persistent = false};
  EXPECT_EQ(SnapshotClosedStore(config, tmp.Sub("x")).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace blobstate

namespace blobstate {
namespace {

// W.7: a store directory's lock excludes a second lock, in this process or another one
// (flock(1) here), and is released with the object; recording the owner keeps it valid.
TEST(StoreDirLockTest, SecondLockFailsAtOnceNamingTheDirectory) {
  TempDir tmp;
  const std::string dir = tmp.Sub("state/s");
  Result<StoreDirLock> lock = StoreDirLock::Acquire(dir);
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_FALSE(PathExists(dir));  // the lock file is beside the directory, not in it
  Result<StoreDirLock> second = StoreDirLock::Acquire(dir + "/");
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(dir), std::string::npos) << second.status();
  ASSERT_TRUE(RecordStoreDirOwner(dir, "job/t/s").ok());
  EXPECT_EQ(*StoreDirOwner(dir), "job/t/s");
  const std::string other_process = "flock -n " + dir + ".lock true";
  EXPECT_NE(std::system(other_process.c_str()), 0) << "held against other processes";
  StoreDirLock moved = std::move(*lock);
  EXPECT_NE(std::system(other_process.c_str()), 0) << "a move keeps the lock";
  { StoreDirLock released = std::move(moved); }
  EXPECT_EQ(std::system(other_process.c_str()), 0) << "released with the object";
  EXPECT_TRUE(StoreDirLock::Acquire(dir).ok());
  EXPECT_EQ(*StoreDirOwner(dir), "job/t/s");
  EXPECT_EQ(*StoreDirOwner(tmp.Sub("none")), "");
}

}  // namespace
}  // namespace blobstate
