// The restore manager of the blob store state backend: one per task, at container start.
// Private to the library: the commit engine (commit.h) calls it once it has opened.
//
//   Init(checkpoint)  rejects a version 1 checkpoint; accepts none (nothing to restore);
//                     reads the blob store backend's markers and fetches the snapshot
//                     indexes of all backed-up stores concurrently, waiting once at the end.
//                     A failure names the store, the blob and the cause.
//   Restore()         first checks every backed-up store's directory, and changes nothing
//                     if one fails: it must be absent, a directory (not a symlink, a file
//                     or a mount point), not a RocksDB database open in another process,
//                     and, unless empty or options.force, identifiable as the store's: its
//                     lock file names the store (StoreDirOwner: recorded by every restore
//                     and commit), a local checkpoint directory of the snapshot's
//                     checkpoint is beside it, or it is a RocksDB database whose IDENTITY is
//                     the snapshot's; and its staging area must be absent, an empty
//                     directory, or beside a directory whose lock file names the store
//                     (a restore records it before it stages anything) unless
//                     options.force. Then each store (in parallel) is assembled in its
//                     staging area and swapped in (staging.h): files already staged by an
//                     interrupted restore are kept, files with matching content in the
//                     store directory or a local checkpoint directory are linked or copied,
//                     and the rest is downloaded (checksums verified unless turned off),
//                     after the bytes to write were checked against the free space. Until
//                     the swap the store directory keeps its previous contents, whole: a
//                     failure or crash leaves them, and the next restore resumes from the
//                     staging area. A store without a marker in the checkpoint becomes
//                     empty (a new store). Never writes outside a store's directory and
//                     staging area, whatever the index says. A failed download names the
//                     store, the file and its blobs. The lock file records the store's owner
//                     (RecordStoreDirOwner) before anything is staged. The caller holds
//                     the stores' locks (StoreDirLock); CommitEngine does.
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
#include "checkpoint/snapshot_util.h"

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
                    std::shared_ptr<const StoreIndexes> snapshots = nullptr);

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
