#include "backup/backup_manager.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "async/failpoints.h"
#include "backup/snapshot_cleaner.h"
#include "blobstate/snapshot.h"
#include "checkpoint/snapshot_util.h"
#include "index/codec.h"
#include "index/index_writer.h"
#include "store/lazy_files.h"
#include "transfer/transfer.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using Clock = std::chrono::steady_clock;

using BlobSetPtr = std::shared_ptr<const BlobIdSet>;

// A snapshot uploaded by Upload and not yet persisted.
struct Pending {
  StoreIndex snapshot;
  BlobSetPtr blobs;        // every blob of the new snapshot
  BlobSetPtr base_blobs;   // of its base (null: none): the new blobs are those it lacks
  bool adds_blobs = true;  // false: it was made without a put, so it has no new blob
};

struct StoreState {
  StoreConfig config;
  std::optional<StoreIndex> persisted;  // the base of the next diff
  std::shared_ptr<const Pending> uploaded;
  StoreFigures figures;  // of the last upload and expiry
};

// How many blob ids a step of ForNewBlobs hands over at a time.
constexpr size_t kBlobBatch = 4096;

// The walk of ForNewBlobs.
struct NewBlobsWalk {
  std::shared_ptr<const IndexFile> index;
  BlobSetPtr base;
  IndexFile::Cursor cursor;
  std::function<Future<void>(BlobIds)> fn;
};

// Calls `fn` with the blob ids of the files present in `walk`'s index that its base lacks,
// about kBlobBatch at a time, one call after the other: memory stays within a batch and a
// directory, whatever the size of the index.
Future<void> ForNewBlobs(Executor& executor, std::shared_ptr<NewBlobsWalk> walk) {
  std::vector<std::string> batch;
  while (batch.size() < kBlobBatch) {
    IndexFile::DirRef at;
    Result<std::optional<IndexFile::Dir>> dir = walk->cursor.Next(&at);
    if (!dir.ok()) return MakeReadyFuture<void>(dir.status());
    if (!*dir) break;
    for (const FileIndex& f : (*dir)->files_present) {
      for (const FileBlob& b : f.blobs) {
        if (walk->base == nullptr || !walk->base->Contains(b.blob_id)) batch.push_back(b.blob_id);
      }
    }
  }
  if (batch.empty()) return MakeReadyFuture();
  return walk->fn(ToBlobIds(std::move(batch))).Map(executor, [&executor, walk] {
    return ForNewBlobs(executor, walk);
  });
}

Future<void> ForNewBlobs(Executor& executor, std::shared_ptr<const IndexFile> index,
                         BlobSetPtr base, std::function<Future<void>(BlobIds)> fn) {
  auto walk = std::make_shared<NewBlobsWalk>(NewBlobsWalk{
      index, std::move(base), IndexFile::Cursor(*index, /*present_only=*/true), std::move(fn)});
  return ForNewBlobs(executor, std::move(walk));
}

// ForNewBlobs of a pending snapshot: no walk of one that adds no blob.
Future<void> ForNewBlobs(Executor& executor, const Pending& p,
                         std::function<Future<void>(BlobIds)> fn) {
  if (!p.adds_blobs) return MakeReadyFuture();
  return ForNewBlobs(executor, p.snapshot.index, p.base_blobs, std::move(fn));
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
        transfer(
            s, e,
            {.part_size = options.part_size, .ttl = options.ttl, .progress = options.progress}),
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
  // Blob sets of live snapshots, by index blob id: of the bases, the uploads, and those
  // Expire fetched (dropped once no longer live).
  std::map<std::string, BlobSetPtr> blob_sets;  // GUARDED_BY(mu)

  StoreState& Store(const std::string& name) { return stores.at(name); }
  SnapshotMetadata Owner(const std::string& store_name) const {
    return {.job_name = job, .task_name = task, .store_name = store_name};
  }
  void Fail(const std::string& name, Phase phase) {
    if (metrics != nullptr) metrics->RecordError(Flow::kBackup, name, phase);
  }

  Future<std::string> UploadStore(const std::string& name, const std::string& dir,
                                  const std::string& checkpoint_id);
  // Deletes the blobs of the files `writer` was given that `base` lacks.
  Future<void> DeleteUploaded(std::shared_ptr<IndexWriter> writer, BlobSetPtr base);
  // Removes the TTLs of `p`'s new blobs, then of its index, unless the upload started more
  // than half the TTL ago.
  Future<void> MakePermanent(const std::string& name, const Pending& p, Clock::time_point started);
  // The union of the blob sets of `live` (index ids of store `name`), fetching those not
  // known yet.
  Future<BlobSetPtr> LiveBlobs(const std::string& name, std::set<std::string> live);
  // Adds to `all` the blobs of the snapshots ids[next..], fetched one after the other (so
  // that one decoded index at a time is held), caching each one's set.
  Future<std::shared_ptr<BlobIdSet>> AddFetched(const std::string& name,
                                                std::vector<std::string> ids, size_t next,
                                                std::shared_ptr<BlobIdSet> all);
  // Deletes `target` but what `keep` (its store's live blobs, or why they are unknown) holds.
  Future<void> ExpireOne(const ExpiringSnapshot& target, const Result<BlobSetPtr>& keep);
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
                                 std::shared_ptr<const StoreIndexes> fetched,
                                 std::set<std::string> keep) {
  if (Result<StoreMarkers> markers = BlobStoreMarkers(checkpoint); !markers.ok()) {
    return MakeReadyFuture<void>(markers.status().WithContext("backup manager init"));
  }
  auto st = state_;
  std::map<std::string, std::string> dirs;  // each index file beside its store
  for (const auto& [name, s] : st->stores) dirs.emplace(name, DirName(s.config.dir));
  const bool legacy = checkpoint && !checkpoint->history;
  using Shared = std::shared_ptr<const StoreIndexes>;
  Future<Shared> snapshots = fetched ? MakeReadyFuture<Shared>(std::move(fetched))
                             : dirs.empty()
                                 ? MakeReadyFuture<Shared>(std::make_shared<const StoreIndexes>())
                                 : GetStoreIndexes(st->store, st->executor, checkpoint, dirs)
                                       .Map(st->executor, [](StoreIndexes s) {
                                         return std::make_shared<const StoreIndexes>(std::move(s));
                                       });
  return std::move(snapshots)
      .Map(st->executor,
           [st, legacy, keep = std::move(keep)](Shared snapshots) -> Future<void> {
             std::vector<Future<void>> recoveries;
             for (const auto& [name, snapshot] : *snapshots) {
               if (!st->stores.count(name)) continue;
               Result<BlobIdSet> blobs = BlobIdSet::Of(*snapshot.index);
               if (!blobs.ok()) {
                 return MakeReadyFuture<void>(blobs.status().WithContext(
                     "store " + name + ": snapshot index " + snapshot.index_blob_id));
               }
               {
                 std::lock_guard<std::mutex> lock(st->mu);
                 st->Store(name).persisted = snapshot;
                 st->blob_sets[snapshot.index_blob_id] =
                     std::make_shared<const BlobIdSet>(std::move(*blobs));
               }
               if (!legacy) continue;
               Result<SnapshotIndex> whole = snapshot.index->ReadAll();  // old checkpoints only
               if (!whole.ok()) return MakeReadyFuture<void>(whole.status());
               recoveries.push_back(
                   st->cleaner
                       .Recover(StoreSnapshot{snapshot.index_blob_id, std::move(*whole)},
                                st->Owner(name), keep)
                       .Then(st->executor, [st, name = name](Result<void> r) {
                         if (!r.ok()) st->Fail(name, Phase::kInit);
                         return r.ok() ? r : r.status().WithContext("recovery of store " + name);
                       }));
             }
             return AllOf(std::move(recoveries));
           })
      .Then(st->executor, [st](Result<void> r) {  // `st` lives until the last step ends
        return r.ok() ? r : r.status().WithContext("backup manager init");
      });
}

Future<void> BackupManager::State::MakePermanent(const std::string& name, const Pending& p,
                                                 Clock::time_point started) {
  const std::chrono::seconds ttl = options.ttl;
  const auto elapsed = Clock::now() - started;
  if (ttl.count() > 0 && elapsed > ttl / 2) {
    return MakeReadyFuture<void>(DeadlineExceededError(
        "store " + name + ": the upload started " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count()) +
        " s ago, more than half the blob TTL (" + std::to_string(ttl.count()) +
        " s); not persisted, as its first blobs could expire before a checkpoint names them"));
  }
  return ForNewBlobs(executor, p,
                     [this](BlobIds ids) { return transfer.RemoveTtls(std::move(ids)); })
      .Map(executor, [this, index = p.snapshot.index_blob_id] { return store.RemoveTtl(index); });
}

Future<void> BackupManager::State::DeleteUploaded(std::shared_ptr<IndexWriter> writer,
                                                  BlobSetPtr base) {
  // What the writer holds, finished as an index of its own, is walked like a snapshot's.
  Result<std::shared_ptr<const IndexFile>> index = writer->Finish(SnapshotIndex{});
  if (!index.ok()) return MakeReadyFuture<void>(index.status());
  return ForNewBlobs(executor, *index, std::move(base),
                     [this](BlobIds ids) { return transfer.DeleteBlobs(std::move(ids)); });
}

Future<std::string> BackupManager::State::UploadStore(const std::string& name,
                                                      const std::string& dir,
                                                      const std::string& checkpoint_id) {
  std::optional<StoreIndex> base;
  BlobSetPtr base_blobs;
  {
    std::lock_guard<std::mutex> lock(mu);
    base = Store(name).persisted;
    Store(name).uploaded.reset();
    if (base) base_blobs = blob_sets.at(base->index_blob_id);
  }
  BlobMetadata meta{.job_name = job, .task_name = task, .store_name = name, .ttl = options.ttl};
  Result<std::unique_ptr<IndexWriter>> created = IndexWriter::Create(DirName(dir));
  if (!created.ok()) return MakeReadyFuture<std::string>(created.status());
  std::shared_ptr<IndexWriter> writer = std::move(*created);
  // A checkpoint of a store still warming up lacks the files a lazy restore left remote.
  Result<std::shared_ptr<const IndexFile>> remote = OpenRemoteManifest(dir);
  if (!remote.ok()) return MakeReadyFuture<std::string>(remote.status());
  auto diff = std::make_unique<TreeDiff>(dir, base ? base->index : nullptr,
                                         DiffOptions{options.excluded_names, std::move(*remote)});
  SnapshotIndex header{.creation_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count(),
                       .metadata = {.checkpoint_id = checkpoint_id,
                                    .job_name = job,
                                    .task_name = task,
                                    .store_name = name},
                       .prev_snapshot_index_blob_id = base ? base->index_blob_id : ""};
  auto f = std::make_shared<StoreFigures>();
  auto started = Clock::now();
  return transfer.PutTree(dir, std::move(diff), writer, meta)
      .Map(executor,
           [f, started, writer, header](TreeFigures t) {
             f->durations[Phase::kDiff] = t.diff_time;
             f->durations[Phase::kUpload] = Clock::now() - started - t.diff_time;
             f->files_uploaded = t.files_uploaded;
             f->bytes_uploaded = t.bytes_uploaded;
             f->files_retained = t.files_retained;
             f->bytes_retained = t.bytes_retained;
             f->files_removed = t.files_removed;
             f->bytes_removed = t.bytes_removed;
             return writer->Finish(header);
           })
      .Then(executor,
            [this, writer, base_blobs](Result<std::shared_ptr<const IndexFile>> index)
                -> Future<std::shared_ptr<const IndexFile>> {
              if (index.ok()) return MakeReadyFuture(std::move(index));
              // No index names the files just put: delete them (best effort; they have a TTL).
              return DeleteUploaded(writer, base_blobs)
                  .Then(executor, [error = index.status()](Result<void>) {
                    return Result<std::shared_ptr<const IndexFile>>(error);
                  });
            })
      .Map(executor, [this, name, meta, base_blobs, f,
                      started](std::shared_ptr<const IndexFile> index) {
        auto index_started = Clock::now();
        return Between<std::string>(executor, "upload.before_index", "upload.after_index",
                                    [&] { return PutIndexFile(store, index, meta); })
            .Then(executor,
                  [this, base_blobs, index](Result<std::string> id) -> Future<std::string> {
                    if (id.ok()) return MakeReadyFuture<std::string>(std::move(id));
                    return ForNewBlobs(
                               executor, index, base_blobs,
                               [this](BlobIds ids) { return transfer.DeleteBlobs(std::move(ids)); })
                        .Then(executor, [error = id.status()](Result<void>) {
                          return Result<std::string>(error);
                        });
                  })
            .Map(executor,
                 [this, name, base_blobs, f, index, index_started,
                  started](std::string id) -> Future<std::string> {
                   // Without a put or a removal, the snapshot's blobs are its base's.
                   const bool adds_blobs = f->files_uploaded > 0;
                   BlobSetPtr blobs = base_blobs;
                   if (adds_blobs || f->files_removed > 0 || base_blobs == nullptr) {
                     Result<BlobIdSet> of = BlobIdSet::Of(*index);
                     if (!of.ok()) return MakeReadyFuture<std::string>(of.status());
                     blobs = std::make_shared<const BlobIdSet>(std::move(*of));
                   }
                   auto p = std::make_shared<Pending>(Pending{.snapshot = {id, index},
                                                              .blobs = std::move(blobs),
                                                              .base_blobs = base_blobs,
                                                              .adds_blobs = adds_blobs});
                   {
                     std::lock_guard<std::mutex> lock(mu);
                     Store(name).uploaded = p;  // deleted by Upload if anything fails from here
                   }
                   return MakePermanent(name, *p, started)
                       .Map(executor,
                            [this, name, f, index_started, id, p]() -> Result<std::string> {
                              f->durations[Phase::kIndex] = Clock::now() - index_started;
                              std::lock_guard<std::mutex> lock(mu);
                              Store(name).figures = *f;
                              return id;
                            });
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
  // ToMap waits for every store. On success, the new blobs are made durable (without TTL)
  // before the caller may persist a checkpoint that references them. On failure, delete
  // what the others put: no checkpoint will reference it.
  return ToMap(std::move(uploads))
      .Map(st->executor,
           [st](StoreMarkers markers) {
             return st->store.Flush().Map(st->executor, [markers = std::move(markers)]() mutable {
               return Result<StoreMarkers>(std::move(markers));
             });
           })
      .Then(st->executor, [this, st](Result<StoreMarkers> r) -> Future<StoreMarkers> {
        if (r.ok()) return MakeReadyFuture<StoreMarkers>(std::move(r));
        return Discard().Then(st->executor, [st, error = r.status()](Result<void>) {
          return Result<StoreMarkers>(error);  // `st` lives until the deletion ended
        });
      });
}

Future<void> BackupManager::Discard() {
  std::vector<std::shared_ptr<const Pending>> orphans;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (auto& [name, s] : state_->stores) {
      if (s.uploaded) orphans.push_back(std::move(s.uploaded));
      s.uploaded.reset();
    }
  }
  auto st = state_;
  std::vector<Future<void>> deletions;
  for (const auto& p : orphans) {
    deletions.push_back(ForNewBlobs(st->executor, *p, [st](BlobIds ids) {
                          return st->transfer.DeleteBlobs(std::move(ids));
                        }).Map(st->executor, [st, p] {
      return st->transfer.DeleteBlobs(ToBlobIds({p->snapshot.index_blob_id}));
    }));
  }
  return AllOf(std::move(deletions)).Then(st->executor, [st](Result<void> r) { return r; });
}

Status BackupManager::Persisted(const StoreMarkers& markers) {
  std::lock_guard<std::mutex> lock(state_->mu);
  for (const auto& [name, s] : state_->stores) {
    auto it = markers.find(name);
    if (!s.uploaded || it == markers.end() || it->second != s.uploaded->snapshot.index_blob_id) {
      return FailedPreconditionError("store " + name + ": the persisted marker " +
                                     (it == markers.end() ? "(none)" : it->second) +
                                     " is not the last upload's");
    }
  }
  for (auto& [name, s] : state_->stores) {
    state_->blob_sets[s.uploaded->snapshot.index_blob_id] = s.uploaded->blobs;
    s.persisted = s.uploaded->snapshot;
    s.uploaded.reset();
  }
  return Status::Ok();
}

Future<BlobSetPtr> BackupManager::State::LiveBlobs(const std::string& name,
                                                   std::set<std::string> live) {
  auto all = std::make_shared<BlobIdSet>();
  std::vector<std::string> missing;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const std::string& id : live) {
      auto it = blob_sets.find(id);
      if (it != blob_sets.end()) {
        all->Add(*it->second);
      } else {
        missing.push_back(id);
      }
    }
  }
  return AddFetched(name, std::move(missing), 0, std::move(all))
      .Map(executor, [](std::shared_ptr<BlobIdSet> all) { return BlobSetPtr(std::move(all)); });
}

Future<std::shared_ptr<BlobIdSet>> BackupManager::State::AddFetched(
    const std::string& name, std::vector<std::string> ids, size_t next,
    std::shared_ptr<BlobIdSet> all) {
  if (next == ids.size()) return MakeReadyFuture<std::shared_ptr<BlobIdSet>>(std::move(all));
  const std::string id = ids[next];
  auto set = std::make_shared<BlobIdSet>();
  FileVisitor visit = [set](const FileIndex& f, bool removed) {
    if (removed) return;
    for (const FileBlob& b : f.blobs) set->Insert(b.blob_id);
  };
  // A store no longer configured (its snapshots live on in retained checkpoints) has no
  // directory to spool beside: the default scratch directory then.
  auto configured = stores.find(name);
  const std::string scratch =
      configured == stores.end() ? "" : DirName(configured->second.config.dir);
  return VisitSnapshotFiles(store, executor, id, std::move(visit), scratch)
      .Map(executor,
           [this, name, ids = std::move(ids), next, all = std::move(all), id,
            set](SnapshotIndex index) mutable -> Future<std::shared_ptr<BlobIdSet>> {
             if (index.metadata.store_name != name) {
               return MakeReadyFuture<std::shared_ptr<BlobIdSet>>(
                   DataLossError("live snapshot " + id + " of store " + name +
                                 " belongs to store " + index.metadata.store_name));
             }
             set->Seal();
             all->Add(*set);
             {
               std::lock_guard<std::mutex> lock(mu);
               blob_sets[id] = std::move(set);
             }
             return AddFetched(name, std::move(ids), next + 1, std::move(all));
           });
}

Future<void> BackupManager::State::ExpireOne(const ExpiringSnapshot& target,
                                             const Result<BlobSetPtr>& keep) {
  Future<void> deleted =
      keep.ok() ? cleaner.DeleteSnapshot(Owner(target.store), target.index_blob_id, *keep)
                : MakeReadyFuture<void>(keep.status());
  return std::move(deleted).Then(executor, [target](Result<void> r) -> Result<void> {
    if (r.ok()) return r;
    return r.status().WithContext("deletion of snapshot " + target.index_blob_id + " of store " +
                                  target.store + " (checkpoint " + target.checkpoint_id + ")");
  });
}

Future<ExpireOutcome> BackupManager::Expire(std::vector<ExpiringSnapshot> targets,
                                            LiveSnapshots live) {
  auto st = state_;
  auto started = Clock::now();
  // The snapshots to delete, and once per store what its live snapshots keep.
  std::vector<ExpiringSnapshot> snapshots;
  std::vector<std::string> stores;
  std::vector<Future<BlobSetPtr>> keeps;
  for (const ExpiringSnapshot& t : targets) {
    if (t.store.empty() || live[t.store].contains(t.index_blob_id)) continue;
    if (std::find(stores.begin(), stores.end(), t.store) == stores.end()) {
      stores.push_back(t.store);
      keeps.push_back(st->LiveBlobs(t.store, live[t.store]));
    }
    snapshots.push_back(t);
  }
  return AllSettled(std::move(keeps))
      .Map(st->executor,
           [st, snapshots, stores](std::vector<Result<BlobSetPtr>> keep) {
             std::vector<Future<void>> deletions;
             for (const ExpiringSnapshot& t : snapshots) {
               const size_t i = std::find(stores.begin(), stores.end(), t.store) - stores.begin();
               deletions.push_back(st->ExpireOne(t, keep[i]));
             }
             return AllSettled(std::move(deletions));
           })
      .Then(st->executor, [st, targets = std::move(targets), snapshots, live,
                           started](Result<std::vector<Result<void>>> settled) {
        ExpireOutcome out;
        for (const ExpiringSnapshot& t : targets) {
          if (t.store.empty()) continue;  // not a snapshot: ignored
          const size_t i = std::find(snapshots.begin(), snapshots.end(), t) - snapshots.begin();
          // A live target is done with as it is. One not this
          // task's to delete (kDataLoss) is reported once and forgotten, as listed again it
          // would fail every later commit.
          const Status s = i < snapshots.size() ? (*settled)[i].status() : Status::Ok();
          if (s.ok() || s.code() == StatusCode::kDataLoss) out.done.push_back(t);
          if (!s.ok() && out.error.ok()) out.error = s;
          if (!s.ok()) st->Fail(t.store, Phase::kCleanup);
        }
        std::lock_guard<std::mutex> lock(st->mu);
        std::set<std::string> keep;
        for (const auto& [name, ids] : live) keep.insert(ids.begin(), ids.end());
        std::erase_if(st->blob_sets, [&keep](const auto& e) { return !keep.contains(e.first); });
        for (auto& [name, s] : st->stores) {
          s.figures.durations[Phase::kCleanup] = Clock::now() - started;
        }
        return Result<ExpireOutcome>(std::move(out));
      });
}

Future<void> BackupManager::DeleteOldCheckpointDirs(const std::string& checkpoint_id) {
  if (!state_->options.delete_old_checkpoint_dirs) return MakeReadyFuture();
  std::vector<std::string> dirs;
  for (const auto& [name, s] : state_->stores) dirs.push_back(s.config.dir);
  return Async(state_->executor, [dirs, checkpoint_id]() -> Status {
    for (const std::string& dir : dirs) RETURN_IF_ERROR(DeleteCheckpointDirs(dir, checkpoint_id));
    return Status::Ok();
  });
}

void BackupManager::RecordFigures() const {
  if (state_->metrics == nullptr) return;
  std::lock_guard<std::mutex> lock(state_->mu);
  for (const auto& [name, s] : state_->stores)
    state_->metrics->Record(Flow::kBackup, name, s.figures);
}

std::map<std::string, StoreFigures> BackupManager::LastFigures() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::map<std::string, StoreFigures> out;
  for (const auto& [name, s] : state_->stores) out[name] = s.figures;
  return out;
}

}  // namespace blobstate
