// The task commands: backup, restore, checkpoints, verify.
#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "blobstate/backup.h"
#include "blobstate/restore.h"
#include "blobstate/snapshot.h"
#include "blobstate/transfer.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/task_flags.h"
#include "util/fs.h"

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

// Snapshots every backed-up store into its local checkpoint directory for `id`.
Result<std::map<std::string, std::string>> SnapshotStores(const std::vector<StoreConfig>& stores,
                                                          const std::string& id) {
  std::map<std::string, std::string> dirs;
  for (const StoreConfig& s : stores) {
    if (!s.BackedUp()) continue;
    dirs[s.name] = CheckpointDirOf(s.dir, id);
    RETURN_IF_ERROR(
        SnapshotClosedStore(s, dirs[s.name]).WithContext("snapshot of store " + s.name));
  }
  return dirs;
}

// The rest of `backup` once its flags are checked and the task is open: one commit.
// Returns what to print.
Result<std::string> RunBackup(TaskContext& task, const TaskFlags& tf,
                              const std::vector<StoreConfig>& stores, uint64_t part_size,
                              Clock::time_point start) {
  ASSIGN_OR_RETURN(std::optional<Checkpoint> latest, SelectCheckpoint(task, tf));
  Progress progress("uploading", !tf.json);
  BackupOptions options;
  options.transfer.part_size = part_size;
  options.transfer.progress = progress.counter();
  BackupManager backup(*task.store, *task.pool, tf.job, tf.task, stores, options, &task.metrics);
  RETURN_IF_ERROR(backup.Init(latest).GetFor(kCommandTimeout, "backup init"));
  Checkpoint next{.id = NewCheckpointId()};
  if (latest) {
    next.input_offsets = latest->input_offsets;
    next.state_markers =
        latest->version >= 2 ? latest->state_markers : std::map<std::string, StoreMarkers>{};
  }
  ASSIGN_OR_RETURN(auto dirs, SnapshotStores(stores, next.id));
  ASSIGN_OR_RETURN(StoreMarkers markers,
                   backup.Upload(next.id, dirs).GetFor(kCommandTimeout, "upload"));
  backup.RecordMarkers(markers, next);
  auto persist_started = Clock::now();
  Status written =
      task.checkpoints->Write(next).GetFor(kCommandTimeout, "checkpoint write").status();
  if (!written.ok()) {
    task.metrics.RecordError(Flow::kBackup, "_all", Phase::kPersist);
    return written;
  }
  // The checkpoint is one write for all stores: its time counts once, in the total.
  const std::chrono::nanoseconds persisted = Clock::now() - persist_started;
  task.metrics.RecordPhase(Flow::kBackup, "_all", Phase::kPersist, persisted);
  RETURN_IF_ERROR(backup.Cleanup(next.id, markers).GetFor(kCommandTimeout, "cleanup"));
  progress.Stop();
  const auto figures = backup.LastFigures();
  if (tf.json) {
    return "{\"checkpoint_id\":" + JsonString(next.id) +
           ",\"stores\":" + FiguresJson(figures, {.durations = {{Phase::kPersist, persisted}}}) +
           ",\"http_requests\":" + HttpRequestsJson() + ",\"seconds\":" + Fixed(Seconds(start)) +
           "}\n";
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

// The rest of `restore` once its flags are checked and the task is open. Returns what to
// print.
Result<std::string> RunRestore(TaskContext& task, const TaskFlags& tf,
                               const std::vector<StoreConfig>& stores, bool verify,
                               bool allow_empty, Clock::time_point start) {
  ASSIGN_OR_RETURN(std::optional<Checkpoint> checkpoint, SelectCheckpoint(task, tf));
  if (!allow_empty) {
    Status refused = CheckEverySnapshotExists(checkpoint, stores, tf, *task.store);
    if (!refused.ok()) {
      task.metrics.RecordError(Flow::kRestore, "_all", Phase::kInit);
      return refused;
    }
  }
  Progress progress("downloading", !tf.json);
  RestoreManager restore(*task.store, *task.pool, stores,
                         {.verify_checksums = verify, .progress = progress.counter()},
                         &task.metrics);
  RETURN_IF_ERROR(restore.Init(checkpoint).GetFor(kCommandTimeout, "restore init"));
  ASSIGN_OR_RETURN(auto figures, restore.Restore().GetFor(kCommandTimeout, "restore"));
  progress.Stop();
  const std::string id = checkpoint ? checkpoint->id : "";
  if (tf.json) {
    return "{\"checkpoint_id\":" + JsonString(id) + ",\"stores\":" + FiguresJson(figures) +
           ",\"verified\":" + (verify ? "true" : "false") +
           ",\"http_requests\":" + HttpRequestsJson() + ",\"seconds\":" + Fixed(Seconds(start)) +
           "}\n";
  }
  return (checkpoint ? "restored checkpoint " + id
                     : std::string("no checkpoint: stores left empty")) +
         " in " + Fixed(Seconds(start)) + " s" + (verify ? ", checksums verified" : "") + "\n" +
         FiguresTable(figures, false);
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
  uint64_t part_size = TransferOptions().part_size;
  Flags flags("backup",
              "Commits the stores once, as a task does: snapshots each store directory into a\n"
              "local checkpoint beside it (hard links), uploads what changed since the last\n"
              "checkpoint, writes the new checkpoint, then cleans up (TTLs, deleted files,\n"
              "the previous snapshot, older local checkpoints). The stores must not be written\n"
              "meanwhile (a closed RocksDB, or any directory). A store of the latest checkpoint\n"
              "not given with --store is taken as removed: its snapshot is deleted.");
  tf.Register(flags, {.stores = true, .writes = true, .metrics = true});
  flags.Uint("part-size", &part_size,
             "bytes per blob of a large file, 64 KiB to 5 GiB (default: 8 MiB)");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::vector<StoreConfig> stores, out.Checked(tf.StoreConfigs()));
  if (part_size < kMinPartSize || part_size > kMaxPartSize) {
    return out.Checked(InvalidArgumentError("--part-size " + std::to_string(part_size) +
                                            ": must be from " + std::to_string(kMinPartSize) +
                                            " (64 KiB) to " + std::to_string(kMaxPartSize) +
                                            " (5 GiB)"));
  }
  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task,
                   out.Checked(OpenTask(tf, /*backend=*/true, /*create=*/true)));
  return Finish(RunBackup(*task, tf, stores, part_size, start), *task, tf, out);
}

Status RestoreCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  bool no_verify = false, allow_empty = false;
  Flags flags("restore",
              "Restores each store's snapshot of the latest checkpoint (or --checkpoint) into\n"
              "its directory, as on a new host: the directory is emptied first; an identical\n"
              "local checkpoint is reused (no download); otherwise files are downloaded and\n"
              "verified against their checksums. A store whose download fails is left empty.\n"
              "Nothing is changed and the command fails if a store's path is a symlink or a\n"
              "file, or if the task has no checkpoint or the checkpoint no snapshot of a store\n"
              "(unless --allow-empty).");
  tf.Register(flags, {.stores = true, .checkpoint = true, .metrics = true});
  flags.Bool("no-verify", &no_verify, "skip the checksum check of downloaded files");
  flags.Bool("allow-empty", &allow_empty,
             "restore a store without a snapshot as an empty directory, as a task's first "
             "start does");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::vector<StoreConfig> stores, out.Checked(tf.StoreConfigs()));
  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task,
                   out.Checked(OpenTask(tf, /*backend=*/true, /*create=*/false)));
  return Finish(RunRestore(*task, tf, stores, !no_verify, allow_empty, start), *task, tf, out);
}

Status CheckpointsCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  Flags flags("checkpoints",
              "Lists the stored checkpoints of a task, the latest of each checkpoint version\n"
              "(version 2 first), with their stores' snapshot index blob ids (and those of\n"
              "removed stores still to be deleted). Only the latest is kept: each commit\n"
              "deletes the snapshot its predecessor referenced.");
  tf.Register(flags, {});
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task,
                   out.Checked(OpenTask(tf, /*backend=*/false, /*create=*/false)));
  ASSIGN_OR_RETURN(std::vector<Checkpoint> checkpoints,
                   task->checkpoints->List().GetFor(kCommandTimeout, "read of the checkpoints"));
  // A marker map as JSON ({"store":"index id",...}), or as indented lines under a checkpoint.
  auto json_of = [&](const Checkpoint& c, std::string_view key) {
    std::string out;
    auto m = c.state_markers.find(std::string(key));
    if (m == c.state_markers.end()) return std::string("{}");
    for (const auto& [store, id] : m->second) {
      out += (out.empty() ? "" : ",") + JsonString(store) + ":" + JsonString(id);
    }
    return "{" + out + "}";
  };
  auto lines_of = [&](const Checkpoint& c, std::string_view key, const std::string& label) {
    std::string out;
    auto m = c.state_markers.find(std::string(key));
    if (m == c.state_markers.end()) return out;
    for (const auto& [store, id] : m->second) out += "    " + label + store + "  " + id + "\n";
    return out;
  };
  std::string text = tf.json ? "[" : "";
  for (const Checkpoint& c : checkpoints) {
    if (tf.json) {
      text += std::string(text.size() > 1 ? "," : "") + "{\"checkpoint_id\":" + JsonString(c.id) +
              ",\"version\":" + std::to_string(c.version) +
              ",\"inputs\":" + std::to_string(c.input_offsets.size()) +
              ",\"stores\":" + json_of(c, kBlobStoreBackend) +
              ",\"removed_stores\":" + json_of(c, kRemovedStoresKey) + "}";
    } else {
      text += (c.id.empty() ? "(no id)" : c.id) + "  v" + std::to_string(c.version) + "  " +
              std::to_string(c.input_offsets.size()) + " input offset(s)\n" +
              lines_of(c, kBlobStoreBackend, "") +
              lines_of(c, kRemovedStoresKey, "(removed, to be deleted) ");
    }
  }
  out.Print(tf.json ? text + "]\n" : (checkpoints.empty() ? "no checkpoints\n" : text));
  return Status::Ok();
}

Status VerifyCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  std::string scratch = "/tmp";
  Flags flags("verify",
              "Downloads every blob of the latest checkpoint (or --checkpoint) and checks each\n"
              "file's size and checksum, one store at a time, in a new scratch directory that\n"
              "is removed afterwards. Exit status 0 only if everything is intact.");
  tf.Register(flags, {.checkpoint = true});
  flags.String("scratch", &scratch, "where to download (default: /tmp); needs a store's size");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task,
                   out.Checked(OpenTask(tf, /*backend=*/true, /*create=*/false)));
  ASSIGN_OR_RETURN(std::optional<Checkpoint> checkpoint, SelectCheckpoint(*task, tf));
  if (!checkpoint) {
    return NotFoundError("job " + tf.job + ", task " + tf.task + " has no checkpoint in " +
                         task->store->Describe());
  }
  ASSIGN_OR_RETURN(StoreSnapshots snapshots,
                   GetStoreSnapshots(*task->store, *task->pool, checkpoint, {})
                       .GetFor(kCommandTimeout, "get of the snapshot indexes"));
  std::string dir = JoinPath(scratch, "blobstate-verify-XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) return ErrnoError("mkdtemp " + dir, errno);
  Progress progress("verifying", !tf.json);
  Transfer transfer(*task->store, *task->pool,
                    {.sync_after_restore = false, .progress = progress.counter()});
  std::map<std::string, StoreFigures> figures;
  Status s;
  for (auto it = snapshots.begin(); s.ok() && it != snapshots.end(); ++it) {
    const auto& [name, snap] = *it;
    const auto started = Clock::now();
    s = transfer.GetDir(snap.index.root, JoinPath(dir, name))
            .GetFor(kCommandTimeout, "verify of " + name)
            .status()
            .WithContext("store " + name + " (snapshot index " + snap.index_blob_id + ")");
    TreeTotals t = TotalsOf(snap.index.root);
    figures[name] = {.files_downloaded = t.files,
                     .bytes_downloaded = t.bytes,
                     .durations = {{Phase::kDownload, Clock::now() - started}}};
  }
  RemoveAll(dir).IgnoreError();
  progress.Stop();
  RETURN_IF_ERROR(s);
  if (tf.json) {
    out.Print("{\"checkpoint_id\":" + JsonString(checkpoint->id) + ",\"intact\":true,\"stores\":" +
              FiguresJson(figures) + ",\"seconds\":" + Fixed(Seconds(start)) + "}\n");
  } else {
    out.Print("checkpoint " + checkpoint->id +
              " is intact: every file's size and checksum match\n" + FiguresTable(figures, false));
  }
  return Status::Ok();
}

}  // namespace blobstate::cli
