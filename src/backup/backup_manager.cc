#include <map>
#include <mutex>
#include <set>

#include "async/failpoints.h"
#include "backup/snapshot_cleaner.h"
#include "backup/backup_manager.h"
#include "blobstate/snapshot.h"

namespace blobstate {
namespace {

using Clock = std::chrono::steady_clock;

// A snapshot uploaded by Upload and not yet cleaned up.
struct Pending {
  StoreSnapshot snapshot;
  std::set<std::string> blobs;          // every blob of the new snapshot
  std::set<std::string> new_blobs;      // blobs of the new snapshot that the base lacks
  std::set<std::string> removed_blobs;  // blobs of the base that the new snapshot lacks
};

struct StoreState {
  StoreConfig config;
  std::optional<StoreSnapshot> persisted;  // the base of the next diff
  std::optional<Pending> uploaded;
  CleanupWork leftover;  // what failed cleanups (or a crash) left to do
  StoreFigures figures;  // of the last upload and cleanup
};

void CountRemoved(const DirDiff& diff, StoreFigures& f) {
  auto add = [&f](TreeTotals t) {
    f.files_removed += t.files;
    f.bytes_removed += t.bytes;
  };
  add(TotalsOf(diff.files_removed));
  for (const DirIndex& dir : diff.subdirs_removed) add(TotalsOf(dir));
  for (const DirDiff& sub : diff.subdirs_retained) CountRemoved(sub, f);
}

}  // namespace

struct BackupManager::State {
  State(BlobStore& s, Executor& e, std::string j, std::string t, BackupOptions o, Metrics* m)
      : store(s),
        executor(e),
        job(std::move(j)),
        task(std::move(t)),
        options(std::move(o)),
        metrics(m),
        transfer(s, e, options.transfer),
        cleaner(s, e, transfer) {}

  BlobStore& store;
  Executor& executor;
  const std::string job, task;
  const BackupOptions options;
  Metrics* const metrics;
  Transfer transfer;
  SnapshotCleaner cleaner;
  mutable std::mutex mu;
  std::map<std::string, StoreState> stores;  // backed-up stores; the map never changes shape
  // Snapshots of stores no longer configured, to delete: store -> index blob id (a store
  // removed, re-added and removed again before the first deletion succeeded has two).
  std::multimap<std::string, std::string> unconfigured;

  StoreState& Store(const std::string& name) { return stores.at(name); }
  void Fail(const std::string& name, Phase phase) {
    if (metrics != nullptr) metrics->RecordError(Flow::kBackup, name, phase);
  }

  Future<std::string> UploadStore(const std::string& name, const std::string& dir,
                                  const std::string& checkpoint_id);
  Future<void> CleanupStore(const std::string& name, const std::string& marker);
  CleanupWork PlanCleanup(StoreState& s, const std::string& marker);  // REQUIRES: mu held
  Future<void> RunCleanup(const std::string& name, CleanupWork work);
  // Deletes the snapshots `targets` (entries of `unconfigured`), forgetting each one
  // deleted. Only those that the latest persisted checkpoint lists as removed, not as live.
  Future<void> DeleteUnconfigured(std::multimap<std::string, std::string> targets);
  // Removes the entry (`name`, `id`) from `unconfigured`.
  void Forget(const std::string& name, const std::string& id);
};

BackupManager::BackupManager(BlobStore& store, Executor& executor, std::string job,
                             std::string task, std::vector<StoreConfig> stores,
                             BackupOptions options, Metrics* metrics)
    : state_(std::make_shared<State>(store, executor, std::move(job), std::move(task),
                                     std::move(options), metrics)) {
  for (StoreConfig& c : stores) {
    if (!c.BackedUp()) continue;
    std::string name = c.name;
    state_->stores[name].config = std::move(c);
  }
}

BackupManager::~BackupManager() = default;

Future<void> BackupManager::Init(const std::optional<Checkpoint>& checkpoint,
                                 std::optional<StoreSnapshots> fetched) {
  Result<StoreMarkers> markers = BlobStoreMarkers(checkpoint);
  Result<StoreMarkers> removed = BlobStoreMarkers(checkpoint, kRemovedStoresKey);
  for (const Status& s : {markers.status(), removed.status()}) {
    if (!s.ok()) return MakeReadyFuture<void>(s.WithContext("backup manager init"));
  }
  auto st = state_;
  std::vector<std::string> configured;
  for (const auto& [name, s] : st->stores) configured.push_back(name);
  {
    std::lock_guard<std::mutex> lock(st->mu);
    for (const auto& [name, id] : *markers) {
      if (!st->stores.count(name)) st->unconfigured.emplace(name, id);
    }
    for (const auto& [name, id] : *removed) st->unconfigured.emplace(name, id);
  }
  // Listed as removed, these are no longer live in `checkpoint`: delete them now (usually
  // done already, by the cleanup after that checkpoint was persisted), so that the next
  // checkpoint need not list them again. Best effort: each Cleanup retries.
  std::multimap<std::string, std::string> listed(removed->begin(), removed->end());
  Future<StoreSnapshots> snapshots =
      fetched              ? MakeReadyFuture<StoreSnapshots>(std::move(*fetched))
      : configured.empty() ? MakeReadyFuture<StoreSnapshots>(StoreSnapshots{})
                           : GetStoreSnapshots(st->store, st->executor, checkpoint, configured);
  return std::move(snapshots)
      .Map(st->executor,
           [st](StoreSnapshots snapshots) {
             std::vector<Future<void>> recoveries;
             for (auto& [name, snapshot] : snapshots) {
               {
                 std::lock_guard<std::mutex> lock(st->mu);
                 st->Store(name).persisted = snapshot;
               }
               const SnapshotMetadata owner{
                   .job_name = st->job, .task_name = st->task, .store_name = name};
               recoveries.push_back(
                   st->cleaner.Recover(snapshot, owner)
                       .Then(st->executor, [st, name = name](Result<void> r) {
                         if (!r.ok()) st->Fail(name, Phase::kInit);
                         return r.ok() ? r : r.status().WithContext("recovery of store " + name);
                       }));
             }
             return AllOf(std::move(recoveries));
           })
      .Map(st->executor,
           [st, listed = std::move(listed)] {
             return st->DeleteUnconfigured(listed).Then(
                 st->executor, [](Result<void>) { return Result<void>(); });
           })
      .Then(st->executor, [st](Result<void> r) {  // `st` lives until the last step ends
        return r.ok() ? r : r.status().WithContext("backup manager init");
      });
}

Future<void> BackupManager::State::DeleteUnconfigured(
    std::multimap<std::string, std::string> targets) {
  if (targets.empty()) return MakeReadyFuture();
  // Never delete what the persisted snapshots of the configured stores hold.
  auto live = std::make_shared<std::set<std::string>>();
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [name, s] : stores) {
      if (!s.persisted) continue;
      live->insert(s.persisted->index_blob_id);
      std::set<std::string> blobs = BlobSet(s.persisted->index.root);
      live->insert(blobs.begin(), blobs.end());
    }
  }
  std::vector<Future<void>> deletions;
  for (const auto& [name, id] : targets) {
    const SnapshotMetadata owner{.job_name = job, .task_name = task, .store_name = name};
    deletions.push_back(
        cleaner.DeleteChain(owner, id, live)
            .Then(executor, [this, name = name, id = id](Result<void> r) {
              // Not the removed store's to delete (kDataLoss): reported
              // once and forgotten, as listed again it would fail every
              // later commit.
              if (r.ok() || r.status().code() == StatusCode::kDataLoss) {
                Forget(name, id);
              }
              return r.ok() ? r : r.status().WithContext("deletion of unconfigured store " + name);
            }));
  }
  return AllOf(std::move(deletions));
}

void BackupManager::State::Forget(const std::string& name, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu);
  for (auto [it, end] = unconfigured.equal_range(name); it != end; ++it) {
    if (it->second == id) {
      unconfigured.erase(it);
      return;
    }
  }
}

Future<std::string> BackupManager::State::UploadStore(const std::string& name,
                                                      const std::string& dir,
                                                      const std::string& checkpoint_id) {
  std::optional<StoreSnapshot> base;
  {
    std::lock_guard<std::mutex> lock(mu);
    base = Store(name).persisted;
    Store(name).uploaded.reset();
  }
  BlobMetadata meta{
      .job_name = job, .task_name = task, .store_name = name, .ttl = options.transfer.ttl};
  auto f = std::make_shared<StoreFigures>();
  auto started = Clock::now();
  auto diffed = Async(executor, [dir, base, diff = options.diff] {
    return DiffDir(dir, base ? base->index.root : DirIndex{}, diff);
  });
  return std::move(diffed)
      .Map(executor,
           [this, dir, meta, f, started](DirDiff diff) {
             f->durations[Phase::kDiff] = Clock::now() - started;
             f->files_uploaded = diff.FilesAdded();
             f->bytes_uploaded = diff.BytesAdded();
             CountRemoved(diff, *f);
             return transfer.PutDir(dir, diff, meta);
           })
      .Map(executor, [this, name, base, meta, checkpoint_id, f, started](DirIndex root) {
        f->durations[Phase::kUpload] = Clock::now() - started - f->durations[Phase::kDiff];
        TreeTotals total = TotalsOf(root);
        f->files_retained = total.files - f->files_uploaded;
        f->bytes_retained = total.bytes - f->bytes_uploaded;
        auto index = std::make_shared<SnapshotIndex>();
        index->creation_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
        index->metadata = {
            .checkpoint_id = checkpoint_id, .job_name = job, .task_name = task, .store_name = name};
        index->root = std::move(root);
        if (base) index->prev_snapshot_index_blob_id = base->index_blob_id;
        auto index_started = Clock::now();
        return Between<std::string>(executor, "upload.before_index", "upload.after_index",
                                    [&] { return PutSnapshotIndex(store, *index, meta); })
            .Then(executor,
                  [this, base, index](Result<std::string> id) -> Future<std::string> {
                    if (id.ok()) return MakeReadyFuture<std::string>(std::move(id));
                    // No index names the files just put: delete them (best effort; they
                    // have a TTL).
                    std::set<std::string> added = BlobSet(index->root);
                    if (base) added = Difference(added, BlobSet(base->index.root));
                    return transfer.DeleteBlobs({added.begin(), added.end()})
                        .Then(executor, [error = id.status()](Result<void>) {
                          return Result<std::string>(error);
                        });
                  })
            .Map(executor, [this, name, base, f, index, index_started](std::string id) {
              f->durations[Phase::kIndex] = Clock::now() - index_started;
              Pending p{.snapshot = {id, std::move(*index)}};
              p.blobs = BlobSet(p.snapshot.index.root);
              p.new_blobs = p.blobs;
              if (base) {
                std::set<std::string> old = BlobSet(base->index.root);
                p.removed_blobs = Difference(old, p.blobs);
                p.new_blobs = Difference(p.blobs, old);
              }
              std::lock_guard<std::mutex> lock(mu);
              Store(name).uploaded = std::move(p);
              Store(name).figures = *f;
              return id;
            });
      });
}

Future<StoreMarkers> BackupManager::Upload(
    const std::string& checkpoint_id, const std::map<std::string, std::string>& checkpoint_dirs) {
  auto st = state_;
  for (const auto& [name, s] : st->stores) {
    if (!checkpoint_dirs.count(name)) {
      return MakeReadyFuture<StoreMarkers>(InvalidArgumentError(
          "upload of checkpoint " + checkpoint_id + ": no checkpoint directory for store " + name));
    }
  }
  std::map<std::string, Future<std::string>> uploads;
  for (const auto& [name, s] : st->stores) {
    uploads.emplace(name, st->UploadStore(name, checkpoint_dirs.at(name), checkpoint_id)
                              .Then(st->executor, [st, name = name](Result<std::string> r) {
                                if (!r.ok()) st->Fail(name, Phase::kUpload);
                                return r.ok() ? r : r.status().WithContext("store " + name);
                              }));
  }
  // ToMap waits for every store. On success, the new blobs are made durable before the
  // caller may persist a checkpoint that references them. On failure, delete what the
  // others put: no checkpoint will reference it.
  return ToMap(std::move(uploads))
      .Map(st->executor,
           [st](StoreMarkers markers) {
             return st->store.Flush().Map(st->executor, [markers = std::move(markers)]() mutable {
               return Result<StoreMarkers>(std::move(markers));
             });
           })
      .Then(st->executor, [st](Result<StoreMarkers> r) -> Future<StoreMarkers> {
        if (r.ok()) return MakeReadyFuture<StoreMarkers>(std::move(r));
        std::vector<std::string> orphans;
        {
          std::lock_guard<std::mutex> lock(st->mu);
          for (auto& [name, s] : st->stores) {
            if (!s.uploaded) continue;
            orphans.insert(orphans.end(), s.uploaded->new_blobs.begin(),
                           s.uploaded->new_blobs.end());
            orphans.push_back(s.uploaded->snapshot.index_blob_id);
            s.uploaded.reset();
          }
        }
        return st->transfer.DeleteBlobs(std::move(orphans))
            .Then(st->executor,
                  [error = r.status()](Result<void>) { return Result<StoreMarkers>(error); });
      });
}

Future<void> BackupManager::State::CleanupStore(const std::string& name,
                                                const std::string& marker) {
  CleanupWork work;
  {
    std::lock_guard<std::mutex> lock(mu);
    StoreState& s = Store(name);
    if (!s.uploaded && s.persisted && s.persisted->index_blob_id == marker) {
      work = s.leftover;  // cleaned up before: finish what is left, if anything
    } else if (!s.uploaded || s.uploaded->snapshot.index_blob_id != marker) {
      return MakeReadyFuture<void>(FailedPreconditionError(
          "cleanup of store " + name + ": marker " + marker + " is not the last upload's"));
    } else {
      work = PlanCleanup(s, marker);
    }
  }
  return RunCleanup(name, std::move(work));
}

// The work of the first cleanup of the upload `marker`; makes it the persisted snapshot.
CleanupWork BackupManager::State::PlanCleanup(StoreState& s, const std::string& marker) {
  CleanupWork work;
  const Pending& p = *s.uploaded;
  std::set<std::string> live = p.blobs;
  // What earlier failed cleanups left: TTLs of blobs still referenced, deletions of the rest.
  work.ttl_blobs = p.new_blobs;
  for (const std::string& id : s.leftover.ttl_blobs) {
    if (live.count(id)) work.ttl_blobs.insert(id);
  }
  work.ttl_index = marker;
  live.insert(marker);
  work.delete_blobs = p.removed_blobs;  // none of them is live
  for (const std::string& id : s.leftover.delete_blobs) {
    if (!live.count(id)) work.delete_blobs.insert(id);
  }
  work.delete_indexes = s.leftover.delete_indexes;
  if (s.persisted) work.delete_indexes.push_back(s.persisted->index_blob_id);
  // The checkpoint naming the new snapshot is persisted: it is the base from now on.
  s.persisted = p.snapshot;
  s.uploaded.reset();
  s.leftover = work;
  return work;
}

Future<void> BackupManager::State::RunCleanup(const std::string& name, CleanupWork work) {
  auto started = Clock::now();
  return cleaner.Run(std::move(work))
      .Then(executor, [this, name, started](Result<void> r) -> Result<void> {
        if (!r.ok()) {
          Fail(name, Phase::kCleanup);
          return r.status().WithContext("cleanup of store " + name);
        }
        std::lock_guard<std::mutex> lock(mu);
        StoreState& s = Store(name);
        s.leftover = {};
        s.figures.durations[Phase::kCleanup] = Clock::now() - started;
        if (metrics != nullptr) metrics->Record(Flow::kBackup, name, s.figures);
        return r;
      });
}

void BackupManager::RecordMarkers(const StoreMarkers& markers, Checkpoint& next) const {
  next.state_markers[std::string(kBlobStoreBackend)] = markers;
  StoreMarkers removed;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    // A store with two pending snapshots lists one: the other is deleted by this process's
    // next Cleanup, or leaks if it crashes first (it was removed twice in a row, and
    // deleting the first failed every time since).
    for (const auto& [name, id] : state_->unconfigured) removed.emplace(name, id);
  }
  if (removed.empty()) {
    next.state_markers.erase(std::string(kRemovedStoresKey));
  } else {
    next.state_markers[std::string(kRemovedStoresKey)] = std::move(removed);
  }
}

Future<void> BackupManager::Cleanup(const std::string& checkpoint_id, const StoreMarkers& markers) {
  auto st = state_;
  for (const auto& [name, s] : st->stores) {
    if (!markers.contains(name)) {
      return MakeReadyFuture<void>(FailedPreconditionError(
          "cleanup of checkpoint " + checkpoint_id + ": no marker for store " + name));
    }
  }
  std::vector<Future<void>> cleanups;
  for (const auto& [name, s] : st->stores) {
    cleanups.push_back(st->CleanupStore(name, markers.at(name)));
  }
  std::multimap<std::string, std::string> unconfigured;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    unconfigured = st->unconfigured;
  }
  cleanups.push_back(st->DeleteUnconfigured(std::move(unconfigured)));
  if (st->options.delete_old_checkpoint_dirs) {
    std::vector<std::string> dirs;
    for (const auto& [name, s] : st->stores) dirs.push_back(s.config.dir);
    cleanups.push_back(Async(st->executor, [dirs, checkpoint_id]() -> Status {
      for (const std::string& dir : dirs) RETURN_IF_ERROR(DeleteCheckpointDirs(dir, checkpoint_id));
      return Status::Ok();
    }));
  }
  // `st` lives until every step has ended, even if this manager is destroyed first.
  return AllOf(std::move(cleanups)).Then(st->executor, [st](Result<void> r) { return r; });
}

std::map<std::string, StoreFigures> BackupManager::LastFigures() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::map<std::string, StoreFigures> out;
  for (const auto& [name, s] : state_->stores) out[name] = s.figures;
  return out;
}

}  // namespace blobstate
