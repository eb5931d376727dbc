#include "blobstore/s3/s3_blob_store.h"

#include "blobstore/http/cloud_blob_store.h"
#include "blobstore/s3/s3_ops.h"

namespace blobstate {

Result<std::unique_ptr<BlobStore>> OpenS3BlobStore(S3Config config, size_t io_threads) {
  if (io_threads == 0) {
    return InvalidArgumentError("blob store " + config.Describe() + ": io_threads must be >= 1");
  }
  const size_t part_threads = config.part_concurrency;
  return std::unique_ptr<BlobStore>(std::make_unique<CloudBlobStore>(
      "s3", io_threads, part_threads, [&config](Executor& part_pool) {
        return std::make_shared<s3_internal::S3Ops>(std::move(config), part_pool);
      }));
}

}  // namespace blobstate
