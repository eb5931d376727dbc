// The synchronous operations behind the Azure blob store (azure_blob_store.h states what
// they do), over the Blob service REST API.
#ifndef BLOBSTATE_BLOBSTORE_AZURE_AZURE_OPS_H_
#define BLOBSTATE_BLOBSTORE_AZURE_AZURE_OPS_H_

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "blobstore/azure/azure_config.h"
#include "blobstore/http/cloud_blob_store.h"
#include "blobstore/http/cloud_io.h"

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
  AzureOps(AzureConfig config, Executor& part_pool);

  // Authorises (Shared Key or SAS) and sends `request`.
  Result<HttpResponse> Send(const AzureRequest& request) const;

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
  std::string Describe() const override { return config_.Describe(); }

 private:
  using Tags = std::vector<std::pair<std::string, std::string>>;
  enum class Tagging { kUnknown, kOnPut, kSeparate };

  std::string BlobName(const std::string& id) const { return config_.prefix + "blobs/" + id; }
  std::string ObjectName(const std::string& name) const {
    return config_.prefix + "objects/" + name;
  }
  Status Upload(const std::string& name, BlobSource& source, const Tags& tags);
  Status UploadBlocks(const std::string& name, BlobSource& source, const Tags& tags);
  Status EnsureTagged(const std::string& name, const Tags& tags);
  Status SetTags(const std::string& name, const Tags& tags, const std::string& what);
  Result<Tags> GetTags(const std::string& name);
  Status DeleteName(const std::string& name, const std::string& what);
  Result<std::vector<std::string>> ListNames(const std::string& prefix);

  AzureConfig config_;
  Executor& part_pool_;
  PartSlots part_slots_;
  std::atomic<Tagging> tagging_{Tagging::kUnknown};
};

}  // namespace blobstate::azure_internal

#endif  // BLOBSTATE_BLOBSTORE_AZURE_AZURE_OPS_H_
