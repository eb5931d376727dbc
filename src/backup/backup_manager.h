// The backup manager of the blob store state backend: one per task. Private to the
// library: the commit engine (commit.h) is the one that calls it, in order.
//
// A commit calls, in order: Upload (after the stores were snapshotted into local checkpoint
// directories), then persists the checkpoint with Upload's markers, then Persisted and
// Expire. Init runs once, before the first commit, with the checkpoint the task resumes from.
//
//   Init(checkpoint)   rejects a version 1 checkpoint; loads the snapshot of each backed-up
//                      store that the checkpoint names (the base of the next diff). A
//                      checkpoint of a writer from before history (Checkpoint::history
//                      false) may have its cleanup unfinished: it is finished as that writer
//                      would have (SnapshotCleaner::Recover).
//   Upload(id, dirs)   diffs each store's checkpoint directory against its base, uploads
//                      new and changed files and a new snapshot index (recording the base's
//                      blob id) with a TTL, then removes the TTLs of the new blobs and of the
//                      index and flushes: a checkpoint persisted with its markers names no
//                      blob that can expire, even if nothing after the persist runs. A store
//                      whose upload started more than half the TTL ago fails instead
//                      (kDeadlineExceeded), before any TTL is removed. Stores run in
//                      parallel. Returns store -> index blob id (the markers). A failed
//                      upload deletes what it put (best effort; the rest expires or is
//                      collected by gc).
//   Persisted(m)       the checkpoint with markers `m` is persisted: its snapshots are the
//                      bases from now on.
//   Expire(targets)    deletes snapshots that no live snapshot needs any more, with their
//                      blobs that no live snapshot of the same store names (see Expire).
//
// Threads: every method returns at once; the work runs on the blob store's executor and on
// `executor` (diffing, hashing, chaining), where the futures complete. Calls must not
// overlap (a task commits one at a time).
#ifndef BLOBSTATE_BACKUP_BACKUP_MANAGER_H_
#define BLOBSTATE_BACKUP_BACKUP_MANAGER_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "blobstate/backup.h"
#include "blobstate/blob_store.h"
#include "blobstate/checkpoint.h"
#include "blobstate/future.h"
#include "blobstate/metrics.h"
#include "blobstate/snapshot.h"
#include "blobstate/store.h"
#include "checkpoint/snapshot_util.h"

namespace blobstate {

// Store name -> the index blob ids of its live snapshots (those of the latest, retained
// and pinned checkpoints).
using LiveSnapshots = std::map<std::string, std::set<std::string>>;

// What Expire did: the targets done with (deleted, found already gone, or live), and the
// first error of the others, which are left for a later call.
struct ExpireOutcome {
  std::vector<ExpiringSnapshot> done;
  Status error;
};

class BackupManager {
 public:
  // `stores`: the task's stores; only those with BackedUp() are backed up. `store`,
  // `executor` and `metrics` (may be null) must outlive this object and its futures.
  BackupManager(BlobStore& store, Executor& executor, std::string job, std::string task,
                std::vector<StoreConfig> stores, BackupOptions options, Metrics* metrics);
  ~BackupManager();

  // `snapshots`: if given, the snapshots of the backed-up stores that `checkpoint` names,
  // as GetStoreIndexes fetched them (the commit engine fetches them once, for recovery
  // and restore); else Init fetches them, each into a file beside its store directory. `keep`:
  // snapshot index blob ids that the recovery of a checkpoint from before history must not delete
  // (pinned ones).
  Future<void> Init(const std::optional<Checkpoint>& checkpoint,
                    std::shared_ptr<const StoreIndexes> snapshots = nullptr,
                    std::set<std::string> keep = {});

  // `checkpoint_dirs`: store name -> the local checkpoint directory to back up; every
  // backed-up store needs one (kInvalidArgument naming the store otherwise).
  Future<StoreMarkers> Upload(const std::string& checkpoint_id,
                              const std::map<std::string, std::string>& checkpoint_dirs);

  // Deletes what the last Upload put (best effort: gc collects what is left), when no
  // checkpoint will name it: the commit failed before its persist was tried.
  Future<void> Discard();

  // `markers`: what Upload returned, as persisted. kFailedPrecondition, changing nothing,
  // if a backed-up store's marker is not its last upload's.
  Status Persisted(const StoreMarkers& markers);

  // Deletes each target with a store (the others are ignored) unless `live` lists it: its
  // blobs that no snapshot `live` lists for the same store names, then its index (last, each
  // step flushed). Targets run in parallel. A target whose index is gone counts as done; so
  // does one that is not this task's (kDataLoss, reported in the outcome's error: a forged
  // or corrupt checkpoint must not block every later commit). Live snapshots' blob sets
  // are fetched once and kept while they stay live.
  Future<ExpireOutcome> Expire(std::vector<ExpiringSnapshot> targets, LiveSnapshots live);

  // Deletes the backed-up stores' local checkpoint directories other than that of
  // `checkpoint_id`, if the options ask for it.
  Future<void> DeleteOldCheckpointDirs(const std::string& checkpoint_id);

  // What the last Upload and Expire did, per backed-up store.
  std::map<std::string, StoreFigures> LastFigures() const;
  // Records LastFigures() in the metrics as one run of each store (once per commit).
  void RecordFigures() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_BACKUP_BACKUP_MANAGER_H_
