// What the backends share: the checks of BlobStoreOptions, the decorators around a
// backend, and how a ranged read is named.
#ifndef BLOBSTATE_BLOBSTORE_OPEN_BLOB_STORE_H_
#define BLOBSTATE_BLOBSTORE_OPEN_BLOB_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "blobstate/blob_store.h"

namespace blobstate {

// "bytes A-B of blob ID": how messages name a GetRange. REQUIRES: CheckRange passed.
std::string RangeDescription(const std::string& id, uint64_t offset, uint64_t length);

// What every GetRange checks first: kInvalidArgument, naming the blob, for no bytes or a
// range whose end is past the largest offset.
Status CheckRange(const std::string& id, uint64_t offset, uint64_t length);

// kInvalidArgument naming `what` (the store) if io_threads or retry.max_attempts is 0.
Status CheckBlobStoreOptions(const BlobStoreOptions& options, std::string_view what);

// `backend` metered into options.metrics (if set) and retried per options.retry.
std::unique_ptr<BlobStore> DecorateBlobStore(std::unique_ptr<BlobStore> backend,
                                             const BlobStoreOptions& options);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_OPEN_BLOB_STORE_H_
