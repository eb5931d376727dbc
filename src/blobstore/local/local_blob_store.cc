#include "blobstore/local/local_blob_store.h"

#include "blobstore/local/local_ops.h"
#include "blobstore/local/open_blobs.h"
#include "blobstore/open_blob_store.h"
#include "blobstore/run_on.h"

namespace blobstate {

using local_internal::Layout;

Result<std::unique_ptr<LocalBlobStore>> LocalBlobStore::Open(const std::string& dir,
                                                             size_t io_threads) {
  if (io_threads == 0) {
    return InvalidArgumentError("local blob store " + dir + ": io_threads must be >= 1");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Layout> layout, local_internal::CreateLayout(dir));
  auto pool = std::make_unique<ThreadPool>("blobstore-local", io_threads);
  Executor& executor = *pool;
  return std::unique_ptr<LocalBlobStore>(
      new LocalBlobStore(std::move(layout), std::move(pool), executor));
}

Result<std::unique_ptr<LocalBlobStore>> LocalBlobStore::Open(const std::string& dir,
                                                             Executor& executor) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Layout> layout, local_internal::CreateLayout(dir));
  return std::unique_ptr<LocalBlobStore>(new LocalBlobStore(std::move(layout), nullptr, executor));
}

LocalBlobStore::LocalBlobStore(std::shared_ptr<const Layout> layout,
                               std::unique_ptr<ThreadPool> own_pool, Executor& executor)
    : layout_(std::move(layout)),
      open_blobs_(std::make_shared<local_internal::OpenBlobs>(
          layout_, local_internal::OpenBlobs::DefaultCapacity())),
      own_pool_(std::move(own_pool)),
      executor_(executor) {}

// own_pool_'s destructor runs what is queued and joins; requests hold layout_ themselves.
LocalBlobStore::~LocalBlobStore() = default;

template <typename T, typename Fn>
Future<T> LocalBlobStore::Run(Fn fn) {
  return RunOn<T>(executor_, "local blob store", std::move(fn));
}

Future<std::string> LocalBlobStore::Put(SourceFactory source, const BlobMetadata& metadata) {
  return Run<std::string>([layout = layout_, source = std::move(source), metadata] {
    return local_internal::PutBlob(*layout, source, metadata);
  });
}

Future<void> LocalBlobStore::Get(const std::string& id, SinkFactory sink) {
  return Run<void>([layout = layout_, id, sink = std::move(sink)] {
    return local_internal::GetBlob(*layout, id, sink);
  });
}

Future<void> LocalBlobStore::GetRange(const std::string& id, uint64_t offset, uint64_t length,
                                      SinkFactory sink) {
  if (Status s = CheckRange(id, offset, length); !s.ok()) return MakeReadyFuture<void>(s);
  return Run<void>([layout = layout_, id, offset, length, sink = std::move(sink)] {
    return local_internal::GetBlob(*layout, id, sink, local_internal::ByteRange{offset, length});
  });
}

Status LocalBlobStore::ReadRange(const std::string& id, uint64_t offset, uint64_t length,
                                 const SinkFactory& sink) {
  RETURN_IF_ERROR(CheckRange(id, offset, length));
  ASSIGN_OR_RETURN(std::shared_ptr<local_internal::OpenedBlob> blob, open_blobs_->Open(id));
  return local_internal::ReadBlob(*layout_, *blob, id, sink,
                                  local_internal::ByteRange{offset, length});
}

// Forgotten once gone: a ReadRange that opened the blob before is not kept open.
Future<void> LocalBlobStore::Delete(const std::string& id) {
  return Run<void>([layout = layout_, open = open_blobs_, id] {
    Status s = local_internal::DeleteBlob(*layout, id);
    open->Forget(id);
    return s;
  });
}

Future<void> LocalBlobStore::RemoveTtl(const std::string& id) {
  return Run<void>([layout = layout_, id] { return local_internal::RemoveBlobTtl(*layout, id); });
}

Future<std::optional<std::chrono::system_clock::time_point>> LocalBlobStore::ExpiryOf(
    const std::string& id) {
  return Run<std::optional<std::chrono::system_clock::time_point>>(
      [layout = layout_, id] { return local_internal::BlobExpiry(*layout, id); });
}

Future<BlobPage> LocalBlobStore::ListBlobs(const std::string& prefix, const std::string& token) {
  return Run<BlobPage>([layout = layout_, prefix, token] {
    return local_internal::ListBlobPage(*layout, prefix, token);
  });
}

Future<void> LocalBlobStore::DeleteExpired(const std::string& id,
                                           std::chrono::system_clock::time_point now) {
  return Run<void>([layout = layout_, open = open_blobs_, id, now] {
    Status s = local_internal::DeleteExpiredBlob(*layout, id, now);
    open->Forget(id);
    return s;
  });
}

Future<void> LocalBlobStore::Flush() {
  return Run<void>([layout = layout_]() -> Status {
    auto cutoff = std::chrono::system_clock::now() - kStaleTempAge;
    RETURN_IF_ERROR(local_internal::SweepTempFiles(*layout, cutoff).status());
    return local_internal::FlushStore(*layout);
  });
}

Future<std::string> LocalBlobStore::PutObject(const std::string& name, std::string data,
                                              const ObjectCondition& condition) {
  return Run<std::string>([layout = layout_, name, data = std::move(data), condition] {
    return local_internal::PutObject(*layout, name, data, condition);
  });
}

Future<VersionedObject> LocalBlobStore::GetObject(const std::string& name) {
  return Run<VersionedObject>(
      [layout = layout_, name] { return local_internal::GetObject(*layout, name); });
}

Future<void> LocalBlobStore::DeleteObject(const std::string& name) {
  return Run<void>(
      [layout = layout_, name] { return local_internal::DeleteObject(*layout, name); });
}

Future<std::vector<std::string>> LocalBlobStore::ListObjects(const std::string& prefix) {
  return Run<std::vector<std::string>>(
      [layout = layout_, prefix] { return local_internal::ListObjects(*layout, prefix); });
}

std::string LocalBlobStore::Describe() const { return layout_->Describe(); }

std::string LocalBlobStore::LocalDirectory() const { return layout_->root; }

}  // namespace blobstate
