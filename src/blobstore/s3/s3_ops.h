// The synchronous operations behind S3BlobStore (s3_blob_store.h states the contracts).
// Each one blocks on HTTP: S3BlobStore runs them on its pool.
#ifndef BLOBSTATE_BLOBSTORE_S3_S3_OPS_H_
#define BLOBSTATE_BLOBSTORE_S3_S3_OPS_H_

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstore/http/cloud_blob_store.h"
#include "blobstore/s3/s3_client.h"

namespace blobstate::s3_internal {

// How many times a get resumes (with Range) after its connection dropped midway.
inline constexpr int kMaxGetResumes = 3;

class S3Ops final : public CloudOps {
 public:
  // `part_pool` runs multipart parts; it must outlive every call.
  S3Ops(S3Config config, Executor& part_pool);

  Result<std::string> Put(const SourceFactory& factory, const BlobMetadata& metadata) override;
  Status Get(const std::string& id, const SinkFactory& factory) override;
  Status Delete(const std::string& id) override;
  Status RemoveTtl(const std::string& id) override;
  Result<bool> HasTtl(const std::string& id) override;
  Result<std::vector<std::string>> ListExpired(std::chrono::system_clock::time_point now) override;
  Status PutObject(const std::string& name, const std::string& data) override;
  Result<std::string> GetObject(const std::string& name) override;
  Status DeleteObject(const std::string& name) override;
  Result<std::vector<std::string>> ListObjects(const std::string& prefix) override;
  std::string Describe() const override { return client_.config().Describe(); }

 private:
  enum class Tagging { kUnknown, kOnPut, kSeparate };

  std::string BlobKey(const std::string& id) const;
  std::string ObjectKey(const std::string& name) const;
  // The bytes of `source` to `key`, in one PUT or a multipart upload.
  Status Upload(const std::string& key, BlobSource& source, const std::string& tags);
  Status UploadMultipart(const std::string& key, BlobSource& source, const std::string& tags);
  // Makes sure the blob just put at `key` carries `tags` (see s3_blob_store.h).
  Status EnsureTagged(const std::string& key, const std::string& tags);
  Status PutTags(const std::string& key, const std::string& query_tags, std::string_view what);
  Result<std::vector<std::pair<std::string, std::string>>> GetTags(const std::string& key);
  // kGone if nothing is at `key`, else deletes it.
  Status DeleteKey(const std::string& key, const std::string& what);
  // Every key under `prefix` (ListObjectsV2, all pages).
  Result<std::vector<std::string>> ListKeys(const std::string& prefix);

  S3Client client_;
  Executor& part_pool_;
  std::atomic<Tagging> tagging_{Tagging::kUnknown};
  PartSlots part_slots_;  // part_concurrency buffers, store-wide
};

}  // namespace blobstate::s3_internal

#endif  // BLOBSTATE_BLOBSTORE_S3_S3_OPS_H_
