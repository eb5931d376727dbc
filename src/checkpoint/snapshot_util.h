// Snapshot indexes as the backup and gc read and write them (the public reads are in
// blobstate/snapshot.h).
#ifndef BLOBSTATE_CHECKPOINT_SNAPSHOT_UTIL_H_
#define BLOBSTATE_CHECKPOINT_SNAPSHOT_UTIL_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "blobstate/blob_store.h"
#include "blobstate/checkpoint.h"
#include "blobstate/future.h"
#include "blobstate/index.h"
#include "index/codec.h"
#include "index/index_file.h"

namespace blobstate {

// Encodes and puts `index` (held in memory: a backup writes its index with IndexWriter
// and puts it with PutIndexFile); returns its blob id. metadata.file_path is
// "snapshot-index".
Future<std::string> PutSnapshotIndex(BlobStore& store, const SnapshotIndex& index,
                                     BlobMetadata metadata);

// A store's snapshot whose index is in a local file, read a directory at a time: what the
// backup and the restore hold instead of a decoded tree (StoreSnapshot).
struct StoreIndex {
  std::string index_blob_id;
  std::shared_ptr<const IndexFile> index;
};
using StoreIndexes = std::map<std::string, StoreIndex>;  // by store name

// Gets snapshot index `blob_id` into an unnamed file in `dir` (File::Unnamed) and opens it
// (the envelope is checked; directories are checked as they are read). Errors name the
// blob, as GetSnapshotIndex's.
Future<std::shared_ptr<const IndexFile>> GetIndexFile(BlobStore& store, Executor& executor,
                                                      const std::string& blob_id,
                                                      const std::string& dir);

// GetStoreSnapshots, each index into a file: `dirs` maps each store to fetch to the
// directory for its file (the parent of its store directory, say). Stores `checkpoint`
// has no marker for are left out; the errors are GetStoreSnapshots'.
Future<StoreIndexes> GetStoreIndexes(BlobStore& store, Executor& executor,
                                     const std::optional<Checkpoint>& checkpoint,
                                     const std::map<std::string, std::string>& dirs);

// Puts the encoded index `index`, read from its file; returns its blob id.
// metadata.file_path is "snapshot-index".
Future<std::string> PutIndexFile(BlobStore& store, std::shared_ptr<const IndexFile> index,
                                 BlobMetadata metadata);

}  // namespace blobstate

#endif  // BLOBSTATE_CHECKPOINT_SNAPSHOT_UTIL_H_
