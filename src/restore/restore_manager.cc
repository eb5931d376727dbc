#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>

#include "blobstate/restore.h"
#include "blobstate/snapshot.h"
#include "blobstate/transfer.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using Clock = std::chrono::steady_clock;

// Files that the store's engine never changes in place, and so may be shared by hard link
// between a local checkpoint and the restored store: RocksDB's SST and blob files. Others
// (MANIFEST, WAL, OPTIONS, any file of a plain directory store) are copied.
bool IsImmutable(std::string_view name) {
  return name.ends_with(".sst") || name.ends_with(".blob");
}

// The directory a restore of the store at `dir` writes: `dir`, or the directory that `dir`
// is a symlink to. kFailedPrecondition if `dir` exists as anything else.
Result<std::string> StoreDirTarget(const std::string& dir) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return dir;
    return ErrnoError("stat " + dir, errno);
  }
  if (S_ISDIR(st.st_mode)) return dir;
  if (!S_ISLNK(st.st_mode)) {
    return FailedPreconditionError("store directory " + dir + " is not a directory");
  }
  std::unique_ptr<char, decltype(&std::free)> target(::realpath(dir.c_str(), nullptr), std::free);
  if (target == nullptr || ::stat(target.get(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return FailedPreconditionError("store directory " + dir + " is a symlink to no directory");
  }
  return std::string(target.get());
}

}  // namespace

struct RestoreManager::State {
  State(BlobStore& s, Executor& e, RestoreOptions o, Metrics* m)
      : store(s),
        executor(e),
        options(std::move(o)),
        metrics(m),
        transfer(s, e,
                 {.verify_checksums = options.verify_checksums,
                  .sync_after_restore = options.sync,
                  .progress = options.progress}) {}

  BlobStore& store;
  Executor& executor;
  const RestoreOptions options;
  Metrics* const metrics;
  Transfer transfer;
  std::map<std::string, StoreConfig> stores;  // backed-up stores
  StoreMarkers markers;
  StoreSnapshots snapshots;  // set by Init

  // Restores one store; returns what it did.
  Future<StoreFigures> RestoreStore(const StoreConfig& config);
  // Recreates the store from its local checkpoint directory if that holds exactly the
  // snapshot; true if it did.
  Result<bool> TryReuse(const StoreConfig& config, const std::string& dest,
                        const StoreSnapshot& snapshot, StoreFigures& figures);
};

RestoreManager::RestoreManager(BlobStore& store, Executor& executor,
                               std::vector<StoreConfig> stores, RestoreOptions options,
                               Metrics* metrics)
    : state_(std::make_shared<State>(store, executor, std::move(options), metrics)) {
  for (StoreConfig& c : stores) {
    if (c.BackedUp()) state_->stores.emplace(c.name, std::move(c));
  }
}

RestoreManager::~RestoreManager() = default;

const StoreMarkers& RestoreManager::markers() const { return state_->markers; }

Future<void> RestoreManager::Init(const std::optional<Checkpoint>& checkpoint) {
  Result<StoreMarkers> markers = BlobStoreMarkers(checkpoint);
  if (!markers.ok()) {
    return MakeReadyFuture<void>(markers.status().WithContext("restore manager init"));
  }
  auto st = state_;
  st->markers = *markers;
  std::vector<std::string> wanted;
  for (const auto& [name, config] : st->stores) {
    if (st->markers.count(name)) wanted.push_back(name);
  }
  if (wanted.empty()) return MakeReadyFuture();
  return GetStoreSnapshots(st->store, st->executor, checkpoint, wanted)
      .Then(st->executor, [st](Result<StoreSnapshots> r) -> Result<void> {
        if (!r.ok()) return r.status().WithContext("restore manager init");
        st->snapshots = std::move(*r);
        return Result<void>();
      });
}

Result<bool> RestoreManager::State::TryReuse(const StoreConfig& config, const std::string& dest,
                                             const StoreSnapshot& snapshot, StoreFigures& figures) {
  const std::string& id = snapshot.index.metadata.checkpoint_id;
  if (!IsValidCheckpointId(id)) return false;
  const std::string local = CheckpointDirOf(config.dir, id);
  if (!PathExists(local)) return false;
  Result<bool> identical = IsIdentical(local, snapshot.index.root, options.diff);
  if (!identical.ok() || !*identical) return false;  // differs, or unreadable: download
  Status cloned = CloneTree(local, dest, [&](std::string_view name) {
    return IsImmutable(name) &&
           std::find(options.diff.excluded_names.begin(), options.diff.excluded_names.end(),
                     name) == options.diff.excluded_names.end();
  });
  if (!cloned.ok()) {  // e.g. a file vanished meanwhile: download instead
    RETURN_IF_ERROR(RemoveAll(dest));
    return false;
  }
  if (options.sync) RETURN_IF_ERROR(SyncFileSystem(dest));  // copies and names durable
  TreeTotals t = TotalsOf(snapshot.index.root);
  figures.files_reused = t.files;
  figures.bytes_reused = t.bytes;
  return true;
}

Future<StoreFigures> RestoreManager::State::RestoreStore(const StoreConfig& config) {
  auto started = Clock::now();
  auto snapshot = snapshots.find(config.name);
  const StoreSnapshot* s = snapshot == snapshots.end() ? nullptr : &snapshot->second;
  // The directory to restore into, emptied: the store's, or its target if it is a symlink
  // to a directory. "" if there is no snapshot (a new, empty store).
  auto cleared = Async(executor, [config, s]() -> Result<std::string> {
    ASSIGN_OR_RETURN(std::string dest, StoreDirTarget(config.dir));
    // Always start from an empty store directory: nothing stale may survive a restore.
    RETURN_IF_ERROR(RemoveAll(dest));
    if (s != nullptr) return dest;  // made by the clone or the download
    RETURN_IF_ERROR(MakeDirs(dest));
    return std::string();
  });
  return std::move(cleared).Map(executor, [this, config, s, started](std::string dest) {
    StoreFigures f;
    if (dest.empty()) return MakeReadyFuture<StoreFigures>(f);
    Result<bool> reused = TryReuse(config, dest, *s, f);
    if (!reused.ok()) return MakeReadyFuture<StoreFigures>(reused.status());
    if (*reused) {
      f.durations[Phase::kDownload] = Clock::now() - started;
      return MakeReadyFuture<StoreFigures>(f);
    }
    TreeTotals t = TotalsOf(s->index.root);
    f.files_downloaded = t.files;
    f.bytes_downloaded = t.bytes;
    return transfer.GetDir(s->index.root, dest)
        .Then(executor, [f, started, dir = dest](Result<void> r) mutable {
          if (!r.ok()) {  // leave an empty store, not a tree that looks restored
            RemoveAll(dir).IgnoreError();
            MakeDirs(dir).IgnoreError();
            return Result<StoreFigures>(r.status());
          }
          f.durations[Phase::kDownload] = Clock::now() - started;
          return Result<StoreFigures>(f);
        });
  });
}

Future<std::map<std::string, StoreFigures>> RestoreManager::Restore() {
  auto st = state_;
  std::map<std::string, Future<StoreFigures>> restores;
  for (const auto& [name, config] : st->stores) {
    restores.emplace(
        name,
        st->RestoreStore(config).Then(st->executor, [st, name = name](Result<StoreFigures> r) {
          if (st->metrics == nullptr) return r;
          if (r.ok()) {
            st->metrics->Record(Flow::kRestore, name, *r);
          } else {
            st->metrics->RecordError(Flow::kRestore, name, Phase::kDownload);
          }
          return r.ok() ? r : r.status().WithContext("restore of store " + name);
        }));
  }
  return ToMap(std::move(restores));
}

}  // namespace blobstate
