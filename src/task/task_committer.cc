#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

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

}  // namespace

Snapshotter RocksDbSnapshotter(RocksDbStore& db) {
  return [&db](const std::string& dest) { return db.Checkpoint(dest); };
}

struct TaskCommitter::State {
  State(BlobStore& s, Executor& e, TaskOptions o, Metrics* m)
      : store(s), executor(e), options(std::move(o)), metrics(m) {}

  BlobStore& store;
  Executor& executor;
  const TaskOptions options;
  Metrics* const metrics;
  std::unique_ptr<CommitEngine> engine;  // set by Init

  // Touched by the caller's thread only (Init, AddStore, Commit, Close).
  std::map<std::string, Snapshotter> snapshotters;
  std::shared_ptr<InFlight> inflight;
  Status fenced;  // kept once an async stage was fenced: every later call fails with it

  // Snapshots every backed-up store for checkpoint `id`; store -> checkpoint directory.
  Result<std::map<std::string, std::string>> SyncStage(const std::string& id);
  // Waits (per the max commit delay) for the previous async stage; nullopt: go ahead.
  std::optional<Result<CommitOutcome>> AwaitPrevious();
  // The outcome of a finished async stage, remembering a fencing.
  Status Finished(Status s);
};

TaskCommitter::TaskCommitter(std::shared_ptr<State> state) : state_(std::move(state)) {}

TaskCommitter::~TaskCommitter() { Close().IgnoreError(); }

Result<std::unique_ptr<TaskCommitter>> TaskCommitter::Open(BlobStore& store, Executor& executor,
                                                           TaskOptions options, Metrics* metrics) {
  RETURN_IF_ERROR(ValidateCommitOptions(options.commit, &store));
  if (!options.commit.claim || !options.commit.checkpoint_id.empty()) {
    return InvalidArgumentError("task " + options.commit.task +
                                ": a task claims and resumes from its latest checkpoint "
                                "(commit.claim true, commit.checkpoint_id empty)");
  }
  auto state = std::make_shared<State>(store, executor, std::move(options), metrics);
  return std::unique_ptr<TaskCommitter>(new TaskCommitter(std::move(state)));
}

Result<InputOffsets> TaskCommitter::Init() {
  State& s = *state_;
  if (s.engine) return FailedPreconditionError("task " + s.options.commit.task + ": Init twice");
  const auto deadline = std::chrono::steady_clock::now() + s.options.init_timeout;
  auto left = [&deadline] { return std::max(deadline - std::chrono::steady_clock::now(), {}); };
  ASSIGN_OR_RETURN(std::unique_ptr<CommitEngine> engine,
                   CommitEngine::Open(s.store, s.executor, s.options.commit, s.metrics)
                       .GetFor(left(), "open of the task"));
  RETURN_IF_ERROR(engine->Restore().GetFor(left(), "restore").status());
  const std::optional<Checkpoint>& at = engine->opened_at();
  InputOffsets offsets = at ? at->input_offsets : InputOffsets{};
  s.engine = std::move(engine);
  return offsets;
}

Status TaskCommitter::AddStore(const std::string& name, Snapshotter snapshot) {
  for (const StoreConfig& c : state_->options.commit.stores) {
    if (c.name == name && c.BackedUp()) {
      state_->snapshotters[name] = std::move(snapshot);
      return Status::Ok();
    }
  }
  return InvalidArgumentError("task " + state_->options.commit.task + " has no backed-up store " +
                              name);
}

std::optional<Result<CommitOutcome>> TaskCommitter::State::AwaitPrevious() {
  if (!fenced.ok()) return fenced;
  if (inflight == nullptr) return std::nullopt;
  std::optional<Status> done = inflight->Wait(std::chrono::milliseconds(0));
  if (!done) {
    if (Clock::now() - inflight->started < options.max_commit_delay) return CommitOutcome::kSkipped;
    done = inflight->Wait(options.commit_timeout);
    if (!done) {
      return DeadlineExceededError(
          "task " + options.commit.task +
          ": the previous commit's upload, checkpoint and cleanup did not end within " +
          std::to_string(options.commit_timeout.count()) + " ms");
    }
  }
  inflight.reset();
  Status s = Finished(*done);
  if (!s.ok()) return s.WithContext("task " + options.commit.task + ": previous commit failed");
  return std::nullopt;
}

Status TaskCommitter::State::Finished(Status s) {
  if (s.code() == StatusCode::kFenced) fenced = s.WithContext("task " + options.commit.task);
  return s;
}

Result<std::map<std::string, std::string>> TaskCommitter::State::SyncStage(const std::string& id) {
  std::map<std::string, std::string> dirs;
  for (const StoreConfig& c : options.commit.stores) {
    if (!c.BackedUp()) continue;
    auto snap = snapshotters.find(c.name);
    if (snap == snapshotters.end()) {
      return FailedPreconditionError("task " + options.commit.task + ": store " + c.name +
                                     " has no snapshotter (AddStore)");
    }
    const std::string dest = CheckpointDirOf(c.dir, id);
    Status s = snap->second(dest);
    if (!s.ok()) {
      dirs[c.name] = dest;
      for (const auto& [name, dir] : dirs) {
        RemoveAll(dir).IgnoreError();
        RemoveAll(RemoteManifestOf(dir)).IgnoreError();  // of a store still warming up
      }
      return s.WithContext("snapshot of store " + c.name);
    }
    dirs[c.name] = dest;
  }
  return dirs;
}

Result<CommitOutcome> TaskCommitter::Commit(const InputOffsets& offsets) {
  State& s = *state_;
  if (!s.engine)
    return FailedPreconditionError("task " + s.options.commit.task + ": Commit before Init");
  if (std::optional<Result<CommitOutcome>> early = s.AwaitPrevious()) return *early;
  const std::string id = NewCheckpointId();
  ASSIGN_OR_RETURN(auto dirs, s.SyncStage(id));
  auto inflight = std::make_shared<InFlight>();
  s.inflight = inflight;
  s.engine->Commit(id, std::move(dirs), offsets).Subscribe([inflight](Result<Checkpoint> r) {
    inflight->Finish(r.status());
  });
  return CommitOutcome::kStarted;
}

Status TaskCommitter::Close() {
  State& s = *state_;
  if (!s.fenced.ok()) return s.fenced;
  if (s.inflight == nullptr) return Status::Ok();
  std::optional<Status> done = s.inflight->Wait(s.options.commit_timeout);
  if (!done)
    return DeadlineExceededError("task " + s.options.commit.task + ": the last commit did not end");
  s.inflight.reset();
  return s.Finished(*done);
}

std::optional<Checkpoint> TaskCommitter::last_committed() const {
  return state_->engine ? state_->engine->last() : std::nullopt;
}

}  // namespace blobstate
