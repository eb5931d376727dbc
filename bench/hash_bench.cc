// XXH3-128 content hashing and XXH3-64 chunk checks against memcpy of the same buffer: the
// checksum must never be what limits backup or restore.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "util/hash.h"

namespace blobstate {
namespace {

std::string Buffer(size_t n) {
  std::string b(n, '\0');
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<char>(i * 2654435761u >> 13);
  return b;
}

void BM_Xxh3_128(benchmark::State& state) {
  std::string buf = Buffer(state.range(0));
  for (auto _ : state) {
    Hasher h;
    h.Update(buf.data(), buf.size());
    benchmark::DoNotOptimize(h.Finish());
  }
  state.SetBytesProcessed(state.iterations() * buf.size());
}

// XXH3-64 of a 64 KiB chunk: the check of each chunk a lazy restore reads.
void BM_Xxh3_64(benchmark::State& state) {
  std::string buf = Buffer(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(Hash64(buf.data(), buf.size()));
  state.SetBytesProcessed(state.iterations() * buf.size());
}

void BM_Memcpy(benchmark::State& state) {
  std::string src = Buffer(state.range(0)), dst(src.size(), '\0');
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * src.size());
}

// 1 MiB is the streaming chunk size; 64 MiB is larger than the caches.
BENCHMARK(BM_Xxh3_128)->Arg(1 << 20)->Arg(64 << 20);
BENCHMARK(BM_Xxh3_64)->Arg(64 << 10);
BENCHMARK(BM_Memcpy)->Arg(1 << 20)->Arg(64 << 20);

}  // namespace
}  // namespace blobstate

BENCHMARK_MAIN();
