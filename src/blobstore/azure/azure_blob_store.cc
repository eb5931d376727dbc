#include "blobstore/azure/azure_blob_store.h"

#include "blobstore/azure/azure_ops.h"
#include "blobstore/http/cloud_blob_store.h"
#include "blobstore/open_blob_store.h"

namespace blobstate {

Result<std::unique_ptr<BlobStore>> NewAzureBackend(AzureConfig config, size_t io_threads) {
  if (io_threads == 0) {
    return InvalidArgumentError("blob store " + config.Describe() + ": io_threads must be >= 1");
  }
  const size_t part_threads = config.block_concurrency;
  return std::unique_ptr<BlobStore>(std::make_unique<CloudBlobStore>(
      "azure", io_threads, part_threads, [&config](Executor& part_pool) {
        return std::make_shared<azure_internal::AzureOps>(std::move(config), part_pool);
      }));
}

Result<std::unique_ptr<BlobStore>> OpenAzureBlobStore(const AzureOptions& azure,
                                                      const BlobStoreOptions& options) {
  RETURN_IF_ERROR(CheckBlobStoreOptions(options, "AzureOptions"));
  ASSIGN_OR_RETURN(AzureConfig config, ResolveAzureOptions(azure, ProcessEnv(), "AzureOptions"));
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> backend,
                   NewAzureBackend(std::move(config), options.io_threads));
  return DecorateBlobStore(std::move(backend), options);
}

}  // namespace blobstate
