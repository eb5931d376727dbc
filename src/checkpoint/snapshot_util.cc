#include "checkpoint/snapshot_util.h"

#include <fcntl.h>

#include <algorithm>
#include <memory>

#include "blobstate/snapshot.h"
#include "util/fs.h"

namespace blobstate {

namespace {

Future<SnapshotIndex> Fetch(BlobStore& store, Executor& executor, const std::string& blob_id,
                            FileVisitor visit) {
  auto bytes = std::make_shared<std::string>();
  return store.Get(blob_id, StringSinkFactory(bytes.get()))
      .Then(executor,
            [bytes, blob_id, visit = std::move(visit)](Result<void> got) -> Result<SnapshotIndex> {
              if (!got.ok()) return got.status().WithContext("get snapshot index " + blob_id);
              Result<SnapshotIndex> index =
                  visit ? DecodeSnapshotIndexFiles(*bytes, visit) : DecodeSnapshotIndex(*bytes);
              std::string().swap(*bytes);  // not held while the index is used
              if (!index.ok()) return index.status().WithContext("snapshot index " + blob_id);
              return index;
            });
}

}  // namespace

Future<SnapshotIndex> GetSnapshotIndex(BlobStore& store, Executor& executor,
                                       const std::string& blob_id) {
  return Fetch(store, executor, blob_id, nullptr);
}

Future<SnapshotIndex> GetSnapshotIndexFiles(BlobStore& store, Executor& executor,
                                            const std::string& blob_id, FileVisitor visit) {
  return Fetch(store, executor, blob_id, std::move(visit));
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

// Reads the bytes [0, size) of a file shared by every attempt.
class SpillSource final : public BlobSource {
 public:
  SpillSource(std::shared_ptr<File> file, uint64_t size) : file_(std::move(file)), size_(size) {}
  uint64_t size() const override { return size_; }
  Result<size_t> Read(char* buf, size_t n) override {
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - pos_));
    if (n == 0) return size_t{0};
    ASSIGN_OR_RETURN(size_t got, file_->ReadAt(buf, n, pos_));
    if (got == 0) return DataLossError("snapshot index spill file ended early");
    pos_ += got;
    return got;
  }

 private:
  std::shared_ptr<File> file_;
  const uint64_t size_;
  uint64_t pos_ = 0;
};

// `index` encoded into an unnamed file in `dir` (O_TMPFILE: gone once closed, whatever
// happens); kUnimplemented if the file system has no such files.
Result<SourceFactory> SpillIndex(const SnapshotIndex& index, const std::string& dir) {
  ASSIGN_OR_RETURN(File f, File::Open(dir, O_TMPFILE | O_RDWR, 0600));
  Status written;
  const uint64_t size = EncodeSnapshotIndexTo(index, [&](std::string_view piece) {
    if (written.ok()) written = f.Write(piece.data(), piece.size());
  });
  RETURN_IF_ERROR(written);
  auto file = std::make_shared<File>(std::move(f));
  return SourceFactory([file, size]() -> Result<std::unique_ptr<BlobSource>> {
    return std::unique_ptr<BlobSource>(std::make_unique<SpillSource>(file, size));
  });
}

}  // namespace

Future<std::string> PutSnapshotIndex(BlobStore& store, const SnapshotIndex& index,
                                     BlobMetadata metadata, const std::string& spill_dir) {
  metadata.file_path = "snapshot-index";
  Result<SourceFactory> spilled =
      spill_dir.empty() ? Result<SourceFactory>(UnimplementedError("no spill directory"))
                        : SpillIndex(index, spill_dir);
  // Without a file to spill to (no directory, no O_TMPFILE, a full disk), in memory.
  return store.Put(
      spilled.ok() ? std::move(*spilled) : StringSourceFactory(EncodeSnapshotIndex(index)),
      metadata);
}

}  // namespace blobstate
