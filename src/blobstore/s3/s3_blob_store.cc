#include "blobstore/s3/s3_blob_store.h"

#include "blobstore/http/cloud_blob_store.h"
#include "blobstore/open_blob_store.h"
#include "blobstore/s3/s3_ops.h"

namespace blobstate {

Result<std::unique_ptr<BlobStore>> NewS3Backend(S3Config config, size_t io_threads) {
  if (io_threads == 0) {
    return InvalidArgumentError("blob store " + config.Describe() + ": io_threads must be >= 1");
  }
  const size_t part_threads = config.part_concurrency;
  return std::unique_ptr<BlobStore>(std::make_unique<CloudBlobStore>(
      "s3", io_threads, part_threads, [&config](Executor& part_pool) {
        return std::make_shared<s3_internal::S3Ops>(std::move(config), part_pool);
      }));
}

Result<std::unique_ptr<BlobStore>> OpenS3BlobStore(const S3Options& s3,
                                                   const BlobStoreOptions& options) {
  RETURN_IF_ERROR(CheckBlobStoreOptions(options, "S3Options"));
  ASSIGN_OR_RETURN(S3Config config, ResolveS3Options(s3, ProcessEnv(), "S3Options"));
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> backend,
                   NewS3Backend(std::move(config), options.io_threads));
  return DecorateBlobStore(std::move(backend), options);
}

}  // namespace blobstate
