// The backup manager of the blob store state backend: one per task. Private to the
// library: the commit engine (commit.h) is the one that calls it, in order.
//
// A commit calls, in order: Upload (after the stores were snapshotted into local checkpoint
// directories), then persists the checkpoint with Upload's markers, then Cleanup. Init runs
// once, before the first commit, with the checkpoint the task resumes from.
//
//   Init(checkpoint)   rejects a version 1 checkpoint; loads the last persisted snapshot of
//                      each backed-up store (the base of the next diff); finishes a cleanup
//                      that a crash interrupted; notes the snapshots of stores the checkpoint
//                      names but the configuration no longer has: they are not deleted
//                      yet, as the checkpoint still names them and a rollback may need
//                      them. Deletes (best effort) those it lists as removed
//                      (kRemovedStoresKey), which it no longer names.
//   RecordMarkers      puts Upload's markers into the checkpoint to persist, and lists the
//                      snapshots of removed stores not yet deleted under kRemovedStoresKey.
//   Upload(id, dirs)   diffs each store's checkpoint directory against its last persisted
//                      snapshot, uploads new and changed files (with a TTL), puts a new
//                      snapshot index (with a TTL) recording the previous index's blob id.
//                      Stores run in parallel. Returns store -> index blob id (the markers).
//                      A failed upload deletes what it put (best effort; the rest expires):
//                      the next commit diffs against the last persisted snapshot again.
//   Cleanup(id, m)     after the checkpoint with markers `m` is persisted: removes the TTL
//                      of the blobs this commit uploaded, then of the new index (retained
//                      blobs lost theirs earlier, so requests grow with the change, not with
//                      the state); deletes the files and subdirectories no longer present,
//                      then the previous index (last, so that an existing previous index
//                      tells Init that the cleanup did not finish); deletes the snapshots of
//                      stores no longer configured (the persisted checkpoint lists them only
//                      as removed), and old local checkpoint directories.
//                      Idempotent. What a failed cleanup did not do is retried by the next.
//
// Invariant: once Cleanup returns OK, no blob a persisted checkpoint references has a TTL.
//
// Threads: every method returns at once; the work runs on the blob store's executor and on
// `executor` (diffing, hashing, chaining), where the futures complete. Calls must not
// overlap (a task commits one at a time).
#ifndef BLOBSTATE_BACKUP_BACKUP_MANAGER_H_
#define BLOBSTATE_BACKUP_BACKUP_MANAGER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blobstate/backup.h"
#include "blobstate/blob_store.h"
#include "blobstate/checkpoint.h"
#include "blobstate/future.h"
#include "blobstate/metrics.h"
#include "blobstate/snapshot.h"
#include "blobstate/store.h"

namespace blobstate {

class BackupManager {
 public:
  // `stores`: the task's stores; only those with BackedUp() are backed up. `store`,
  // `executor` and `metrics` (may be null) must outlive this object and its futures.
  BackupManager(BlobStore& store, Executor& executor, std::string job, std::string task,
                std::vector<StoreConfig> stores, BackupOptions options, Metrics* metrics);
  ~BackupManager();

  // `snapshots`: if given, the snapshots of the backed-up stores that `checkpoint` names,
  // as GetStoreSnapshots fetched them (the commit engine fetches them once, for recovery
  // and restore); else Init fetches them.
  Future<void> Init(const std::optional<Checkpoint>& checkpoint,
                    std::optional<StoreSnapshots> snapshots = std::nullopt);

  // `checkpoint_dirs`: store name -> the local checkpoint directory to back up; every
  // backed-up store needs one (kInvalidArgument naming the store otherwise).
  Future<StoreMarkers> Upload(const std::string& checkpoint_id,
                              const std::map<std::string, std::string>& checkpoint_dirs);

  // Sets next.state_markers[kBlobStoreBackend] to `markers` (what Upload returned) and
  // next.state_markers[kRemovedStoresKey] to the removed stores' snapshots still to be
  // deleted (no entry if none). Call it between Upload and persisting `next`.
  void RecordMarkers(const StoreMarkers& markers, Checkpoint& next) const;

  // `markers`: what Upload returned, as persisted. kFailedPrecondition if a backed-up
  // store has no marker (nothing is done then), or if a store's marker is not its last
  // upload's (that store's cleanup is not done; the others' are).
  Future<void> Cleanup(const std::string& checkpoint_id, const StoreMarkers& markers);

  // What the last Upload and Cleanup did, per backed-up store.
  std::map<std::string, StoreFigures> LastFigures() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_BACKUP_BACKUP_MANAGER_H_
