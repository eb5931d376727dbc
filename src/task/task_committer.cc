#include <condition_variable>
#include <mutex>

#include "async/failpoints.h"
#include "blobstate/task.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using Clock = std::chrono::steady_clock;

// The async stage of one commit, as the sync stages of later commits see it.
struct InFlight {
  const Clock::time_point started = Clock::now();
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // GUARDED_BY(mu)
  Status status;      // GUARDED_BY(mu)

  void Finish(Status s) {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    status = std::move(s);
    cv.notify_all();
  }
  // Waits up to `timeout`; nullopt if the stage is still running then.
  std::optional<Status> Wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, timeout, [this] { return done; })) return std::nullopt;
    return status;
  }
};

// A failpoint as a step of a future chain.
Future<void> At(const char* name) { return MakeReadyFuture<void>(Failpoint(name)); }

}  // namespace

Snapshotter RocksDbSnapshotter(RocksDbStore& db) {
  return [&db](const std::string& dest) { return db.Checkpoint(dest); };
}

struct TaskCommitter::State {
  State(BlobStore& s, Executor& e, TaskOptions o, Metrics* m)
      : store(s),
        executor(e),
        options(std::move(o)),
        metrics(m),
        backup(s, e, options.job, options.task, options.stores, options.backup, m) {}

  BlobStore& store;
  Executor& executor;
  const TaskOptions options;
  Metrics* const metrics;
  BackupManager backup;
  std::unique_ptr<CheckpointStore> checkpoints;

  // Touched by the caller's thread only (Init, AddStore, Commit), except `last`.
  bool initialized = false;
  std::map<std::string, Snapshotter> snapshotters;
  std::shared_ptr<InFlight> inflight;

  mutable std::mutex mu;
  std::optional<Checkpoint> last;  // GUARDED_BY(mu): the last checkpoint persisted

  // Snapshots every backed-up store for checkpoint `id`; store -> checkpoint directory.
  Result<std::map<std::string, std::string>> SyncStage(const std::string& id);
  // Upload -> persist -> cleanup -> prune, on the commit executor.
  Future<void> AsyncStage(Checkpoint next, std::map<std::string, std::string> dirs);
  // Waits (per the max commit delay) for the previous async stage; nullopt: go ahead.
  std::optional<Result<CommitOutcome>> AwaitPrevious();
};

// `f`, keeping the committer's state alive until it completes: a step that timed out may
// still run after the committer is gone.
template <typename T>
Future<T> TaskCommitter::KeepAlive(Future<T> f) {
  return std::move(f).Then(state_->executor, [keep = state_](Result<T> r) { return r; });
}

TaskCommitter::TaskCommitter(std::shared_ptr<State> state) : state_(std::move(state)) {}

TaskCommitter::~TaskCommitter() { Close().IgnoreError(); }

Result<std::unique_ptr<TaskCommitter>> TaskCommitter::Open(BlobStore& store, Executor& executor,
                                                           TaskOptions options, Metrics* metrics) {
  RETURN_IF_ERROR(ValidateForBlobStoreBackend(options.checkpoints));
  for (const StoreConfig& s : options.stores) {
    if (!IsValidName(s.name)) return InvalidArgumentError("invalid store name '" + s.name + "'");
    if (s.BackedUp() && s.dir.empty()) {
      return InvalidArgumentError("store " + s.name + " is persistent but has no directory");
    }
  }
  CheckpointConfig config = options.checkpoints;
  auto state = std::make_shared<State>(store, executor, std::move(options), metrics);
  ASSIGN_OR_RETURN(
      state->checkpoints,
      CheckpointStore::Open(store, executor, config, state->options.job, state->options.task));
  return std::unique_ptr<TaskCommitter>(new TaskCommitter(std::move(state)));
}

Result<InputOffsets> TaskCommitter::Init() {
  State& s = *state_;
  if (s.initialized) return FailedPreconditionError("task " + s.options.task + ": Init twice");
  const auto timeout = s.options.init_timeout;
  ASSIGN_OR_RETURN(
      std::optional<Checkpoint> latest,
      KeepAlive(s.checkpoints->ReadLatest()).GetFor(timeout, "read of the latest checkpoint"));
  // A version 1 checkpoint (a job from before the blob store backend) holds offsets only:
  // the stores start empty and the input resumes from its offsets.
  std::optional<Checkpoint> with_state = latest;
  if (latest && latest->version < 2) with_state.reset();
  RETURN_IF_ERROR(KeepAlive(s.backup.Init(with_state)).GetFor(timeout, "backup init"));
  // Local checkpoint directories of other attempts are stale; the latest one may be reused.
  for (const StoreConfig& c : s.options.stores) {
    if (c.BackedUp())
      RETURN_IF_ERROR(DeleteCheckpointDirs(c.dir, with_state ? with_state->id : ""));
  }
  RestoreManager restore(s.store, s.executor, s.options.stores, s.options.restore, s.metrics);
  RETURN_IF_ERROR(restore.Init(with_state).GetFor(timeout, "restore init"));
  RETURN_IF_ERROR(restore.Restore().GetFor(timeout, "restore").status());
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.last = with_state;
  }
  s.initialized = true;
  return latest ? latest->input_offsets : InputOffsets{};
}

Status TaskCommitter::AddStore(const std::string& name, Snapshotter snapshot) {
  for (const StoreConfig& c : state_->options.stores) {
    if (c.name == name && c.BackedUp()) {
      state_->snapshotters[name] = std::move(snapshot);
      return Status::Ok();
    }
  }
  return InvalidArgumentError("task " + state_->options.task + " has no backed-up store " + name);
}

std::optional<Result<CommitOutcome>> TaskCommitter::State::AwaitPrevious() {
  if (inflight == nullptr) return std::nullopt;
  std::optional<Status> done = inflight->Wait(std::chrono::milliseconds(0));
  if (!done) {
    if (Clock::now() - inflight->started < options.max_commit_delay) return CommitOutcome::kSkipped;
    done = inflight->Wait(options.commit_timeout);
    if (!done) {
      return DeadlineExceededError(
          "task " + options.task +
          ": the previous commit's upload, checkpoint and cleanup did not end within " +
          std::to_string(options.commit_timeout.count()) + " ms");
    }
  }
  inflight.reset();
  if (!done->ok()) return done->WithContext("task " + options.task + ": previous commit failed");
  return std::nullopt;
}

Result<std::map<std::string, std::string>> TaskCommitter::State::SyncStage(const std::string& id) {
  std::map<std::string, std::string> dirs;
  for (const StoreConfig& c : options.stores) {
    if (!c.BackedUp()) continue;
    auto snap = snapshotters.find(c.name);
    if (snap == snapshotters.end()) {
      return FailedPreconditionError("task " + options.task + ": store " + c.name +
                                     " has no snapshotter (AddStore)");
    }
    const std::string dest = CheckpointDirOf(c.dir, id);
    Status s = snap->second(dest);
    if (!s.ok()) {
      for (const auto& [name, dir] : dirs) RemoveAll(dir).IgnoreError();
      RemoveAll(dest).IgnoreError();
      return s.WithContext("snapshot of store " + c.name);
    }
    dirs[c.name] = dest;
  }
  return dirs;
}

Future<void> TaskCommitter::State::AsyncStage(Checkpoint next,
                                              std::map<std::string, std::string> dirs) {
  const std::string id = next.id;
  return Async(executor, [this, id, dirs] { return backup.Upload(id, dirs); })
      .Map(executor, [this, next = std::move(next)](StoreMarkers markers) mutable {
        backup.RecordMarkers(markers, next);
        auto c = std::make_shared<Checkpoint>(std::move(next));
        return At("persist.before_checkpoint")
            .Map(executor,
                 [this, c] {
                   const Clock::time_point started = Clock::now();
                   return checkpoints->Write(*c).Map(executor, [this, started] {
                     if (metrics != nullptr) {
                       metrics->RecordPhase(Flow::kBackup, "_all", Phase::kPersist,
                                            Clock::now() - started);
                     }
                   });
                 })
            .Map(executor, [] { return At("persist.after_checkpoint"); })
            .Map(executor, [this, c, markers] {
              {
                std::lock_guard<std::mutex> lock(mu);
                last = *c;
              }
              return backup.Cleanup(c->id, markers);
            });
      });
}

Result<CommitOutcome> TaskCommitter::Commit(const InputOffsets& offsets) {
  State& s = *state_;
  if (!s.initialized)
    return FailedPreconditionError("task " + s.options.task + ": Commit before Init");
  if (std::optional<Result<CommitOutcome>> early = s.AwaitPrevious()) return *early;
  Checkpoint next{.id = NewCheckpointId(), .input_offsets = offsets};
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.last) next.state_markers = s.last->state_markers;  // other backends' markers
  }
  ASSIGN_OR_RETURN(auto dirs, s.SyncStage(next.id));
  auto inflight = std::make_shared<InFlight>();
  s.inflight = inflight;
  auto keep = state_;  // the stage may outlive the committer's last reference
  s.AsyncStage(std::move(next), std::move(dirs)).Subscribe([inflight, keep](Result<void> r) {
    inflight->Finish(r.status());
  });
  return CommitOutcome::kStarted;
}

Status TaskCommitter::Close() {
  State& s = *state_;
  if (s.inflight == nullptr) return Status::Ok();
  std::optional<Status> done = s.inflight->Wait(s.options.commit_timeout);
  if (!done)
    return DeadlineExceededError("task " + s.options.task + ": the last commit did not end");
  s.inflight.reset();
  return *done;
}

std::optional<Checkpoint> TaskCommitter::last_committed() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->last;
}

}  // namespace blobstate
