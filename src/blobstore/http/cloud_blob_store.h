// CloudBlobStore: the BlobStore of a cloud backend (S3, Azure), whose blocking requests
// (a CloudOps) run on the store's own pools.
//
// Threads: requests run on a pool of io_threads ("blobstore-<name>"); parts of multipart
// or block uploads on a second pool of part_threads ("blobstore-<name>-part"), handed to
// the ops at creation. Sources and sinks are used on those threads. Each returned future
// completes on the request pool. Safe for concurrent use. Flush completes at once: a
// cloud store's calls are durable when the service acknowledges them.
#ifndef BLOBSTATE_BLOBSTORE_HTTP_CLOUD_BLOB_STORE_H_
#define BLOBSTATE_BLOBSTORE_HTTP_CLOUD_BLOB_STORE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/future.h"
#include "blobstore/http/cloud_ops.h"

namespace blobstate {

class CloudBlobStore final : public BlobStore {
 public:
  // make_ops(part_pool) builds the ops; the pool outlives them. REQUIRES: io_threads >= 1,
  // part_threads >= 1.
  using OpsFactory = std::function<std::shared_ptr<CloudOps>(Executor& part_pool)>;
  CloudBlobStore(const std::string& name, size_t io_threads, size_t part_threads,
                 const OpsFactory& make_ops);
  // Runs every queued request, then joins the pools.
  ~CloudBlobStore() override;

  Future<std::string> Put(SourceFactory source, const BlobMetadata& metadata) override;
  Future<void> Get(const std::string& id, SinkFactory sink) override;
  Future<void> GetRange(const std::string& id, uint64_t offset, uint64_t length,
                        SinkFactory sink) override;
  Future<void> Delete(const std::string& id) override;
  Future<void> RemoveTtl(const std::string& id) override;
  Future<std::optional<std::chrono::system_clock::time_point>> ExpiryOf(
      const std::string& id) override;
  Future<BlobPage> ListBlobs(const std::string& prefix, const std::string& token) override;
  Future<void> DeleteExpired(const std::string& id,
                             std::chrono::system_clock::time_point now) override;
  Future<void> Flush() override;
  Future<std::string> PutObject(const std::string& name, std::string data,
                                const ObjectCondition& condition) override;
  Future<VersionedObject> GetObject(const std::string& name) override;
  Future<void> DeleteObject(const std::string& name) override;
  Future<std::vector<std::string>> ListObjects(const std::string& prefix) override;
  std::string Describe() const override;
  bool FencingOff() const override { return ops_->FencingOff(); }

 private:
  template <typename T, typename Fn>
  Future<T> Run(Fn fn);

  std::unique_ptr<ThreadPool> part_pool_;  // destroyed after pool_, whose requests use it
  std::shared_ptr<CloudOps> ops_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_HTTP_CLOUD_BLOB_STORE_H_
