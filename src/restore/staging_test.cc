// Restores that reuse what is local, stage the new tree, resume, and fail without touching
// the previous store (R.1-R.4, R.8).
#include "restore/staging.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "blobstate/store.h"
#include "restore/restore_manager.h"
#include "store/lazy_files.h"
#include "testing/state_fixture.h"
#include "transfer/transfer.h"
#include "util/failpoint.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using testing::RandomBytes;
using testing::ReadTree;
using testing::Tree;
using testing::WriteTree;
using Method = FaultyBlobStore::Method;
using Fault = FaultyBlobStore::Fault;

class RestoreStagingTest : public testing::StateTest {
 protected:
  static constexpr const char* kOwner = "job/task-0/a";  // the owner of store a's directory

  // Backs up store `a` as it is now, as the latest of the stores' snapshots.
  Checkpoint BackUp() {
    if (!backup_) {
      backup_ = NewBackup({a_});
      EXPECT_TRUE(backup_->Init(std::nullopt).GetFor(kWait).ok());
    }
    return Commit(*backup_, {a_});
  }

  Result<StoreFigures> Restore(const Checkpoint& c, RestoreOptions options = {}) {
    options.sync = false;
    RestoreManager restore(*blobs_, pool_, "job", "task-0", {a_}, options, &metrics_);
    RETURN_IF_ERROR(restore.Init(c).GetFor(kWait));
    ASSIGN_OR_RETURN(auto figures, restore.Restore().GetFor(kWait));
    return figures.at("a");
  }

  // The blobs of file `name` (at the root) in `c`'s snapshot of store a.
  std::vector<FileBlob> BlobsOf(const Checkpoint& c, const std::string& name) {
    Result<StoreSnapshots> s = GetStoreSnapshots(*blobs_, pool_, c, {"a"}).GetFor(kWait);
    EXPECT_TRUE(s.ok()) << s.status();
    for (const FileIndex& f : s->at("a").index.root.files_present) {
      if (f.name == name) return f.blobs;
    }
    ADD_FAILURE() << "no file " << name;
    return {};
  }
  std::string BlobOf(const Checkpoint& c, const std::string& name) {
    std::vector<FileBlob> blobs = BlobsOf(c, name);
    EXPECT_EQ(blobs.size(), 1u);
    return blobs.empty() ? "" : blobs[0].blob_id;
  }

  // This host's store directory now holds `tree`, and no local checkpoint is beside it.
  void SetLocalStore(const Tree& tree) {
    ASSERT_TRUE(DeleteCheckpointDirs(a_.dir, "").ok());
    ASSERT_TRUE(RemoveAll(a_.dir).ok());
    ASSERT_TRUE(WriteTree(a_.dir, tree).ok());
    ASSERT_TRUE(RecordStoreDirOwner(a_.dir, "job/task-0/a").ok());
  }

  StoreConfig a_ = Store("a");
  std::unique_ptr<BackupManager> backup_;
};

Tree Files(int n, int seed, size_t size = 4096) {
  Tree t;
  for (int i = 0; i < n; ++i) {
    t["0000" + std::to_string(10 + i) + (i % 2 ? ".sst" : ".log")] = RandomBytes(size, seed + i);
  }
  return t;
}

TEST_F(RestoreStagingTest, OneCommitBehindDownloadsOnlyWhatItLacks) {
  const Tree before = Files(20, 1);
  ASSERT_TRUE(WriteTree(a_.dir, before).ok());
  BackUp();
  Tree after = before;
  after["000010.log"] = RandomBytes(4096, 100);  // changed
  after["000099.sst"] = RandomBytes(9000, 101);  // new
  after.erase("000011.sst");
  ASSERT_TRUE(RemoveAll(a_.dir).ok());
  ASSERT_TRUE(WriteTree(a_.dir, after).ok());
  Checkpoint latest = BackUp();
  SetLocalStore(before);  // one commit behind
  const size_t parts = BlobsOf(latest, "000010.log").size() + BlobsOf(latest, "000099.sst").size();
  const int gets = blobs_->calls(Method::kGet);
  Result<StoreFigures> r = Restore(latest);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->bytes_downloaded, 4096u + 9000u);
  EXPECT_EQ(r->files_downloaded, 2u);
  EXPECT_EQ(r->files_reused, 18u);
  EXPECT_EQ(blobs_->calls(Method::kGet) - gets, 1 + parts);  // the index, the two files
  EXPECT_TRUE(*ReadTree(a_.dir) == after) << "restored tree differs";
  EXPECT_FALSE(PathExists(StagingDirOf(a_.dir)));
}

TEST_F(RestoreStagingTest, MissingBlobFailsNamingStoreFileAndBlobAndKeepsTheOldStore) {
  ASSERT_TRUE(WriteTree(a_.dir, {{"kept", "k"}, {"new", "n"}}).ok());
  Checkpoint c = BackUp();
  const Tree old = {{"kept", "k"}, {"local-only", "written since"}};
  SetLocalStore(old);
  const std::string blob = BlobOf(c, "new");
  ASSERT_TRUE(blobs_->Delete(blob).GetFor(kWait).ok());
  Result<StoreFigures> r = Restore(c);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();
  for (const std::string& part : {std::string("store a"), std::string("file new"), blob}) {
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status();
  }
  EXPECT_EQ(*ReadTree(a_.dir), old);
}

TEST_F(RestoreStagingTest, CorruptBlobFailsNamingStoreFileAndBlobAndKeepsTheOldStore) {
  ASSERT_TRUE(WriteTree(a_.dir, {{"f", "payload"}}).ok());
  Checkpoint c = BackUp();
  const Tree old = {{"f", "changed"}};
  SetLocalStore(old);
  const std::string blob = BlobOf(c, "f");
  Result<Tree> stored = ReadTree(BlobDir() + "/blobs");
  ASSERT_TRUE(stored.ok());
  for (const auto& [rel, content] : *stored) {  // same size: only the checksum can tell
    if (content == "payload") {
      ASSERT_TRUE(WriteFileAtomic(BlobDir() + "/blobs/" + rel, "PAYLOAD").ok());
    }
  }
  Result<StoreFigures> r = Restore(c);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status();
  for (const std::string& part : {std::string("store a"), std::string("file f"), blob}) {
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status();
  }
  EXPECT_EQ(*ReadTree(a_.dir), old);
}

// R.3: a restore that does not verify leaves nothing that vouches for what it staged: a
// verified restore after it checks each staged file, so a corrupt blob is found, not kept.
TEST_F(RestoreStagingTest, FilesStagedUnverifiedAreCheckedByTheNextRestore) {
  ASSERT_TRUE(WriteTree(a_.dir, {{"f", "payload"}}).ok());
  Checkpoint c = BackUp();
  ASSERT_TRUE(DeleteCheckpointDirs(a_.dir, "").ok());
  ASSERT_TRUE(RemoveAll(a_.dir).ok());  // a new host
  Result<Tree> stored = ReadTree(BlobDir() + "/blobs");
  ASSERT_TRUE(stored.ok());
  for (const auto& [rel, content] : *stored) {  // same size: only the checksum can tell
    if (content == "payload") {
      ASSERT_TRUE(WriteFileAtomic(BlobDir() + "/blobs/" + rel, "PAYLOAD").ok());
    }
  }
  ArmFailpoint("restore.before_swap", FailpointAction::kError);  // all staged, then stopped
  EXPECT_EQ(Restore(c, {.verify_checksums = false}).status().code(), StatusCode::kUnavailable);
  DisarmAllFailpoints();
  EXPECT_EQ(*ReadTree(StagingDirOf(a_.dir)), (Tree{{"f", "PAYLOAD"}}));
  Result<StoreFigures> r = Restore(c);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status();
  EXPECT_FALSE(PathExists(a_.dir));
}

TEST_F(RestoreStagingTest, InterruptedRestoreResumesWithoutDownloadingVerifiedFilesAgain) {
  const Tree tree = Files(10, 7);
  ASSERT_TRUE(WriteTree(a_.dir, tree).ok());
  Checkpoint c = BackUp();
  ASSERT_TRUE(DeleteCheckpointDirs(a_.dir, "").ok());
  ASSERT_TRUE(RemoveAll(a_.dir).ok());                   // a new host
  const size_t parts = BlobsOf(c, "000010.log").size();  // of each file: all the same size
  const int gets = blobs_->calls(Method::kGet);
  // The last get of a part fails (the index's comes first). Every file has started by then,
  // so the other nine land and are verified whatever the order the gets ran in; an earlier
  // get could fail before some file started, and the restore starts none after a failure.
  const int last = gets + 1 + 10 * static_cast<int>(parts);
  blobs_->Script(Method::kGet, last, Fault::SyncError(UnavailableError("injected")));
  Result<StoreFigures> failed = Restore(c);
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable) << failed.status();
  EXPECT_FALSE(PathExists(a_.dir));  // nothing that looks like a store
  Result<StoreFigures> resumed = Restore(c);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->files_reused, 9u);      // verified the first time: kept, not read again
  EXPECT_EQ(resumed->files_downloaded, 1u);  // of which the parts that had landed are kept
  // Each run gets the index; the part that failed is the only one got twice.
  EXPECT_EQ(blobs_->calls(Method::kGet) - gets - 2, 10 * parts + 1);
  EXPECT_TRUE(*ReadTree(a_.dir) == tree) << "restored tree differs";
}

// R.3: a large file whose download was interrupted continues from the parts it has: they
// are checked against their checksums, and only the others are downloaded.
TEST_F(RestoreStagingTest, InterruptedLargeFileContinuesFromItsVerifiedParts) {
  const std::string data = RandomBytes(3500, 11);
  ASSERT_TRUE(WriteTree(a_.dir, {{"big.sst", data}}).ok());
  Checkpoint c = BackUp();
  const std::vector<FileBlob> parts = BlobsOf(c, "big.sst");
  ASSERT_EQ(parts.size(), 4u);
  ASSERT_TRUE(DeleteCheckpointDirs(a_.dir, "").ok());
  ASSERT_TRUE(RemoveAll(a_.dir).ok());  // a new host
  const int gets = blobs_->calls(Method::kGet);
  blobs_->Script(Method::kGet, gets + 3, Fault::SyncError(UnavailableError("injected")));
  EXPECT_EQ(Restore(c).status().code(), StatusCode::kUnavailable);
  const int before = blobs_->calls(Method::kGet);
  Result<StoreFigures> resumed = Restore(c);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(blobs_->calls(Method::kGet) - before, 1 + 1);  // the index, the missing part
  EXPECT_EQ(resumed->files_downloaded, 1u);
  EXPECT_GT(resumed->bytes_downloaded, 0u);
  EXPECT_LE(resumed->bytes_downloaded, 1000u);  // one part
  EXPECT_EQ(resumed->bytes_reused + resumed->bytes_downloaded, data.size());
  EXPECT_EQ(*ReadTree(a_.dir), (Tree{{"big.sst", data}}));
}

// Z.5: a lazy restore after an interrupted full one leaves the table file it was
// downloading in the blob store, with the parts it verified kept for the download, which
// gets only the others; none of it counts as downloaded by the restore.
TEST_F(RestoreStagingTest, ALazyRestoreKeepsTheVerifiedPartsOfATableItLeavesRemote) {
  const std::string data = RandomBytes(3500, 11);
  ASSERT_TRUE(WriteTree(a_.dir, {{"big.sst", data}}).ok());
  Checkpoint c = BackUp();
  ASSERT_EQ(BlobsOf(c, "big.sst").size(), 4u);
  ASSERT_TRUE(DeleteCheckpointDirs(a_.dir, "").ok());
  ASSERT_TRUE(RemoveAll(a_.dir).ok());  // a new host
  const int gets = blobs_->calls(Method::kGet);
  blobs_->Script(Method::kGet, gets + 3, Fault::SyncError(UnavailableError("injected")));
  EXPECT_EQ(Restore(c).status().code(), StatusCode::kUnavailable);
  Result<StoreFigures> lazy = Restore(c, {.lazy = true});
  ASSERT_TRUE(lazy.ok()) << lazy.status();
  EXPECT_EQ(lazy->files_downloaded, 0u);
  EXPECT_EQ(lazy->bytes_downloaded, 0u);
  EXPECT_GT(lazy->bytes_reused, 0u);  // the parts that landed
  EXPECT_LT(lazy->bytes_reused, data.size());
  const int before = blobs_->calls(Method::kGet);
  Transfer transfer(*blobs_, pool_, {});
  Result<std::shared_ptr<LazyFiles>> files = LazyFiles::Open(transfer, "store a", a_.dir);
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_NE(*files, nullptr);
  ASSERT_TRUE((*files)->FetchAll(pool_, 4).GetFor(kWait).ok());
  EXPECT_EQ(blobs_->calls(Method::kGet) - before, 1);  // the part that failed
  EXPECT_EQ(*ReadTree(a_.dir), (Tree{{"big.sst", data}}));
}

TEST_F(RestoreStagingTest, StagingOfAnotherSnapshotIsCheckedNotTrusted) {
  ASSERT_TRUE(WriteTree(a_.dir, {{"same", "s"}, {"differs", "one"}, {"d/x", "x"}}).ok());
  Checkpoint c = BackUp();
  ASSERT_TRUE(DeleteCheckpointDirs(a_.dir, "").ok());
  ASSERT_TRUE(RemoveAll(a_.dir).ok());
  const std::string staging = StagingDirOf(a_.dir);
  ASSERT_TRUE(WriteTree(staging, {{"same", "s"},
                                  {"differs", "two"},  // same size, other content
                                  {"stale", "from another snapshot"},
                                  {"d", "a file where a directory belongs"}})
                  .ok());
  ASSERT_TRUE(WriteFileAtomic(staging + ".snapshot", "another-snapshot").ok());
  ASSERT_TRUE(RecordStoreDirOwner(a_.dir, kOwner).ok());  // as the restore that staged them
  Result<StoreFigures> r = Restore(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->files_reused, 1u);
  EXPECT_EQ(r->files_downloaded, 2u);
  EXPECT_EQ(*ReadTree(a_.dir), (Tree{{"same", "s"}, {"differs", "one"}, {"d/", ""}, {"d/x", "x"}}));
  EXPECT_FALSE(PathExists(staging));
  EXPECT_FALSE(PathExists(staging + ".snapshot"));
}

TEST_F(RestoreStagingTest, SymlinkAsTheStagingAreaIsNeverFollowed) {
  ASSERT_TRUE(WriteTree(a_.dir, {{"f", "x"}}).ok());
  Checkpoint c = BackUp();
  const std::string elsewhere = tmp_.Sub("elsewhere");
  ASSERT_TRUE(WriteTree(elsewhere, {{"precious", "p"}}).ok());
  ASSERT_EQ(::symlink(elsewhere.c_str(), StagingDirOf(a_.dir).c_str()), 0);
  EXPECT_EQ(Restore(c).status().code(), StatusCode::kFailedPrecondition);  // not the store's
  ASSERT_TRUE(RecordStoreDirOwner(a_.dir, kOwner).ok());
  ASSERT_TRUE(Restore(c).ok());
  EXPECT_EQ(*ReadTree(a_.dir), (Tree{{"f", "x"}}));
  EXPECT_EQ(*ReadTree(elsewhere), (Tree{{"precious", "p"}}));
}

// A restore that needs more space than the store's file system has fails before it writes
// anything, naming the bytes needed and free; the old store is left as it was.
TEST_F(RestoreStagingTest, NotEnoughSpaceFailsFirstAndKeepsTheOldStore) {
  const std::string mount = tmp_.Sub("small");
  ASSERT_TRUE(MakeDirs(mount).ok());
  if (::mount("tmpfs", mount.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "mounting a tmpfs needs root: " << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount};
  a_.dir = mount + "/a";
  ASSERT_TRUE(WriteTree(a_.dir, {{"big", RandomBytes(150 << 10, 3)}}).ok());
  Checkpoint c = BackUp();
  const Tree old = {{"big", RandomBytes(150 << 10, 4)}};
  SetLocalStore(old);
  Result<StoreFigures> r = Restore(c);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status();
  for (const std::string& part :
       {std::string("store a"), std::string("needs 153600 bytes"), std::string("bytes free")}) {
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status();
  }
  EXPECT_EQ(*ReadTree(a_.dir), old);
  EXPECT_FALSE(PathExists(StagingDirOf(a_.dir)));
}

}  // namespace
}  // namespace blobstate
