// What every Open*BlobStore shares: the checks of BlobStoreOptions and the decorators
// around a backend.
#ifndef BLOBSTATE_BLOBSTORE_OPEN_BLOB_STORE_H_
#define BLOBSTATE_BLOBSTORE_OPEN_BLOB_STORE_H_

#include <memory>
#include <string_view>

#include "blobstate/blob_store.h"

namespace blobstate {

// kInvalidArgument naming `what` (the store) if io_threads or retry.max_attempts is 0.
Status CheckBlobStoreOptions(const BlobStoreOptions& options, std::string_view what);

// `backend` metered into options.metrics (if set) and retried per options.retry.
std::unique_ptr<BlobStore> DecorateBlobStore(std::unique_ptr<BlobStore> backend,
                                             const BlobStoreOptions& options);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_OPEN_BLOB_STORE_H_
