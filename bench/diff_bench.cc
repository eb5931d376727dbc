// TreeDiff of a 100,000-file tree in which nothing changed: the cost every commit pays
// before uploading anything. Target: under 1 s. Also the encoding and the decoding of the
// snapshot index of 100,000 files (the codec tests' wide index), which each commit writes
// and each restore reads. Target: under 500 ms each.
#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cstdlib>
#include <string>

#include "diff/diff.h"
#include "index/codec.h"
#include "index/index_testing.h"
#include "util/fs.h"
#include "util/hash.h"

namespace blobstate {
namespace {

constexpr int kDirs = 100;
constexpr int kFilesPerDir = 1000;

// Creates the tree once (100 dirs x 1000 files of 64 bytes, mtimes in the past) and the
// index a previous snapshot of it would have, in a file.
std::shared_ptr<const IndexFile> PreviousIndex(const std::string& root) {
  static std::shared_ptr<const IndexFile>* index = [&] {
    RemoveAll(root).IgnoreError();
    std::string content(64, 'x');
    struct timeval old[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};
    SnapshotIndex previous;
    for (int d = 0; d < kDirs; ++d) {
      std::string dir = root + "/d" + std::to_string(d);
      if (!MakeDirs(dir).ok()) std::abort();
      DirIndex sub{.name = "d" + std::to_string(d)};
      for (int f = 0; f < kFilesPerDir; ++f) {
        std::string path = dir + "/f" + std::to_string(f);
        content[0] = static_cast<char>(f);
        Result<File> file = File::Open(path, O_WRONLY | O_CREAT | O_TRUNC);
        if (!file.ok() || !file->Write(content.data(), content.size()).ok()) std::abort();
        ::utimes(path.c_str(), old);
        struct stat st;
        if (::lstat(path.c_str(), &st) != 0) std::abort();
        // Recorded with its identity (hashed long after its mtime) and checksum.
        sub.files_present.push_back(
            FileIndex{"f" + std::to_string(f),
                      {{"blob", 0}},
                      MetadataForIndex(st, std::chrono::system_clock::now()),
                      *HashFile(path)});
      }
      previous.root.subdirs_present.push_back(std::move(sub));
    }
    Result<File> file = File::Unnamed("");
    const std::string bytes = EncodeSnapshotIndex(previous);
    if (!file.ok() || !file->Write(bytes.data(), bytes.size()).ok()) std::abort();
    Result<std::shared_ptr<const IndexFile>> opened = IndexFile::Open(std::move(*file));
    if (!opened.ok()) std::abort();
    return new std::shared_ptr<const IndexFile>(std::move(*opened));
  }();
  return *index;
}

void BM_DiffUnchanged100kFiles(benchmark::State& state) {
  const char* tmp = std::getenv("BLOBSTATE_BENCH_DIR");
  std::string root = std::string(tmp ? tmp : "/tmp") + "/blobstate-diff-bench";
  std::shared_ptr<const IndexFile> previous = PreviousIndex(root);
  for (auto _ : state) {
    TreeDiff diff(root, previous, {});
    for (;;) {
      Result<std::optional<DirDelta>> dir = diff.Next();
      if (!dir.ok() || (*dir && (!(*dir)->files_added.empty() || !(*dir)->files_removed.empty()))) {
        state.SkipWithError("diff found changes");
        break;
      }
      if (!*dir) break;
    }
  }
  state.counters["files"] = kDirs * kFilesPerDir;
}
BENCHMARK(BM_DiffUnchanged100kFiles)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_EncodeIndex100kFiles(benchmark::State& state) {
  const SnapshotIndex index = testing::WideIndex(100'000);
  for (auto _ : state) benchmark::DoNotOptimize(EncodeSnapshotIndex(index));
}
BENCHMARK(BM_EncodeIndex100kFiles)->Unit(benchmark::kMillisecond);

void BM_DecodeIndex100kFiles(benchmark::State& state) {
  const std::string bytes = EncodeSnapshotIndex(testing::WideIndex(100'000));
  for (auto _ : state) {
    Result<SnapshotIndex> index = DecodeSnapshotIndex(bytes);
    if (!index.ok()) state.SkipWithError("the index does not decode");
    benchmark::DoNotOptimize(index);
  }
  state.counters["bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_DecodeIndex100kFiles)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace blobstate

BENCHMARK_MAIN();
