// The restore manager of the blob store state backend: one per task, at container start.
// Private to the library: the commit engine (commit.h) calls it once it has opened.
//
//   Init(checkpoint)  rejects a version 1 checkpoint; accepts none (nothing to restore);
//                     reads the blob store backend's markers and fetches the snapshot
//                     indexes of all backed-up stores concurrently, waiting once at the end.
//                     A failure names the store, the blob and the cause.
//   Restore()         first checks every backed-up store's directory, and changes nothing
//                     if one fails: it must be absent, a directory (not a symlink or a
//                     file), not a RocksDB database open in another process, and, unless
//                     empty or options.force, identifiable as the store's: its lock file
//                     names the store (StoreDirOwner: recorded by every restore and
//                     commit), a local checkpoint directory of the snapshot's checkpoint is
//                     beside it, or it is a RocksDB database whose IDENTITY is the
//                     snapshot's. Then, for each backed-up store: deletes the store
//                     directory (never crossing into another file system);
//                     then, if the local checkpoint directory of the snapshot's checkpoint
//                     ("<dir>-<checkpoint id>") is identical to the snapshot, recreates the
//                     store from it (hard links for immutable files such as SSTs, copies for
//                     the rest), else downloads the snapshot (checksums verified unless
//                     turned off). A store without a marker in the checkpoint is left empty
//                     (a new store). Stores run in parallel. Never writes outside a store's
//                     directory, whatever the index says. A store whose download fails is
//                     left empty (a crash midway can leave part of the tree; the next
//                     restore clears it first). A restored store's lock file records its
//                     owner (RecordStoreDirOwner). The caller holds the stores' locks
//                     (StoreDirLock); CommitEngine does.
//
// Store kinds: only persistent stores (StoreConfig::BackedUp) are touched; in-memory stores
// have no directory.
//
// Threads: returns at once; work runs on the blob store's executor and on `executor`.
#ifndef BLOBSTATE_RESTORE_RESTORE_MANAGER_H_
#define BLOBSTATE_RESTORE_RESTORE_MANAGER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/checkpoint.h"
#include "blobstate/future.h"
#include "blobstate/metrics.h"
#include "blobstate/restore.h"
#include "blobstate/snapshot.h"
#include "blobstate/store.h"

namespace blobstate {

class RestoreManager {
 public:
  // `store`, `executor` and `metrics` (may be null) must outlive this object and its futures.
  // `job` and `task` name the stores' owner (StoreOwner).
  RestoreManager(BlobStore& store, Executor& executor, std::string job, std::string task,
                 std::vector<StoreConfig> stores, RestoreOptions options, Metrics* metrics);
  ~RestoreManager();

  // `snapshots`: as for BackupManager::Init (fetched once by the commit engine); else Init
  // fetches them.
  Future<void> Init(const std::optional<Checkpoint>& checkpoint,
                    std::optional<StoreSnapshots> snapshots = std::nullopt);

  // REQUIRES: Init succeeded. Returns what was done per backed-up store.
  Future<std::map<std::string, StoreFigures>> Restore();

  // The blob store backend's markers of the checkpoint given to Init (store -> index id).
  const StoreMarkers& markers() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_RESTORE_RESTORE_MANAGER_H_
