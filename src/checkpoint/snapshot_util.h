// Snapshot indexes as the backup and gc read and write them (the public reads are in
// blobstate/snapshot.h).
#ifndef BLOBSTATE_CHECKPOINT_SNAPSHOT_UTIL_H_
#define BLOBSTATE_CHECKPOINT_SNAPSHOT_UTIL_H_

#include <string>

#include "blobstate/blob_store.h"
#include "blobstate/future.h"
#include "blobstate/index.h"
#include "index/codec.h"

namespace blobstate {

// GetSnapshotIndex (snapshot.h), decoded by DecodeSnapshotIndexFiles: `visit` (called on
// `executor`) takes each file, and the index returned holds none. On an error, what was visited
// must be discarded.
Future<SnapshotIndex> GetSnapshotIndexFiles(BlobStore& store, Executor& executor,
                                            const std::string& blob_id, FileVisitor visit);

// Encodes and puts `index`; returns its blob id. metadata.file_path is "snapshot-index".
// With a `spill_dir`, the encoding is written to an unnamed temporary file there (O_TMPFILE,
// gone once the put is done or the process ends) and put from it, not held in memory; if
// that cannot be done (no O_TMPFILE on its file system, a full disk), it is held in memory.
Future<std::string> PutSnapshotIndex(BlobStore& store, const SnapshotIndex& index,
                                     BlobMetadata metadata, const std::string& spill_dir = "");

}  // namespace blobstate

#endif  // BLOBSTATE_CHECKPOINT_SNAPSHOT_UTIL_H_
