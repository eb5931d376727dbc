#include "restore/restore_manager.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "async/failpoints.h"
#include "async/pipeline.h"
#include "blobstate/snapshot.h"
#include "index/codec.h"
#include "restore/staging.h"
#include "store/lazy_files.h"
#include "transfer/transfer.h"
#include "util/fs.h"
#include "util/hash.h"

namespace blobstate {
namespace {

using Clock = std::chrono::steady_clock;

// kFailedPrecondition naming `dir` unless it is a directory or absent. A symlink is
// refused, as the backup refuses it: the store's directory must be given itself.
Status CheckStoreDir(const std::string& dir) {
  Result<struct stat> st = LStat(dir);
  if (!st.ok()) return st.status().code() == StatusCode::kNotFound ? Status::Ok() : st.status();
  if (S_ISDIR(st->st_mode)) return Status::Ok();
  return FailedPreconditionError(
      "store directory " + dir + " is " +
      (S_ISLNK(st->st_mode) ? "a symlink: give the directory itself" : "not a directory"));
}

// Whether the local file `dir`/IDENTITY (RocksDB's database identity) is the one of
// `snapshot`.
bool SameRocksDbIdentity(const std::string& dir, const StoreIndex& snapshot) {
  Result<IndexFile::Dir> root = snapshot.index->ReadDir(snapshot.index->root());
  if (!root.ok()) return false;
  for (const FileIndex& f : root->files_present) {
    if (f.name != "IDENTITY") continue;
    Result<Checksum> local = HashFile(JoinPath(dir, "IDENTITY"));
    return local.ok() && *local == f.checksum;
  }
  return false;
}

// Whether `dir` (an existing directory, whose lock file records no other owner) may be
// emptied for the restore of `owner`'s `snapshot` (null: none): see RestoreManager::Restore.
// Without a record, a local checkpoint of the snapshot beside it or the snapshot's RocksDB
// identity shows it is the store's.
Result<bool> IsStoresDir(const std::string& dir, const std::string& owner,
                         const std::string& recorded, const StoreIndex* snapshot) {
  ASSIGN_OR_RETURN(bool empty, IsEmptyDir(dir));
  if (empty || recorded == owner) return true;
  if (snapshot == nullptr) return false;
  const std::string& id = snapshot->index->header().metadata.checkpoint_id;
  if (IsValidCheckpointId(id) && PathExists(CheckpointDirOf(dir, id))) return true;
  return SameRocksDbIdentity(dir, *snapshot);
}

// "blob <id>" or "blobs <id>, <id>, ...": where the bytes of `file` are.
std::string BlobsOf(const FileIndex& file) {
  if (file.blobs.empty()) return "no blobs";
  std::string out = file.blobs.size() == 1 ? "blob " : "blobs ";
  for (size_t i = 0; i < file.blobs.size(); ++i) {
    if (i == 3) return out + ", ... (" + std::to_string(file.blobs.size()) + " in all)";
    out += (i == 0 ? "" : ", ") + file.blobs[i].blob_id;
  }
  return out;
}

// The files a lazy restore leaves in the blob store.
struct RemoteFiles {
  SnapshotIndex list;          // written as `<dir>.remote`
  uint64_t resumed_bytes = 0;  // of them, in parts an interrupted download left (kept)
};

}  // namespace

struct RestoreManager::State {
  State(BlobStore& s, Executor& e, std::string j, std::string t, RestoreOptions o, Metrics* m)
      : store(s),
        executor(e),
        job(std::move(j)),
        task(std::move(t)),
        options(std::move(o)),
        metrics(m),
        transfer(s, e,
                 {.verify_checksums = options.verify_checksums,
                  .verify_chunk_checksums = options.verify_chunk_checksums,
                  .sync_after_restore = options.sync,
                  .progress = options.progress}) {}

  BlobStore& store;
  Executor& executor;
  const std::string job, task;
  const RestoreOptions options;
  Metrics* const metrics;
  Transfer transfer;
  std::map<std::string, StoreConfig> stores;  // backed-up stores
  StoreMarkers markers;
  std::shared_ptr<const StoreIndexes> snapshots =  // set by Init
      std::make_shared<const StoreIndexes>();

  // kFailedPrecondition, naming the directory, unless the store's directory may be
  // emptied (see Restore).
  Status CheckEmptiable(const StoreConfig& config) const;
  // Restores one store; returns what it did.
  Future<StoreFigures> RestoreStore(const StoreConfig& config);
  // Stages the files of `snapshot` as `plan` says, downloading those it does not find
  // locally, at most kTransfersInFlight at a time; fails with the first error, naming file
  // and blobs. A lazy restore adds the files it leaves in the blob store to `remote`
  // instead of downloading them.
  Future<void> Stage(std::shared_ptr<const RestorePlan> plan, const StoreIndex* snapshot,
                     std::shared_ptr<RemoteFiles> remote);
};

RestoreManager::RestoreManager(BlobStore& store, Executor& executor, std::string job,
                               std::string task, std::vector<StoreConfig> stores,
                               RestoreOptions options, Metrics* metrics)
    : state_(std::make_shared<State>(store, executor, std::move(job), std::move(task),
                                     std::move(options), metrics)) {
  for (StoreConfig& c : stores) {
    if (c.BackedUp()) state_->stores.emplace(c.name, std::move(c));
  }
}

RestoreManager::~RestoreManager() = default;

const StoreMarkers& RestoreManager::markers() const { return state_->markers; }

Future<void> RestoreManager::Init(const std::optional<Checkpoint>& checkpoint,
                                  std::shared_ptr<const StoreIndexes> fetched) {
  Result<StoreMarkers> markers = BlobStoreMarkers(checkpoint);
  if (!markers.ok()) {
    return MakeReadyFuture<void>(markers.status().WithContext("restore manager init"));
  }
  auto st = state_;
  st->markers = *markers;
  std::map<std::string, std::string> wanted;  // each index file beside its store
  for (const auto& [name, config] : st->stores) {
    if (st->markers.count(name)) wanted.emplace(name, DirName(config.dir));
  }
  if (wanted.empty()) return MakeReadyFuture();
  using Shared = std::shared_ptr<const StoreIndexes>;
  Future<Shared> indexes = fetched
                               ? MakeReadyFuture<Shared>(std::move(fetched))
                               : GetStoreIndexes(st->store, st->executor, checkpoint, wanted)
                                     .Map(st->executor, [](StoreIndexes s) {
                                       return std::make_shared<const StoreIndexes>(std::move(s));
                                     });
  return std::move(indexes).Then(st->executor, [st](Result<Shared> r) -> Result<void> {
    if (!r.ok()) return r.status().WithContext("restore manager init");
    // A snapshot of another job or task is none of this task's state (W.11).
    for (const auto& [name, snapshot] : **r) {
      const SnapshotMetadata& m = snapshot.index->header().metadata;
      if (m.job_name != st->job || m.task_name != st->task) {
        return DataLossError("restore manager init: store " + name + ": snapshot " +
                             snapshot.index_blob_id + " belongs to job " + m.job_name + ", task " +
                             m.task_name + ", not to job " + st->job + ", task " + st->task);
      }
    }
    st->snapshots = std::move(*r);
    return Result<void>();
  });
}

namespace {

// kFailedPrecondition unless `dir`'s staging area, which a restore empties, is absent, an
// empty directory, or the store's: a restore records the store's owner in the lock file
// before it writes there, so a staging area beside a directory whose lock file names
// `owner` is one a restore of it left. Anything else at that path is someone else's.
Status CheckStagingArea(const std::string& dir, const std::string& owner,
                        const std::string& recorded) {
  const std::string staging = StagingDirOf(dir);
  Result<struct stat> st = LStat(staging);
  if (!st.ok()) return st.status().code() == StatusCode::kNotFound ? Status::Ok() : st.status();
  if (recorded == owner) return Status::Ok();
  if (S_ISDIR(st->st_mode)) {
    ASSIGN_OR_RETURN(bool empty, IsEmptyDir(staging));
    if (empty) return Status::Ok();
  }
  return FailedPreconditionError(
      staging + ", where a restore of store directory " + dir +
      " assembles the new tree, exists and nothing shows that a restore of store " + owner +
      " left it (" +
      (recorded.empty() ? "no lock file names an owner" : "the lock file names " + recorded) +
      "): nothing was changed; remove it, or restore with --force to empty it anyway");
}

}  // namespace

Status RestoreManager::State::CheckEmptiable(const StoreConfig& config) const {
  RETURN_IF_ERROR(CheckStoreDir(config.dir));
  const std::string owner = StoreOwner(job, task, config.name);
  std::string recorded;  // read only if not forced: a forced restore trusts no record
  if (!options.force) {
    ASSIGN_OR_RETURN(recorded, StoreDirOwner(config.dir));
    RETURN_IF_ERROR(CheckStagingArea(config.dir, owner, recorded));
  }
  if (!PathExists(config.dir)) return Status::Ok();
  ASSIGN_OR_RETURN(bool open, IsRocksDbOpenElsewhere(config.dir));
  if (open) {
    return FailedPreconditionError("store directory " + config.dir +
                                   " holds a RocksDB database that another process has open");
  }
  ASSIGN_OR_RETURN(std::string mount, FindMountPoint(config.dir));
  if (!mount.empty()) {
    return FailedPreconditionError(mount + " is a mount point inside store directory " +
                                   config.dir + ": a restore never empties another file system");
  }
  ASSIGN_OR_RETURN(struct stat dir, LStat(config.dir));
  ASSIGN_OR_RETURN(struct stat parent, LStat(DirName(config.dir)));
  if (dir.st_dev != parent.st_dev) {
    return FailedPreconditionError(
        "store directory " + config.dir +
        " is a mount point: a restore assembles the new tree beside it and swaps the two, "
        "so the store must be a directory inside the mounted file system");
  }
  if (options.force) return Status::Ok();
  // The record decides where there is one: the stores of a task have local checkpoints of
  // the same ids, so a checkpoint beside a directory does not tell them apart.
  if (!recorded.empty() && recorded != owner) {
    return FailedPreconditionError("store directory " + config.dir + " holds store " + recorded +
                                   " (its lock file " + config.dir + ".lock says so), not store " +
                                   owner +
                                   ": nothing was changed; restore with --force to empty it "
                                   "anyway");
  }
  auto snapshot = snapshots->find(config.name);
  ASSIGN_OR_RETURN(bool ours,
                   IsStoresDir(config.dir, owner, recorded,
                               snapshot == snapshots->end() ? nullptr : &snapshot->second));
  if (ours) return Status::Ok();
  return FailedPreconditionError(
      "store directory " + config.dir + " is not empty and nothing shows that it holds store " +
      owner +
      " (its lock file names no such owner, no local checkpoint of the snapshot is beside it, "
      "no RocksDB identity matches): nothing was changed; restore with --force to empty it "
      "anyway");
}

namespace {

// Whether a lazy restore leaves `d` in the blob store: a RocksDB table file at the top of
// the store whose parts can be checked one by one.
bool LeftRemote(const PlannedDownload& d) {
  return d.rel_path.find('/') == std::string::npos && d.rel_path.ends_with(".sst") &&
         !d.file.blobs.empty() && HasPartChecksums(d.file);
}

// SwapIn, with the list of the files the staged tree left remote (`remote`: none if it lists
// none). `<dir>.remote` is that list from just before the swap on, so that the new store
// is never without it. The previous contents' list, if any, is set aside as the staging
// area's: it goes with them once swapped out, or comes back if the swap fails before that.
Status SwapInWithList(const std::string& dir, const RestorePlan& plan, const SnapshotIndex& remote,
                      bool sync) {
  const std::string list = RemoteManifestOf(dir), aside = RemoteManifestOf(plan.staging);
  const bool set_aside = ::rename(list.c_str(), aside.c_str()) == 0;
  if (!set_aside && errno != ENOENT) return ErrnoError("rename " + list + " to " + aside, errno);
  const bool lazy = !remote.root.files_present.empty();
  Status s = lazy ? WriteRemoteManifest(dir, remote) : Status::Ok();
  bool swapped = false;
  if (s.ok()) s = SwapIn(dir, plan, sync, &swapped);
  if (swapped) {
    RemoveAll(aside).IgnoreError();
    return s;
  }
  if (!s.ok()) {  // the previous contents stay, with their list
    if (lazy) RemoveRemoteManifest(dir).IgnoreError();
    if (set_aside && ::rename(aside.c_str(), list.c_str()) != 0) {
      return Status(s.code(), s.message() + "; and " + list + " could not be put back from " +
                                  aside + ": " + std::strerror(errno));
    }
  }
  return s;
}

}  // namespace

Future<void> RestoreManager::State::Stage(std::shared_ptr<const RestorePlan> plan,
                                          const StoreIndex* snapshot,
                                          std::shared_ptr<RemoteFiles> remote) {
  auto walk = std::make_shared<StagingWalk>(*plan, snapshot, options.sync);
  return Pipeline(
      executor, kTransfersInFlight,
      [this, plan, walk, remote]() -> Result<std::optional<Future<void>>> {
        std::optional<PlannedDownload> next;
        do {  // never concurrent with itself: `remote` needs no lock
          ASSIGN_OR_RETURN(next, walk->Next());
          if (!next || !options.lazy || !LeftRemote(*next)) break;
          remote->resumed_bytes += HaveBytes(next->file, next->have);
          remote->list.root.files_present.push_back(std::move(next->file));
        } while (true);
        if (!next) return std::optional<Future<void>>();
        auto d = std::make_shared<const PlannedDownload>(std::move(*next));
        return std::optional(Between<void>(executor, "get.before_file", "get.after_file", [&] {
                               return transfer.GetFile(d->file, d->path, d->have);
                             }).Then(executor, [d](Result<void> r) {
          return r.status().WithContext("file " + d->rel_path + " (" + BlobsOf(d->file) + ")");
        }));
      });
}

Future<StoreFigures> RestoreManager::State::RestoreStore(const StoreConfig& config) {
  const auto started = Clock::now();
  auto found = snapshots->find(config.name);
  const StoreIndex* snapshot = found == snapshots->end() ? nullptr : &found->second;
  auto plan = std::make_shared<RestorePlan>();
  auto planned = Async(executor, [this, config, snapshot, plan]() -> Status {
    ASSIGN_OR_RETURN(*plan, PlanRestore(config.dir, snapshot));
    RETURN_IF_ERROR(CheckFreeSpace(config.name, DirName(plan->staging),
                                   plan->copied.bytes + plan->downloaded.bytes));
    return PrepareStaging(*plan, options.verify_checksums);
  });
  auto remote = std::make_shared<RemoteFiles>();
  if (snapshot != nullptr) remote->list.metadata = snapshot->index->header().metadata;
  return std::move(planned)
      .Map(executor, [this, plan, snapshot, remote] { return Stage(plan, snapshot, remote); })
      .Map(executor, [this, config, plan, started, remote]() -> Result<StoreFigures> {
        RETURN_IF_ERROR(SwapInWithList(config.dir, *plan, remote->list, options.sync));
        const TreeTotals left = TotalsOf(remote->list.root.files_present);
        StoreFigures f;
        f.files_reused = plan->kept.files + plan->linked.files + plan->copied.files;
        f.bytes_reused =
            plan->kept.bytes + plan->linked.bytes + plan->copied.bytes + plan->resumed_bytes;
        f.files_downloaded = plan->downloaded.files - left.files;
        // The parts a download left of a file left remote are not in downloaded.bytes.
        f.bytes_downloaded = plan->downloaded.bytes - (left.bytes - remote->resumed_bytes);
        f.durations[Phase::kDownload] = Clock::now() - started;
        return f;
      });
}

Future<std::map<std::string, StoreFigures>> RestoreManager::Restore() {
  auto st = state_;
  // Every store's path is checked before any store is emptied. Then each directory is the
  // store's, whatever happens next (a crash mid-download leaves part of the store): its
  // lock file says so before anything is written into it.
  auto checked = Async(st->executor, [st]() -> Status {
    for (const auto& [name, config] : st->stores) {
      RETURN_IF_ERROR(st->CheckEmptiable(config).WithContext("restore of store " + name));
    }
    for (const auto& [name, config] : st->stores) {
      RETURN_IF_ERROR(RecordStoreDirOwner(config.dir, StoreOwner(st->job, st->task, name)));
    }
    return Status::Ok();
  });
  return std::move(checked).Map(st->executor, [st] {
    std::map<std::string, Future<StoreFigures>> restores;
    for (const auto& [name, config] : st->stores) {
      restores.emplace(
          name,
          st->RestoreStore(config).Then(st->executor, [st, name = name](Result<StoreFigures> r) {
            if (st->metrics != nullptr && r.ok()) {
              st->metrics->Record(Flow::kRestore, name, *r);
            } else if (st->metrics != nullptr) {
              st->metrics->RecordError(Flow::kRestore, name, Phase::kDownload);
            }
            return r.ok() ? r : r.status().WithContext("restore of store " + name);
          }));
    }
    return ToMap(std::move(restores));
  });
}

}  // namespace blobstate
