// The Azure Blob service protocol under CloudOps (azure_blob_store.h states what the store
// does). Each call blocks on HTTP: the CloudBlobStore runs them on its pool.
#ifndef BLOBSTATE_BLOBSTORE_AZURE_AZURE_OPS_H_
#define BLOBSTATE_BLOBSTORE_AZURE_AZURE_OPS_H_

#include <string>
#include <utility>
#include <vector>

#include "blobstore/azure/azure_config.h"
#include "blobstore/http/cloud_io.h"
#include "blobstore/http/cloud_ops.h"

namespace blobstate::azure_internal {

struct AzureRequest {
  std::string method = "GET";
  std::string name;  // the blob's name in the container; "" for a container request
  std::vector<std::pair<std::string, std::string>> query;  // not encoded
  HttpHeaders headers;
  std::string body;
  BlobSource* upload = nullptr;
  BlobSink* download = nullptr;
};

class AzureOps final : public CloudOps {
 public:
  // `part_pool` runs block uploads; it must outlive every call.
  AzureOps(AzureConfig config, Executor& part_pool);

  // Authorises (Shared Key or SAS) and sends `request`.
  Result<HttpResponse> Send(const AzureRequest& request) const;

  std::string Describe() const override { return config_.Describe(); }

 private:
  // Put Blob, or Put Block + Put Block List from block_threshold bytes on.
  Status Upload(const std::string& name, BlobSource& source, const CloudTags& tags) override;
  Result<HttpResponse> PutSmall(const std::string& name, const std::string& data,
                                HttpHeaders headers) override;
  Status UploadBlocks(const std::string& name, BlobSource& source, const CloudTags& tags);
  Result<HttpResponse> Download(const std::string& name, uint64_t offset,
                                std::optional<uint64_t> end, BlobSink& sink) override;
  Status DeleteKey(const std::string& name, const std::string& what) override;
  Status SetTags(const std::string& name, const CloudTags& tags, const std::string& what) override;
  Result<CloudTags> GetTags(const std::string& name) override;
  // List Blobs, all pages.
  Result<KeyPage> ListPage(const std::string& prefix, const std::string& token) override;
  // x-ms-if-tags makes the delete conditional on the expiry tag.
  Status DeleteKeyIfExpired(const std::string& key, const std::string& expires_tag, int64_t now_ms,
                            const std::string& what) override;

  AzureConfig config_;
  Executor& part_pool_;
  PartSlots part_slots_;  // block_concurrency buffers, store-wide
};

}  // namespace blobstate::azure_internal

#endif  // BLOBSTATE_BLOBSTORE_AZURE_AZURE_OPS_H_
