// A fixture for backup and restore tests: a task with stores (plain directories) on a
// file:// blob store behind a FaultyBlobStore, committing the way a task does.
#ifndef BLOBSTATE_TESTS_TESTING_STATE_FIXTURE_H_
#define BLOBSTATE_TESTS_TESTING_STATE_FIXTURE_H_

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "backup/backup_manager.h"
#include "blobstate/checkpoint.h"
#include "blobstate/commit.h"
#include "blobstate/metrics.h"
#include "blobstate/snapshot.h"
#include "blobstore/blob_store_testing.h"
#include "blobstore/faulty/faulty_blob_store.h"
#include "checkpoint/codec.h"
#include "restore/restore_manager.h"
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
    options.part_size = 1000;
    auto backup = std::make_unique<BackupManager>(*blobs_, pool_, "job", task, std::move(stores),
                                                  options, &metrics_);
    task_of_[backup.get()] = task;
    return backup;
  }

  // A commit engine's options for store "a" of job "job", task "task-0".
  CommitOptions EngineOptions(bool claim = true) {
    CommitOptions o{.job = "job", .task = "task-0", .stores = {Store("a")}, .claim = claim};
    o.backup.part_size = 1000;
    return o;
  }
  Result<std::unique_ptr<CommitEngine>> OpenEngine(BlobStore& store, CommitOptions options) {
    return CommitEngine::Open(store, pool_, std::move(options), nullptr).GetFor(kWait);
  }
  // One commit of store "a" (in `dir`, default Store("a").dir) holding `content`.
  Result<Checkpoint> CommitContent(CommitEngine& engine, const std::string& content,
                                   const std::string& offset, std::string dir = "") {
    StoreConfig a = Store("a");
    if (!dir.empty()) a.dir = dir;
    EXPECT_TRUE(WriteTree(a.dir, {{"f", content}}).ok());
    const std::string id = NewCheckpointId();
    return engine.Commit(id, SnapshotDirs({a}, id), {{"in", offset}}).GetFor(kWait);
  }

  // Snapshots each store's directory into its checkpoint directory (by hard links).
  std::map<std::string, std::string> SnapshotDirs(const std::vector<StoreConfig>& stores,
                                                  const std::string& id) {
    std::map<std::string, std::string> dirs;
    for (const StoreConfig& s : stores) {
      if (!s.BackedUp()) continue;
      dirs[s.name] = CheckpointDirOf(s.dir, id);
      EXPECT_TRUE(LinkTree(s.dir, dirs[s.name]).ok());
    }
    return dirs;
  }

  // One commit the way the commit engine makes it with history off (keep_last 1): Upload;
  // the checkpoint, listing the task's previous checkpoint's snapshots as expiring
  // (persisted by the caller as it pleases; `persisted` sees it); Persisted; Expire. Fails
  // the test on error.
  Checkpoint Commit(BackupManager& backup, const std::vector<StoreConfig>& stores,
                    const std::function<void(const Checkpoint&)>& persisted = {}) {
    Checkpoint c{.id = NewCheckpointId(), .history = true};
    Result<StoreMarkers> markers = backup.Upload(c.id, SnapshotDirs(stores, c.id)).GetFor(kWait);
    EXPECT_TRUE(markers.ok()) << markers.status();
    if (!markers.ok()) return c;
    c.state_markers[std::string(kBlobStoreBackend)] = *markers;
    Checkpoint& last = last_[task_of_[&backup]];
    for (std::string_view key : {kBlobStoreBackend, kRemovedStoresKey}) {
      const StoreMarkers markers = *BlobStoreMarkers(last, key);
      for (const auto& [store, id] : markers) c.expiring.push_back({last.id, store, id});
    }
    if (persisted) persisted(c);
    EXPECT_TRUE(backup.Persisted(*markers).ok());
    Result<ExpireOutcome> expired = backup.Expire(c.expiring, LiveOf(c)).GetFor(kWait);
    EXPECT_TRUE(expired.ok() && expired->error.ok());
    backup.RecordFigures();
    last = c;
    return c;
  }

  // The snapshots `c` names, as Expire takes them.
  static LiveSnapshots LiveOf(const Checkpoint& c) {
    LiveSnapshots live;
    const StoreMarkers markers = *BlobStoreMarkers(c);
    for (const auto& [store, id] : markers) live[store].insert(id);
    return live;
  }

  // Every blob id in the file:// store.
  std::set<std::string> AllBlobs() { return FileStoreBlobIds(BlobDir()); }

  // Blobs that have a TTL (expired or not).
  std::set<std::string> TtlBlobs() {
    Result<std::vector<std::string>> ids = blobstate::testing::ExpiringBefore(
        blobs_->inner(), std::chrono::system_clock::now() + 3650 * 24h);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return std::set<std::string>(ids->begin(), ids->end());
  }

  // The blobs `checkpoint` references: its snapshot indexes and their files' blobs, and
  // those of the checkpoints it retains (read from their history objects).
  std::set<std::string> Referenced(const Checkpoint& checkpoint) {
    std::set<std::string> ids;
    Result<StoreSnapshots> snaps = GetStoreSnapshots(*blobs_, pool_, checkpoint, {}).GetFor(kWait);
    EXPECT_TRUE(snaps.ok()) << snaps.status();
    if (!snaps.ok()) return ids;
    std::string prefix;  // "checkpoints/<job>/<task>/"
    for (const auto& [name, snap] : *snaps) {
      ids.insert(snap.index_blob_id);
      for (const std::string& id : BlobIdsOf(snap.index.root)) ids.insert(id);
      const SnapshotMetadata& m = snap.index.metadata;
      prefix = "checkpoints/" + m.job_name + "/" + m.task_name + "/";
    }
    for (const std::string& retained : checkpoint.retained) {
      Result<VersionedObject> o = blobs_->GetObject(prefix + "history/" + retained).GetFor(kWait);
      EXPECT_TRUE(o.ok()) << o.status();
      if (!o.ok()) continue;
      std::set<std::string> more = Referenced(*DecodeCheckpoint(o->data));
      ids.insert(more.begin(), more.end());
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
  // no TTL. (Anything else is garbage that gc collects: expired, or an orphan.)
  void ExpectReferencedIntact(const Checkpoint& checkpoint) {
    std::set<std::string> all = AllBlobs(), ttl = TtlBlobs();
    for (const std::string& id : Referenced(checkpoint)) {
      EXPECT_TRUE(all.count(id)) << id << " is referenced and missing";
      EXPECT_FALSE(ttl.count(id)) << id << " is referenced and has a TTL";
    }
  }

  TempDir tmp_;
  ThreadPool pool_{"state-test", 2};
  std::unique_ptr<FaultyBlobStore> blobs_;
  PrometheusTextSink metrics_sink_;
  Metrics metrics_{metrics_sink_};
  std::map<const BackupManager*, std::string> task_of_;
  std::map<std::string, Checkpoint> last_;  // by task: the last checkpoint Commit made
};

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_STATE_FIXTURE_H_
