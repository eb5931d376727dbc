// The task commands: backup, restore, checkpoints, verify.
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

}  // namespace

Status BackupCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  uint64_t part_size = TransferOptions().part_size;
  Flags flags("backup",
              "Commits the stores once, as a task does: snapshots each store directory into a\n"
              "local checkpoint beside it (hard links), uploads what changed since the last\n"
              "checkpoint, writes the new checkpoint, then cleans up (TTLs, deleted files,\n"
              "the previous snapshot, older local checkpoints). The stores must not be written\n"
              "meanwhile (a closed RocksDB, or any directory).");
  tf.Register(flags, /*with_stores=*/true, /*with_checkpoint=*/false);
  flags.Uint("part-size", &part_size, "bytes per blob of a large file (default: 8 MiB)");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::vector<StoreConfig> stores, tf.StoreConfigs());
  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task, OpenTask(tf, /*backend=*/true));
  ASSIGN_OR_RETURN(std::optional<Checkpoint> latest, SelectCheckpoint(*task, tf));

  Progress progress("uploading", !tf.json);
  BackupOptions options;
  options.transfer.part_size = part_size;
  options.transfer.progress = progress.counter();
  BackupManager backup(*task->store, *task->pool, tf.job, tf.task, stores, options, &task->metrics);
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
  next.state_markers[std::string(kBlobStoreBackend)] = markers;
  auto persist_started = Clock::now();
  RETURN_IF_ERROR(task->checkpoints->Write(next).GetFor(kCommandTimeout, "checkpoint write"));
  const std::chrono::nanoseconds persisted = Clock::now() - persist_started;
  RETURN_IF_ERROR(backup.Cleanup(next.id, markers).GetFor(kCommandTimeout, "cleanup"));

  // The checkpoint is one write for all stores: its time counts once, in the total.
  task->metrics.Record(Flow::kBackup, "_all", {.durations = {{Phase::kPersist, persisted}}});
  RETURN_IF_ERROR(WriteMetrics(*task, tf));
  const auto figures = backup.LastFigures();
  if (tf.json) {
    out.Print("{\"checkpoint_id\":" + JsonString(next.id) + ",\"stores\":" + FiguresJson(figures) +
              ",\"persist_seconds\":" + Fixed(std::chrono::duration<double>(persisted).count()) +
              ",\"http_requests\":" + HttpRequestsJson() + ",\"seconds\":" + Fixed(Seconds(start)) +
              "}\n");
  } else {
    out.Print("checkpoint " + next.id + " of job " + tf.job + ", task " + tf.task + " in " +
              Fixed(Seconds(start)) + " s\n" + FiguresTable(figures, true));
  }
  return Status::Ok();
}

Status RestoreCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  bool no_verify = false;
  Flags flags("restore",
              "Restores each store's snapshot of the latest checkpoint (or --checkpoint) into\n"
              "its directory, as on a new host: the directory is emptied first; an identical\n"
              "local checkpoint is reused (no download); otherwise files are downloaded and\n"
              "verified against their checksums. A store the checkpoint lacks is left empty.");
  tf.Register(flags, /*with_stores=*/true, /*with_checkpoint=*/true);
  flags.Bool("no-verify", &no_verify, "skip the checksum check of downloaded files");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::vector<StoreConfig> stores, tf.StoreConfigs());
  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task, OpenTask(tf, /*backend=*/true));
  ASSIGN_OR_RETURN(std::optional<Checkpoint> checkpoint, SelectCheckpoint(*task, tf));
  Progress progress("downloading", !tf.json);
  RestoreManager restore(*task->store, *task->pool, stores,
                         {.verify_checksums = !no_verify, .progress = progress.counter()},
                         &task->metrics);
  RETURN_IF_ERROR(restore.Init(checkpoint).GetFor(kCommandTimeout, "restore init"));
  ASSIGN_OR_RETURN(auto figures, restore.Restore().GetFor(kCommandTimeout, "restore"));
  RETURN_IF_ERROR(WriteMetrics(*task, tf));
  const std::string id = checkpoint ? checkpoint->id : "";
  if (tf.json) {
    out.Print("{\"checkpoint_id\":" + JsonString(id) + ",\"stores\":" + FiguresJson(figures) +
              ",\"verified\":" + (no_verify ? "false" : "true") + ",\"http_requests\":" +
              HttpRequestsJson() + ",\"seconds\":" + Fixed(Seconds(start)) + "}\n");
  } else {
    out.Print((checkpoint ? "restored checkpoint " + id
                          : std::string("no checkpoint: stores left empty")) +
              " in " + Fixed(Seconds(start)) + " s" + (no_verify ? "" : ", checksums verified") +
              "\n" + FiguresTable(figures, false));
  }
  return Status::Ok();
}

Status CheckpointsCommand(const std::vector<std::string>& args, CommandOutput& out) {
  TaskFlags tf;
  Flags flags("checkpoints",
              "Lists the stored checkpoints of a task, the latest of each checkpoint version\n"
              "(version 2 first), with their stores' snapshot index blob ids. Only the latest\n"
              "is kept: each commit deletes the snapshot its predecessor referenced.");
  tf.Register(flags, /*with_stores=*/false, /*with_checkpoint=*/false);
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task, OpenTask(tf, /*backend=*/false));
  ASSIGN_OR_RETURN(std::vector<Checkpoint> checkpoints,
                   task->checkpoints->List().GetFor(kCommandTimeout, "read of the checkpoints"));
  std::string text = tf.json ? "[" : "";
  for (const Checkpoint& c : checkpoints) {
    const std::string key = c.id.empty() ? "(no id)" : c.id;
    auto m = c.state_markers.find(std::string(kBlobStoreBackend));
    if (tf.json) {
      std::string stores;
      if (m != c.state_markers.end()) {
        for (const auto& [store, id] : m->second) {
          stores += (stores.empty() ? "" : ",") + JsonString(store) + ":" + JsonString(id);
        }
      }
      text += std::string(text.size() > 1 ? "," : "") + "{\"key\":" + JsonString(c.id) +
              ",\"version\":" + std::to_string(c.version) +
              ",\"inputs\":" + std::to_string(c.input_offsets.size()) + ",\"stores\":{" + stores +
              "}}";
    } else {
      text += key + "  v" + std::to_string(c.version) + "  " +
              std::to_string(c.input_offsets.size()) + " input offset(s)\n";
      if (m == c.state_markers.end()) continue;
      for (const auto& [store, id] : m->second) text += "    " + store + "  " + id + "\n";
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
              "file's size and checksum, one store at a time, in a scratch directory that is\n"
              "removed afterwards. Exit status 0 only if everything is intact.");
  tf.Register(flags, /*with_stores=*/false, /*with_checkpoint=*/true);
  flags.String("scratch", &scratch, "where to download (default: /tmp); needs a store's size");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<TaskContext> task, OpenTask(tf, /*backend=*/true));
  ASSIGN_OR_RETURN(std::optional<Checkpoint> checkpoint, SelectCheckpoint(*task, tf));
  if (!checkpoint)
    return NotFoundError("job " + tf.job + ", task " + tf.task + " has no checkpoint");
  ASSIGN_OR_RETURN(StoreSnapshots snapshots,
                   GetStoreSnapshots(*task->store, *task->pool, checkpoint, {})
                       .GetFor(kCommandTimeout, "get of the snapshot indexes"));
  Progress progress("verifying", !tf.json);
  Transfer transfer(*task->store, *task->pool,
                    {.sync_after_restore = false, .progress = progress.counter()});
  std::map<std::string, StoreFigures> figures;
  for (const auto& [name, snap] : snapshots) {
    const std::string dir = JoinPath(scratch, "blobstate-verify-" + checkpoint->id + "-" + name);
    RETURN_IF_ERROR(RemoveAll(dir));
    Status s =
        transfer.GetDir(snap.index.root, dir).GetFor(kCommandTimeout, "verify of " + name).status();
    RemoveAll(dir).IgnoreError();
    RETURN_IF_ERROR(
        s.WithContext("store " + name + " (snapshot index " + snap.index_blob_id + ")"));
    TreeTotals t = TotalsOf(snap.index.root);
    figures[name].files_downloaded = t.files;
    figures[name].bytes_downloaded = t.bytes;
  }
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
