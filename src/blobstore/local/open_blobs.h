// The blob files LocalBlobStore::ReadRange read last, kept open: a lazy restore reads many
// small ranges of a few blobs at a time, and an open (a path walk) per range would cost as
// much as the read. Thread-safe.
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
  // At most this many files are kept open.
  static constexpr size_t kCapacity = 32;

  explicit OpenBlobs(std::shared_ptr<const Layout> layout) : layout_(std::move(layout)) {}

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
  mutable std::mutex mu_;
  std::list<Entry> recent_;  // GUARDED_BY(mu_); most recently asked for first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_id_;  // GUARDED_BY(mu_)
  uint64_t forgets_ = 0;  // GUARDED_BY(mu_); Forget calls so far
};

}  // namespace blobstate::local_internal

#endif  // BLOBSTATE_BLOBSTORE_LOCAL_OPEN_BLOBS_H_
