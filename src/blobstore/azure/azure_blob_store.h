// The Azure Blob store: the `azure://ACCOUNT/CONTAINER/PREFIX` backend (azure_config.h
// documents the URL and credentials), over the Blob service REST API and libcurl.
//
// Blob names under PREFIX/ in the container, TTL tags (blob index tags), resumed gets and
// listings: as http/cloud_ops.h says for every cloud backend. The TTL tags go with the Put
// Blob or Put Block List itself (x-ms-tags), falling back to Set Blob Tags on a server that
// drops them.
//
// Large blobs (block_threshold and up) go up as blocks (Put Block, block_concurrency at a
// time; memory: block_concurrency x block_size for the whole store) committed by one Put
// Block List; the blocks of a failed upload are never committed, and the service discards
// them. Deletes are one DELETE (a 404 is kGone). Threads: as CloudBlobStore's, with
// block_concurrency part threads.
//
// Errors: as the S3 store's (s3_blob_store.h). A wrong key or SAS is kPermissionDenied
// (403 AuthenticationFailed / AuthorizationFailure), which is never retried.
#ifndef BLOBSTATE_BLOBSTORE_AZURE_AZURE_BLOB_STORE_H_
#define BLOBSTATE_BLOBSTORE_AZURE_AZURE_BLOB_STORE_H_

#include <memory>

#include "blobstate/azure.h"
#include "blobstate/blob_store.h"
#include "blobstore/azure/azure_config.h"

namespace blobstate {

// The Azure backend of `config`, with io_threads request threads, without the retries and
// metering that OpenAzureBlobStore (blobstate/azure.h) adds. No request is made.
// kInvalidArgument if io_threads == 0.
Result<std::unique_ptr<BlobStore>> NewAzureBackend(AzureConfig config, size_t io_threads);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_AZURE_AZURE_BLOB_STORE_H_
