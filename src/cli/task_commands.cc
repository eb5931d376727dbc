// The task commands: backup, restore, checkpoints, verify.
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>

#include "blobstate/commit.h"
#include "blobstate/gc.h"
#include "blobstate/snapshot.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/task_flags.h"

namespace blobstate::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMinPartSize = 64ull << 10;
constexpr uint64_t kMaxPartSize = 5ull << 30;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// Snapshots every backed-up store into its local checkpoint directory for `id`; a RocksDB
// store that a lazy restore left partly in `blobs` keeps those files there.
Result<std::map<std::string, std::string>> SnapshotStores(const std::vector<StoreConfig>& stores,
                                                          const std::string& id, BlobStore& blobs) {
  std::map<std::string, std::string> dirs;
  for (const StoreConfig& s : stores) {
    if (!s.BackedUp()) continue;
    dirs[s.name] = CheckpointDirOf(s.dir, id);
    RETURN_IF_ERROR(
        SnapshotClosedStore(s, dirs[s.name], &blobs).WithContext("snapshot of store " + s.name));
  }
  return dirs;
}

// kInvalidArgument naming the first store of `latest` that is neither in `stores` nor in
// `removed`: a backup deletes the snapshots of the stores it is not given, so leaving one
// out must be said (--remove-store), never a typo.
Status CheckRemovedStores(const std::optional<Checkpoint>& latest,
                          const std::vector<StoreConfig>& stores,
                          const std::vector<std::string>& removed) {
  if (!latest || latest->version < 2) return Status::Ok();
  ASSIGN_OR_RETURN(StoreMarkers markers, BlobStoreMarkers(latest));
  for (const auto& marker : markers) {
    const std::string& name = marker.first;
    auto given = [&](const StoreConfig& s) { return s.name == name && s.BackedUp(); };
    if (std::find_if(stores.begin(), stores.end(), given) != stores.end()) continue;
    if (std::find(removed.begin(), removed.end(), name) != removed.end()) continue;
    return InvalidArgumentError("store " + name + " of checkpoint " + latest->id +
                                " is not given with --store; give it, or say --remove-store " +
                                name + " to delete its backup");
  }
  return Status::Ok();
}

// The rest of `backup` once its flags are checked and the task is open: one commit through
// the commit engine. Returns what to print.
Result<std::string> RunBackup(TaskContext& task, const TaskFlags& tf,
                              const std::vector<StoreConfig>& stores, uint64_t part_size,
                              const RetentionPolicy& retention, Clock::time_point start) {
  // A store that cannot be snapshotted fails the backup before it claims the task.
  for (const StoreConfig& s : stores) {
    struct stat st;
    if (s.BackedUp() && (::stat(s.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
      return NotFoundError("store " + s.name + ": " + s.dir + " is not a directory");
    }
  }
  Progress progress("uploading", !tf.json);
  CommitOptions options{.job = tf.job,
                        .task = tf.task,
                        .stores = stores,
                        .checkpoints = task.config,
                        .retention = retention};
  options.backup.part_size = part_size;
  options.backup.progress = progress.counter();
  ASSIGN_OR_RETURN(std::unique_ptr<CommitEngine> engine,
                   CommitEngine::Open(*task.store, *task.pool, std::move(options), &task.metrics)
                       .GetFor(kCommandTimeout, "open of the task"));
  const std::optional<Checkpoint>& at = engine->opened_at();
  const std::string id = NewCheckpointId();
  ASSIGN_OR_RETURN(auto dirs, SnapshotStores(stores, id, *task.store));
  ASSIGN_OR_RETURN(Checkpoint next,
                   engine->Commit(id, std::move(dirs), at ? at->input_offsets : InputOffsets{})
                       .GetFor(kCommandTimeout, "commit"));
  progress.Stop();
  const auto figures = engine->LastFigures();
  const std::chrono::nanoseconds persisted = engine->LastPersistTime();
  if (tf.json) {
    return "{\"checkpoint_id\":" + JsonString(next.id) +
           ",\"stores\":" + FiguresJson(figures, {.durations = {{Phase::kPersist, persisted}}}) +
           ",\"blob_requests\":" + BlobRequestsJson(task) + ",\"process_io\":" + ProcessIoJson() +
           ",\"seconds\":" + Fixed(Seconds(start)) + "}\n";
  }
  return "checkpoint " + next.id + " of job " + tf.job + ", task " + tf.task + " in " +
         Fixed(Seconds(start)) + " s\n" + FiguresTable(figures, true);
}

// kNotFound unless `checkpoint` has a snapshot of every backed-up store of `stores`: a
// restore would otherwise empty their directories, which a mistyped name must never do.
Status CheckEverySnapshotExists(const std::optional<Checkpoint>& checkpoint,
                                const std::vector<StoreConfig>& stores, const TaskFlags& tf,
                                const BlobStore& store) {
  const std::string hint = "; nothing was changed (--allow-empty restores such stores empty)";
  if (!checkpoint) {
    return NotFoundError("job " + tf.job + ", task " + tf.task + " has no checkpoint in " +
                         store.Describe() + hint);
  }
  ASSIGN_OR_RETURN(StoreMarkers markers, BlobStoreMarkers(checkpoint));
  for (const StoreConfig& s : stores) {
    if (s.BackedUp() && !markers.contains(s.name)) {
      return NotFoundError("checkpoint " + checkpoint->id + " has no snapshot of store " + s.name +
                           hint);
    }
  }
  return Status::Ok();
}

// The task's checkpoint (the latest, or --checkpoint), read without a claim and without
// the stores, whose directories an engine with them locks.
Result<std::unique_ptr<CommitEngine>> OpenReader(TaskContext& task, const TaskFlags& tf) {
  return CommitEngine::Open(*task.store, *task.pool,
                            {.job = tf.job,
                             .task = tf.task,
                             .checkpoints = task.config,
                             .claim = false,
                             .checkpoint_id = tf.checkpoint_id},
                            &task.metrics)
      .GetFor(kCommandTimeout, "read of the checkpoint");
}

struct RestoreFlags {
  bool no_verify = false;
  bool lazy = false;
  bool allow_empty = false;
  bool claim = false;
  bool force = false;
};

// The rest of `restore` once its flags are checked and the task is open. Returns what to
// print.
Result<std::string> RunRestore(TaskContext& task, const TaskFlags& tf,
                               const std::vector<StoreConfig>& stores, const RestoreFlags& rf,
                               Clock::time_point start) {
  auto refuse_unless_every_snapshot_exists = [&](const std::optional<Checkpoint>& at) {
    Status refused = CheckEverySnapshotExists(at, stores, tf, *task.store);
    if (!refused.ok()) task.metrics.RecordError(Flow::kRestore, "_all", Phase::kInit);
    return refused;
  };
  if (!rf.allow_empty) {
    // Before the engine locks the stores' directories, which creates their lock files and
    // missing parents: a mistyped job, task or store name changes nothing. Checked again
    // once they are locked, in case the checkpoint changed in between.
    ASSIGN_OR_RETURN(std::unique_ptr<CommitEngine> reader, OpenReader(task, tf));
    RETURN_IF_ERROR(refuse_unless_every_snapshot_exists(reader->opened_at()));
  }
  Progress progress("downloading", !tf.json);
  CommitOptions options{.job = tf.job,
                        .task = tf.task,
                        .stores = stores,
                        .checkpoints = task.config,
                        .restore = {.verify_checksums = !rf.no_verify,
                                    .progress = progress.counter(),
                                    .force = rf.force,
                                    .lazy = rf.lazy},
                        .claim = rf.claim,
                        .checkpoint_id = tf.checkpoint_id};
  ASSIGN_OR_RETURN(std::unique_ptr<CommitEngine> engine,
                   CommitEngine::Open(*task.store, *task.pool, std::move(options), &task.metrics)
                       .GetFor(kCommandTimeout, "open of the task"));
  const std::optional<Checkpoint>& checkpoint = engine->opened_at();
  if (!rf.allow_empty) RETURN_IF_ERROR(refuse_unless_every_snapshot_exists(checkpoint));
  ASSIGN_OR_RETURN(auto figures, engine->Restore().GetFor(kCommandTimeout, "restore"));
  progress.Stop();
  const std::string id = checkpoint ? checkpoint->id : "";
  if (tf.json) {
    return "{\"checkpoint_id\":" + JsonString(id) + ",\"stores\":" + FiguresJson(figures) +
           ",\"verified\":" + (rf.no_verify ? "false" : "true") +
           ",\"blob_requests\":" + BlobRequestsJson(task) + ",\"process_io\":" + ProcessIoJson() +
           ",\"seconds\":" + Fixed(Seconds(start)) + "}\n";
  }
  std::string left;  // what a lazy restore left in the blob store
  for (const StoreConfig& store : stores) {
    std::error_code ec;
    if (!std::filesystem::exists(RemoteManifestOf(store.dir), ec)) continue;
    left += "store " + store.name + ": table files left in the blob store, listed in " +
            RemoteManifestOf(store.dir) + " (open it with RocksDbStore given the blob store)\n";
  }
  return (checkpoint ? "restored checkpoint " + id
                     : std::string("no checkpoint: stores left empty")) +
         " in " + Fixed(Seconds(start)) + " s" + (rf.no_verify ? "" : ", checksums verified") +
         "\n" + FiguresTable(figures, false) + left;
}

// Writes --metrics-file whether `result` (what a command did) succeeded or not, then
// prints `result`. A metrics file that cannot be written fails the command, saying that
// its work itself was done.
Status Finish(Result<std::string> result, const TaskContext& task, const TaskFlags& tf,
              CommandOutput& out) {
  Status written = WriteMetrics(task, tf);
  if (!result.ok()) return result.status();
  if (!written.ok()) return written.WithContext("the command's work was done, but");
  out.Print(*result);
  return Status::Ok();
}

}  // namespace

Status BackupCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  uint64_t part_size = BackupOptions().part_size;
  Flags flags("backup",
              "Commits the stores once, as a task does: snapshots each store directory into a\n"
              "local checkpoint beside it (hard links), uploads what changed since the last\n"
              "checkpoint, writes the new checkpoint (retaining older ones per --keep-last and\n"
              "--keep-within), then deletes what no kept checkpoint names any more and older\n"
              "local checkpoints. The stores must not be written meanwhile (a closed RocksDB,\n"
              "or any directory). The backup claims the task as its only writer: a job or\n"
              "backup still writing it is fenced and fails. A store of the latest checkpoint\n"
              "not given with --store fails the backup (exit 2) unless named with\n"
              "--remove-store, whose snapshots then go once no kept checkpoint names them.\n"
              "A RocksDB store that restore --lazy left partly in the blob store is backed up\n"
              "as it is: its files still there keep their blobs (opening it reads a few).");
  std::vector<std::string> removed;
  tf.Register(flags, {.stores = true, .writes = true, .metrics = true});
  flags.Uint("part-size", &part_size,
             "bytes per blob of a large file, 64 KiB to 5 GiB (default: 8 MiB)");
  flags.Repeated("remove-store", &removed,
                 "delete the backup of store NAME, which is no longer given, once no kept "
                 "checkpoint names it (repeatable)");
  RetentionPolicy retention;
  uint64_t keep_last = retention.keep_last;
  flags.Uint("keep-last", &keep_last,
             "retain the latest N checkpoints, 1 to 1000 (default: 3; README, \"History\")");
  flags.Duration("keep-within", &retention.keep_within,
                 "also retain every checkpoint younger than this, e.g. 24h (default: none)");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::vector<StoreConfig> stores, out.Checked(tf.StoreConfigs()));
  retention.keep_last = static_cast<int>(std::min<uint64_t>(keep_last, kMaxRetained + 1));
  RETURN_IF_ERROR(out.Checked(ValidateRetentionPolicy(retention)));
  if (part_size < kMinPartSize || part_size > kMaxPartSize) {
    return out.Checked(InvalidArgumentError("--part-size " + std::to_string(part_size) +
                                            ": must be from " + std::to_string(kMinPartSize) +
                                            " (64 KiB) to " + std::to_string(kMaxPartSize) +
                                            " (5 GiB)"));
  }
  for (const std::string& name : removed) {
    auto named = [&](const StoreConfig& s) { return s.name == name; };
    if (std::find_if(stores.begin(), stores.end(), named) != stores.end()) {
      return out.Checked(InvalidArgumentError("--remove-store " + name +
                                              ": the store is also given with --store"));
    }
  }
  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task,
                   out.Checked(OpenTask(tf, /*backend=*/true, /*create=*/true)));
  // Checked before the backup claims the task (and so fences a running job): a mistyped
  // command changes nothing. It costs one get more than the claim's own read.
  ASSIGN_OR_RETURN(
      std::optional<Checkpoint> latest,
      task->checkpoints->ReadLatest().GetFor(kCommandTimeout, "read of the checkpoint"));
  RETURN_IF_ERROR(out.Checked(CheckRemovedStores(latest, stores, removed)));
  return Finish(RunBackup(*task, tf, stores, part_size, retention, start), *task, tf, out);
}

Status RestoreCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  RestoreFlags rf;
  Flags flags("restore",
              "Restores each store's snapshot of the latest checkpoint (or --checkpoint) into\n"
              "its directory, as on a new host. Files already local with the recorded size and\n"
              "checksum (in the directory, a local checkpoint beside it, or what an interrupted\n"
              "restore staged) are reused; the rest are downloaded and checked as they land.\n"
              "The new tree is assembled in <dir>.restore and swapped in at the end: until then\n"
              "the directory keeps its previous contents, and a failed or interrupted restore\n"
              "leaves them whole (run it again: it resumes). Nothing is changed and the command\n"
              "fails if a store's path is a symlink or a file, if the task has no checkpoint or\n"
              "the checkpoint no snapshot of a store (unless --allow-empty), if the bytes to\n"
              "download do not fit on the disk, or if a store's directory is not empty and\n"
              "cannot be told to be the store's (its lock file <dir>.lock names it, a local\n"
              "checkpoint of the snapshot is beside it, or its RocksDB identity is the\n"
              "snapshot's), or if <dir>.restore holds something and the lock file does not name\n"
              "the store, unless --force. A RocksDB database open in another process is never\n"
              "replaced; nor is anything on another file system mounted inside a store. The\n"
              "task is not claimed unless --claim is given, so a copy can be restored elsewhere\n"
              "while the job runs.");
  tf.Register(flags, {.stores = true, .checkpoint = true, .metrics = true});
  flags.Bool("no-verify", &rf.no_verify, "skip the checksum check of downloaded files");
  flags.Bool("lazy", &rf.lazy,
             "leave the RocksDB table files (*.sst) that are not local in the blob store, listed "
             "in <dir>.remote: the store then opens at once through the library's RocksDbStore "
             "given the blob store (Options::remote), which reads them from there and downloads "
             "them in the background; nothing else can open it until then");
  flags.Bool("allow-empty", &rf.allow_empty,
             "restore a store without a snapshot as an empty directory, as a task's first "
             "start does");
  flags.Bool("force", &rf.force,
             "empty a non-empty store directory even if nothing shows it is the store's");
  flags.Bool("claim", &rf.claim,
             "claim the task as its writer first, as a job's start does: a writer still "
             "running is fenced, and what a crashed writer left is cleaned up");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::vector<StoreConfig> stores, out.Checked(tf.StoreConfigs()));
  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task,
                   out.Checked(OpenTask(tf, /*backend=*/true, /*create=*/false)));
  return Finish(RunRestore(*task, tf, stores, rf, start), *task, tf, out);
}

namespace {

// How many blobs of the snapshots `markers` names (indexes included) still have a TTL.
// Each index is read a directory at a time (into `scratch`), with at most kAsksInFlight
// asks in flight: memory is bounded whatever the size of the snapshots.
Result<uint64_t> TtlDebt(BlobStore& store, const StoreMarkers& markers,
                         const std::string& scratch) {
  constexpr size_t kAsksInFlight = 256;
  uint64_t debt = 0;
  Status failed;
  std::deque<Future<std::optional<std::chrono::system_clock::time_point>>> asks;
  auto settle = [&](size_t keep) {
    for (; asks.size() > keep; asks.pop_front()) {
      auto expiry = std::move(asks.front()).GetFor(kCommandTimeout, "TTL check");
      if (!expiry.ok() && failed.ok()) failed = expiry.status();
      if (expiry.ok() && expiry->has_value()) ++debt;
    }
  };
  ThreadPool reader("ttl-debt", 1);  // the visit waits on asks: never on the store's pool
  for (const auto& [name, index_id] : markers) {
    asks.push_back(store.ExpiryOf(index_id));
    FileVisitor ask = [&](const FileIndex& f, bool removed) {
      if (removed || !failed.ok()) return;
      for (const FileBlob& b : f.blobs) {
        asks.push_back(store.ExpiryOf(b.blob_id));
        settle(kAsksInFlight);
      }
    };
    Status read = VisitSnapshotFiles(store, reader, index_id, std::move(ask), scratch)
                      .GetFor(kCommandTimeout, "read of the snapshot index")
                      .status();
    settle(0);
    RETURN_IF_ERROR(read.WithContext("store " + name));
    RETURN_IF_ERROR(failed);
  }
  return debt;
}

// Removes `dir` and everything in it.
Status RemoveTree(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return ec ? ErrnoError("remove " + dir, ec.value()) : Status::Ok();
}

// Restores store `name` of checkpoint `id` into the new directory `dir` as a new host would
// (the engine's restore: every file downloaded and checked), adds what it did to `figures`,
// then removes `dir`.
Status VerifyStore(TaskContext& task, const TaskFlags& tf, const std::string& id,
                   const std::string& name, const std::string& dir, Progress& progress,
                   std::map<std::string, StoreFigures>& figures) {
  CommitOptions options{
      .job = tf.job,
      .task = tf.task,
      .stores = {{.name = name, .dir = dir}},
      .checkpoints = task.config,
      .restore = {.verify_chunk_checksums = true, .sync = false, .progress = progress.counter()},
      .claim = false,
      .checkpoint_id = id};
  ASSIGN_OR_RETURN(std::unique_ptr<CommitEngine> engine,
                   CommitEngine::Open(*task.store, *task.pool, std::move(options), nullptr)
                       .GetFor(kCommandTimeout, "read of the checkpoint"));
  ASSIGN_OR_RETURN(auto restored, engine->Restore().GetFor(kCommandTimeout, "verify of " + name));
  figures[name] = restored.at(name);
  return RemoveTree(dir);
}

}  // namespace

Status VerifyCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  std::string scratch = "/tmp";
  Flags flags("verify",
              "Restores the latest checkpoint (or --checkpoint) as a new host would, one store\n"
              "at a time, into a new scratch directory that is removed afterwards: every blob is\n"
              "downloaded and each file's size and checksums checked (those of its parts and\n"
              "of their 64 KiB chunks, which lazy reads use). Then checks that none of\n"
              "them still has a TTL (TTL debt: it could expire). Exit status 0 only if\n"
              "everything is intact and nothing has a TTL.");
  tf.Register(flags, {.checkpoint = true});
  flags.String("scratch", &scratch, "where to download (default: /tmp); needs a store's size");
  bool orphans = false;
  GcOptions gc{.dry_run = true};
  flags.Bool("orphans", &orphans,
             "also count the job's garbage: unreferenced blobs gc would delete (expired, and "
             "orphans older than --grace), changing nothing");
  flags.Duration("grace", &gc.grace, "with --orphans: gc's grace period (default: 7d)");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task,
                   out.Checked(OpenTask(tf, /*backend=*/true, /*create=*/false)));
  ASSIGN_OR_RETURN(std::unique_ptr<CommitEngine> reader, OpenReader(*task, tf));
  const std::optional<Checkpoint>& checkpoint = reader->opened_at();
  if (!checkpoint) {
    return NotFoundError("job " + tf.job + ", task " + tf.task + " has no checkpoint in " +
                         task->store->Describe());
  }
  ASSIGN_OR_RETURN(StoreMarkers snapshots, BlobStoreMarkers(checkpoint));
  std::string dir = scratch + "/blobstate-verify-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return ErrnoError("mkdtemp " + dir, errno);
  Progress progress("verifying", !tf.json);
  std::map<std::string, StoreFigures> figures;
  Status s;
  for (auto it = snapshots.begin(); s.ok() && it != snapshots.end(); ++it) {
    const auto& [name, index_id] = *it;
    s = VerifyStore(*task, tf, checkpoint->id, name, dir + "/" + name, progress, figures)
            .WithContext("store " + name + " (snapshot index " + index_id + ")");
  }
  Result<uint64_t> debt = s.ok() ? TtlDebt(*task->store, snapshots, dir) : Result<uint64_t>(s);
  RemoveTree(dir).IgnoreError();
  progress.Stop();
  RETURN_IF_ERROR(debt.status());
  std::optional<GcReport> garbage;
  if (orphans) {
    gc.job = tf.job;
    ASSIGN_OR_RETURN(garbage, CollectGarbage(*task->store, *task->pool, gc));
  }
  if (tf.json) {
    out.Print("{\"checkpoint_id\":" + JsonString(checkpoint->id) + ",\"intact\":true,\"stores\":" +
              FiguresJson(figures) + ",\"ttl_debt\":" + std::to_string(*debt) +
              (garbage ? ",\"garbage\":" + GcReportJson(*garbage) : "") +
              ",\"seconds\":" + Fixed(Seconds(start)) + "}\n");
  } else {
    std::string text = "checkpoint " + checkpoint->id +
                       " is intact: every file's size and checksum match\n" +
                       FiguresTable(figures, false);
    if (garbage) {
      const GcCounts& g = garbage->jobs[tf.job];
      text += "job " + tf.job + ": " + std::to_string(g.expired) + " expired blob(s) (" +
              HumanBytes(g.expired_bytes) + "), " + std::to_string(g.orphans) +
              " orphan(s) older than the grace period (" + HumanBytes(g.orphan_bytes) + "), " +
              std::to_string(g.young) + " younger; blobstate gc deletes the first two\n";
    }
    out.Print(text);
  }
  if (*debt > 0) {
    return FailedPreconditionError(
        std::to_string(*debt) + " blob(s) of checkpoint " + checkpoint->id +
        " still have a TTL (TTL debt): they may expire; the task's next open removes them");
  }
  return Status::Ok();
}

}  // namespace blobstate::cli
