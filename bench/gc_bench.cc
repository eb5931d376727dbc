// Fills a blob store for the gc benchmark (bench/gc_bench.sh): one checkpoint of job
// "bench", task "t0" whose snapshot names `marked` blobs, and `orphans` blobs that nothing
// names, all small and without TTL, put `kInFlight` at a time.
//   gc_bench URL MARKED ORPHANS
// The URL's credentials come from the environment, as for the blobstate tool.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>

#include "blobstate/checkpoint.h"
#include "blobstate/index.h"
#include "blobstate/snapshot.h"
#include "checkpoint/snapshot_util.h"

using namespace blobstate;

namespace {

constexpr auto kWait = std::chrono::seconds(600);
constexpr size_t kInFlight = 64;

// Puts `n` blobs of store `store`; returns their ids.
Result<std::vector<std::string>> PutMany(BlobStore& blobs, const std::string& store, int n) {
  std::vector<std::string> ids;
  std::deque<Future<std::string>> in_flight;
  auto wait_one = [&]() -> Status {
    ASSIGN_OR_RETURN(std::string id, std::move(in_flight.front()).GetFor(kWait, "put"));
    in_flight.pop_front();
    ids.push_back(std::move(id));
    return Status::Ok();
  };
  for (int i = 0; i < n; ++i) {
    in_flight.push_back(blobs.Put(StringSourceFactory("blob " + std::to_string(i)),
                                  {.job_name = "bench",
                                   .task_name = "t0",
                                   .store_name = store,
                                   .file_path = "f" + std::to_string(i)}));
    if (in_flight.size() >= kInFlight) RETURN_IF_ERROR(wait_one());
  }
  while (!in_flight.empty()) RETURN_IF_ERROR(wait_one());
  return ids;
}

Status Fill(const std::string& url, int marked, int orphans) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> blobs, OpenBlobStore(url, {.io_threads = 32}));
  ThreadPool pool("gc-bench", 2);
  ASSIGN_OR_RETURN(std::vector<std::string> kept, PutMany(*blobs, "kept", marked));
  SnapshotIndex index{.metadata = {.checkpoint_id = NewCheckpointId(),
                                   .job_name = "bench",
                                   .task_name = "t0",
                                   .store_name = "kept"}};
  for (size_t i = 0; i < kept.size(); ++i) {
    index.root.files_present.push_back({.name = "f" + std::to_string(i),
                                        .blobs = {{.blob_id = kept[i]}},
                                        .metadata = {.size = 8, .mode = 0644}});
  }
  ASSIGN_OR_RETURN(std::string index_id,
                   PutSnapshotIndex(*blobs, index,
                                    {.job_name = "bench", .task_name = "t0", .store_name = "kept"})
                       .GetFor(kWait, "put of the index"));
  ASSIGN_OR_RETURN(std::unique_ptr<CheckpointStore> checkpoints,
                   CheckpointStore::Open(*blobs, pool, {}, "bench", "t0"));
  RETURN_IF_ERROR(checkpoints->Claim().GetFor(kWait, "claim").status());
  Checkpoint c{.id = index.metadata.checkpoint_id, .history = true};
  c.state_markers[std::string(kBlobStoreBackend)]["kept"] = index_id;
  RETURN_IF_ERROR(checkpoints->Write(c).GetFor(kWait, "checkpoint"));
  RETURN_IF_ERROR(PutMany(*blobs, "garbage", orphans).status());
  std::printf("   filled: %d blobs named by a checkpoint, %d orphans\n", marked, orphans);
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: gc_bench URL MARKED ORPHANS\n");
    return 2;
  }
  Status s = Fill(argv[1], std::atoi(argv[2]), std::atoi(argv[3]));
  if (!s.ok()) {
    std::fprintf(stderr, "gc_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
