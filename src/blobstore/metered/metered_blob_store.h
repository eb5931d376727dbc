// MeteredBlobStore: a decorator that records every call of the store it wraps into a
// MetricsSink (metrics.h): requests by method and outcome, their latency, bytes put and
// got. Placed under the retrying decorator, it sees each attempt.
#ifndef BLOBSTATE_BLOBSTORE_METERED_METERED_BLOB_STORE_H_
#define BLOBSTATE_BLOBSTORE_METERED_METERED_BLOB_STORE_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "blobstate/blob_store.h"
#include "blobstate/metrics.h"

namespace blobstate {

class MeteredBlobStore final : public BlobStore {
 public:
  // `sink` must outlive this store and the futures it returns.
  MeteredBlobStore(std::unique_ptr<BlobStore> inner, MetricsSink& sink)
      : inner_(std::move(inner)), sink_(sink) {}

  Future<std::string> Put(SourceFactory source, const BlobMetadata& metadata) override;
  Future<void> Get(const std::string& id, SinkFactory sink) override;
  Future<void> GetRange(const std::string& id, uint64_t offset, uint64_t length,
                        SinkFactory sink) override;
  // ReadRange: recorded as a get-range, unless the inner store has none.
  Status ReadRange(const std::string& id, uint64_t offset, uint64_t length,
                   const SinkFactory& sink) override;
  Future<void> Delete(const std::string& id) override;
  Future<void> RemoveTtl(const std::string& id) override;
  Future<void> Flush() override;
  Future<std::optional<std::chrono::system_clock::time_point>> ExpiryOf(
      const std::string& id) override;
  Future<BlobPage> ListBlobs(const std::string& prefix, const std::string& token) override;
  Future<void> DeleteExpired(const std::string& id,
                             std::chrono::system_clock::time_point now) override;
  Future<std::string> PutObject(const std::string& name, std::string data,
                                const ObjectCondition& condition) override;
  Future<VersionedObject> GetObject(const std::string& name) override;
  Future<void> DeleteObject(const std::string& name) override;
  Future<std::vector<std::string>> ListObjects(const std::string& prefix) override;
  std::string Describe() const override { return inner_->Describe(); }
  bool FencingOff() const override { return inner_->FencingOff(); }
  std::string LocalDirectory() const override { return inner_->LocalDirectory(); }

 private:
  // `call`'s future, which records its outcome and latency as `method` when it completes.
  template <typename T>
  Future<T> Metered(std::string_view method, Future<T> call);

  std::unique_ptr<BlobStore> inner_;
  MetricsSink& sink_;
};

// `policy`, whose on_retry also counts each retry into `sink` (blob_store_retries_total).
RetryPolicy WithRetriesMetered(RetryPolicy policy, MetricsSink& sink);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_METERED_METERED_BLOB_STORE_H_
