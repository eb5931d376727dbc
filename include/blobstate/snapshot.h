// Utilities of the blob store state backend: snapshot indexes of a checkpoint's stores.
//
// Example:
//   ASSIGN_OR_RETURN(StoreSnapshots snapshots,
//                    GetStoreSnapshots(*store, pool, checkpoint, {"profile"}).Get());
#ifndef BLOBSTATE_SNAPSHOT_H_
#define BLOBSTATE_SNAPSHOT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/checkpoint.h"
#include "blobstate/future.h"
#include "blobstate/index.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

// A store's snapshot: the blob id of its index (the checkpoint's marker) and the index.
struct StoreSnapshot {
  std::string index_blob_id;
  SnapshotIndex index;
};
using StoreSnapshots = std::map<std::string, StoreSnapshot>;  // by store name

// Gets and decodes snapshot index `blob_id`, on `executor`. Errors keep their code and
// name the blob (kNotFound if it is gone; kDataLoss or kInvalidArgument if it does not
// decode).
Future<SnapshotIndex> GetSnapshotIndex(BlobStore& store, Executor& executor,
                                       const std::string& blob_id);
// Gets snapshot index `blob_id` into an unnamed file in `scratch_dir` (default: $TMPDIR,
// else /tmp) and calls `visit` (on `executor`) with each of its files, a directory at a
// time, without holding the index: memory stays within its largest directory, whatever
// the size of the index. Returns the index without its tree (root empty). Errors as
// GetSnapshotIndex's; on an error, what was visited must be discarded (a later part of the
// index may be bad).
Future<SnapshotIndex> VisitSnapshotFiles(BlobStore& store, Executor& executor,
                                         const std::string& blob_id, FileVisitor visit,
                                         const std::string& scratch_dir = "");
// The snapshots of `checkpoint`'s blob store markers, all fetched concurrently and
// collected into one future (callers wait once, not once per store). Only the stores in
// `stores` are fetched, unless it is empty (then all). Errors: those of BlobStoreMarkers
// (version 1, malformed markers); the first failed fetch, naming its store and blob.
// A fetched index whose metadata names another store is kDataLoss.
Future<StoreSnapshots> GetStoreSnapshots(BlobStore& store, Executor& executor,
                                         const std::optional<Checkpoint>& checkpoint,
                                         const std::vector<std::string>& stores);

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_SNAPSHOT_H_
