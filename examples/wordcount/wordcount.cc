// wordcount: the example stateful job. Each task counts the words of a deterministic input
// in two RocksDB stores and commits them, with its input offset, through TaskCommitter
// (the public API only). Killed and restarted at any point, a job resumes from its last
// checkpoint and ends with the same state, hence the same digest.
//
//   wordcount --blob-store URL --job J --task T --state-dir DIR --events N
//             --commit-every K [--seed S] [--tasks M] [--max-commit-delay-ms D]
//   wordcount --no-backup --task T --state-dir DIR --events N [--seed S] [--tasks M]
//
// Prints "wordcount: digest <32 hex> events <N> tasks <M>" on stdout and a summary on
// stderr. Exit codes: 0 done, 1 a failure, 2 a usage error.
#include <xxhash.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/future.h"
#include "blobstate/metrics.h"
#include "blobstate/status.h"
#include "blobstate/store.h"
#include "blobstate/task.h"
#include "metrics_server.h"

namespace {

using blobstate::BlobStore;
using blobstate::CommitOutcome;
using blobstate::Executor;
using blobstate::InputOffsets;
using blobstate::Result;
using blobstate::RocksDbStore;
using blobstate::Status;
using blobstate::StoreConfig;
using blobstate::TaskCommitter;

constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2;
constexpr uint64_t kWords = 5000, kDocSlots = 2000;
constexpr uint64_t kPayloadDomain = ~0ull;  // never a task index
constexpr const char* kStoreNames[] = {"counts", "docs"};
constexpr uint64_t kNoPort = ~0ull;
constexpr size_t kCounts = 0, kDocs = 1;

struct Flags {
  std::string blob_store, job, task, state_dir;
  uint64_t events = 0, commit_every = 0, seed = 0, tasks = 1, max_commit_delay_ms = 60'000;
  uint64_t metrics_port = kNoPort;
  bool no_backup = false, lazy_restore = false, help = false;
};

constexpr const char* kHelp =
    "wordcount: the example stateful job; counts words of a generated input in RocksDB\n"
    "stores, committed to a blob store with the input offset every K events.\n\n"
    "  --blob-store URL          where checkpoints go, e.g. file:///tmp/bs\n"
    "  --job J --task T          the job and task names (tasks T-0..T-<M-1> if M > 1)\n"
    "  --state-dir DIR           the stores live in DIR/<task>/{counts,docs}\n"
    "  --events N                events per task (offsets 0..N-1)\n"
    "  --commit-every K          commit after every K events\n"
    "  --seed S                  input seed (default 0)\n"
    "  --tasks M                 tasks in this process, one thread each (default 1)\n"
    "  --max-commit-delay-ms D   TaskOptions::max_commit_delay (default 60000)\n"
    "  --metrics-port P          serve the job's metrics at http://127.0.0.1:P/metrics while\n"
    "                            it runs (0: a free port; the address goes to stderr)\n"
    "  --lazy-restore            restore lazily: each store opens before its table files\n"
    "                            are local, reading them from the blob store while they\n"
    "                            download (RestoreOptions::lazy)\n"
    "  --no-backup               no blob store, no restore: starts from empty stores\n"
    "                            (deleting DIR/<task>/{counts,docs}) and never commits\n";

int Usage(const std::string& message) {
  std::fprintf(stderr, "wordcount: %s\nRun 'wordcount --help' for usage.\n", message.c_str());
  return kExitUsage;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "wordcount: %s\n", s.ToString().c_str());
  return kExitFailure;
}

std::optional<uint64_t> ParseNumber(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return {};
  return v;
}

// Parses "--name value" and "--name=value"; returns an error message naming the flag.
std::optional<std::string> ParseFlags(int argc, char** argv, Flags& f) {
  const std::map<std::string, std::string*> strings = {{"blob-store", &f.blob_store},
                                                       {"job", &f.job},
                                                       {"task", &f.task},
                                                       {"state-dir", &f.state_dir}};
  const std::map<std::string, uint64_t*> numbers = {{"events", &f.events},
                                                    {"commit-every", &f.commit_every},
                                                    {"seed", &f.seed},
                                                    {"tasks", &f.tasks},
                                                    {"max-commit-delay-ms", &f.max_commit_delay_ms},
                                                    {"metrics-port", &f.metrics_port}};
  std::set<std::string> seen;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      f.help = true;
      continue;
    }
    if (arg == "--no-backup") {
      f.no_backup = true;
      continue;
    }
    if (arg == "--lazy-restore") {
      f.lazy_restore = true;
      continue;
    }
    if (!arg.starts_with("--")) return "unexpected argument '" + arg + "'";
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (!strings.contains(name) && !numbers.contains(name)) return "unknown flag --" + name;
    if (eq == std::string::npos) {
      if (i + 1 >= argc) return "--" + name + " needs a value";
      value = argv[++i];
    }
    if (auto it = strings.find(name); it != strings.end()) {
      if (value.empty()) return "--" + name + ": empty value";
      *it->second = value;
    } else if (std::optional<uint64_t> n = ParseNumber(value)) {
      *numbers.at(name) = *n;
    } else {
      return "--" + name + ": expected a non-negative integer, got '" + value + "'";
    }
    seen.insert(name);
  }
  if (f.help) return std::nullopt;
  if (f.metrics_port != kNoPort && f.metrics_port > 65535) return "--metrics-port must be 0..65535";
  std::vector<std::string> required = {"task", "state-dir", "events"};
  if (!f.no_backup) required.insert(required.end(), {"blob-store", "job", "commit-every"});
  for (const std::string& name : required) {
    if (!seen.contains(name)) return "missing --" + name;
  }
  if (f.tasks == 0) return "--tasks: must be at least 1";
  if (!f.no_backup && f.commit_every == 0) return "--commit-every: must be at least 1";
  if (f.no_backup && f.lazy_restore) return "--lazy-restore: there is no restore with --no-backup";
  return std::nullopt;
}

// The input generator: event i of a task depends on (seed, task index, i) only.
uint64_t SplitMix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Hash(uint64_t a, uint64_t b, uint64_t c) {
  return SplitMix64(SplitMix64(SplitMix64(a) ^ b) ^ c);
}

std::string WordOf(uint64_t seed, uint64_t task_index, uint64_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "w%05" PRIu64, Hash(seed, task_index, i) % kWords);
  return buf;
}

// 100..900 lowercase letters derived from (seed, i).
std::string PayloadOf(uint64_t seed, uint64_t i) {
  uint64_t r = Hash(seed, kPayloadDomain, i);
  std::string out(100 + r % 801, '\0');
  for (size_t pos = 0; pos < out.size(); ++pos) {
    if (pos % 8 == 0) r = SplitMix64(r);
    out[pos] = static_cast<char>('a' + ((r >> (8 * (pos % 8))) & 0xff) % 26);
  }
  return out;
}

Result<uint64_t> ParseDecimal(std::string_view text, const std::string& what) {
  if (std::optional<uint64_t> n = ParseNumber(text)) return *n;
  return blobstate::DataLossError(what + ": not a decimal number: '" + std::string(text) + "'");
}

// One task of this process: its stores outlive its TaskCommitter (RocksDbSnapshotter).
struct TaskRun {
  std::string name;
  uint64_t index = 0;
  std::filesystem::path dir;
  std::unique_ptr<RocksDbStore> stores[2];
  uint64_t processed = 0, commits = 0, skipped = 0;
  Status status;

  std::string partition() const { return "input-" + name; }
  std::string store_dir(size_t s) const { return (dir / kStoreNames[s]).string(); }
};

struct Job {
  const Flags& flags;
  BlobStore* blobs;             // null with --no-backup
  Executor& commit_pool;        // runs every task's async commit stage
  blobstate::Metrics* metrics;  // what every task's commits and restores record
  std::atomic<bool> failed{false};
};

// `remote`: the blob store of a lazy restore's files (null: none).
Status OpenStores(TaskRun& t, BlobStore* remote) {
  for (size_t s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(t.stores[s], RocksDbStore::Open(t.store_dir(s), {.create_if_missing = true,
                                                                      .remote = remote}));
  }
  return Status::Ok();
}

Status ProcessEvent(TaskRun& t, uint64_t seed, uint64_t i) {
  RocksDbStore& counts = *t.stores[kCounts];
  const std::string word = WordOf(seed, t.index, i);
  ASSIGN_OR_RETURN(std::optional<std::string> count, counts.Get(word));
  uint64_t n = 0;
  if (count.has_value()) {
    ASSIGN_OR_RETURN(n, ParseDecimal(*count, "count of " + word));
  }
  RETURN_IF_ERROR(counts.Put(word, std::to_string(n + 1)));
  char slot[16];
  std::snprintf(slot, sizeof slot, "d%04" PRIu64, i % kDocSlots);
  return t.stores[kDocs]->Put(slot, PayloadOf(seed, i));
}

// Commits the state after `next` events. A skipped commit is fine unless `wait`: then it
// is retried until it starts.
Status Commit(TaskCommitter& committer, TaskRun& t, uint64_t next, bool wait) {
  const InputOffsets offsets = {{t.partition(), std::to_string(next)}};
  while (true) {
    ASSIGN_OR_RETURN(CommitOutcome outcome, committer.Commit(offsets));
    if (outcome == CommitOutcome::kStarted) {
      ++t.commits;
      return Status::Ok();
    }
    if (!wait) {
      ++t.skipped;
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Processes events `from`..N-1, committing every K events when `committer` is set.
Status ProcessEvents(Job& job, TaskRun& t, TaskCommitter* committer, uint64_t from) {
  for (uint64_t i = from; i < job.flags.events; ++i) {
    if (job.failed.load(std::memory_order_relaxed)) {
      return blobstate::CancelledError("stopped: another task failed");
    }
    RETURN_IF_ERROR(ProcessEvent(t, job.flags.seed, i));
    ++t.processed;
    if (committer != nullptr && (i + 1) % job.flags.commit_every == 0) {
      RETURN_IF_ERROR(Commit(*committer, t, i + 1, /*wait=*/false));
    }
  }
  return Status::Ok();
}

Status CreateDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return blobstate::ErrnoError("creating " + dir.string(), ec.value());
  return Status::Ok();
}

Status RunWithBackup(Job& job, TaskRun& t) {
  blobstate::TaskOptions options;
  options.commit.job = job.flags.job;
  options.commit.task = t.name;
  for (size_t s = 0; s < 2; ++s) {
    options.commit.stores.push_back(StoreConfig{
        .name = kStoreNames[s], .dir = t.store_dir(s), .engine = blobstate::StoreEngine::kRocksDb});
  }
  options.commit.restore.lazy = job.flags.lazy_restore;
  options.max_commit_delay = std::chrono::milliseconds(job.flags.max_commit_delay_ms);
  RETURN_IF_ERROR(CreateDir(t.dir));
  ASSIGN_OR_RETURN(std::unique_ptr<TaskCommitter> committer,
                   TaskCommitter::Open(*job.blobs, job.commit_pool, options, job.metrics));
  ASSIGN_OR_RETURN(InputOffsets offsets, committer->Init());
  uint64_t from = 0;
  if (auto it = offsets.find(t.partition()); it != offsets.end()) {
    ASSIGN_OR_RETURN(from, ParseDecimal(it->second, "offset of " + it->first));
  }
  if (from > job.flags.events) {
    return blobstate::FailedPreconditionError("checkpoint offset " + std::to_string(from) +
                                              " is beyond --events " +
                                              std::to_string(job.flags.events));
  }
  RETURN_IF_ERROR(OpenStores(t, job.blobs));
  for (size_t s = 0; s < 2; ++s) {
    RETURN_IF_ERROR(
        committer->AddStore(kStoreNames[s], blobstate::RocksDbSnapshotter(*t.stores[s])));
  }
  RETURN_IF_ERROR(ProcessEvents(job, t, committer.get(), from));
  RETURN_IF_ERROR(Commit(*committer, t, job.flags.events, /*wait=*/true));
  return committer->Close();
}

Status RunWithoutBackup(Job& job, TaskRun& t) {
  for (size_t s = 0; s < 2; ++s) {
    std::error_code ec;
    std::filesystem::remove_all(t.store_dir(s), ec);
    if (ec) return blobstate::ErrnoError("removing " + t.store_dir(s), ec.value());
  }
  RETURN_IF_ERROR(CreateDir(t.dir));
  RETURN_IF_ERROR(OpenStores(t, nullptr));
  return ProcessEvents(job, t, nullptr, 0);
}

void RunTask(Job& job, TaskRun& t) {
  Status s = job.blobs != nullptr ? RunWithBackup(job, t) : RunWithoutBackup(job, t);
  t.status = s.WithContext("task " + t.name);
  if (!s.ok()) job.failed = true;
}

// XXH3-128 over every task's stores in order, each key and value length-prefixed (8 bytes,
// little-endian), in key order.
Result<std::string> Digest(std::vector<TaskRun>& tasks) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(),
                                                                 &XXH3_freeState);
  if (state == nullptr || XXH3_128bits_reset(state.get()) != XXH_OK) {
    return blobstate::InternalError("cannot create an XXH3 state");
  }
  auto add = [&](std::string_view bytes) {
    unsigned char len[8];
    for (int b = 0; b < 8; ++b) len[b] = static_cast<unsigned char>(bytes.size() >> (8 * b));
    XXH3_128bits_update(state.get(), len, sizeof len);
    if (!bytes.empty()) XXH3_128bits_update(state.get(), bytes.data(), bytes.size());
  };
  for (TaskRun& t : tasks) {
    for (std::unique_ptr<RocksDbStore>& db : t.stores) {
      RETURN_IF_ERROR(db->ForEach([&](std::string_view key, std::string_view value) {
        add(key);
        add(value);
        return true;
      }));
    }
  }
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state.get()));
  std::string hex;
  for (unsigned char byte : canonical.digest) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", byte);
    hex += buf;
  }
  return hex;
}

std::vector<TaskRun> MakeTasks(const Flags& f) {
  std::vector<TaskRun> tasks(f.tasks);
  for (uint64_t i = 0; i < f.tasks; ++i) {
    tasks[i].name = f.tasks > 1 ? f.task + "-" + std::to_string(i) : f.task;
    tasks[i].index = i;
    tasks[i].dir = std::filesystem::path(f.state_dir) / tasks[i].name;
  }
  return tasks;
}

// The first real error: a task cancelled because another failed is not one.
const Status* FirstError(const std::vector<TaskRun>& tasks) {
  const Status* first = nullptr;
  for (const TaskRun& t : tasks) {
    if (t.status.ok()) continue;
    if (t.status.code() != blobstate::StatusCode::kCancelled) return &t.status;
    if (first == nullptr) first = &t.status;
  }
  return first;
}

void PrintSummary(const std::vector<TaskRun>& tasks, double seconds) {
  uint64_t processed = 0, commits = 0, skipped = 0;
  for (const TaskRun& t : tasks) {
    processed += t.processed;
    commits += t.commits;
    skipped += t.skipped;
  }
  std::fprintf(stderr,
               "wordcount: processed %" PRIu64 " events in %.3f s (%.0f events/s), %" PRIu64
               " commits, %" PRIu64 " skipped\n",
               processed, seconds, seconds > 0 ? processed / seconds : 0.0, commits, skipped);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (std::optional<std::string> error = ParseFlags(argc, argv, flags)) return Usage(*error);
  if (flags.help) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  blobstate::PrometheusTextSink sink;  // outlives the blob store and the tasks
  blobstate::Metrics metrics(sink);
  std::unique_ptr<MetricsServer> server;
  if (flags.metrics_port != kNoPort) {
    Result<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(static_cast<uint16_t>(flags.metrics_port), sink);
    if (!started.ok()) return Fail(started.status());
    server = std::move(*started);
    std::fprintf(stderr, "wordcount: metrics at http://127.0.0.1:%u/metrics\n", server->port());
  }
  std::unique_ptr<BlobStore> blobs;
  if (!flags.no_backup) {
    Result<std::unique_ptr<BlobStore>> opened =
        blobstate::OpenBlobStore(flags.blob_store, {.metrics = &sink});
    if (!opened.ok()) return Fail(opened.status());
    blobs = std::move(*opened);
  }
  blobstate::ThreadPool commit_pool("commit", 2);
  std::vector<TaskRun> tasks = MakeTasks(flags);
  Job job{.flags = flags, .blobs = blobs.get(), .commit_pool = commit_pool, .metrics = &metrics};
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> threads;
    for (TaskRun& t : tasks) threads.emplace_back([&job, &t] { RunTask(job, t); });
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  PrintSummary(tasks, elapsed.count());
  if (const Status* error = FirstError(tasks)) return Fail(*error);
  Result<std::string> digest = Digest(tasks);
  if (!digest.ok()) return Fail(digest.status());
  std::printf("wordcount: digest %s events %" PRIu64 " tasks %" PRIu64 "\n", digest->c_str(),
              flags.events, flags.tasks);
  return kExitOk;
}
