// The task commit coordinator: a task's stores, committed to the blob store at every
// commit and restored at container start.
//
// Lifecycle of a task:
//   1. TaskCommitter::Open: validates the configuration (before anything starts).
//   2. Init(): opens the task's commit engine (commit.h): claims the task as its only
//      writer, reads the latest checkpoint, finishes or undoes what a crashed attempt left
//      (deletions its last commit listed, stale local checkpoint directories,
//      half-downloaded files),
//      restores every backed-up store into its directory and returns the checkpoint's input
//      offsets: the input resumes from exactly the state restored (the transactional
//      checkpoint). Blocks the caller, at most options.init_timeout.
//   3. The job opens its stores and registers how to snapshot each (AddStore).
//   4. Commit(offsets), again and again:
//      - sync stage, on the caller's thread: snapshot every store into its local checkpoint
//        directory "<dir>-<checkpoint id>" (RocksDB: flush + hard links). Short.
//      - async stage, on the commit executor: the engine's Commit (upload -> persist the
//        checkpoint, offsets and state markers together -> expire). Never on the caller's
//        thread.
//      Max commit delay: a Commit while the previous async stage still runs is skipped
//      (kSkipped) until options.max_commit_delay has passed since that stage started; after
//      that it blocks for it, at most options.commit_timeout, then fails with
//      kDeadlineExceeded. A failed async stage makes the next Commit fail with its error
//      (then it is forgotten: the commit after starts afresh), except kFenced: once another
//      writer has claimed the task, Commit and Close fail with kFenced for good.
//   5. Close(): waits for the last async stage (at most options.commit_timeout).
//
// Example:
//   ASSIGN_OR_RETURN(auto task, TaskCommitter::Open(*blobs, commit_pool, options, nullptr));
//   ASSIGN_OR_RETURN(InputOffsets offsets, task->Init());
//   ASSIGN_OR_RETURN(auto db, RocksDbStore::Open(dir, {.create_if_missing = true}));
//   task->AddStore("counts", RocksDbSnapshotter(*db));
//   ... process from offsets ...; ASSIGN_OR_RETURN(CommitOutcome o, task->Commit(offsets));
#ifndef BLOBSTATE_TASK_H_
#define BLOBSTATE_TASK_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "blobstate/backup.h"
#include "blobstate/blob_store.h"
#include "blobstate/checkpoint.h"
#include "blobstate/commit.h"
#include "blobstate/future.h"
#include "blobstate/metrics.h"
#include "blobstate/restore.h"
#include "blobstate/store.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

// Snapshots a store into `dest` (which does not exist): flush, then hard links.
using Snapshotter = std::function<Status(const std::string& dest)>;

// The Snapshotter of an open RocksDB store (its Checkpoint). `db` must outlive the task.
Snapshotter RocksDbSnapshotter(RocksDbStore& db);

struct TaskOptions {
  // The job, the task, its stores and how they are backed up and restored. A task always
  // claims (commit.claim true) and resumes from its latest checkpoint (commit.checkpoint_id
  // empty); Open refuses anything else.
  CommitOptions commit;
  // See "Max commit delay" above. Defaults: 1 min, 10 min.
  std::chrono::milliseconds max_commit_delay{60'000};
  std::chrono::milliseconds commit_timeout{600'000};
  // The longest Init may take (read checkpoint, recover, restore). Default: 1 h.
  std::chrono::milliseconds init_timeout{3'600'000};
};

enum class CommitOutcome {
  kStarted,  // the sync stage ran; the async stage is under way
  kSkipped,  // the previous async stage still runs and the max commit delay has not passed
};

class TaskCommitter {
 public:
  // kInvalidArgument for a bad configuration (ValidateCommitOptions, and see
  // TaskOptions::commit). `store`, `commit_executor` and `metrics` (may be null) must
  // outlive the committer, and what an Init or a Close that timed out left running: it goes
  // on until its requests end (each has its own timeout). A second committer of the same
  // task and blob store in this process fails its Init (kFailedPrecondition) while the first
  // one exists, and while a restore of an Init that timed out still runs (it keeps the
  // stores' directories locked until it ends).
  static Result<std::unique_ptr<TaskCommitter>> Open(BlobStore& store, Executor& commit_executor,
                                                     TaskOptions options, Metrics* metrics);
  ~TaskCommitter();  // Close(), ignoring its error

  // Container init (see above). Call once, before AddStore.
  Result<InputOffsets> Init();

  // Registers how to snapshot the configured store `name`. kInvalidArgument if `name` is
  // not a configured, backed-up store.
  Status AddStore(const std::string& name, Snapshotter snapshot);

  // One commit (see above). Errors: the previous async stage's error; kFenced once any
  // stage was fenced; kDeadlineExceeded if it did not end within commit_timeout; a
  // sync-stage failure (the snapshot), naming the store. kFailedPrecondition before Init or
  // when a backed-up store has no Snapshotter.
  Result<CommitOutcome> Commit(const InputOffsets& offsets);

  // Waits for the async stage under way, if any; returns its outcome.
  Status Close();

  // The checkpoint last persisted, else the one Init restored, if any.
  std::optional<Checkpoint> last_committed() const;

 private:
  struct State;
  explicit TaskCommitter(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_TASK_H_
