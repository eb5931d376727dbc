// The S3 protocol under CloudOps (s3_blob_store.h states what the store does). Each call
// blocks on HTTP: the CloudBlobStore runs them on its pool.
#ifndef BLOBSTATE_BLOBSTORE_S3_S3_OPS_H_
#define BLOBSTATE_BLOBSTORE_S3_S3_OPS_H_

#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstore/http/cloud_io.h"
#include "blobstore/http/cloud_ops.h"
#include "blobstore/s3/s3_client.h"

namespace blobstate::s3_internal {

class S3Ops final : public CloudOps {
 public:
  // `part_pool` runs multipart parts; it must outlive every call.
  S3Ops(S3Config config, Executor& part_pool);

  std::string Describe() const override { return client_.config().Describe(); }

 private:
  // One PUT, or a multipart upload from multipart_threshold bytes on.
  Status Upload(const std::string& key, BlobSource& source, const CloudTags& tags) override;
  Result<HttpResponse> PutSmall(const std::string& key, const std::string& data,
                                HttpHeaders headers) override;
  Status UploadMultipart(const std::string& key, BlobSource& source, const CloudTags& tags);
  Result<HttpResponse> Download(const std::string& key, uint64_t offset,
                                std::optional<uint64_t> end, BlobSink& sink) override;
  // HEAD then DELETE: S3's DELETE succeeds on a missing key.
  Status DeleteKey(const std::string& key, const std::string& what) override;
  Status SetTags(const std::string& key, const CloudTags& tags, const std::string& what) override;
  Result<CloudTags> GetTags(const std::string& key) override;
  // ListObjectsV2, all pages.
  Result<KeyPage> ListPage(const std::string& prefix, const std::string& token) override;

  S3Client client_;
  Executor& part_pool_;
  PartSlots part_slots_;  // part_concurrency buffers, store-wide
};

}  // namespace blobstate::s3_internal

#endif  // BLOBSTATE_BLOBSTORE_S3_S3_OPS_H_
