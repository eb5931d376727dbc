// blobstate-rocksdb: makes and checks RocksDB stores for the demo, the end-to-end tests and
// the benchmarks, through blobstate::RocksDbStore (the public API) only.
//
//   blobstate-rocksdb fill    --db DIR --keys N [--start K] [--value-size B] [--seed S]
//   blobstate-rocksdb compact --db DIR [--start K]
//   blobstate-rocksdb verify  --db DIR --keys N [--start K] [--value-size B] [--seed S]
//                             [--total T]
//   blobstate-rocksdb lazy-open --db DIR --blob-store URL --keys N [--start K]
//                             [--value-size B] [--seed S]
//
// Keys are "key%012d"; the value of a key is B pseudo-random bytes derived from (seed, key),
// so a store of N keys holds about N*B bytes whatever the compression. Exit codes: 0 done,
// 1 a failure or a mismatch, 2 a usage error.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/store.h"

namespace {

using blobstate::Result;
using blobstate::RocksDbStore;
using blobstate::Status;

constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2;

struct Flags {
  std::string db, blob_store;
  uint64_t keys = 0, start = 0, value_size = 1000, seed = 0;
  std::optional<uint64_t> total;
  bool has_keys = false, help = false;
};

struct Command {
  const char* name;
  const char* usage;
  std::vector<std::string> flags;  // the flags it accepts, "db" and "help" included
};

const Command kCommands[] = {
    {"fill",
     "fill --db DIR --keys N [--start K] [--value-size B] [--seed S]\n"
     "  Writes keys K..K+N-1 (default K 0, B 1000, S 0), creating the store if missing,\n"
     "  then flushes it.",
     {"db", "keys", "start", "value-size", "seed"}},
    {"compact",
     "compact --db DIR [--start K]\n  Compacts the keys from K on (default: all of them).",
     {"db", "start"}},
    {"verify",
     "verify --db DIR --keys N [--start K] [--value-size B] [--seed S] [--total T]\n"
     "  Checks that keys K..K+N-1 hold the values fill wrote with the same B and S, and\n"
     "  with --total that the store holds exactly T keys.",
     {"db", "keys", "start", "value-size", "seed", "total"}},
    {"lazy-open",
     "lazy-open --db DIR --blob-store URL --keys N [--start K] [--value-size B] [--seed S]\n"
     "  Opens a store that a lazy restore left, reading its files that are not local yet\n"
     "  from URL, and checks random keys of K..K+N-1: prints the seconds to the first Get,\n"
     "  the Gets per second while files download, the seconds until every file is local,\n"
     "  and the Gets per second after.",
     {"db", "blob-store", "keys", "start", "value-size", "seed"}},
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "blobstate-rocksdb: %s\nRun 'blobstate-rocksdb --help' for usage.\n",
               message.c_str());
  return kExitUsage;
}

void PrintHelp(const Command* only) {
  std::printf("blobstate-rocksdb: makes and checks RocksDB stores of generated keys.\n");
  for (const Command& c : kCommands) {
    if (only == nullptr || only == &c) std::printf("\n  blobstate-rocksdb %s\n", c.usage);
  }
}

std::optional<uint64_t> ParseNumber(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return {};
  errno = 0;
  char* end = nullptr;
  uint64_t v = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0) return {};
  return v;
}

// Parses "--name value" and "--name=value"; returns an error message naming the flag.
std::optional<std::string> ParseFlags(const Command& c, int argc, char** argv, Flags& f) {
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (arg == "--help" || arg == "-h") {
      f.help = true;
      continue;
    }
    if (!arg.starts_with("--")) return "unexpected argument '" + arg + "'";
    std::string name = arg.substr(2);
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return "--" + name + " needs a value";
    }
    if (std::find(c.flags.begin(), c.flags.end(), name) == c.flags.end()) {
      return std::string("unknown flag --") + name + " for " + c.name;
    }
    if (name == "db" || name == "blob-store") {
      (name == "db" ? f.db : f.blob_store) = value;
      continue;
    }
    std::optional<uint64_t> n = ParseNumber(value);
    if (!n) return "--" + name + ": expected a non-negative integer, got '" + value + "'";
    if (name == "keys") f.keys = *n;
    if (name == "keys") f.has_keys = true;
    if (name == "start") f.start = *n;
    if (name == "value-size") f.value_size = *n;
    if (name == "seed") f.seed = *n;
    if (name == "total") f.total = *n;
  }
  if (f.help) return std::nullopt;
  if (f.db.empty()) return "missing --db";
  if (std::string(c.name) != "compact" && !f.has_keys) return "missing --keys";
  if (f.value_size > (64u << 20)) return "--value-size: at most 67108864 bytes";
  if (std::string(c.name) == "lazy-open" && f.blob_store.empty()) return "missing --blob-store";
  if (std::string(c.name) == "lazy-open" && f.keys == 0) return "--keys: at least 1";
  return std::nullopt;
}

std::string Key(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key%012" PRIu64, i);
  return buf;
}

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// `size` pseudo-random bytes that depend on (seed, key index) only.
std::string Value(uint64_t seed, uint64_t i, uint64_t size) {
  uint64_t state = seed * 0xD1B54A32D192ED03ull ^ i;
  std::string out(size, '\0');
  for (size_t pos = 0; pos < size; pos += 8) {
    uint64_t r = SplitMix64(state);
    for (size_t b = 0; b < 8 && pos + b < size; ++b) out[pos + b] = static_cast<char>(r >> (8 * b));
  }
  return out;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "blobstate-rocksdb: %s\n", s.ToString().c_str());
  return kExitFailure;
}

Result<std::unique_ptr<RocksDbStore>> OpenStore(const Flags& f, bool create) {
  return RocksDbStore::Open(f.db, {.create_if_missing = create});
}

int Fill(const Flags& f) {
  auto db = OpenStore(f, /*create=*/true);
  if (!db.ok()) return Fail(db.status());
  for (uint64_t i = f.start; i < f.start + f.keys; ++i) {
    if (Status s = (*db)->Put(Key(i), Value(f.seed, i, f.value_size)); !s.ok()) return Fail(s);
  }
  if (Status s = (*db)->Flush(); !s.ok()) return Fail(s);
  std::printf("wrote %" PRIu64 " keys to %s\n", f.keys, f.db.c_str());
  return kExitOk;
}

int Compact(const Flags& f) {
  auto db = OpenStore(f, /*create=*/false);
  if (!db.ok()) return Fail(db.status());
  const std::string begin = f.start == 0 ? std::string() : Key(f.start);
  if (Status s = (*db)->Compact(begin); !s.ok()) return Fail(s);
  std::printf("compacted %s\n", f.db.c_str());
  return kExitOk;
}

int Verify(const Flags& f) {
  auto db = OpenStore(f, /*create=*/false);
  if (!db.ok()) return Fail(db.status());
  for (uint64_t i = f.start; i < f.start + f.keys; ++i) {
    Result<std::optional<std::string>> got = (*db)->Get(Key(i));
    if (!got.ok()) return Fail(got.status());
    if (!got->has_value() || **got != Value(f.seed, i, f.value_size)) {
      std::printf("mismatch at key %s: %s\n", Key(i).c_str(),
                  got->has_value() ? "wrong value" : "missing");
      return kExitFailure;
    }
  }
  if (f.total) {
    uint64_t count = 0;
    Status s = (*db)->ForEach([&](std::string_view, std::string_view) {
      ++count;
      return true;
    });
    if (!s.ok()) return Fail(s);
    if (count != *f.total) {
      std::printf("store holds %" PRIu64 " keys, expected %" PRIu64 "\n", count, *f.total);
      return kExitFailure;
    }
  }
  std::printf("verified %" PRIu64 " keys\n", f.keys);
  return kExitOk;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int LazyOpen(const Flags& f) {
  Result<std::unique_ptr<blobstate::BlobStore>> store = blobstate::OpenBlobStore(f.blob_store, {});
  if (!store.ok()) return Fail(store.status());
  const auto opened = std::chrono::steady_clock::now();
  auto db = RocksDbStore::Open(f.db, {.remote = store->get()});
  if (!db.ok()) return Fail(db.status());
  uint64_t state = f.seed + 1;
  auto random_get = [&]() -> Status {  // a random key, checked
    const uint64_t i = f.start + SplitMix64(state) % f.keys;
    Result<std::optional<std::string>> got = (*db)->Get(Key(i));
    if (!got.ok()) return got.status();
    if (!got->has_value() || **got != Value(f.seed, i, f.value_size)) {
      return blobstate::DataLossError("wrong or missing value of " + Key(i));
    }
    return Status::Ok();
  };
  if (Status s = random_get(); !s.ok()) return Fail(s);
  const double first_get = SecondsSince(opened);
  std::atomic<bool> local{false};
  Status waited;
  std::thread waiter([&] {
    waited = (*db)->WaitLocal();
    local = true;
  });
  uint64_t warm = 0;
  Status failed;
  const auto warm_start = std::chrono::steady_clock::now();
  for (; !local && failed.ok(); ++warm) failed = random_get();
  const double warm_seconds = SecondsSince(warm_start);
  waiter.join();
  if (!failed.ok()) return Fail(failed);
  if (!waited.ok()) return Fail(waited);
  const double local_after = SecondsSince(opened);
  uint64_t after = 0;
  const auto after_start = std::chrono::steady_clock::now();
  while (SecondsSince(after_start) < std::max(1.0, warm_seconds) && failed.ok()) {
    failed = random_get();
    ++after;
  }
  if (!failed.ok()) return Fail(failed);
  std::printf("first_get_s %.3f warm_gets_per_s %.0f local_s %.3f local_gets_per_s %.0f\n",
              first_get, warm / std::max(warm_seconds, 1e-9), local_after,
              after / SecondsSince(after_start));
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("missing command (fill, compact, verify or lazy-open)");
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintHelp(nullptr);
    return kExitOk;
  }
  const Command* command = nullptr;
  for (const Command& c : kCommands) {
    if (name == c.name) command = &c;
  }
  if (command == nullptr) return Usage("unknown command '" + name + "'");
  Flags flags;
  if (std::optional<std::string> error = ParseFlags(*command, argc, argv, flags)) {
    return Usage(*error);
  }
  if (flags.help) {
    PrintHelp(command);
    return kExitOk;
  }
  if (name == "fill") return Fill(flags);
  if (name == "compact") return Compact(flags);
  if (name == "lazy-open") return LazyOpen(flags);
  return Verify(flags);
}
