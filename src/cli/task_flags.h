// Flags shared by the task commands (backup, restore, checkpoints, verify) and what they
// open: the blob store, the checkpoint store, the stores.
#ifndef BLOBSTATE_CLI_TASK_FLAGS_H_
#define BLOBSTATE_CLI_TASK_FLAGS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/checkpoint.h"
#include "blobstate/metrics.h"
#include "blobstate/store.h"
#include "cli/flags.h"

namespace blobstate::cli {

// The help text of --blob-store.
inline constexpr char kBlobStoreUrlHelp[] =
    "blob store URL: file:///DIR, 's3://BUCKET/PREFIX?region=R[&endpoint=URL]' or "
    "'azure://ACCOUNT/CONTAINER/PREFIX[?endpoint=URL]' (README, \"Blob stores\")";

// How long a command waits for one step before it gives up.
inline constexpr std::chrono::hours kCommandTimeout(24);

// Which of the optional task flags a command takes.
struct TaskFlagSet {
  bool stores = false;      // --store NAME=DIR (required, repeatable)
  bool checkpoint = false;  // --checkpoint ID
  bool writes = false;      // --checkpoint-write-versions (commands that write a checkpoint)
  bool metrics = false;     // --metrics-file
};

struct TaskFlags {
  std::string url, job, task, checkpoint_id, metrics_file;
  std::vector<std::string> stores;  // NAME=DIR
  std::string write_versions = "2", read_versions = "2,1";
  uint64_t io_threads = 16;
  bool json = false;

  // Registers --blob-store, --job, --task, --checkpoint-read-versions, --io-threads,
  // --json and the flags of `set`.
  void Register(Flags& flags, TaskFlagSet set);
  // The stores of --store NAME=DIR: a directory holding a RocksDB CURRENT file is a RocksDB
  // store. kInvalidArgument naming the flag value when malformed, when a name is repeated,
  // or when two stores share a directory or one's lies inside another's.
  Result<std::vector<StoreConfig>> StoreConfigs() const;
  // --checkpoint-write-versions and --checkpoint-read-versions, validated.
  Result<CheckpointConfig> Config() const;
};

// What a task command works with.
struct TaskContext {
  // What the flows and the blob store record (--metrics-file); it outlives them.
  PrometheusTextSink sink;
  Metrics metrics{sink};
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<BlobStore> store;
  std::unique_ptr<CheckpointStore> checkpoints;
  CheckpointConfig config;  // of the flags, validated
};

// Validates the configuration (for the blob store backend too when `backend`), then opens
// the blob store (a file:// one must exist unless `create`) and the checkpoint store.
Result<std::unique_ptr<TaskContext>> OpenTask(const TaskFlags& flags, bool backend, bool create);

// Per-store figures as a table (human) or JSON (--json), and --metrics-file.
std::string FiguresTable(const std::map<std::string, StoreFigures>& figures, bool backup);
// `shared` (a step that served all stores) is added to the "_all" total only.
std::string FiguresJson(const std::map<std::string, StoreFigures>& figures,
                        const StoreFigures& shared = {});

// The requests `task`'s blob store served (each attempt), by method, as a JSON object:
// {"put":N,"get-object":N,...}.
std::string BlobRequestsJson(const TaskContext& task);
// The bytes this process read and wrote through system calls so far (files and sockets
// alike: rchar and wchar of /proc/self/io), as {"read_bytes":N,"written_bytes":N}.
std::string ProcessIoJson();
Status WriteMetrics(const TaskContext& task, const TaskFlags& flags);

}  // namespace blobstate::cli

#endif  // BLOBSTATE_CLI_TASK_FLAGS_H_
