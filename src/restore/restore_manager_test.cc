#include "restore/restore_manager.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "blobstate/snapshot.h"
#include "checkpoint/snapshot_util.h"
#include "restore/staging.h"
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

class RestoreManagerTest : public testing::StateTest {
 protected:
  // Backs up `stores` as they are now; returns the checkpoint.
  Checkpoint BackUp(const std::vector<StoreConfig>& stores) {
    auto backup = NewBackup(stores);
    EXPECT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
    return Commit(*backup, stores);
  }

  Result<std::map<std::string, StoreFigures>> Restore(const std::vector<StoreConfig>& stores,
                                                      const std::optional<Checkpoint>& c,
                                                      RestoreOptions options = {}) {
    options.sync = false;
    RestoreManager restore(*blobs_, pool_, "job", "task-0", stores, options, &metrics_);
    RETURN_IF_ERROR(restore.Init(c).GetFor(kWait));
    return restore.Restore().GetFor(kWait);
  }

  // Moves the store away and back, as on a new host with no local state.
  void LoseLocalState(const StoreConfig& store, const Checkpoint& c) {
    ASSERT_TRUE(RemoveAll(store.dir).ok());
    ASSERT_TRUE(RemoveAll(CheckpointDirOf(store.dir, c.id)).ok());
  }
};

const Tree kTree = {{"CURRENT", "MANIFEST-1"},
                    {"000001.sst", RandomBytes(3500, 1)},  // 4 parts
                    {"empty", ""},
                    {"emptydir/", ""},
                    {"d/", ""},
                    {"d/e/", ""},
                    {"d/e/f/", ""},
                    {"d/e/f/deep", "deep"},
                    {"d/e/emptysub/", ""},
                    {"d/file", "x"}};

// Z.1: a lazy restore leaves the table files it lacks in the blob store, listed beside the
// store; fetching them makes the tree whole and drops the list.
TEST_F(RestoreManagerTest, LazyRestoreLeavesTableFilesInTheBlobStoreAndListsThem) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, kTree).ok());
  Checkpoint c = BackUp({a});
  LoseLocalState(a, c);
  Result<std::map<std::string, StoreFigures>> r = Restore({a}, c, {.lazy = true});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->at("a").bytes_downloaded, std::string("MANIFEST-1deepx").size());
  Tree without = kTree;
  without.erase("000001.sst");
  EXPECT_EQ(*ReadTree(a.dir), without);
  ASSERT_TRUE(PathExists(RemoteManifestOf(a.dir)));
  Transfer transfer(*blobs_, pool_, {});
  Result<std::shared_ptr<LazyFiles>> files = LazyFiles::Open(transfer, "store a", a.dir);
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_NE(*files, nullptr);
  ASSERT_TRUE((*files)->FetchAll(pool_, 4).GetFor(kWait).ok());
  EXPECT_EQ(*ReadTree(a.dir), kTree);
  EXPECT_FALSE(PathExists(RemoteManifestOf(a.dir)));

  // A restore that leaves nothing remote drops an earlier list.
  ASSERT_TRUE(WriteRemoteManifest(a.dir, SnapshotIndex{}).ok());
  ASSERT_TRUE(Restore({a}, c).ok());
  EXPECT_FALSE(PathExists(RemoteManifestOf(a.dir)));
}

// Z.5: a restore whose swap fails leaves the list of the files not local beside the
// contents that the directory then holds: the previous ones' list if it failed before the
// swap, the new one's (or none) if after.
TEST_F(RestoreManagerTest, AFailedSwapLeavesTheListOfTheContentsTheDirectoryHolds) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, kTree).ok());
  Checkpoint c = BackUp({a});
  LoseLocalState(a, c);
  ASSERT_TRUE(Restore({a}, c, {.lazy = true}).ok());
  const std::string list = RemoteManifestOf(a.dir);
  Result<std::string> listed = ReadSmallFile(list, 1 << 20);
  ASSERT_TRUE(listed.ok()) << listed.status();
  Tree without = kTree;
  without.erase("000001.sst");

  ArmFailpoint("restore.before_swap", FailpointAction::kError);
  for (bool lazy : {true, false}) {
    EXPECT_EQ(Restore({a}, c, {.lazy = lazy}).status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(ReadSmallFile(list, 1 << 20).value_or("none"), *listed) << "lazy: " << lazy;
    EXPECT_EQ(*ReadTree(a.dir), without);
  }
  DisarmAllFailpoints();

  ArmFailpoint("restore.after_swap", FailpointAction::kError);
  EXPECT_EQ(Restore({a}, c).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(*ReadTree(a.dir), kTree);  // whole: no list
  EXPECT_FALSE(PathExists(list));
  LoseLocalState(a, c);
  EXPECT_EQ(Restore({a}, c, {.lazy = true}).status().code(), StatusCode::kUnavailable);
  DisarmAllFailpoints();
  EXPECT_EQ(*ReadTree(a.dir), without);
  Transfer transfer(*blobs_, pool_, {});
  Result<std::shared_ptr<LazyFiles>> files = LazyFiles::Open(transfer, "store a", a.dir);
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_NE(*files, nullptr) << "the swapped-in store lacks its list";
  ASSERT_TRUE((*files)->FetchAll(pool_, 4).GetFor(kWait).ok());
  EXPECT_EQ(*ReadTree(a.dir), kTree);
  EXPECT_FALSE(PathExists(RemoteManifestOf(StagingDirOf(a.dir))));
}

// The blobs of each file of snapshot index `blob_id`'s root, by name.
std::map<std::string, std::vector<FileBlob>> RootBlobs(BlobStore& store, Executor& executor,
                                                       const std::string& blob_id) {
  Result<SnapshotIndex> index =
      GetSnapshotIndex(store, executor, blob_id).GetFor(std::chrono::minutes(2));
  EXPECT_TRUE(index.ok()) << index.status();
  std::map<std::string, std::vector<FileBlob>> out;
  if (index.ok()) {
    for (const FileIndex& f : index->root.files_present) out[f.name] = f.blobs;
  }
  return out;
}

// Z.4: a commit of a lazily restored RocksDB store while its tables are not local gets
// none of them and puts none again: its snapshot keeps their blobs, and restores whole.
TEST_F(RestoreManagerTest, ACommitDuringWarmUpKeepsTheBlobsOfTablesNotLocal) {
  StoreConfig a = Store("a");
  a.engine = StoreEngine::kRocksDb;
  {
    Result<std::unique_ptr<RocksDbStore>> db =
        RocksDbStore::Open(a.dir, {.create_if_missing = true});
    ASSERT_TRUE(db.ok()) << db.status();
    // Three tables: one in level 1, two in level 0 (which the lazy open reads first).
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE((*db)->Put("k" + std::to_string(i), RandomBytes(100, i)).ok());
      if (i == 99) {
        ASSERT_TRUE((*db)->Compact().ok());
      }
      if (i == 149 || i == 199) {
        ASSERT_TRUE((*db)->Flush().ok());
      }
    }
  }
  Checkpoint c = BackUp({a});
  LoseLocalState(a, c);
  ASSERT_TRUE(Restore({a}, c, {.lazy = true}).ok());
  auto backup = NewBackup({a});
  ASSERT_TRUE(backup->Init(c).GetFor(kWait).ok());
  ArmFailpoint("lazy.before_part", FailpointAction::kError);  // no download in the background
  const std::string id = NewCheckpointId(), dir = CheckpointDirOf(a.dir, id);
  std::optional<Result<StoreMarkers>> markers;
  {
    Result<std::unique_ptr<RocksDbStore>> db = RocksDbStore::Open(a.dir, {.remote = blobs_.get()});
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_FALSE((*db)->WaitLocal().ok());
    const int gets = blobs_->calls(Method::kGet);
    ASSERT_TRUE((*db)->Put("new", "written during warm-up").ok());
    ASSERT_TRUE((*db)->Checkpoint(dir).ok());
    markers = backup->Upload(id, {{"a", dir}}).GetFor(kWait);
    ASSERT_TRUE(markers->ok()) << markers->status();
    EXPECT_EQ(blobs_->calls(Method::kGet), gets);
  }
  DisarmAllFailpoints();
  ASSERT_TRUE(PathExists(RemoteManifestOf(dir)));  // the tables the checkpoint lacks
  ASSERT_TRUE(backup->Persisted(**markers).ok());
  std::map<std::string, std::vector<FileBlob>> before =
      RootBlobs(*blobs_, pool_, BlobStoreMarkers(c)->at("a"));
  std::map<std::string, std::vector<FileBlob>> after =
      RootBlobs(*blobs_, pool_, (*markers)->at("a"));
  int tables = 0;
  for (const auto& [name, blobs] : before) {
    if (!name.ends_with(".sst")) continue;
    ++tables;
    EXPECT_EQ(after[name], blobs) << name;  // the same blobs: nothing put again
  }
  EXPECT_EQ(tables, 3);

  Checkpoint next{.id = id, .history = true};
  next.state_markers[std::string(kBlobStoreBackend)] = **markers;
  LoseLocalState(a, next);
  ASSERT_TRUE(Restore({a}, next).ok());
  Result<std::unique_ptr<RocksDbStore>> db = RocksDbStore::Open(a.dir, {});
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(*(*db)->Get("new"), std::optional<std::string>("written during warm-up"));
  EXPECT_EQ(*(*db)->Get("k7"), std::optional<std::string>(RandomBytes(100, 7)));
  EXPECT_EQ(*(*db)->Get("k123"), std::optional<std::string>(RandomBytes(100, 123)));
}

TEST_F(RestoreManagerTest, InitFailsForVersion1Checkpoint) {
  Result<void> r = RestoreManager(*blobs_, pool_, "job", "task-0", {Store("a")}, {}, nullptr)
                       .Init(Checkpoint{.version = 1})
                       .GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(RestoreManagerTest, NoCheckpointLeavesEveryStoreEmpty) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, {{"stale", "from before"}}).ok());
  ASSERT_TRUE(RecordStoreDirOwner(a.dir, "job/task-0/a").ok());  // an earlier run's
  Result<std::map<std::string, StoreFigures>> r = Restore({a}, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*ReadTree(a.dir), Tree{});
}

TEST_F(RestoreManagerTest, InitReturnsTheBlobStoreMarkers) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, {{"f", "x"}}).ok());
  Checkpoint c = BackUp({a});
  c.state_markers["changelog"] = {{"a", "17"}};
  RestoreManager restore(*blobs_, pool_, "job", "task-0", {a}, {}, nullptr);
  ASSERT_TRUE(restore.Init(c).GetFor(kWait).ok());
  EXPECT_EQ(restore.markers(), c.state_markers.at(std::string(kBlobStoreBackend)));
}

TEST_F(RestoreManagerTest, InitFailureNamesStoreBlobAndCause) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, {{"f", "x"}}).ok());
  Checkpoint c = BackUp({a});
  std::string index = c.state_markers.at(std::string(kBlobStoreBackend)).at("a");
  ASSERT_TRUE(blobs_->Delete(index).GetFor(kWait).ok());
  Result<std::map<std::string, StoreFigures>> r = Restore({a}, c);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  for (const std::string& part : {std::string("store a"), index, std::string("not found")}) {
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status();
  }
}

TEST_F(RestoreManagerTest, DownloadsOnANewHostAndRecreatesTheWholeTree) {
  StoreConfig a = Store("a"), b = Store("b"), memory = Store("memory", false);
  ASSERT_TRUE(WriteTree(a.dir, kTree).ok());
  ASSERT_TRUE(WriteTree(b.dir, {{"other", "b's"}}).ok());
  Checkpoint c = BackUp({a, b, memory});
  LoseLocalState(a, c);
  LoseLocalState(b, c);
  Result<std::map<std::string, StoreFigures>> r = Restore({a, b, memory}, c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(*ReadTree(a.dir) == kTree)
      << "restored tree differs";  // subdirs, nested, empty files and dirs, multi-part
  EXPECT_EQ(*ReadTree(b.dir), (Tree{{"other", "b's"}}));
  EXPECT_EQ(r->size(), 2u);  // the in-memory store has nothing to restore
  EXPECT_EQ(r->at("a").files_downloaded, 5u);
  EXPECT_EQ(r->at("a").files_reused, 0u);
}

TEST_F(RestoreManagerTest, RestoreReplacesTheWholeStoreDirectory) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, kTree).ok());
  Checkpoint c = BackUp({a});
  ASSERT_TRUE(WriteTree(a.dir, {{"junk", "written after the checkpoint"}, {"junkdir/", ""}}).ok());
  ASSERT_TRUE(Restore({a}, c).ok());  // reuses the local checkpoint
  EXPECT_TRUE(*ReadTree(a.dir) == kTree) << "restored tree differs";
  ASSERT_TRUE(RemoveAll(CheckpointDirOf(a.dir, c.id)).ok());
  ASSERT_TRUE(WriteTree(a.dir, {{"junk", "again"}}).ok());
  ASSERT_TRUE(Restore({a}, c).ok());  // downloads
  EXPECT_TRUE(*ReadTree(a.dir) == kTree) << "restored tree differs";
}

// A store path that is a symlink (which the backup refuses too) or a file fails the
// restore before any store, the good one included, is emptied.
TEST_F(RestoreManagerTest, SymlinkOrFileAsAStoreDirectoryFailsBeforeAnyStoreIsTouched) {
  StoreConfig a = Store("a"), b = Store("b");
  ASSERT_TRUE(WriteTree(a.dir, kTree).ok());
  ASSERT_TRUE(WriteTree(b.dir, {{"g", "b"}}).ok());
  Checkpoint c = BackUp({a, b});
  const std::string target = tmp_.Sub("other-disk/b");
  ASSERT_TRUE(WriteTree(target, {{"kept", "x"}}).ok());
  ASSERT_TRUE(RemoveAll(b.dir).ok());
  ASSERT_EQ(::symlink(target.c_str(), b.dir.c_str()), 0);
  Result<std::map<std::string, StoreFigures>> r = Restore({a, b}, c);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("is a symlink"), std::string::npos) << r.status();
  EXPECT_TRUE(*ReadTree(a.dir) == kTree) << "no store is emptied";
  EXPECT_EQ(*ReadTree(target), (Tree{{"kept", "x"}}));
  ASSERT_TRUE(RemoveAll(b.dir).ok());
  ASSERT_TRUE(WriteFileAtomic(b.dir, "a file").ok());
  r = Restore({a, b}, c);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("is not a directory"), std::string::npos) << r.status();
  EXPECT_EQ(*ReadSmallFile(b.dir), "a file");
  EXPECT_TRUE(*ReadTree(a.dir) == kTree);
}

TEST_F(RestoreManagerTest, ReusesAnIdenticalLocalCheckpointWithoutDownloading) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, kTree).ok());
  Checkpoint c = BackUp({a});
  // A file that was never uploaded (written beside the checkpoint later) is not restored.
  ASSERT_TRUE(WriteTree(CheckpointDirOf(a.dir, c.id), {{"OFFSET", "42"}}).ok());
  ASSERT_TRUE(RemoveAll(a.dir).ok());
  int gets = blobs_->calls(Method::kGet);
  Result<std::map<std::string, StoreFigures>> r = Restore({a}, c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(blobs_->calls(Method::kGet) - gets, 1);  // the index only
  EXPECT_EQ(r->at("a").files_reused, 5u);
  EXPECT_EQ(r->at("a").files_downloaded, 0u);
  EXPECT_TRUE(*ReadTree(a.dir) == kTree) << "restored tree differs";
  struct stat local, restored;
  ASSERT_EQ(stat((CheckpointDirOf(a.dir, c.id) + "/000001.sst").c_str(), &local), 0);
  ASSERT_EQ(stat((a.dir + "/000001.sst").c_str(), &restored), 0);
  EXPECT_EQ(local.st_ino, restored.st_ino);  // SSTs are hard-linked
  ASSERT_EQ(stat((CheckpointDirOf(a.dir, c.id) + "/CURRENT").c_str(), &local), 0);
  ASSERT_EQ(stat((a.dir + "/CURRENT").c_str(), &restored), 0);
  EXPECT_NE(local.st_ino, restored.st_ino);  // mutable files are copied
}

TEST_F(RestoreManagerTest, DownloadsTheFileThatDiffersLocally) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, kTree).ok());
  Checkpoint c = BackUp({a});
  ASSERT_TRUE(WriteTree(CheckpointDirOf(a.dir, c.id), {{"d/file", "y"}}).ok());  // same size
  ASSERT_TRUE(WriteTree(a.dir, {{"d/file", "z"}}).ok());
  Result<std::map<std::string, StoreFigures>> r = Restore({a}, c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->at("a").files_reused, 4u);  // the other files still match
  EXPECT_EQ(r->at("a").files_downloaded, 1u);
  EXPECT_TRUE(*ReadTree(a.dir) == kTree) << "restored tree differs";
}

TEST_F(RestoreManagerTest, StoreWithoutAMarkerStartsEmpty) {
  StoreConfig a = Store("a"), added = Store("added");
  ASSERT_TRUE(WriteTree(a.dir, {{"f", "x"}}).ok());
  Checkpoint c = BackUp({a});
  ASSERT_TRUE(WriteTree(added.dir, {{"stale", "x"}}).ok());
  ASSERT_TRUE(RecordStoreDirOwner(added.dir, "job/task-0/added").ok());
  Result<std::map<std::string, StoreFigures>> r = Restore({a, added}, c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*ReadTree(added.dir), Tree{});
  EXPECT_EQ(*ReadTree(a.dir), (Tree{{"f", "x"}}));
}

TEST_F(RestoreManagerTest, ChecksumsAreVerifiedUnlessTurnedOff) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, {{"f", "payload"}}).ok());
  Checkpoint c = BackUp({a});
  LoseLocalState(a, c);
  // Corrupt the blob in place, same size: only the checksum can tell.
  Result<Tree> stored = ReadTree(BlobDir() + "/blobs");
  ASSERT_TRUE(stored.ok());
  int corrupted = 0;
  for (const auto& [rel, content] : *stored) {
    if (content != "payload") continue;
    ASSERT_TRUE(WriteFileAtomic(BlobDir() + "/blobs/" + rel, "PAYLOAD").ok());
    ++corrupted;
  }
  ASSERT_EQ(corrupted, 1);
  Result<std::map<std::string, StoreFigures>> r = Restore({a}, c);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("store a"), std::string::npos) << r.status();
  ASSERT_TRUE(Restore({a}, c, {.verify_checksums = false}).ok());
  EXPECT_EQ(*ReadTree(a.dir), (Tree{{"f", "PAYLOAD"}}));
}

TEST_F(RestoreManagerTest, HostileIndexFailsBeforeWritingAnything) {
  StoreConfig a = Store("a");
  SnapshotIndex evil;
  evil.metadata.store_name = "a";
  FileIndex f;
  f.name = "../../escape";
  evil.root.files_present.push_back(f);
  std::string id = *PutSnapshotIndex(*blobs_, evil, {.store_name = "a"}).GetFor(kWait);
  Checkpoint c{.id = NewCheckpointId()};
  c.state_markers[std::string(kBlobStoreBackend)]["a"] = id;
  Result<std::map<std::string, StoreFigures>> r = Restore({a}, c);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(PathExists(tmp_.Sub("escape")));
  EXPECT_FALSE(PathExists(tmp_.path() + "/../escape"));
}

}  // namespace
}  // namespace blobstate

namespace blobstate {
namespace {

using testing::ReadTree;
using testing::Tree;
using testing::WriteTree;

class RestoreIdentityTest : public testing::StateTest {
 protected:
  Checkpoint BackUp(const std::vector<StoreConfig>& stores) {
    auto backup = NewBackup(stores);
    EXPECT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
    return Commit(*backup, stores);
  }
  Result<std::map<std::string, StoreFigures>> Restore(const std::vector<StoreConfig>& stores,
                                                      const Checkpoint& c, bool force = false) {
    RestoreManager restore(*blobs_, pool_, "job", "task-0", stores, {.sync = false, .force = force},
                           &metrics_);
    RETURN_IF_ERROR(restore.Init(c).GetFor(kWait));
    return restore.Restore().GetFor(kWait);
  }
  // `store` as on a host that never restored it: no local checkpoint, no lock file.
  void ForgetLocalTraces(const StoreConfig& store, const Checkpoint& c) {
    ASSERT_TRUE(RemoveAll(CheckpointDirOf(store.dir, c.id)).ok());
    ASSERT_TRUE(RemoveAll(store.dir + ".lock").ok());
  }
};

// W.8: a non-empty directory that nothing shows to be the store's is never emptied, and no
// other store is touched, unless forced; a restore then records the owner.
TEST_F(RestoreIdentityTest, UnidentifiedDirectoryIsRefusedUnlessForced) {
  StoreConfig a = Store("a"), b = Store("b");
  ASSERT_TRUE(WriteTree(a.dir, {{"f", "a"}}).ok());
  ASSERT_TRUE(WriteTree(b.dir, {{"g", "b"}}).ok());
  Checkpoint c = BackUp({a, b});
  ForgetLocalTraces(a, c);
  ASSERT_TRUE(RemoveAll(a.dir).ok());
  ASSERT_TRUE(WriteTree(a.dir, {{"precious", "someone else's"}}).ok());
  ASSERT_TRUE(WriteTree(b.dir, {{"g", "changed"}}).ok());
  Result<std::map<std::string, StoreFigures>> refused = Restore({a, b}, c);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(refused.status().message().find(a.dir), std::string::npos) << refused.status();
  EXPECT_NE(refused.status().message().find("--force"), std::string::npos) << refused.status();
  EXPECT_EQ(*ReadTree(a.dir), (Tree{{"precious", "someone else's"}}));
  EXPECT_EQ(*ReadTree(b.dir), (Tree{{"g", "changed"}}));
  ASSERT_TRUE(Restore({a, b}, c, /*force=*/true).ok());
  EXPECT_EQ(*ReadTree(a.dir), (Tree{{"f", "a"}}));
  EXPECT_EQ(*StoreDirOwner(a.dir), "job/task-0/a");
  ASSERT_TRUE(WriteTree(a.dir, {{"junk", "x"}}).ok());
  EXPECT_TRUE(Restore({a, b}, c).ok());  // identified by its lock file now
}

// W.8: a directory whose lock file names another store (here another store of the same
// task, with local checkpoints of the same ids beside it) is never emptied unless forced.
TEST_F(RestoreIdentityTest, ADirectoryRecordedAsAnotherStoresIsRefusedUnlessForced) {
  StoreConfig a = Store("a"), b = Store("b");
  ASSERT_TRUE(WriteTree(a.dir, {{"f", "a"}}).ok());
  ASSERT_TRUE(WriteTree(b.dir, {{"g", "b"}}).ok());
  Checkpoint c = BackUp({a, b});
  ASSERT_TRUE(PathExists(CheckpointDirOf(b.dir, c.id)));
  for (const StoreConfig& s : {a, b}) {  // as the task's first commit records them
    ASSERT_TRUE(RecordStoreDirOwner(s.dir, StoreOwner("job", "task-0", s.name)).ok());
  }
  StoreConfig wrong = a;
  wrong.dir = b.dir;  // a mistyped --store a=...
  Result<std::map<std::string, StoreFigures>> refused = Restore({wrong}, c);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(refused.status().message().find("holds store job/task-0/b"), std::string::npos)
      << refused.status();
  EXPECT_EQ(*ReadTree(b.dir), (Tree{{"g", "b"}}));
  ASSERT_TRUE(Restore({wrong}, c, /*force=*/true).ok());
  EXPECT_EQ(*ReadTree(b.dir), (Tree{{"f", "a"}}));
}

// W.8: "<dir>.restore", which a restore empties, is used only if it is absent, empty, or
// beside a directory whose lock file names the store (a restore records it before it
// stages anything): a directory or file of someone else's at that path is never touched
// unless forced.
TEST_F(RestoreIdentityTest, AStagingAreaNoRestoreOfTheStoreLeftIsRefusedUnlessForced) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, {{"f", "a"}}).ok());
  Checkpoint c = BackUp({a});
  ForgetLocalTraces(a, c);
  ASSERT_TRUE(RemoveAll(a.dir).ok());
  const std::string staging = a.dir + ".restore";
  ASSERT_TRUE(WriteTree(staging, {{"precious", "the operator's"}}).ok());
  Result<std::map<std::string, StoreFigures>> refused = Restore({a}, c);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(refused.status().message().find(staging + ", where a restore"), std::string::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find("--force"), std::string::npos) << refused.status();
  EXPECT_EQ(*ReadTree(staging), (Tree{{"precious", "the operator's"}}));
  EXPECT_FALSE(PathExists(a.dir));
  ASSERT_TRUE(RemoveAll(staging).ok());  // a file there is refused too
  ASSERT_TRUE(WriteFileAtomic(staging, "notes").ok());
  EXPECT_EQ(Restore({a}, c).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadSmallFile(staging, 100), "notes");
  // Recorded as another store's: still not this store's staging area.
  ASSERT_TRUE(RecordStoreDirOwner(a.dir, StoreOwner("job", "task-0", "b")).ok());
  EXPECT_EQ(Restore({a}, c).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadSmallFile(staging, 100), "notes");
  ASSERT_TRUE(Restore({a}, c, /*force=*/true).ok());
  EXPECT_EQ(*ReadTree(a.dir), (Tree{{"f", "a"}}));
  // Recorded as the store's: what an interrupted restore left there is cleared as before.
  ASSERT_TRUE(WriteTree(staging, {{"stale", "x"}}).ok());
  ASSERT_TRUE(Restore({a}, c).ok());
  EXPECT_EQ(*ReadTree(a.dir), (Tree{{"f", "a"}}));
  EXPECT_FALSE(PathExists(staging));
}

// W.8: a directory is the store's if a local checkpoint of the snapshot is beside it, or if
// it is a RocksDB database with the snapshot's IDENTITY; another identity is refused.
TEST_F(RestoreIdentityTest, LocalCheckpointOrRocksDbIdentityIdentifiesTheStore) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, {{"IDENTITY", "db-4711"}, {"CURRENT", "MANIFEST-1"}}).ok());
  Checkpoint c = BackUp({a});
  ASSERT_TRUE(RemoveAll(a.dir + ".lock").ok());
  ASSERT_TRUE(WriteTree(a.dir, {{"000009.log", "newer than the checkpoint"}}).ok());
  EXPECT_TRUE(Restore({a}, c).ok());  // the local checkpoint beside it
  ForgetLocalTraces(a, c);
  ASSERT_TRUE(WriteTree(a.dir, {{"000009.log", "again"}}).ok());
  EXPECT_TRUE(Restore({a}, c).ok());  // the same IDENTITY
  ForgetLocalTraces(a, c);
  ASSERT_TRUE(WriteTree(a.dir, {{"IDENTITY", "another-db"}}).ok());
  EXPECT_EQ(Restore({a}, c).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadTree(a.dir), (Tree{{"IDENTITY", "another-db"}, {"CURRENT", "MANIFEST-1"}}));
}

// W.11: a checkpoint naming another task's snapshot is refused before anything changes.
TEST_F(RestoreIdentityTest, SnapshotOfAnotherTaskIsRefused) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, {{"f", "theirs"}}).ok());
  auto other = NewBackup({a}, {}, "other-task");
  ASSERT_TRUE(other->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint theirs = Commit(*other, {a});
  Result<std::map<std::string, StoreFigures>> r = Restore({a}, theirs, /*force=*/true);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("task other-task, not to job job, task task-0"),
            std::string::npos)
      << r.status();
  EXPECT_EQ(*ReadTree(a.dir), (Tree{{"f", "theirs"}}));
}

// W.7: a RocksDB database open in another process (which holds the fcntl lock on its LOCK
// file, as RocksDB does) is never emptied, even when forced.
TEST_F(RestoreIdentityTest, RocksDbOpenInAnotherProcessIsNeverEmptied) {
  StoreConfig a = Store("a");
  ASSERT_TRUE(WriteTree(a.dir, {{"LOCK", ""}, {"CURRENT", "MANIFEST-1"}}).ok());
  Checkpoint c = BackUp({a});
  const std::string locked = tmp_.Sub("locked"), release = tmp_.Sub("release");
  // Holds an fcntl lock on LOCK until `release` exists (at most 60 s).
  const std::string holder = "python3 -c \"import fcntl,os,time\nf=open('" + a.dir +
                             "/LOCK','r+')\n"
                             "fcntl.lockf(f, fcntl.LOCK_EX)\nopen('" +
                             locked +
                             "','w').close()\n"
                             "t=time.time()\nwhile not os.path.exists('" +
                             release +
                             "') and time.time()-t<60: "
                             "time.sleep(0.01)\" &";
  ASSERT_EQ(std::system(holder.c_str()), 0);
  for (auto deadline = std::chrono::steady_clock::now() + kWait;
       !PathExists(locked) && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(PathExists(locked));
  EXPECT_TRUE(*IsRocksDbOpenElsewhere(a.dir));
  Result<std::map<std::string, StoreFigures>> refused = Restore({a}, c, /*force=*/true);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(refused.status().message().find("another process has open"), std::string::npos);
  EXPECT_EQ(*ReadTree(a.dir), (Tree{{"LOCK", ""}, {"CURRENT", "MANIFEST-1"}}));
  ASSERT_TRUE(WriteFileAtomic(release, "").ok());
  for (auto deadline = std::chrono::steady_clock::now() + kWait;
       *IsRocksDbOpenElsewhere(a.dir) && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(Restore({a}, c).ok());
}

}  // namespace
}  // namespace blobstate
