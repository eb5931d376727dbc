// The Azure Blob store: the `azure://ACCOUNT/CONTAINER/PREFIX` backend (azure_config.h
// documents the URL and credentials), over the Blob service REST API and libcurl.
//
// Blob names under PREFIX/ in the container:
//   blobs/<id>       the bytes of blob <id> (block blobs)
//   objects/<name>   named object <name> (checkpoints)
//
// TTL: a blob put with a TTL carries the blob index tags blobstate-ttl=pending (for a
// lifecycle management rule that deletes such blobs; README, "Azure") and
// blobstate-expires=<ms since the epoch> (for gc), set by the Put Blob or Put Block List
// itself (x-ms-tags), so a blob is never visible without them; as for S3, the first put
// with a TTL reads them back and falls back to Set Blob Tags if a server dropped them.
// RemoveTtl sets an empty tag set.
//
// Large blobs (block_threshold and up) go up as blocks (Put Block, block_concurrency at a
// time; memory: block_concurrency x block_size for the whole store) committed by one Put
// Block List; the blocks of a failed upload are never committed, and the service discards
// them. Gets resume with a Range after a dropped connection, up to 3 times. Deletes are
// one DELETE (a 404 is kGone). ListExpired lists blobs/ and reads each blob's tags: gc
// only. Threads: as CloudBlobStore's, with block_concurrency part threads.
//
// Errors: as the S3 store's (s3_blob_store.h). A wrong key or SAS is kPermissionDenied
// (403 AuthenticationFailed / AuthorizationFailure), which is never retried.
#ifndef BLOBSTATE_BLOBSTORE_AZURE_AZURE_BLOB_STORE_H_
#define BLOBSTATE_BLOBSTORE_AZURE_AZURE_BLOB_STORE_H_

#include <memory>

#include "blobstate/blob_store.h"
#include "blobstore/azure/azure_config.h"

namespace blobstate {

// The Azure blob store of `config`, with io_threads request threads (no request is made).
// kInvalidArgument if io_threads == 0.
Result<std::unique_ptr<BlobStore>> OpenAzureBlobStore(AzureConfig config, size_t io_threads);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_AZURE_AZURE_BLOB_STORE_H_
