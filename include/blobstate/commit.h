// The commit engine: the one owner of a task's commit protocol. The task committer
// (task.h) and the command-line tool both run their commits and restores through it.
//
//   Open        validates the configuration; locks every backed-up store's directory
//               (StoreDirLock, until the engine is destroyed); claims the task as its writer
//               (fencing, see CheckpointStore::Claim) unless options.claim is false; reads the
//               checkpoint to open at (the latest, or options.checkpoint_id) and its stores'
//               snapshot indexes (fetched and decoded once, for recovery and restore); if it
//               claimed, loads the retained checkpoints and finishes what a crashed writer
//               left (expiring snapshots, released pins, the cleanup of a writer from before
//               history, stale local checkpoint directories). Only then
//               does the caller get an engine: nothing can be restored or committed before a
//               successful Open.
//   Restore     restores every backed-up store to the checkpoint opened at (RestoreManager).
//   Commit      one commit of the local checkpoint directories the caller snapshotted:
//               upload (blobs and indexes put with a TTL, then their TTLs removed) and,
//               beside it, the history object of the previous checkpoint if it stays
//               retained -> flush -> persist the checkpoint (with the retained ids and what
//               leaves the history) -> expire (delete what no latest, retained or pinned
//               checkpoint names), in this order, with the failpoints
//               "persist.before_checkpoint" and "persist.after_checkpoint" around the
//               persist. What a failed or crashed commit uploaded is named by no checkpoint:
//               gc collects it. Requires a claim. Calls must not overlap.
//
// Fencing: once another writer claims the task, this engine's next persist fails with
// kFenced, and so does every later Commit, before it uploads anything: a fenced engine
// persists, deletes and untags nothing. In one process, a second engine that claims the same task
// of the same blob store fails at Open (kFailedPrecondition) while the first one exists.
//
// Threads: every future completes on `executor`; work runs there and on the blob store's
// executor. An engine may be destroyed while a Commit runs: the commit goes on (and keeps
// what it needs alive), but the task and its store directories are released for another
// engine (a replacement is fenced against that commit by its claim).
//
// Example:
//   ASSIGN_OR_RETURN(std::unique_ptr<CommitEngine> engine,
//                    CommitEngine::Open(*blobs, pool, options, nullptr).Get());
//   RETURN_IF_ERROR(engine->Restore().Get().status());
//   ... snapshot the stores into CheckpointDirOf(dir, id) ...
//   ASSIGN_OR_RETURN(Checkpoint c, engine->Commit(id, dirs, offsets).Get());
#ifndef BLOBSTATE_COMMIT_H_
#define BLOBSTATE_COMMIT_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blobstate/backup.h"
#include "blobstate/blob_store.h"
#include "blobstate/checkpoint.h"
#include "blobstate/future.h"
#include "blobstate/history.h"
#include "blobstate/metrics.h"
#include "blobstate/restore.h"
#include "blobstate/store.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

// Input partition -> the offset to resume from.
using InputOffsets = std::map<std::string, std::string>;

struct CommitOptions {
  std::string job;
  std::string task;
  // The task's stores; StoreConfig::BackedUp() ones are backed up and restored.
  std::vector<StoreConfig> stores;
  CheckpointConfig checkpoints;
  BackupOptions backup;
  RestoreOptions restore;
  // Whether Open claims the task as its writer. Without a claim the engine only reads: it
  // recovers and deletes nothing, and Commit fails. Default: true.
  bool claim = true;
  // The checkpoint to open at: the latest of its version, or one it retains or pins. Empty:
  // the latest of the first read version that has one. Opened with a claim at an older
  // checkpoint, the engine rolls the task back: the next commit builds on that one.
  // Default: empty.
  std::string checkpoint_id;
  // Which checkpoints each commit keeps (history.h). Default: RetentionPolicy{}.
  RetentionPolicy retention;
};

// The shortest blob TTL a commit accepts: a commit must remove its blobs' TTLs before half
// of it has passed.
inline constexpr std::chrono::seconds kMinBlobTtl{3600};

// kInvalidArgument naming the problem: checkpoint versions that do not suit the blob store
// backend (ValidateForBlobStoreBackend), an invalid or repeated store name, a backed-up
// store without a directory, directories that are not apart (ValidateStoreDirs; with
// `store`, also from its LocalDirectory()), a blob TTL below kMinBlobTtl, a bad retention
// policy. CommitEngine::Open and TaskCommitter::Open check with their blob store.
Status ValidateCommitOptions(const CommitOptions& options, const BlobStore* store = nullptr);

// kInvalidArgument naming both, unless the directories of the backed-up stores are apart:
// none is another's or lies within another's, or within the directory a restore of
// another stages its tree in (`<dir>.restore`), since a store's snapshot and restore own
// both; and none holds or lies within `blob_store_dir` (the directory of a file:// blob
// store, if not empty), nor holds it in its `<dir>.restore`: a restore of the store would
// empty it. Symlinks are resolved as far as the paths exist.
Status ValidateStoreDirs(const std::vector<StoreConfig>& stores,
                         const std::string& blob_store_dir = "");

class CommitEngine {
 public:
  // See above. Errors: kInvalidArgument for a bad configuration (ValidateCommitOptions);
  // kFailedPrecondition if this process has an engine that claimed the task, a store
  // directory is locked, or the blob store does not enforce conditional writes; kNotFound if
  // options.checkpoint_id is not stored; the errors of the reads and of recovery, naming the store.
  // `store`, `executor` and `metrics` (may be null) must outlive the engine and its futures.
  static Future<std::unique_ptr<CommitEngine>> Open(BlobStore& store, Executor& executor,
                                                    CommitOptions options, Metrics* metrics);
  ~CommitEngine();

  // The checkpoint opened at; nullopt if the task has none. A version 1 checkpoint (a job
  // from before the blob store backend) holds offsets only: its stores restore empty.
  const std::optional<Checkpoint>& opened_at() const;

  // Restores every backed-up store to opened_at() (RestoreManager::Restore); returns what
  // was done per store.
  Future<std::map<std::string, StoreFigures>> Restore();

  // Commits checkpoint `id` (a new NewCheckpointId) of the local checkpoint directories
  // `dirs` (store -> CheckpointDirOf(dir, id)) with `offsets`; returns the checkpoint
  // persisted. Errors: kFailedPrecondition without a claim; kFenced; the errors of the
  // steps, naming the store.
  Future<Checkpoint> Commit(const std::string& id, std::map<std::string, std::string> dirs,
                            InputOffsets offsets);

  // The checkpoint last persisted by this engine, else the one opened at.
  std::optional<Checkpoint> last() const;
  // What the last Commit did per store, and how long its persist took.
  std::map<std::string, StoreFigures> LastFigures() const;
  std::chrono::nanoseconds LastPersistTime() const;

 private:
  struct State;
  class Holds;
  CommitEngine(std::shared_ptr<State> state, std::unique_ptr<Holds> holds);
  std::shared_ptr<State> state_;
  std::unique_ptr<Holds> holds_;
};

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_COMMIT_H_
