// Commit overhead of a task with one RocksDB store of about MIB MiB: the sync stage (what
// the task's thread waits for) and the async stage (upload, checkpoint, cleanup) of each
// commit, with 1% new data between commits.
//   commit_bench DIR [MIB] [ROUNDS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "blobstate/task.h"

using namespace blobstate;
using Clock = std::chrono::steady_clock;

namespace {

std::string Key(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key%012llu", static_cast<unsigned long long>(i));
  return buf;
}

std::string Value(uint64_t i) {
  std::string v(1000, '\0');
  uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
  for (char& c : v) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  return v;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Fail(const Status& s) {
  std::fprintf(stderr, "commit_bench: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: commit_bench DIR [MIB] [ROUNDS]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t keys = (argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1024) * 1024;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  auto blobs = OpenBlobStore("file://" + dir + "/blobs", {});
  if (!blobs.ok()) return Fail(blobs.status());
  ThreadPool pool("commit", 2);
  StoreConfig db_config{.name = "db", .dir = dir + "/state/db", .engine = StoreEngine::kRocksDb};
  auto task = TaskCommitter::Open(
      **blobs, pool, {.commit = {.job = "bench", .task = "t0", .stores = {db_config}}}, nullptr);
  if (!task.ok()) return Fail(task.status());
  if (auto offsets = (*task)->Init(); !offsets.ok()) return Fail(offsets.status());
  auto db = RocksDbStore::Open(db_config.dir, {.create_if_missing = true});
  if (!db.ok()) return Fail(db.status());
  if (Status s = (*task)->AddStore("db", RocksDbSnapshotter(**db)); !s.ok()) return Fail(s);

  uint64_t next = 0;
  auto write = [&](uint64_t n) -> Status {
    for (uint64_t end = next + n; next < end; ++next)
      RETURN_IF_ERROR((*db)->Put(Key(next), Value(next)));
    return Status::Ok();
  };
  auto commit = [&](double* sync_ms, double* async_ms) -> Status {
    auto t0 = Clock::now();
    ASSIGN_OR_RETURN(CommitOutcome o, (*task)->Commit({{"in", std::to_string(next)}}));
    auto t1 = Clock::now();
    RETURN_IF_ERROR((*task)->Close());
    if (o != CommitOutcome::kStarted) return InternalError("commit skipped");
    *sync_ms = Ms(t1 - t0);
    *async_ms = Ms(Clock::now() - t1);
    return Status::Ok();
  };
  double sync_ms = 0, async_ms = 0;
  if (Status s = write(keys); !s.ok()) return Fail(s);
  if (Status s = (*db)->Compact(); !s.ok()) return Fail(s);
  if (Status s = commit(&sync_ms, &async_ms); !s.ok()) return Fail(s);
  std::printf("   first commit (%llu MiB): sync stage %.1f ms, async stage %.1f ms\n",
              static_cast<unsigned long long>(keys / 1024), sync_ms, async_ms);
  std::vector<double> syncs, asyncs;
  for (int r = 0; r < rounds; ++r) {
    if (Status s = write(keys / 100); !s.ok()) return Fail(s);  // 1% new data
    if (Status s = commit(&sync_ms, &async_ms); !s.ok()) return Fail(s);
    syncs.push_back(sync_ms);
    asyncs.push_back(async_ms);
  }
  std::printf(
      "   commits with 1%% new data (median of %d): sync stage %.1f ms (target < 50 ms), "
      "async stage %.1f ms\n",
      rounds, Median(syncs), Median(asyncs));
  return 0;
}
