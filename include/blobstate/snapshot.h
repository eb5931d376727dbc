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
