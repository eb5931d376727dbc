// DiffDir of a 100,000-file tree in which nothing changed: the cost every commit pays
// before uploading anything. Target: under 1 s.
#include <benchmark/benchmark.h>
#include <sys/time.h>

#include <cstdlib>
#include <string>

#include "diff/diff.h"
#include "util/fs.h"
#include "util/hash.h"

namespace blobstate {
namespace {

constexpr int kDirs = 100;
constexpr int kFilesPerDir = 1000;

// Creates the tree once (100 dirs x 1000 files of 64 bytes, mtimes in the past) and the
// index a previous snapshot of it would have.
const DirIndex& PreviousIndex(const std::string& root) {
  static DirIndex* index = [&] {
    auto* idx = new DirIndex;
    RemoveAll(root).IgnoreError();
    std::string content(64, 'x');
    struct timeval old[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};
    for (int d = 0; d < kDirs; ++d) {
      std::string dir = root + "/d" + std::to_string(d);
      if (!MakeDirs(dir).ok()) std::abort();
      for (int f = 0; f < kFilesPerDir; ++f) {
        std::string path = dir + "/f" + std::to_string(f);
        content[0] = static_cast<char>(f);
        Result<File> file = File::Open(path, O_WRONLY | O_CREAT | O_TRUNC);
        if (!file.ok() || !file->Write(content.data(), content.size()).ok()) std::abort();
        ::utimes(path.c_str(), old);
      }
    }
    // The previous snapshot: every file recorded with its identity and checksum.
    Result<DirDiff> first = DiffDir(root, DirIndex{}, {});
    if (!first.ok()) std::abort();
    for (const DirDiff& sub : first->subdirs_added) {
      DirIndex d;
      d.name = sub.name;
      for (const LocalFile& f : sub.files_added) {
        FileIndex fi{
            f.name, {{"blob", 0}}, f.metadata, *HashFile(root + "/" + sub.name + "/" + f.name)};
        d.files_present.push_back(std::move(fi));
      }
      idx->subdirs_present.push_back(std::move(d));
    }
    return idx;
  }();
  return *index;
}

void BM_DiffUnchanged100kFiles(benchmark::State& state) {
  const char* tmp = std::getenv("BLOBSTATE_BENCH_DIR");
  std::string root = std::string(tmp ? tmp : "/tmp") + "/blobstate-diff-bench";
  const DirIndex& previous = PreviousIndex(root);
  for (auto _ : state) {
    Result<DirDiff> diff = DiffDir(root, previous, {});
    if (!diff.ok() || !diff->Empty()) state.SkipWithError("diff found changes");
  }
  state.counters["files"] = kDirs * kFilesPerDir;
}
BENCHMARK(BM_DiffUnchanged100kFiles)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
}  // namespace blobstate

BENCHMARK_MAIN();
