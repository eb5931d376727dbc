// What fencing costs: the claim a writer makes when it opens a task, and the conditional
// persist of each commit's checkpoint beside the unconditional put it replaced, in
// milliseconds and (cloud) HTTP requests, on one blob store.
//   fencing_bench URL [ROUNDS]
// The URL's credentials come from the environment, as for the blobstate tool.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/checkpoint.h"
#include "blobstate/metrics.h"
#include "checkpoint/codec.h"

using namespace blobstate;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kWait = std::chrono::seconds(120);

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// What the blob store records: its requests, each attempt.
PrometheusTextSink metrics;

uint64_t Requests() {
  double n = 0;
  for (const auto& [labels, count] : metrics.Counter("blobstate_blob_store_requests_total")) {
    n += count;
  }
  return static_cast<uint64_t>(n);
}

// A checkpoint of a task with 4 stores, as a commit writes it.
Checkpoint Sample() {
  Checkpoint c{.id = NewCheckpointId(), .input_offsets = {{"input-0", "123456789"}}};
  for (const char* s : {"a", "b", "c", "d"}) {
    c.state_markers[std::string(kBlobStoreBackend)][s] =
        std::string("job/t/") + s +
        "/20261130T000000Z-00112233445566778899aabbccddeeff-snapshot-index";
  }
  return c;
}

// Runs `step` `rounds` times; prints its median milliseconds and requests per run.
template <typename F>
Status Measure(const char* what, int rounds, F step) {
  std::vector<double> ms;
  const uint64_t before = Requests();
  for (int i = 0; i < rounds; ++i) {
    const auto started = Clock::now();
    RETURN_IF_ERROR(step(i));
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
  }
  std::printf("   %-44s %7.2f ms  %5.1f requests\n", what, Median(ms),
              static_cast<double>(Requests() - before) / rounds);
  return Status::Ok();
}

Status Run(const std::string& url, int rounds) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, OpenBlobStore(url, {.metrics = &metrics}));
  ThreadPool pool("fencing-bench", 2);
  const std::string task = "t" + std::to_string(Clock::now().time_since_epoch().count());
  std::vector<std::unique_ptr<CheckpointStore>> writers;
  {  // the task has a checkpoint, as one that ran before
    ASSIGN_OR_RETURN(auto first, CheckpointStore::Open(*store, pool, {}, "bench", task));
    RETURN_IF_ERROR(first->Claim().GetFor(kWait).status());
    RETURN_IF_ERROR(first->Write(Sample()).GetFor(kWait));
  }
  RETURN_IF_ERROR(Measure("claim (open of a writer)", rounds, [&](int) -> Status {
    ASSIGN_OR_RETURN(auto checkpoints, CheckpointStore::Open(*store, pool, {}, "bench", task));
    RETURN_IF_ERROR(checkpoints->Claim().GetFor(kWait).status());
    writers.push_back(std::move(checkpoints));
    return Status::Ok();
  }));
  CheckpointStore& writer = *writers.back();
  RETURN_IF_ERROR(Measure("conditional persist (per commit)", rounds,
                          [&](int) { return writer.Write(Sample()).GetFor(kWait).status(); }));
  const std::string name = "checkpoints/bench/" + task + "/unconditional";
  return Measure("unconditional put of the same bytes (before)", rounds, [&](int) {
    return store->PutObject(name, EncodeCheckpoint(Sample()), {}).GetFor(kWait).status();
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fencing_bench URL [ROUNDS]\n");
    return 2;
  }
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 21;
  std::printf("== fencing cost on %s (medians of %d)\n", argv[1], rounds);
  if (Status s = Run(argv[1], rounds); !s.ok()) {
    std::fprintf(stderr, "fencing_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
