#include "blobstore/s3/s3_blob_store.h"

#include "blobstore/run_on.h"
#include "blobstore/s3/s3_ops.h"

namespace blobstate {

using s3_internal::S3Ops;

Result<std::unique_ptr<S3BlobStore>> S3BlobStore::Open(S3Config config, size_t io_threads) {
  if (io_threads == 0) {
    return InvalidArgumentError("blob store " + config.Describe() + ": io_threads must be >= 1");
  }
  auto part_pool = std::make_unique<ThreadPool>("blobstore-s3-part", config.part_concurrency);
  auto ops = std::make_shared<S3Ops>(std::move(config), *part_pool);
  std::unique_ptr<S3BlobStore> store(new S3BlobStore(std::move(ops), io_threads));
  store->part_pool_ = std::move(part_pool);
  return store;
}

S3BlobStore::S3BlobStore(std::shared_ptr<S3Ops> ops, size_t io_threads)
    : ops_(std::move(ops)), pool_(std::make_unique<ThreadPool>("blobstore-s3", io_threads)) {}

S3BlobStore::~S3BlobStore() {
  pool_.reset();  // runs what is queued (which may use the part pool), then joins
  part_pool_.reset();
}

template <typename T, typename Fn>
Future<T> S3BlobStore::Run(Fn fn) {
  return RunOn<T>(*pool_, "S3 blob store", std::move(fn));
}

Future<std::string> S3BlobStore::Put(SourceFactory source, const BlobMetadata& metadata) {
  return Run<std::string>(
      [ops = ops_, source = std::move(source), metadata] { return ops->Put(source, metadata); });
}

Future<void> S3BlobStore::Get(const std::string& id, SinkFactory sink) {
  return Run<void>([ops = ops_, id, sink = std::move(sink)] { return ops->Get(id, sink); });
}

Future<void> S3BlobStore::Delete(const std::string& id) {
  return Run<void>([ops = ops_, id] { return ops->Delete(id); });
}

Future<void> S3BlobStore::RemoveTtl(const std::string& id) {
  return Run<void>([ops = ops_, id] { return ops->RemoveTtl(id); });
}

Future<std::vector<std::string>> S3BlobStore::ListExpired(
    std::chrono::system_clock::time_point now) {
  return Run<std::vector<std::string>>([ops = ops_, now] { return ops->ListExpired(now); });
}

Future<void> S3BlobStore::Flush() { return MakeReadyFuture(); }

Future<void> S3BlobStore::PutObject(const std::string& name, std::string data) {
  return Run<void>(
      [ops = ops_, name, data = std::move(data)] { return ops->PutObject(name, data); });
}

Future<std::string> S3BlobStore::GetObject(const std::string& name) {
  return Run<std::string>([ops = ops_, name] { return ops->GetObject(name); });
}

Future<void> S3BlobStore::DeleteObject(const std::string& name) {
  return Run<void>([ops = ops_, name] { return ops->DeleteObject(name); });
}

Future<std::vector<std::string>> S3BlobStore::ListObjects(const std::string& prefix) {
  return Run<std::vector<std::string>>([ops = ops_, prefix] { return ops->ListObjects(prefix); });
}

std::string S3BlobStore::Describe() const { return ops_->Describe(); }

}  // namespace blobstate
