// The S3 blob store: the `s3://BUCKET/PREFIX` backend (s3_config.h documents the URL), over
// S3's REST API with our SigV4 signer and libcurl.
//
// Keys under PREFIX/, TTL tags, resumed gets and listings: as http/cloud_ops.h says for
// every cloud backend. The TTL tags go with the PUT itself (x-amz-tagging); on a server
// that ignores that header, each blob is tagged by a second request (PutObjectTagging),
// and a crash between the two leaves an untagged blob, which gc does not see.
//
// Large blobs (multipart_threshold and up) go up as multipart uploads: parts are read one
// after the other and uploaded part_concurrency at a time (memory: part_concurrency x
// part_size for the whole store); a failed upload is aborted, so its parts do not linger
// (if the abort itself fails, the bucket's AbortIncompleteMultipartUpload rule, README
// "S3", removes them). Delete is HEAD then DELETE, since S3's DELETE succeeds on a missing key and
// Delete must tell kGone. ListExpired lists blobs/ (ListObjectsV2) and reads each one's tags: gc
// only. Puts, deletes and tag changes are durable when S3 acknowledges them: Flush does nothing.
//
// Threads: as CloudBlobStore's (http/cloud_blob_store.h), with part_concurrency part
// threads.
//
// Errors of every call: kNotFound for a missing blob or object (naming it), the mapping
// of CloudStatus for other replies (5xx and SlowDown retriable; 400/401/403 permanent),
// kUnavailable or kDeadlineExceeded for transport failures; a source's or sink's errors
// as they are; kDataLoss if a source yields more or fewer bytes than its size().
#ifndef BLOBSTATE_BLOBSTORE_S3_S3_BLOB_STORE_H_
#define BLOBSTATE_BLOBSTORE_S3_S3_BLOB_STORE_H_

#include <memory>

#include "blobstate/blob_store.h"
#include "blobstate/s3.h"
#include "blobstore/s3/s3_config.h"

namespace blobstate {

// The S3 backend of `config`, with io_threads request threads, without the retries and
// metering that OpenS3BlobStore (blobstate/s3.h) adds. No request is made.
// kInvalidArgument if io_threads == 0.
Result<std::unique_ptr<BlobStore>> NewS3Backend(S3Config config, size_t io_threads);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_S3_S3_BLOB_STORE_H_
