#include "backup/backup_manager.h"

#include <gtest/gtest.h>

#include "backup/snapshot_cleaner.h"
#include "checkpoint/snapshot_util.h"
#include "index/index_testing.h"
#include "testing/state_fixture.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
using testing::RandomBytes;
using testing::Tree;
using testing::WriteTree;

// R.6: what the writer keeps of each live snapshot is 16 bytes a blob id.
TEST(BlobIdSetTest, HoldsEachIdOnceAndTellsWhatAnIndexHasBeyondIt) {
  auto file = [](std::string name, std::vector<std::string> ids) {
    FileIndex f{.name = std::move(name), .metadata = {.size = 100}};
    for (std::string& id : ids) f.blobs.push_back({std::move(id), f.blobs.size()});
    return f;
  };
  DirIndex a;
  a.files_present = {file("x", {"j/1", "j/2"}), file("y", {"j/2"})};
  a.subdirs_present.push_back(DirIndex{.name = "d", .files_present = {file("z", {"j/3"})}});
  DirIndex b;
  b.files_present = {file("x", {"j/1", "j/4"})};
  BlobIdSet set = BlobIdSet::Of(a);
  EXPECT_EQ(set.size(), 3u);
  for (const char* id : {"j/1", "j/2", "j/3"}) EXPECT_TRUE(set.Contains(id)) << id;
  EXPECT_FALSE(set.Contains("j/4"));
  EXPECT_EQ(BlobsNotIn(b, set), (std::vector<std::string>{"j/4"}));
  set.Add(BlobIdSet::Of(b));
  EXPECT_EQ(set.size(), 4u);
  EXPECT_TRUE(BlobsNotIn(b, set).empty());
  EXPECT_EQ(BlobsNotIn(a, BlobIdSet()).size(), 3u);
  // The same set from the index in a file, read a directory at a time.
  Result<std::shared_ptr<const IndexFile>> in_file =
      testing::IndexFileOf(EncodeSnapshotIndex(SnapshotIndex{.root = a}));
  ASSERT_TRUE(in_file.ok()) << in_file.status();
  Result<BlobIdSet> from_file = BlobIdSet::Of(**in_file);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->size(), 3u);
  for (const char* id : {"j/1", "j/2", "j/3"}) EXPECT_TRUE(from_file->Contains(id)) << id;
}

class BackupManagerTest : public testing::StateTest {
 protected:
  void Write(const StoreConfig& store, const Tree& tree) {
    ASSERT_TRUE(WriteTree(store.dir, tree).ok());
  }
  void Remove(const StoreConfig& store, const std::string& rel) {
    ASSERT_TRUE(RemoveAll(JoinPath(store.dir, rel)).ok());
  }
  SnapshotIndex IndexOf(const Checkpoint& c, const std::string& store) {
    Result<StoreSnapshots> s = GetStoreSnapshots(*blobs_, pool_, c, {store}).GetFor(kWait);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() && s->count(store) ? s->at(store).index : SnapshotIndex{};
  }
};

TEST_F(BackupManagerTest, InitRejectsVersion1Checkpoint) {
  auto backup = NewBackup({Store("a")});
  Result<void> r = backup->Init(Checkpoint{.version = 1}).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("version 1"), std::string::npos) << r.status();
}

TEST_F(BackupManagerTest, InitAcceptsNoCheckpointAndFirstUploadPutsEverything) {
  StoreConfig a = Store("a");
  Write(a, {{"f1", "one"}, {"d/f2", RandomBytes(2500, 1)}, {"empty", ""}, {"e/", ""}});
  auto backup = NewBackup({a});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c = Commit(*backup, {a});
  SnapshotIndex index = IndexOf(c, "a");
  EXPECT_TRUE(index.prev_snapshot_index_blob_id.empty());
  EXPECT_EQ(index.metadata.checkpoint_id, c.id);
  EXPECT_EQ(index.metadata.store_name, "a");
  StoreFigures f = backup->LastFigures().at("a");
  EXPECT_EQ(f.files_uploaded, 3u);
  EXPECT_EQ(f.bytes_uploaded, 2503u);
  EXPECT_EQ(f.files_retained, 0u);
  ExpectExactlyReferenced(c);
}

TEST_F(BackupManagerTest, UploadReturnsIndexIdsAndEachSnapshotRecordsThePrevious) {
  StoreConfig a = Store("a"), b = Store("b");
  Write(a, {{"f", "x"}});
  Write(b, {{"g", "y"}});
  auto backup = NewBackup({a, b});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint first = Commit(*backup, {a, b});
  Write(a, {{"f2", "z"}});
  Checkpoint second = Commit(*backup, {a, b});
  const StoreMarkers& m1 = first.state_markers.at(std::string(kBlobStoreBackend));
  const StoreMarkers& m2 = second.state_markers.at(std::string(kBlobStoreBackend));
  ASSERT_EQ(m2.size(), 2u);
  EXPECT_EQ(IndexOf(second, "a").prev_snapshot_index_blob_id, m1.at("a"));
  EXPECT_EQ(IndexOf(second, "b").prev_snapshot_index_blob_id, m1.at("b"));
  EXPECT_NE(m1.at("b"), m2.at("b"));  // a new index per commit, even unchanged
}

TEST_F(BackupManagerTest, SubsequentUploadDiffsAgainstTheCheckpointGivenAtInit) {
  StoreConfig a = Store("a");
  Write(a, {{"keep", RandomBytes(3000, 2)}, {"change", "v1"}});
  auto first = NewBackup({a});
  ASSERT_TRUE(first->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c1 = Commit(*first, {a});
  first.reset();
  // A restarted task: a new manager that knows only the checkpoint.
  Write(a, {{"change", "v2"}});
  auto second = NewBackup({a});
  ASSERT_TRUE(second->Init(c1).GetFor(kWait).ok());
  int puts_before = blobs_->calls(Method::kPut);
  Checkpoint c2 = Commit(*second, {a});
  EXPECT_EQ(blobs_->calls(Method::kPut) - puts_before, 2);  // the changed file and the index
  StoreFigures f = second->LastFigures().at("a");
  EXPECT_EQ(f.files_uploaded, 1u);
  EXPECT_EQ(f.files_retained, 1u);
  EXPECT_EQ(f.bytes_retained, 3000u);
  EXPECT_EQ(f.files_removed, 1u);  // the old "change"
  ExpectExactlyReferenced(c2);
}

TEST_F(BackupManagerTest, DiffIsRightAtStartAndAfterEachCommit) {
  StoreConfig a = Store("a");
  auto backup = NewBackup({a});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  struct Step {
    Tree write;
    std::vector<std::string> remove;
    uint64_t uploaded, retained, removed;
  } steps[] = {
      {{{"a", "1"}, {"d/b", "2"}, {"d/e/c", "3"}}, {}, 3, 0, 0},
      {{}, {}, 0, 3, 0},                   // nothing changed
      {{{"d/b", "22"}}, {}, 1, 2, 1},      // changed
      {{{"new", "n"}}, {"d/e"}, 1, 2, 1},  // added, subdir removed
      {{{"d/b", "22"}}, {"a"}, 0, 2, 1},   // rewritten identically, removed
  };
  Checkpoint last;
  for (const Step& step : steps) {
    Write(a, step.write);
    for (const std::string& rel : step.remove) Remove(a, rel);
    last = Commit(*backup, {a});
    StoreFigures f = backup->LastFigures().at("a");
    EXPECT_EQ(f.files_uploaded, step.uploaded);
    EXPECT_EQ(f.files_retained, step.retained);
    EXPECT_EQ(f.files_removed, step.removed);
    ExpectExactlyReferenced(last);
  }
}

TEST_F(BackupManagerTest, OnlyPersistentStoresAreBackedUpLoggedOrNot) {
  StoreConfig logged = Store("logged"), plain = Store("plain"), memory = Store("memory", false);
  logged.logged = true;
  Write(logged, {{"f", "l"}});
  Write(plain, {{"f", "p"}});
  auto backup = NewBackup({logged, plain, memory});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c = Commit(*backup, {logged, plain, memory});
  const StoreMarkers& m = c.state_markers.at(std::string(kBlobStoreBackend));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.count("memory"), 0u);
  EXPECT_EQ(backup->LastFigures().count("memory"), 0u);
}

// H.5: a checkpoint with Upload's markers names no blob with a TTL, even if nothing after
// its persist runs; requests grow with the change (one file), not the state (21 blobs).
TEST_F(BackupManagerTest, UploadRemovesTheTtlsOfItsNewBlobsAndIndexBeforeReturning) {
  StoreConfig a = Store("a");
  std::string big = RandomBytes(20'000, 3);  // 20 parts
  Write(a, {{"big", big}, {"small", "s"}});
  auto backup = NewBackup({a});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Commit(*backup, {a});
  Write(a, {{"small", "s2"}});
  Checkpoint c = {.id = NewCheckpointId(), .history = true};
  int before = blobs_->calls(Method::kRemoveTtl);
  Result<StoreMarkers> m = backup->Upload(c.id, SnapshotDirs({a}, c.id)).GetFor(kWait);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(blobs_->calls(Method::kRemoveTtl) - before, 2);  // the new blob and the new index
  EXPECT_TRUE(TtlBlobs().empty());
  c.state_markers[std::string(kBlobStoreBackend)] = *m;
  ExpectReferencedIntact(c);
  ASSERT_TRUE(backup->Persisted(c.state_markers[std::string(kBlobStoreBackend)]).ok());

  // Nothing changed: only the new index has a TTL to remove.
  Checkpoint same = {.id = NewCheckpointId(), .history = true};
  before = blobs_->calls(Method::kRemoveTtl);
  m = backup->Upload(same.id, SnapshotDirs({a}, same.id)).GetFor(kWait);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(blobs_->calls(Method::kRemoveTtl) - before, 1);
  EXPECT_TRUE(TtlBlobs().empty());
  same.state_markers[std::string(kBlobStoreBackend)] = *m;
  ExpectReferencedIntact(same);
}

// H.6: an upload that took more than half the TTL removes no TTL and fails: its first
// blobs could expire (and be deleted by gc or a lifecycle rule) before a checkpoint names
// them. What it put is deleted again.
TEST_F(BackupManagerTest, UploadOlderThanHalfTheTtlFailsBeforeRemovingAnyTtl) {
  StoreConfig a = Store("a");
  Write(a, {{"f", "1"}});
  BackupOptions options;
  options.ttl = std::chrono::seconds(2);
  auto backup = NewBackup({a}, options);
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  blobs_->Script(Method::kPut, blobs_->calls(Method::kPut) + 2, Fault::Delay(1500ms));  // the index
  const int untags = blobs_->calls(Method::kRemoveTtl);
  std::string id = NewCheckpointId();
  Result<StoreMarkers> m = backup->Upload(id, SnapshotDirs({a}, id)).GetFor(kWait);
  EXPECT_EQ(m.status().code(), StatusCode::kDeadlineExceeded) << m.status();
  EXPECT_NE(m.status().message().find("more than half the blob TTL (2 s)"), std::string::npos)
      << m.status();
  EXPECT_EQ(blobs_->calls(Method::kRemoveTtl), untags);
  EXPECT_TRUE(AllBlobs().empty());
}
TEST_F(BackupManagerTest, ExpireDeletesThePreviousIndexAndRemovedFilesAndSubdirs) {
  StoreConfig a = Store("a");
  Write(a, {{"f", "1"}, {"d/g", "2"}, {"d/e/h", "3"}, {"keep", "k"}});
  auto backup = NewBackup({a});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c1 = Commit(*backup, {a});
  std::string old_index = c1.state_markers.at(std::string(kBlobStoreBackend)).at("a");
  SnapshotIndex i1 = IndexOf(c1, "a");
  Remove(a, "f");
  Remove(a, "d");
  Checkpoint c2 = Commit(*backup, {a});
  std::set<std::string> all = AllBlobs();
  EXPECT_EQ(all.count(old_index), 0u);
  for (const std::string& id : BlobIdsOf(i1.root)) {
    bool kept = id == IndexOf(c2, "a").root.files_present[0].blobs[0].blob_id;
    EXPECT_EQ(all.count(id), kept ? 1u : 0u) << id;
  }
  ExpectExactlyReferenced(c2);
}

// A store removed from the configuration keeps its snapshot while a checkpoint that names
// it is kept; the checkpoint that drops it lists it as expiring, and Expire deletes it.
TEST_F(BackupManagerTest, SnapshotsOfRemovedStoresAreDeletedOnceACheckpointWithoutThemPersists) {
  StoreConfig a = Store("a"), gone = Store("gone");
  Write(a, {{"f", "a"}});
  Write(gone, {{"f", "g"}, {"d/h", "h"}});
  auto before = NewBackup({a, gone});
  ASSERT_TRUE(before->Init(std::nullopt).GetFor(kWait).ok());
  Commit(*before, {a, gone});
  Checkpoint c = Commit(*before, {a, gone});
  before.reset();
  auto after = NewBackup({a});  // "gone" was removed from the configuration
  ASSERT_TRUE(after->Init(c).GetFor(kWait).ok());
  ExpectExactlyReferenced(c);  // Init deletes nothing: c is still the latest checkpoint
  Checkpoint persisted;
  Checkpoint next = Commit(*after, {a}, [&](const Checkpoint& p) { persisted = p; });
  const std::string gone_id = c.state_markers.at(std::string(kBlobStoreBackend)).at("gone");
  EXPECT_NE(std::find(persisted.expiring.begin(), persisted.expiring.end(),
                      ExpiringSnapshot{c.id, "gone", gone_id}),
            persisted.expiring.end());
  EXPECT_EQ(persisted.state_markers.at(std::string(kBlobStoreBackend)).count("gone"), 0u);
  ExpectExactlyReferenced(next);
}

// H.1: a store removed from the configuration while retained checkpoints still name it:
// the expiry of one of its snapshots fetches what its live ones keep (none of them is this
// manager's) and deletes only what none of them names.
TEST_F(BackupManagerTest, ExpiryOfARemovedStoresSnapshotKeepsWhatItsLiveSnapshotsName) {
  StoreConfig a = Store("a"), gone = Store("gone");
  Write(a, {{"f", "a"}});
  Write(gone, {{"kept", "k"}, {"changed", "1"}});
  auto before = NewBackup({a, gone});
  ASSERT_TRUE(before->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c1 = Commit(*before, {a, gone});
  Write(gone, {{"changed", "2"}});
  // c2 retains c1, as a retention policy does: c1's snapshots stay.
  Checkpoint c2{.id = NewCheckpointId(), .history = true};
  Result<StoreMarkers> m = before->Upload(c2.id, SnapshotDirs({a, gone}, c2.id)).GetFor(kWait);
  ASSERT_TRUE(m.ok()) << m.status();
  c2.state_markers[std::string(kBlobStoreBackend)] = *m;
  ASSERT_TRUE(before->Persisted(*m).ok());
  before.reset();
  auto after = NewBackup({a});  // "gone" was removed from the configuration
  ASSERT_TRUE(after->Init(c2).GetFor(kWait).ok());
  const std::string g1 = c1.state_markers.at(std::string(kBlobStoreBackend)).at("gone");
  const std::set<std::string> kept = Referenced(c2);
  Result<ExpireOutcome> out = after->Expire({{c1.id, "gone", g1}}, LiveOf(c2)).GetFor(kWait);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->error.ok()) << out->error;
  EXPECT_EQ(out->done.size(), 1u);
  const std::set<std::string> all = AllBlobs();
  for (const std::string& id : kept) EXPECT_EQ(all.count(id), 1u) << id;
  EXPECT_EQ(all.count(g1), 0u);
}

// H.4: a crash after the checkpoint that lists expiring snapshots is persisted and before
// they are deleted: the restarted task's Expire (the engine runs it at open) deletes them.
TEST_F(BackupManagerTest, ExpiringSnapshotsLeftByACrashAreDeletedByTheNextExpire) {
  StoreConfig a = Store("a"), gone = Store("gone");
  Write(a, {{"f", "a"}});
  Write(gone, {{"g", "g"}});
  auto before = NewBackup({a, gone});
  ASSERT_TRUE(before->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c1 = Commit(*before, {a, gone});
  before.reset();
  auto crashing = NewBackup({a});
  ASSERT_TRUE(crashing->Init(c1).GetFor(kWait).ok());
  Write(a, {{"f", "a2"}});
  Checkpoint c2{.id = NewCheckpointId(), .history = true};
  Result<StoreMarkers> m = crashing->Upload(c2.id, SnapshotDirs({a}, c2.id)).GetFor(kWait);
  ASSERT_TRUE(m.ok()) << m.status();
  c2.state_markers[std::string(kBlobStoreBackend)] = *m;
  for (const auto& [store, id] : c1.state_markers.at(std::string(kBlobStoreBackend))) {
    c2.expiring.push_back({c1.id, store, id});
  }
  crashing.reset();  // c2 is persisted; the process dies before Expire
  auto restarted = NewBackup({a});
  ASSERT_TRUE(restarted->Init(c2).GetFor(kWait).ok());
  Result<ExpireOutcome> out = restarted->Expire(c2.expiring, LiveOf(c2)).GetFor(kWait);
  ASSERT_TRUE(out.ok() && out->error.ok());
  EXPECT_EQ(out->done, c2.expiring);
  ExpectExactlyReferenced(c2);
  out = restarted->Expire(c2.expiring, LiveOf(c2)).GetFor(kWait);  // again: all gone, done
  ASSERT_TRUE(out.ok() && out->error.ok());
  EXPECT_EQ(out->done, c2.expiring);
}
// Forged or corrupt links (a previous index that is another store's live snapshot, an
// expiring entry naming a live snapshot or another store's) fail with kDataLoss or are
// skipped, and delete nothing of a live snapshot.
TEST_F(BackupManagerTest, LinksToAnotherStoresSnapshotAreDataLossAndDeleteNothing) {
  StoreConfig a = Store("a"), b = Store("b");
  Write(a, {{"f", "a"}});
  Write(b, {{"g", "b"}});
  auto backup = NewBackup({a, b});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c = Commit(*backup, {a, b});
  backup.reset();
  const StoreMarkers live = c.state_markers.at(std::string(kBlobStoreBackend));
  // Store a's next snapshot, as if its previous one were store b's, in a checkpoint of a
  // writer from before history (whose recovery follows previous-index links).
  SnapshotIndex forged = IndexOf(c, "a");
  forged.prev_snapshot_index_blob_id = live.at("b");
  Result<std::string> forged_id =
      PutSnapshotIndex(*blobs_, forged,
                       {.job_name = "job", .task_name = "task", .ttl = std::chrono::hours(1)})
          .GetFor(kWait);
  ASSERT_TRUE(forged_id.ok()) << forged_id.status();
  Checkpoint bad = c;
  bad.history = false;
  bad.state_markers[std::string(kBlobStoreBackend)]["a"] = *forged_id;
  auto recovering = NewBackup({a, b});
  Result<void> init = recovering->Init(bad).GetFor(kWait);
  EXPECT_EQ(init.status().code(), StatusCode::kDataLoss) << init.status();
  EXPECT_NE(init.status().message().find("store b, not to job"), std::string::npos)
      << init.status();
  ASSERT_TRUE(blobs_->Delete(*forged_id).GetFor(kWait).ok());
  // Expiring entries that name a live snapshot, under its own store's name or another one's:
  // nothing of it is deleted, and both count as done (listed again, they would fail every
  // later commit); the other store's is reported.
  auto cleaning = NewBackup({a, b});
  ASSERT_TRUE(cleaning->Init(c).GetFor(kWait).ok());
  std::vector<ExpiringSnapshot> targets = {{c.id, "b", live.at("b")}, {c.id, "gone", live.at("a")}};
  Result<ExpireOutcome> out = cleaning->Expire(targets, LiveOf(c)).GetFor(kWait);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->done, targets);
  EXPECT_EQ(out->error.code(), StatusCode::kDataLoss) << out->error;
  ExpectExactlyReferenced(c);
  // A checkpoint whose marker names another task's snapshot of a store of the same name:
  // this task's recovery must not clean up (delete) anything of it.
  Checkpoint legacy = c;
  legacy.history = false;
  auto other_task = NewBackup({a}, BackupOptions{}, "other-task");
  Result<void> other = other_task->Init(legacy).GetFor(kWait);
  EXPECT_EQ(other.status().code(), StatusCode::kDataLoss) << other.status();
  ExpectExactlyReferenced(c);
}
TEST_F(BackupManagerTest, FailedUploadDoesNotPoisonLaterCommits) {
  StoreConfig a = Store("a"), b = Store("b");
  Write(a, {{"f", "1"}});
  Write(b, {{"g", "2"}});
  auto backup = NewBackup({a, b});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c1 = Commit(*backup, {a, b});
  Write(a, {{"f", "changed"}});
  Write(b, {{"g", "changed too"}});
  blobs_->Script(Method::kPut, blobs_->calls(Method::kPut) + 2,
                 Fault::SyncError(PermissionDeniedError("injected")));
  std::string id = NewCheckpointId();
  Result<StoreMarkers> failed = backup->Upload(id, SnapshotDirs({a, b}, id)).GetFor(kWait);
  EXPECT_EQ(failed.status().code(), StatusCode::kPermissionDenied);
  ExpectExactlyReferenced(c1);  // what the failed upload put is gone again
  Checkpoint c2 = Commit(*backup, {a, b});
  EXPECT_EQ(backup->LastFigures().at("a").files_uploaded, 1u);  // diffed against c1
  ExpectExactlyReferenced(c2);
}

TEST_F(BackupManagerTest, FailedIndexPutDeletesTheFilesItsUploadPut) {
  StoreConfig a = Store("a");
  Write(a, {{"f", "1"}});
  auto backup = NewBackup({a});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c1 = Commit(*backup, {a});
  Write(a, {{"f", "changed"}});
  // One store, one changed file: the first put is the file's, the second the index's.
  blobs_->Script(Method::kPut, blobs_->calls(Method::kPut) + 2,
                 Fault::AsyncError(UnavailableError("injected")));
  std::string id = NewCheckpointId();
  Result<StoreMarkers> failed = backup->Upload(id, SnapshotDirs({a}, id)).GetFor(kWait);
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  // The index's put took effect before its reply was lost; that orphan keeps its TTL. The
  // file's blob, which no index names, is gone.
  std::set<std::string> left = AllBlobs(), referenced = Referenced(c1);
  for (const std::string& blob : left) {
    if (referenced.count(blob)) continue;
    EXPECT_TRUE(blob.ends_with("-snapshot-index")) << blob << " should have been deleted";
    EXPECT_TRUE(TtlBlobs().count(blob)) << blob;
  }
}

TEST_F(BackupManagerTest, FailedExpireIsFinishedByTheNextOneAndIsIdempotent) {
  StoreConfig a = Store("a");
  Write(a, {{"f", "1"}, {"g", "2"}});
  auto backup = NewBackup({a});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c1 = Commit(*backup, {a});
  Write(a, {{"f", "11"}});
  Checkpoint c2{.id = NewCheckpointId(), .history = true};
  StoreMarkers m2 = *backup->Upload(c2.id, SnapshotDirs({a}, c2.id)).GetFor(kWait);
  c2.state_markers[std::string(kBlobStoreBackend)] = m2;
  c2.expiring = {{c1.id, "a", c1.state_markers.at(std::string(kBlobStoreBackend)).at("a")}};
  ASSERT_TRUE(backup->Persisted(m2).ok());
  blobs_->ScriptAll(Method::kDelete, Fault::SyncError(UnavailableError("injected")));
  Result<ExpireOutcome> out = backup->Expire(c2.expiring, LiveOf(c2)).GetFor(kWait);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->done.empty());
  EXPECT_EQ(out->error.code(), StatusCode::kUnavailable);
  EXPECT_NE(out->error.message().find("store a (checkpoint " + c1.id), std::string::npos)
      << out->error;
  blobs_->ClearScripts();
  for (int i = 0; i < 2; ++i) {  // runs what was left; then a no-op
    out = backup->Expire(c2.expiring, LiveOf(c2)).GetFor(kWait);
    ASSERT_TRUE(out.ok() && out->error.ok());
    EXPECT_EQ(out->done, c2.expiring);
    ExpectExactlyReferenced(c2);
  }
}
// H.10: a writer from before history removed TTLs and deleted the previous snapshot after
// the persist; a crash before that cleanup leaves the previous index present, and Init of
// such a checkpoint finishes it.
TEST_F(BackupManagerTest, InitAfterACrashInALegacyCleanupFinishesIt) {
  StoreConfig a = Store("a");
  Write(a, {{"f", "1"}, {"d/g", "2"}});
  auto backup = NewBackup({a});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Commit(*backup, {a});
  Write(a, {{"f", "changed"}});
  Remove(a, "d");
  Checkpoint c2{.id = NewCheckpointId()};  // no history: a writer from before it
  StoreMarkers m2 = *backup->Upload(c2.id, SnapshotDirs({a}, c2.id)).GetFor(kWait);
  c2.state_markers[std::string(kBlobStoreBackend)] = m2;
  // The checkpoint is persisted, then the container dies before cleanup.
  backup.reset();
  auto restarted = NewBackup({a});
  ASSERT_TRUE(restarted->Init(c2).GetFor(kWait).ok());
  ExpectExactlyReferenced(c2);
  ASSERT_TRUE(restarted->Init(c2).GetFor(kWait).ok());  // again: nothing left to do
  ExpectExactlyReferenced(c2);
}
// Requests grow with the change: a restart costs no request per blob; with history, Init
// makes none at all (its blobs lost their TTLs before the persist).
TEST_F(BackupManagerTest, RestartOfAWriterWithHistoryMakesNoRequest) {
  StoreConfig a = Store("a");
  Write(a, {{"f", "1"}, {"g", "2"}, {"d/h", "3"}});
  auto backup = NewBackup({a});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c1 = Commit(*backup, {a});
  backup.reset();
  Result<StoreIndexes> snapshots =
      GetStoreIndexes(*blobs_, pool_, c1, {{"a", DirName(a.dir)}}).GetFor(kWait);
  ASSERT_TRUE(snapshots.ok());
  const int calls = blobs_->calls(Method::kRemoveTtl) + blobs_->calls(Method::kExpiryOf) +
                    blobs_->calls(Method::kGet) + blobs_->calls(Method::kDelete);
  auto restarted = NewBackup({a});
  ASSERT_TRUE(
      restarted->Init(c1, std::make_shared<const StoreIndexes>(*snapshots)).GetFor(kWait).ok());
  EXPECT_EQ(blobs_->calls(Method::kRemoveTtl) + blobs_->calls(Method::kExpiryOf) +
                blobs_->calls(Method::kGet) + blobs_->calls(Method::kDelete),
            calls);
  ExpectExactlyReferenced(c1);
}
// H.10: a first snapshot of a writer from before history, persisted with its TTLs (its
// cleanup removed them after the persist), then a crash: Init removes them.
TEST_F(BackupManagerTest, RestartAfterAnInterruptedLegacyFirstCleanupFinishesIt) {
  StoreConfig a = Store("a");
  Write(a, {{"f", "1"}, {"g", "2"}});
  const BlobMetadata meta{
      .job_name = "job", .task_name = "task-0", .store_name = "a", .ttl = std::chrono::hours(1)};
  Transfer transfer(*blobs_, pool_, {.part_size = 1000, .ttl = meta.ttl});
  DirIndex root;
  for (const std::string name : {"f", "g"}) {
    struct stat st;
    ASSERT_EQ(::lstat(JoinPath(a.dir, name).c_str(), &st), 0);
    Result<FileIndex> put =
        transfer.PutFile(JoinPath(a.dir, name), LocalFile{name, MetadataForIndex(st, {})}, meta)
            .GetFor(kWait);
    ASSERT_TRUE(put.ok()) << put.status();
    root.files_present.push_back(std::move(*put));
  }
  SnapshotIndex index{.metadata = {.checkpoint_id = NewCheckpointId(),
                                   .job_name = "job",
                                   .task_name = "task-0",
                                   .store_name = "a"},
                      .root = root};
  Result<std::string> index_id = PutSnapshotIndex(*blobs_, index, meta).GetFor(kWait);
  ASSERT_TRUE(index_id.ok()) << index_id.status();
  Checkpoint c1{.id = index.metadata.checkpoint_id};
  c1.state_markers[std::string(kBlobStoreBackend)]["a"] = *index_id;
  EXPECT_EQ(TtlBlobs().size(), 3u);
  auto restarted = NewBackup({a});
  ASSERT_TRUE(restarted->Init(c1).GetFor(kWait).ok());
  ExpectExactlyReferenced(c1);
}
TEST_F(BackupManagerTest, DeleteOldCheckpointDirsKeepsOnlyTheLatest) {
  StoreConfig a = Store("a");
  Write(a, {{"f", "1"}});
  auto backup = NewBackup({a});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c1 = Commit(*backup, {a});
  EXPECT_TRUE(PathExists(CheckpointDirOf(a.dir, c1.id)));
  Checkpoint c2 = Commit(*backup, {a});
  ASSERT_TRUE(backup->DeleteOldCheckpointDirs(c2.id).GetFor(kWait).ok());
  EXPECT_FALSE(PathExists(CheckpointDirOf(a.dir, c1.id)));
  EXPECT_TRUE(PathExists(CheckpointDirOf(a.dir, c2.id)));
}

TEST_F(BackupManagerTest, UploadWithoutADirectoryForAStoreNamesIt) {
  auto backup = NewBackup({Store("a"), Store("b")});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Result<StoreMarkers> r = backup->Upload(NewCheckpointId(), {{"a", "/nonexistent"}}).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("store b"), std::string::npos);
}

TEST_F(BackupManagerTest, MetricsCountEachStoreAndTheTotal) {
  StoreConfig a = Store("a"), b = Store("b");
  Write(a, {{"f", "12345"}});
  Write(b, {{"g", "123"}});
  auto backup = NewBackup({a, b});
  ASSERT_TRUE(backup->Init(std::nullopt).GetFor(kWait).ok());
  Commit(*backup, {a, b});
  std::string text = metrics_sink_.Text();
  EXPECT_NE(text.find(R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="a"} 5)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="_all"} 8)"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace blobstate

namespace blobstate {
namespace {

// W.11: an index that names another task's blob (forged, or a bug) fails recovery with
// kDataLoss before anything is untagged or deleted: that blob keeps its TTL and survives.
TEST_F(BackupManagerTest, IndexNamingAnotherTasksBlobChangesNothing) {
  StoreConfig a = Store("a");
  Write(a, {{"f", "mine"}});
  auto other = NewBackup({a}, BackupOptions{}, "other-task");
  ASSERT_TRUE(other->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint theirs = Commit(*other, {a});
  const std::string foreign = IndexOf(theirs, "a").root.files_present.at(0).blobs.at(0).blob_id;
  ASSERT_TRUE(blobs_->inner().RemoveTtl(foreign).GetFor(kWait).ok());
  auto mine = NewBackup({a});
  ASSERT_TRUE(mine->Init(std::nullopt).GetFor(kWait).ok());
  Checkpoint c = Commit(*mine, {a});
  // A next snapshot of store a whose file names the other task's blob, its cleanup undone
  // (the previous index still there), as a crash would leave it.
  SnapshotIndex forged = IndexOf(c, "a");
  forged.root.files_present.at(0).blobs.at(0).blob_id = foreign;
  forged.prev_snapshot_index_blob_id = c.state_markers.at(std::string(kBlobStoreBackend)).at("a");
  Result<std::string> forged_id =
      PutSnapshotIndex(*blobs_, forged,
                       {.job_name = "job", .task_name = "task-0", .ttl = std::chrono::hours(1)})
          .GetFor(kWait);
  ASSERT_TRUE(forged_id.ok()) << forged_id.status();
  Checkpoint bad = c;
  bad.history = false;  // a writer from before history: recovery follows the link
  bad.state_markers[std::string(kBlobStoreBackend)]["a"] = *forged_id;
  const int untags = blobs_->calls(Method::kRemoveTtl), deletes = blobs_->calls(Method::kDelete);
  auto recovering = NewBackup({a});
  Result<void> init = recovering->Init(bad).GetFor(kWait);
  EXPECT_EQ(init.status().code(), StatusCode::kDataLoss) << init.status();
  EXPECT_NE(init.status().message().find("names blob " + foreign), std::string::npos)
      << init.status();
  EXPECT_EQ(blobs_->calls(Method::kRemoveTtl), untags);
  EXPECT_EQ(blobs_->calls(Method::kDelete), deletes);
  EXPECT_TRUE(AllBlobs().count(foreign));
}

}  // namespace
}  // namespace blobstate
