// The synchronous file operations behind LocalBlobStore (local_blob_store.h documents the
// layout and what is durable when). Each function does blocking I/O: LocalBlobStore runs them
// on its executor, never on a caller's thread.
#ifndef BLOBSTATE_BLOBSTORE_LOCAL_LOCAL_OPS_H_
#define BLOBSTATE_BLOBSTORE_LOCAL_LOCAL_OPS_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "blobstate/blob_store.h"
#include "util/fs.h"

namespace blobstate::local_internal {

// The paths of one store, and the directories known to exist. Thread-safe.
struct Layout {
  std::string root;     // absolute
  std::string blobs;    // root/blobs
  std::string pending;  // root/pending
  std::string tmp;      // root/tmp
  std::string objects;  // root/objects
  std::string locks;    // root/locks: one lock file per named object
  // Serializes this process's named-object puts (ObjectLock).
  mutable std::mutex object_mu;

  // root/blobs/<shard>/<id>: the blob without a TTL.
  std::string BlobPath(std::string_view id) const;
  // root/pending/<shard>/<id>: the blob while it has a TTL.
  std::string PendingPath(std::string_view id) const;
  // "file://" + root.
  std::string Describe() const { return "file://" + root; }

  bool IsKnown(const std::string& dir) const;
  void MarkKnown(const std::string& dir) const;

 private:
  mutable std::mutex mu_;
  // Directories this process created or found (under objects/: and made durable).
  mutable std::set<std::string> known_dirs_;  // GUARDED_BY(mu_)
};

// Two lowercase hex digits: the low byte of the 32-bit FNV-1a hash of `id`.
std::string ShardOf(std::string_view id);

// Creates the layout under the absolute directory `dir` (durably) and describes it.
Result<std::shared_ptr<const Layout>> CreateLayout(const std::string& dir);

// The operations of LocalBlobStore, with the contracts stated there.
Result<std::string> PutBlob(const Layout& layout, const SourceFactory& factory,
                            const BlobMetadata& metadata);
// Bytes of a blob, for GetRange.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};
// The whole blob, or `range` of it (kOutOfRange if the blob ends before its end).
Status GetBlob(const Layout& layout, const std::string& id, const SinkFactory& factory,
               std::optional<ByteRange> range = std::nullopt);
// GetBlob in two steps: OpenBlob finds and opens the blob's file (kNotFound if there is
// none), ReadBlob reads it. Reads of one OpenedBlob may run at once (pread).
struct OpenedBlob {
  File file;
  uint64_t size = 0;
};
Result<OpenedBlob> OpenBlob(const Layout& layout, const std::string& id);
Status ReadBlob(const Layout& layout, OpenedBlob& blob, const std::string& id,
                const SinkFactory& factory, std::optional<ByteRange> range);
Status DeleteBlob(const Layout& layout, const std::string& id);
Status RemoveBlobTtl(const Layout& layout, const std::string& id);
Result<std::optional<std::chrono::system_clock::time_point>> BlobExpiry(const Layout& layout,
                                                                        const std::string& id);
Result<BlobPage> ListBlobPage(const Layout& layout, const std::string& prefix,
                              const std::string& token);
Status DeleteExpiredBlob(const Layout& layout, const std::string& id,
                         std::chrono::system_clock::time_point now);
// syncfs(2) of the file system that holds the store.
Status FlushStore(const Layout& layout);

// The named-object operations of LocalBlobStore.
Result<std::string> PutObject(const Layout& layout, const std::string& name,
                              const std::string& data, const ObjectCondition& condition);
Result<VersionedObject> GetObject(const Layout& layout, const std::string& name);
Status DeleteObject(const Layout& layout, const std::string& name);
Result<std::vector<std::string>> ListObjects(const Layout& layout, const std::string& prefix);

// Removes the files in tmp/ last modified before `cutoff`; returns how many.
Result<size_t> SweepTempFiles(const Layout& layout, std::chrono::system_clock::time_point cutoff);

}  // namespace blobstate::local_internal

#endif  // BLOBSTATE_BLOBSTORE_LOCAL_LOCAL_OPS_H_
