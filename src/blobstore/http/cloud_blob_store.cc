#include "blobstore/http/cloud_blob_store.h"

#include "blobstore/run_on.h"

namespace blobstate {

CloudBlobStore::CloudBlobStore(const std::string& name, size_t io_threads, size_t part_threads,
                               const OpsFactory& make_ops)
    : part_pool_(std::make_unique<ThreadPool>("blobstore-" + name + "-part", part_threads)),
      ops_(make_ops(*part_pool_)),
      pool_(std::make_unique<ThreadPool>("blobstore-" + name, io_threads)) {}

CloudBlobStore::~CloudBlobStore() {
  pool_.reset();  // runs what is queued (which may use the part pool), then joins
  part_pool_.reset();
}

template <typename T, typename Fn>
Future<T> CloudBlobStore::Run(Fn fn) {
  return RunOn<T>(*pool_, "cloud blob store", std::move(fn));
}

Future<std::string> CloudBlobStore::Put(SourceFactory source, const BlobMetadata& metadata) {
  return Run<std::string>(
      [ops = ops_, source = std::move(source), metadata] { return ops->Put(source, metadata); });
}

Future<void> CloudBlobStore::Get(const std::string& id, SinkFactory sink) {
  return Run<void>([ops = ops_, id, sink = std::move(sink)] { return ops->Get(id, sink); });
}

Future<void> CloudBlobStore::GetRange(const std::string& id, uint64_t offset, uint64_t length,
                                      SinkFactory sink) {
  return Run<void>([ops = ops_, id, offset, length, sink = std::move(sink)] {
    return ops->GetRange(id, offset, length, sink);
  });
}

Future<void> CloudBlobStore::Delete(const std::string& id) {
  return Run<void>([ops = ops_, id] { return ops->Delete(id); });
}

Future<void> CloudBlobStore::RemoveTtl(const std::string& id) {
  return Run<void>([ops = ops_, id] { return ops->RemoveTtl(id); });
}

Future<std::optional<std::chrono::system_clock::time_point>> CloudBlobStore::ExpiryOf(
    const std::string& id) {
  return Run<std::optional<std::chrono::system_clock::time_point>>(
      [ops = ops_, id] { return ops->ExpiryOf(id); });
}

Future<BlobPage> CloudBlobStore::ListBlobs(const std::string& prefix, const std::string& token) {
  return Run<BlobPage>([ops = ops_, prefix, token] { return ops->ListBlobs(prefix, token); });
}

Future<void> CloudBlobStore::DeleteExpired(const std::string& id,
                                           std::chrono::system_clock::time_point now) {
  return Run<void>([ops = ops_, id, now] { return ops->DeleteExpired(id, now); });
}

Future<void> CloudBlobStore::Flush() { return MakeReadyFuture(); }

Future<std::string> CloudBlobStore::PutObject(const std::string& name, std::string data,
                                              const ObjectCondition& condition) {
  return Run<std::string>([ops = ops_, name, data = std::move(data), condition] {
    return ops->PutObject(name, data, condition);
  });
}

Future<VersionedObject> CloudBlobStore::GetObject(const std::string& name) {
  return Run<VersionedObject>([ops = ops_, name] { return ops->GetObject(name); });
}

Future<void> CloudBlobStore::DeleteObject(const std::string& name) {
  return Run<void>([ops = ops_, name] { return ops->DeleteObject(name); });
}

Future<std::vector<std::string>> CloudBlobStore::ListObjects(const std::string& prefix) {
  return Run<std::vector<std::string>>([ops = ops_, prefix] { return ops->ListObjects(prefix); });
}

std::string CloudBlobStore::Describe() const { return ops_->Describe(); }

}  // namespace blobstate
