#include <malloc.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <set>

#include "async/failpoints.h"
#include "backup/backup_manager.h"
#include "blobstate/commit.h"
#include "commit/commit_history.h"
#include "restore/restore_manager.h"

namespace blobstate {
namespace {

using Clock = std::chrono::steady_clock;

// A failpoint as a step of a future chain.
Future<void> At(const char* name) { return MakeReadyFuture<void>(Failpoint(name)); }

// The claims of this process: "<blob store>|<job>|<task>".
std::mutex registry_mu;
std::set<std::string>& Registry() {
  static std::set<std::string> claimed;  // GUARDED_BY(registry_mu)
  return claimed;
}

// `dir` made absolute, its symlinks resolved as far as it exists, for comparisons.
std::string Canonical(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(std::filesystem::absolute(dir), ec);
  std::string out = ec ? dir : p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// Whether `inner` is `outer` or lies under it (both canonical).
bool IsWithin(const std::string& inner, const std::string& outer) {
  if (inner == outer) return true;
  const std::string prefix = outer.back() == '/' ? outer : outer + "/";
  return inner.starts_with(prefix);
}

}  // namespace

Status ValidateStoreDirs(const std::vector<StoreConfig>& stores,
                         const std::string& blob_store_dir) {
  std::vector<std::pair<const StoreConfig*, std::string>> dirs;
  for (const StoreConfig& s : stores) {
    if (s.BackedUp() && !s.dir.empty()) dirs.emplace_back(&s, Canonical(s.dir));
  }
  const std::string blobs = blob_store_dir.empty() ? "" : Canonical(blob_store_dir);
  for (const auto& [store, dir] : dirs) {
    const std::string about = "store " + store->name + " (directory " + store->dir + ")";
    for (const auto& [other, other_dir] : dirs) {
      if (other == store) continue;
      if (IsWithin(other_dir, dir) || IsWithin(other_dir, dir + ".restore")) {
        return InvalidArgumentError(about + " and store " + other->name + " (directory " +
                                    other->dir +
                                    ") overlap: each store needs a directory of its own, apart "
                                    "from the other's and from its <dir>.restore");
      }
    }
    if (!blobs.empty() &&
        (IsWithin(blobs, dir) || IsWithin(blobs, dir + ".restore") || IsWithin(dir, blobs))) {
      return InvalidArgumentError(about + " and the blob store's directory " + blob_store_dir +
                                  " overlap: a restore of the store would empty it");
    }
  }
  return Status::Ok();
}

Status ValidateCommitOptions(const CommitOptions& options, const BlobStore* store) {
  RETURN_IF_ERROR(ValidateForBlobStoreBackend(options.checkpoints));
  if (!options.checkpoint_id.empty() && !IsValidCheckpointId(options.checkpoint_id)) {
    return InvalidArgumentError("invalid checkpoint id '" + options.checkpoint_id.substr(0, 64) +
                                "': ids are <13 digits>-<16 hex digits>, as `blobstate "
                                "checkpoints` lists them");
  }
  std::set<std::string> names;
  for (const StoreConfig& s : options.stores) {
    if (!IsValidName(s.name)) return InvalidArgumentError("invalid store name '" + s.name + "'");
    if (!names.insert(s.name).second) {
      return InvalidArgumentError("store " + s.name + " is configured twice");
    }
    if (s.BackedUp() && s.dir.empty()) {
      return InvalidArgumentError("store " + s.name + " is persistent but has no directory");
    }
  }
  RETURN_IF_ERROR(ValidateStoreDirs(options.stores, store ? store->LocalDirectory() : ""));
  if (options.backup.ttl < kMinBlobTtl) {
    return InvalidArgumentError(
        "blob TTL of " + std::to_string(options.backup.ttl.count()) + " s is below the floor of " +
        std::to_string(kMinBlobTtl.count()) +
        " s: a commit removes its blobs' TTLs before half of it has passed, and must have the "
        "time to");
  }
  return ValidateRetentionPolicy(options.retention);
}

// What an engine holds: this process's claim of the task (a writer's only) and the locks
// of the backed-up stores' directories. Released with the engine, so that a replacement
// can open at once even while a commit given up on still runs (fencing stops it), but not
// while a restore given up on still writes the directories: Restore shares them until it
// ends.
class CommitEngine::Holds {
 public:
  static Result<std::unique_ptr<Holds>> Take(const BlobStore& store, const CommitOptions& options) {
    auto held = std::make_shared<Held>();
    if (options.claim) {
      std::string key = store.Describe() + "|" + options.job + "|" + options.task;
      std::lock_guard<std::mutex> lock(registry_mu);
      if (!Registry().insert(key).second) {
        return FailedPreconditionError("job " + options.job + ", task " + options.task + " of " +
                                       store.Describe() +
                                       " is already open for writing in this process");
      }
      held->key = std::move(key);
    }
    for (const StoreConfig& c : options.stores) {
      if (!c.BackedUp()) continue;
      Result<StoreDirLock> lock = StoreDirLock::Acquire(c.dir);
      if (!lock.ok()) return lock.status().WithContext("store " + c.name);
      held->locks.push_back(std::move(*lock));
    }
    return std::unique_ptr<Holds>(new Holds(std::move(held)));
  }
  // Keeps everything held until the last share (or this) is gone.
  std::shared_ptr<const void> Share() const { return held_; }

 private:
  struct Held {
    ~Held() {
      if (key.empty()) return;
      std::lock_guard<std::mutex> lock(registry_mu);
      Registry().erase(key);
    }
    std::string key;  // in Registry(); empty without a claim
    std::vector<StoreDirLock> locks;
  };
  explicit Holds(std::shared_ptr<Held> held) : held_(std::move(held)) {}
  const std::shared_ptr<Held> held_;
};

struct CommitEngine::State {
  State(BlobStore& s, Executor& e, CommitOptions o, Metrics* m)
      : store(s),
        executor(e),
        options(std::move(o)),
        metrics(m),
        backup(s, e, options.job, options.task, options.stores, options.backup, m) {}

  BlobStore& store;
  Executor& executor;
  const CommitOptions options;
  Metrics* const metrics;
  BackupManager backup;
  std::unique_ptr<CheckpointStore> checkpoints;
  std::unique_ptr<CommitHistory> history;  // set once, by Open
  std::optional<Checkpoint> head;          // the latest checkpoint at open; set once, by Open
  std::optional<Checkpoint> opened_at;     // set once, by Open
  mutable std::mutex mu;
  // Of the backed-up stores opened_at names; set by Open, shared with the backup and restore
  // managers, never copied; dropped by the first commit (a later restore fetches them).
  std::shared_ptr<const StoreIndexes> snapshots =  // GUARDED_BY(mu) after Open
      std::make_shared<const StoreIndexes>();
  std::optional<Checkpoint> last;           // GUARDED_BY(mu)
  std::chrono::nanoseconds persist_time{};  // GUARDED_BY(mu)

  // The checkpoint the stores are restored to and the commits build on: opened_at, unless
  // it is a version 1 checkpoint (offsets only), which holds no state.
  std::optional<Checkpoint> WithState() const {
    return opened_at && opened_at->version >= 2 ? opened_at : std::nullopt;
  }
  // The checkpoint to open at, per options (claiming the task first if asked to); sets head.
  Future<std::optional<Checkpoint>> Select();
  // Checkpoint options.checkpoint_id, if the task keeps it (head is read).
  Future<std::optional<Checkpoint>> SelectKept();
  // Fetches `snapshots`, once, for both recovery and restore.
  Future<void> FetchSnapshots();
  // If claimed: finishes what a crashed writer left.
  Future<void> Recover();
  Future<void> Persist(std::shared_ptr<Checkpoint> next);
  // After the first commit: the directories hold what a checkpoint of theirs names, so
  // their lock files record whose they are (RecordStoreDirOwner), once per engine.
  Status RecordOwners();
  bool owners_recorded = false;  // GUARDED_BY(mu)
};

Status CommitEngine::State::RecordOwners() {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (owners_recorded) return Status::Ok();
  }
  for (const StoreConfig& c : options.stores) {
    if (!c.BackedUp()) continue;
    RETURN_IF_ERROR(RecordStoreDirOwner(c.dir, StoreOwner(options.job, options.task, c.name)));
  }
  std::lock_guard<std::mutex> lock(mu);
  owners_recorded = true;
  return Status::Ok();
}

Future<std::optional<Checkpoint>> CommitEngine::State::Select() {
  Future<std::optional<Checkpoint>> latest =
      options.claim ? checkpoints->Claim(options.checkpoint_id) : checkpoints->ReadLatest();
  return std::move(latest).Map(executor, [this](std::optional<Checkpoint> read) {
    head = std::move(read);
    if (options.checkpoint_id.empty() || (head && head->id == options.checkpoint_id)) {
      return MakeReadyFuture<std::optional<Checkpoint>>(head);
    }
    return SelectKept();
  });
}

Future<std::optional<Checkpoint>> CommitEngine::State::SelectKept() {
  const std::string& id = options.checkpoint_id;
  auto not_kept = [this, id](const std::string& why) {
    return NotFoundError("checkpoint " + id + " of job " + options.job + ", task " + options.task +
                         " is not kept in " + store.Describe() + " (" + why +
                         "; `blobstate checkpoints` lists those kept)");
  };
  if (head && head->version >= 2 &&
      std::find(head->retained.begin(), head->retained.end(), id) != head->retained.end()) {
    return checkpoints->ReadHistory(id).Map(
        executor, [](Checkpoint c) { return std::optional<Checkpoint>(std::move(c)); });
  }
  return checkpoints->ReadPins().Map(
      executor, [this, id, not_kept](std::vector<Pin> pins) -> Future<std::optional<Checkpoint>> {
        for (const Pin& p : pins) {
          if (p.checkpoint_id != id || p.released) continue;
          return checkpoints->ReadHistory(id).Map(
              executor, [](Checkpoint c) { return std::optional<Checkpoint>(std::move(c)); });
        }
        return MakeReadyFuture<std::optional<Checkpoint>>(
            not_kept("neither the latest, nor retained, nor pinned"));
      });
}

Future<void> CommitEngine::State::FetchSnapshots() {
  std::map<std::string, std::string> dirs;  // each index file beside its store
  for (const StoreConfig& c : options.stores) {
    if (c.BackedUp()) dirs.emplace(c.name, DirName(c.dir));
  }
  if (dirs.empty() || !WithState()) return MakeReadyFuture();
  return GetStoreIndexes(store, executor, WithState(), dirs)
      .Map(executor, [this](StoreIndexes fetched) {
        snapshots = std::make_shared<const StoreIndexes>(std::move(fetched));
      });
}

Future<void> CommitEngine::State::Recover() {
  if (!options.claim) return MakeReadyFuture();
  std::optional<Checkpoint> with_state = WithState();
  // A checkpoint from before history has its cleanup finished the old way, which must not
  // delete a pinned snapshot among its ancestors.
  const bool legacy = with_state && !with_state->history;
  // Opened at an older checkpoint (a roll back): the first commit builds on it.
  std::optional<Checkpoint> base;
  if (opened_at && head && opened_at->id != head->id) base = opened_at;
  return history->Load(head, std::move(base))
      .Map(executor,
           [this, legacy] {
             return legacy ? history->PinnedSnapshots()
                           : MakeReadyFuture<std::set<std::string>>(std::set<std::string>{});
           })
      .Map(executor,
           [this, with_state](std::set<std::string> pinned) {
             return backup.Init(with_state, snapshots, std::move(pinned));
           })
      .Map(executor,
           [this] {
             // Best effort: what is left stays listed, and each commit retries it.
             return history->Expire().Then(executor, [](Result<void>) { return Result<void>(); });
           })
      .Map(executor, [this, with_state]() -> Status {
        // Local checkpoint directories of other attempts are stale; the one opened at may be
        // reused by the restore.
        for (const StoreConfig& c : options.stores) {
          if (!c.BackedUp()) continue;
          RETURN_IF_ERROR(DeleteCheckpointDirs(c.dir, with_state ? with_state->id : ""));
        }
        return Status::Ok();
      });
}

Future<std::unique_ptr<CommitEngine>> CommitEngine::Open(BlobStore& store, Executor& executor,
                                                         CommitOptions options, Metrics* metrics) {
  using Out = std::unique_ptr<CommitEngine>;
  if (Status s = ValidateCommitOptions(options, &store); !s.ok()) return MakeReadyFuture<Out>(s);
  Result<std::unique_ptr<Holds>> holds = Holds::Take(store, options);
  if (!holds.ok()) return MakeReadyFuture<Out>(holds.status());
  auto state = std::make_shared<State>(store, executor, std::move(options), metrics);
  Result<std::unique_ptr<CheckpointStore>> checkpoints = CheckpointStore::Open(
      store, executor, state->options.checkpoints, state->options.job, state->options.task);
  if (!checkpoints.ok()) return MakeReadyFuture<Out>(checkpoints.status());
  state->checkpoints = std::move(*checkpoints);
  state->history = std::make_unique<CommitHistory>(*state->checkpoints, state->backup, executor,
                                                   state->options.retention);
  auto held = std::make_shared<std::unique_ptr<Holds>>(std::move(*holds));
  return state->Select()
      .Map(executor,
           [state](std::optional<Checkpoint> at) {
             state->opened_at = at;
             state->last = std::move(at);
             return state->FetchSnapshots();
           })
      .Map(executor, [state] { return state->Recover(); })
      .Map(executor,
           [state, held]() -> Out { return Out(new CommitEngine(state, std::move(*held))); });
}

CommitEngine::CommitEngine(std::shared_ptr<State> state, std::unique_ptr<Holds> holds)
    : state_(std::move(state)), holds_(std::move(holds)) {}

CommitEngine::~CommitEngine() = default;

const std::optional<Checkpoint>& CommitEngine::opened_at() const { return state_->opened_at; }

Future<std::map<std::string, StoreFigures>> CommitEngine::Restore() {
  auto st = state_;
  auto restore =
      std::make_shared<RestoreManager>(st->store, st->executor, st->options.job, st->options.task,
                                       st->options.stores, st->options.restore, st->metrics);
  std::shared_ptr<const StoreIndexes> snapshots;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    snapshots = st->snapshots;
  }
  return restore->Init(st->WithState(), std::move(snapshots))
      .Map(st->executor, [restore] { return restore->Restore(); })
      .Then(st->executor,
            [st, restore, held = holds_->Share()](Result<std::map<std::string, StoreFigures>> r) {
              return r;  // `st`, `restore` and the stores' locks live until the last step ends
            });
}

Future<void> CommitEngine::State::Persist(std::shared_ptr<Checkpoint> next) {
  const Clock::time_point started = Clock::now();
  return checkpoints->Write(*next).Then(executor, [this, started](Result<void> r) {
    if (metrics != nullptr && !r.ok()) {
      metrics->RecordError(Flow::kBackup, "_all", Phase::kPersist);
    }
    if (!r.ok()) return r;
    // The checkpoint is one write for all stores: its time counts once, in the total.
    const std::chrono::nanoseconds spent = Clock::now() - started;
    if (metrics != nullptr) metrics->RecordPhase(Flow::kBackup, "_all", Phase::kPersist, spent);
    std::lock_guard<std::mutex> lock(mu);
    persist_time = spent;
    return r;
  });
}

Future<Checkpoint> CommitEngine::Commit(const std::string& id,
                                        std::map<std::string, std::string> dirs,
                                        InputOffsets offsets) {
  auto st = state_;
  if (!st->options.claim) {
    return MakeReadyFuture<Checkpoint>(FailedPreconditionError(
        "task " + st->options.task + ": a commit needs an engine opened with a claim"));
  }
  // Fenced by an earlier commit: nothing is uploaded that no checkpoint would name.
  if (Status fenced = st->checkpoints->Fenced(); !fenced.ok()) {
    return MakeReadyFuture<Checkpoint>(fenced);
  }
  auto next = std::make_shared<Checkpoint>(Checkpoint{.id = id, .input_offsets = offsets});
  {
    std::lock_guard<std::mutex> lock(st->mu);
    // Other backends' markers carry over; a version 1 checkpoint has none.
    if (st->last && st->last->version >= 2) next->state_markers = st->last->state_markers;
  }
  next->state_markers.erase(std::string(kRemovedStoresKey));
  std::vector<Future<void>> steps;
  steps.push_back(st->backup.Upload(id, dirs).Map(st->executor, [next](StoreMarkers markers) {
    next->state_markers[std::string(kBlobStoreBackend)] = std::move(markers);
  }));
  steps.push_back(st->history->Prepare(id, std::chrono::system_clock::now()));
  return AllOf(std::move(steps))
      .Then(st->executor,
            [st](Result<void> r) -> Future<void> {
              if (r.ok()) return MakeReadyFuture();
              // Nothing will name what the upload put (if it succeeded).
              return st->backup.Discard().Then(st->executor, [r](Result<void>) { return r; });
            })
      .Map(st->executor,
           [st, next] {
             st->history->Plan(*next);
             return At("persist.before_checkpoint")
                 .Map(st->executor, [st, next] { return st->Persist(next); })
                 .Map(st->executor, [] { return At("persist.after_checkpoint"); });
           })
      .Map(st->executor,
           [st, next]() -> Future<void> {
             {
               std::lock_guard<std::mutex> lock(st->mu);
               st->last = *next;
               st->snapshots = nullptr;  // the backup manager holds the new ones
             }
             st->history->Advance(*next);
             if (Status s =
                     st->backup.Persisted(next->state_markers[std::string(kBlobStoreBackend)]);
                 !s.ok()) {
               return MakeReadyFuture<void>(s);
             }
             // The indexes of the previous checkpoint are gone; their pages go back to the
             // system before the expiry fetches more (a large store's are many small
             // allocations, freed in the middle of the heap where it is not trimmed).
             ::malloc_trim(0);
             std::vector<Future<void>> after;
             after.push_back(st->history->Expire());
             after.push_back(st->backup.DeleteOldCheckpointDirs(next->id));
             return AllOf(std::move(after));
           })
      .Map(st->executor, [st, next]() -> Result<Checkpoint> {
        st->backup.RecordFigures();
        RETURN_IF_ERROR(st->RecordOwners());
        return *next;
      });
}

std::optional<Checkpoint> CommitEngine::last() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->last;
}

std::map<std::string, StoreFigures> CommitEngine::LastFigures() const {
  return state_->backup.LastFigures();
}

std::chrono::nanoseconds CommitEngine::LastPersistTime() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->persist_time;
}

}  // namespace blobstate
