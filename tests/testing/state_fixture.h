// A fixture for backup and restore tests: a task with stores (plain directories) on a
// file:// blob store behind a FaultyBlobStore, committing the way a task does.
#ifndef BLOBSTATE_TESTS_TESTING_STATE_FIXTURE_H_
#define BLOBSTATE_TESTS_TESTING_STATE_FIXTURE_H_

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "backup/backup_manager.h"
#include "blobstate/checkpoint.h"
#include "blobstate/metrics.h"
#include "restore/restore_manager.h"
#include "blobstate/snapshot.h"
#include "blobstore/faulty/faulty_blob_store.h"
#include "testing/temp_dir.h"

namespace blobstate::testing {

using namespace std::chrono_literals;

class StateTest : public ::testing::Test {
 protected:
  static constexpr auto kWait = std::chrono::seconds(120);
  using Fault = FaultyBlobStore::Fault;
  using Method = FaultyBlobStore::Method;

  void SetUp() override {
    Result<std::unique_ptr<BlobStore>> s = OpenBlobStore("file://" + BlobDir(), {});
    ASSERT_TRUE(s.ok()) << s.status();
    blobs_ = std::make_unique<FaultyBlobStore>(std::move(*s));
  }

  std::string BlobDir() const { return tmp_.Sub("blobs"); }

  StoreConfig Store(const std::string& name, bool persistent = true) {
    return {
        .name = name, .dir = persistent ? tmp_.Sub("state/" + name) : "", .persistent = persistent};
  }

  std::unique_ptr<BackupManager> NewBackup(std::vector<StoreConfig> stores,
                                           BackupOptions options = {},
                                           const std::string& task = "task-0") {
    options.transfer.part_size = 1000;
    return std::make_unique<BackupManager>(*blobs_, pool_, "job", task, std::move(stores), options,
                                           &metrics_);
  }

  // Snapshots each store's directory into its checkpoint directory (by hard links).
  std::map<std::string, std::string> SnapshotDirs(const std::vector<StoreConfig>& stores,
                                                  const std::string& id) {
    std::map<std::string, std::string> dirs;
    for (const StoreConfig& s : stores) {
      if (!s.BackedUp()) continue;
      dirs[s.name] = CheckpointDirOf(s.dir, id);
      EXPECT_TRUE(CloneTree(s.dir, dirs[s.name], [](std::string_view) { return true; }).ok());
    }
    return dirs;
  }

  // Upload, persist (returned, not written), cleanup: one commit. Fails the test on error.
  // Upload, the checkpoint (persisted by the caller as it pleases; `persisted` sees it
  // before Cleanup), then Cleanup.
  Checkpoint Commit(BackupManager& backup, const std::vector<StoreConfig>& stores,
                    const std::function<void(const Checkpoint&)>& persisted = {}) {
    Checkpoint c{.id = NewCheckpointId()};
    Result<StoreMarkers> markers = backup.Upload(c.id, SnapshotDirs(stores, c.id)).GetFor(kWait);
    EXPECT_TRUE(markers.ok()) << markers.status();
    if (!markers.ok()) return c;
    backup.RecordMarkers(*markers, c);
    if (persisted) persisted(c);
    Status s = backup.Cleanup(c.id, *markers).GetFor(kWait).status();
    EXPECT_TRUE(s.ok()) << s;
    return c;
  }

  // Every blob id in the file:// store.
  std::set<std::string> AllBlobs() { return FileStoreBlobIds(BlobDir()); }

  // Blobs that have a TTL (expired or not).
  std::set<std::string> TtlBlobs() {
    Result<std::vector<std::string>> ids =
        blobs_->inner().ListExpired(std::chrono::system_clock::now() + 3650 * 24h).GetFor(kWait);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return std::set<std::string>(ids->begin(), ids->end());
  }

  // The blobs `checkpoint` references: its snapshot indexes and their files' blobs.
  std::set<std::string> Referenced(const Checkpoint& checkpoint) {
    std::set<std::string> ids;
    Result<StoreSnapshots> snaps = GetStoreSnapshots(*blobs_, pool_, checkpoint, {}).GetFor(kWait);
    EXPECT_TRUE(snaps.ok()) << snaps.status();
    if (!snaps.ok()) return ids;
    for (const auto& [name, snap] : *snaps) {
      ids.insert(snap.index_blob_id);
      for (const std::string& id : BlobIdsOf(snap.index.root)) ids.insert(id);
    }
    return ids;
  }

  // The invariant after a successful cleanup: the store holds exactly what `checkpoint`
  // references, none of it with a TTL.
  void ExpectExactlyReferenced(const Checkpoint& checkpoint) {
    std::set<std::string> referenced = Referenced(checkpoint);
    EXPECT_EQ(AllBlobs(), referenced);
    for (const std::string& id : TtlBlobs()) {
      EXPECT_FALSE(referenced.count(id)) << id << " is referenced and has a TTL";
    }
  }

  // The invariant at any time after a failure: what `checkpoint` references exists and has
  // no TTL; everything else has a TTL (it expires: nothing leaks).
  void ExpectNoLeak(const Checkpoint& checkpoint) {
    std::set<std::string> referenced = Referenced(checkpoint), all = AllBlobs(), ttl = TtlBlobs();
    for (const std::string& id : referenced) {
      EXPECT_TRUE(all.count(id)) << id << " is referenced and missing";
      EXPECT_FALSE(ttl.count(id)) << id << " is referenced and has a TTL";
    }
    for (const std::string& id : all) {
      EXPECT_TRUE(referenced.count(id) || ttl.count(id)) << id << " leaks: no TTL, no reference";
    }
  }

  TempDir tmp_;
  ThreadPool pool_{"state-test", 2};
  std::unique_ptr<FaultyBlobStore> blobs_;
  Metrics metrics_;
};

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_STATE_FIXTURE_H_
