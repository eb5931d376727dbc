#include <algorithm>

#include "blobstate/snapshot.h"

namespace blobstate {

Future<SnapshotIndex> GetSnapshotIndex(BlobStore& store, Executor& executor,
                                       const std::string& blob_id) {
  auto bytes = std::make_shared<std::string>();
  return store.Get(blob_id, StringSinkFactory(bytes.get()))
      .Then(executor, [bytes, blob_id](Result<void> got) -> Result<SnapshotIndex> {
        if (!got.ok()) return got.status().WithContext("get snapshot index " + blob_id);
        Result<SnapshotIndex> index = DecodeSnapshotIndex(*bytes);
        if (!index.ok()) return index.status().WithContext("snapshot index " + blob_id);
        return index;
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

Future<std::string> PutSnapshotIndex(BlobStore& store, const SnapshotIndex& index,
                                     BlobMetadata metadata) {
  metadata.file_path = "snapshot-index";
  return store.Put(StringSourceFactory(EncodeSnapshotIndex(index)), metadata);
}

}  // namespace blobstate
