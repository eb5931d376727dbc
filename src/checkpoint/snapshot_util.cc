#include "checkpoint/snapshot_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "blobstate/snapshot.h"
#include "util/fs.h"

namespace blobstate {

namespace {

Future<SnapshotIndex> Fetch(BlobStore& store, Executor& executor, const std::string& blob_id) {
  auto bytes = std::make_shared<std::string>();
  return store.Get(blob_id, StringSinkFactory(bytes.get()))
      .Then(executor, [bytes, blob_id](Result<void> got) -> Result<SnapshotIndex> {
        if (!got.ok()) return got.status().WithContext("get snapshot index " + blob_id);
        Result<SnapshotIndex> index = DecodeSnapshotIndex(*bytes);
        std::string().swap(*bytes);  // not held while the index is used
        if (!index.ok()) return index.status().WithContext("snapshot index " + blob_id);
        return index;
      });
}

}  // namespace

Future<SnapshotIndex> GetSnapshotIndex(BlobStore& store, Executor& executor,
                                       const std::string& blob_id) {
  return Fetch(store, executor, blob_id);
}

Future<SnapshotIndex> VisitSnapshotFiles(BlobStore& store, Executor& executor,
                                            const std::string& blob_id, FileVisitor visit,
                                            const std::string& dir) {
  return GetIndexFile(store, executor, blob_id, dir)
      .Map(executor,
           [blob_id, visit = std::move(visit)](
               std::shared_ptr<const IndexFile> index) -> Result<SnapshotIndex> {
             Status s = index->VisitFiles(visit);
             if (!s.ok()) return s.WithContext("snapshot index " + blob_id);
             return index->header();
           });
}

Future<StoreSnapshots> GetStoreSnapshots(BlobStore& store, Executor& executor,
                                         const std::optional<Checkpoint>& checkpoint,
                                         const std::vector<std::string>& stores) {
  Result<StoreMarkers> markers = BlobStoreMarkers(checkpoint);
  if (!markers.ok()) return MakeReadyFuture<StoreSnapshots>(markers.status());
  std::map<std::string, Future<StoreSnapshot>> fetches;
  for (const auto& [name, blob_id] : *markers) {
    if (!stores.empty() && std::find(stores.begin(), stores.end(), name) == stores.end()) {
      continue;
    }
    fetches.emplace(name, GetSnapshotIndex(store, executor, blob_id)
                              .Then(executor,
                                    [name = name, blob_id = blob_id](
                                        Result<SnapshotIndex> index) -> Result<StoreSnapshot> {
                                      if (!index.ok()) {
                                        return index.status().WithContext("store " + name);
                                      }
                                      if (index->metadata.store_name != name) {
                                        return DataLossError("store " + name + ": snapshot index " +
                                                             blob_id + " belongs to store '" +
                                                             index->metadata.store_name + "'");
                                      }
                                      return StoreSnapshot{blob_id, std::move(*index)};
                                    }));
  }
  return ToMap(std::move(fetches));
}

namespace {

// Writes each attempt of a get from the start of a file shared by every attempt.
class FileSink final : public BlobSink {
 public:
  explicit FileSink(std::shared_ptr<File> file) : file_(std::move(file)) {}
  Status Write(const char* data, size_t n) override {
    RETURN_IF_ERROR(file_->WriteAt(data, n, size_));
    size_ += n;
    return Status::Ok();
  }
  Status Finish() override {
    if (::ftruncate(file_->fd(), static_cast<off_t>(size_)) != 0) {
      return ErrnoError("truncate snapshot index file", errno);
    }
    return Status::Ok();
  }

 private:
  std::shared_ptr<File> file_;
  uint64_t size_ = 0;
};

// Reads the bytes [0, size) of an index file.
class IndexFileSource final : public BlobSource {
 public:
  explicit IndexFileSource(std::shared_ptr<const IndexFile> index) : index_(std::move(index)) {}
  uint64_t size() const override { return index_->size(); }
  Result<size_t> Read(char* buf, size_t n) override {
    n = static_cast<size_t>(std::min<uint64_t>(n, index_->size() - pos_));
    if (n == 0) return size_t{0};
    ASSIGN_OR_RETURN(size_t got, index_->ReadAt(buf, n, pos_));
    if (got == 0) return DataLossError("snapshot index file ended early");
    pos_ += got;
    return got;
  }

 private:
  std::shared_ptr<const IndexFile> index_;
  uint64_t pos_ = 0;
};

}  // namespace

Future<std::shared_ptr<const IndexFile>> GetIndexFile(BlobStore& store, Executor& executor,
                                                      const std::string& blob_id,
                                                      const std::string& dir) {
  using Out = std::shared_ptr<const IndexFile>;
  Result<File> created = File::Unnamed(dir);
  if (!created.ok()) {
    return MakeReadyFuture<Out>(created.status().WithContext("get snapshot index " + blob_id));
  }
  auto file = std::make_shared<File>(std::move(*created));
  SinkFactory sink = [file]() -> Result<std::unique_ptr<BlobSink>> {
    return std::unique_ptr<BlobSink>(std::make_unique<FileSink>(file));
  };
  return store.Get(blob_id, std::move(sink))
      .Then(executor, [file, blob_id](Result<void> got) -> Result<Out> {
        if (!got.ok()) return got.status().WithContext("get snapshot index " + blob_id);
        Result<Out> index = IndexFile::Open(std::move(*file));
        if (!index.ok()) return index.status().WithContext("snapshot index " + blob_id);
        return index;
      });
}

Future<StoreIndexes> GetStoreIndexes(BlobStore& store, Executor& executor,
                                     const std::optional<Checkpoint>& checkpoint,
                                     const std::map<std::string, std::string>& dirs) {
  Result<StoreMarkers> markers = BlobStoreMarkers(checkpoint);
  if (!markers.ok()) return MakeReadyFuture<StoreIndexes>(markers.status());
  std::map<std::string, Future<StoreIndex>> fetches;
  for (const auto& [name, blob_id] : *markers) {
    auto dir = dirs.find(name);
    if (dir == dirs.end()) continue;
    fetches.emplace(
        name, GetIndexFile(store, executor, blob_id, dir->second)
                  .Then(executor,
                        [name = name, blob_id = blob_id](
                            Result<std::shared_ptr<const IndexFile>> index) -> Result<StoreIndex> {
                          if (!index.ok()) return index.status().WithContext("store " + name);
                          const std::string& owner = (*index)->header().metadata.store_name;
                          if (owner != name) {
                            return DataLossError("store " + name + ": snapshot index " + blob_id +
                                                 " belongs to store '" + owner + "'");
                          }
                          return StoreIndex{blob_id, std::move(*index)};
                        }));
  }
  return ToMap(std::move(fetches));
}

Future<std::string> PutIndexFile(BlobStore& store, std::shared_ptr<const IndexFile> index,
                                 BlobMetadata metadata) {
  metadata.file_path = "snapshot-index";
  SourceFactory source = [index]() -> Result<std::unique_ptr<BlobSource>> {
    return std::unique_ptr<BlobSource>(std::make_unique<IndexFileSource>(index));
  };
  return store.Put(std::move(source), metadata);
}

Future<std::string> PutSnapshotIndex(BlobStore& store, const SnapshotIndex& index,
                                     BlobMetadata metadata) {
  metadata.file_path = "snapshot-index";
  return store.Put(StringSourceFactory(EncodeSnapshotIndex(index)), metadata);
}

}  // namespace blobstate
