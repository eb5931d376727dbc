// The blob files LocalBlobStore::ReadRange read last, kept open: a lazy restore reads many
// small ranges of the blobs of a store's files, and an open (a path walk) per range would
// cost as much as the read. Thread-safe.
#ifndef BLOBSTATE_BLOBSTORE_LOCAL_OPEN_BLOBS_H_
#define BLOBSTATE_BLOBSTORE_LOCAL_OPEN_BLOBS_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "blobstore/local/local_ops.h"

namespace blobstate::local_internal {

class OpenBlobs {
 public:
  // How many files to keep open by default: an eighth of the process's soft limit on open
  // files (RLIMIT_NOFILE) when the store is created, at least 32 and at most 4,096. A
  // store of 4 GiB has about 520 blobs (parts of 8 MiB); a random read of it found its
  // blob among 32 open ones one time in 16.
  static size_t DefaultCapacity();

  // Keeps at most `capacity` (> 0) files open.
  OpenBlobs(std::shared_ptr<const Layout> layout, size_t capacity)
      : layout_(std::move(layout)), capacity_(capacity) {}

  // Blob `id`, open: kept from an earlier call, or opened now (OpenBlob's errors) and kept
  // in place of the one least recently asked for. A blob another process deletes is still
  // read while it is kept: its bytes do not change (ids name contents).
  Result<std::shared_ptr<OpenedBlob>> Open(const std::string& id);
  // Closes `id` if it is kept, and keeps none that was opened before this call: a blob
  // deleted through the store is not read again.
  void Forget(const std::string& id);
  // Files kept open now.
  size_t size() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<OpenedBlob>>;

  const std::shared_ptr<const Layout> layout_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> recent_;  // GUARDED_BY(mu_); most recently asked for first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_id_;  // GUARDED_BY(mu_)
  uint64_t forgets_ = 0;  // GUARDED_BY(mu_); Forget calls so far
};

}  // namespace blobstate::local_internal

#endif  // BLOBSTATE_BLOBSTORE_LOCAL_OPEN_BLOBS_H_
