// The snapshot commands: show, gc.
#include <chrono>
#include <memory>
#include <mutex>

#include "blobstate/blob_store.h"
#include "blobstate/commit.h"
#include "blobstate/gc.h"
#include "blobstate/index.h"
#include "blobstate/snapshot.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "cli/task_flags.h"

namespace blobstate::cli {
namespace {

void ShowDir(const DirIndex& d, const std::string& indent, std::string* out) {
  for (const DirIndex& s : d.subdirs_present) {
    TreeTotals t = TotalsOf(s);
    *out += indent + s.name + "/  (" + std::to_string(t.files) + " files, " + HumanBytes(t.bytes) +
            ")\n";
    ShowDir(s, indent + "  ", out);
  }
  for (const FileIndex& f : d.files_present) {
    *out += indent + f.name + "  " + HumanBytes(f.metadata.size) + "  " +
            std::to_string(f.blobs.size()) + " blob(s)  xxh128:" + f.checksum.ToHex() + "\n";
  }
}

// `d` as JSON: {"name":..,"files":[{"name","size","blobs","xxh128"}..],"dirs":[..]}.
std::string DirJson(const DirIndex& d) {
  std::string files, dirs;
  for (const FileIndex& f : d.files_present) {
    files += std::string(files.empty() ? "" : ",") + "{\"name\":" + JsonString(f.name) +
             ",\"size\":" + std::to_string(f.metadata.size) +
             ",\"blobs\":" + std::to_string(f.blobs.size()) + ",\"xxh128\":\"" +
             f.checksum.ToHex() + "\"}";
  }
  for (const DirIndex& sub : d.subdirs_present) {
    dirs += (dirs.empty() ? "" : ",") + DirJson(sub);
  }
  return "{\"name\":" + JsonString(d.name) + ",\"files\":[" + files + "],\"dirs\":[" + dirs + "]}";
}

}  // namespace

namespace {

// One snapshot as `show` prints it, in text or JSON.
std::string ShowSnapshot(const std::string& index_id, const SnapshotIndex& index, bool json) {
  TreeTotals t = TotalsOf(index.root);
  const SnapshotMetadata& m = index.metadata;
  if (json) {
    return "{\"index\":" + JsonString(index_id) + ",\"job\":" + JsonString(m.job_name) +
           ",\"task\":" + JsonString(m.task_name) + ",\"store\":" + JsonString(m.store_name) +
           ",\"checkpoint_id\":" + JsonString(m.checkpoint_id) +
           ",\"created_ms\":" + std::to_string(index.creation_time_ms) +
           ",\"previous\":" + JsonString(index.prev_snapshot_index_blob_id) +
           ",\"files\":" + std::to_string(t.files) + ",\"bytes\":" + std::to_string(t.bytes) +
           ",\"tree\":" + DirJson(index.root) + "}";
  }
  std::string text =
      "snapshot " + index_id + "\n  job " + m.job_name + ", task " + m.task_name + ", store " +
      m.store_name + "\n  " + std::to_string(t.files) + " files, " + HumanBytes(t.bytes) +
      "\n  previous: " +
      (index.prev_snapshot_index_blob_id.empty() ? "(none)" : index.prev_snapshot_index_blob_id) +
      "\n";
  ShowDir(index.root, "  ", &text);
  return text;
}

}  // namespace

Status ShowCommand(const std::vector<std::string>& args, CommandOutput& out) {
  std::string url, index_id, job, task, checkpoint_id, store_name;
  bool json = false;
  Flags flags("show",
              "Prints the tree of a snapshot with sizes: the snapshot --index, or the snapshots\n"
              "of checkpoint --checkpoint (default: the latest) of --job and --task, any kept\n"
              "one (latest, retained or pinned), all stores or --store.");
  flags.String("blob-store", &url, kBlobStoreUrlHelp, true);
  flags.String("index", &index_id, "snapshot index blob id");
  flags.String("job", &job, "job name (with --task, instead of --index)");
  flags.String("task", &task, "task name");
  flags.String("checkpoint", &checkpoint_id, "checkpoint id (default: the latest)");
  flags.String("store", &store_name, "only this store of the checkpoint");
  flags.Bool("json", &json,
             "print the snapshot and its tree as JSON (a failure as {\"error\":...}); with "
             "--job, {\"checkpoint_id\":..,\"snapshots\":[..]}");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  if (index_id.empty() == (job.empty() || task.empty())) {
    return out.Checked(InvalidArgumentError("give either --index, or --job and --task"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store,
                   out.Checked(OpenBlobStore(url, {.must_exist = true})));
  ThreadPool pool("cli", 2);
  if (!index_id.empty()) {
    ASSIGN_OR_RETURN(SnapshotIndex index,
                     GetSnapshotIndex(*store, pool, index_id)
                         .GetFor(kCommandTimeout, "get of the snapshot index"));
    out.Print(ShowSnapshot(index_id, index, json) + (json ? "\n" : ""));
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(
      std::unique_ptr<CommitEngine> reader,
      out.Checked(CommitEngine::Open(
                      *store, pool,
                      {.job = job, .task = task, .claim = false, .checkpoint_id = checkpoint_id},
                      nullptr)
                      .GetFor(kCommandTimeout, "read of the checkpoint")));
  const std::optional<Checkpoint>& at = reader->opened_at();
  if (!at)
    return NotFoundError("job " + job + ", task " + task + " has no checkpoint in " +
                         store->Describe());
  ASSIGN_OR_RETURN(StoreSnapshots snapshots,
                   GetStoreSnapshots(*store, pool, at,
                                     store_name.empty() ? std::vector<std::string>{}
                                                        : std::vector<std::string>{store_name})
                       .GetFor(kCommandTimeout, "get of the snapshot indexes"));
  if (!store_name.empty() && snapshots.empty()) {
    return NotFoundError("checkpoint " + at->id + " has no snapshot of store " + store_name);
  }
  std::string text;
  for (const auto& [name, snap] : snapshots) {
    text += (json && !text.empty() ? "," : "") + ShowSnapshot(snap.index_blob_id, snap.index, json);
  }
  out.Print(json ? "{\"checkpoint_id\":" + JsonString(at->id) + ",\"snapshots\":[" + text + "]}\n"
                 : "checkpoint " + at->id + "\n" + text);
  return Status::Ok();
}

namespace {

std::string CountsJson(const GcCounts& c) {
  return "{\"blobs\":" + std::to_string(c.blobs) + ",\"bytes\":" + std::to_string(c.bytes) +
         ",\"marked\":" + std::to_string(c.marked) + ",\"expired\":" + std::to_string(c.expired) +
         ",\"expired_bytes\":" + std::to_string(c.expired_bytes) +
         ",\"orphans\":" + std::to_string(c.orphans) +
         ",\"orphan_bytes\":" + std::to_string(c.orphan_bytes) +
         ",\"young\":" + std::to_string(c.young) + ",\"pending\":" + std::to_string(c.pending) +
         ",\"ttl_debt\":" + std::to_string(c.ttl_debt) + "}";
}

}  // namespace

// `r` as a JSON object.
std::string GcReportJson(const GcReport& r) {
  std::string jobs, requests, skipped;
  for (const auto& [job, c] : r.jobs) {
    jobs += (jobs.empty() ? "" : ",") + JsonString(job) + ":" + CountsJson(c);
  }
  for (const auto& [kind, n] : r.requests) {
    requests += (requests.empty() ? "" : ",") + JsonString(kind) + ":" + std::to_string(n);
  }
  for (const std::string& s : r.skipped) skipped += (skipped.empty() ? "" : ",") + JsonString(s);
  return "{\"tasks\":" + std::to_string(r.tasks) +
         ",\"checkpoints\":" + std::to_string(r.checkpoints) +
         ",\"snapshots\":" + std::to_string(r.snapshots) + ",\"total\":" + CountsJson(r.total) +
         ",\"deleted\":" + std::to_string(r.deleted) +
         ",\"history_deleted\":" + std::to_string(r.history_deleted) +
         ",\"failed\":" + std::to_string(r.failed) + ",\"jobs\":{" + jobs + "},\"requests\":{" +
         requests + "},\"skipped\":[" + skipped + "]}";
}

Status GcCommand(const std::vector<std::string>& args, CommandOutput& out) {
  std::string url, job;
  bool json = false, dry_run = false, list = false;
  GcOptions options;
  uint64_t concurrency = options.concurrency;
  Flags flags("gc",
              "Deletes what no kept checkpoint needs. Marks every blob that the latest, retained\n"
              "and pinned checkpoints of the jobs covered name, then deletes, as it lists the\n"
              "blobs page by page, only unmarked blobs whose TTL expired (uploads no commit\n"
              "persisted) and unmarked blobs without TTL older than --grace (what a crash\n"
              "between a commit's TTL removal and its persist left). --grace must exceed half\n"
              "the longest blob TTL the writers use (default TTL: 7 days).");
  flags.String("blob-store", &url, kBlobStoreUrlHelp, true);
  flags.String("job", &job, "collect only this job's blobs (default: every job)");
  flags.Duration("grace", &options.grace,
                 "age at which an unreferenced blob without TTL is "
                 "deleted, e.g. 7d (default: 7d)");
  flags.Uint("concurrency", &concurrency, "requests in flight at most (default: 32)");
  flags.Bool("dry-run", &dry_run, "count what would be deleted; change nothing at all");
  flags.Bool("list", &list, "print each blob deleted (or, dry, that would be)");
  flags.Bool("json", &json, "print the result as JSON (a failure as {\"error\":...})");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  if (concurrency == 0)
    return out.Checked(InvalidArgumentError("--concurrency must be at least 1"));
  if (!job.empty())
    RETURN_IF_ERROR(out.Checked(CheckJobOrTaskName("job", job).WithContext("--job")));
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store,
                   out.Checked(OpenBlobStore(url, {.must_exist = true})));
  options.job = job;
  options.dry_run = dry_run;
  options.concurrency = concurrency;
  ThreadPool cpu("cli-cpu", 2);
  std::mutex mu;
  std::string listed;
  ASSIGN_OR_RETURN(GcReport r,
                   CollectGarbage(*store, cpu, options, [&](const BlobInfo& b, Garbage why) {
                     if (!list) return;
                     std::lock_guard<std::mutex> lock(mu);
                     listed += std::string(dry_run ? "would delete " : "deleted ") + b.id +
                               (why == Garbage::kExpired ? " (expired)\n" : " (orphan)\n");
                   }));
  const Status failed =
      r.failed == 0 ? Status::Ok()
                    : UnavailableError("gc: " + std::to_string(r.failed) +
                                       " request(s) failed, their blobs left for the next run; "
                                       "the first: " +
                                       r.first_failure);
  if (json) {
    if (failed.ok()) {
      out.Print("{\"dry_run\":" + std::string(dry_run ? "true" : "false") + "," +
                GcReportJson(r).substr(1) + "\n");
    }
    return failed;
  }
  const GcCounts& t = r.total;
  std::string text = listed;
  text += "marked " + std::to_string(r.tasks) + " task(s), " + std::to_string(r.checkpoints) +
          " checkpoint(s), " + std::to_string(r.snapshots) + " snapshot(s)\n";
  text += "listed " + std::to_string(t.blobs) + " blob(s), " + HumanBytes(t.bytes) + ": " +
          std::to_string(t.marked) + " referenced, " + std::to_string(t.expired) + " expired (" +
          HumanBytes(t.expired_bytes) + "), " + std::to_string(t.orphans) + " orphan(s) (" +
          HumanBytes(t.orphan_bytes) + "), " + std::to_string(t.pending) + " with a TTL to come, " +
          std::to_string(t.young) + " within the grace period\n";
  text += dry_run
              ? "dry run: would delete " + std::to_string(t.expired + t.orphans) + " blob(s) and " +
                    std::to_string(r.history_deleted) + " history object(s); nothing changed\n"
              : "deleted " + std::to_string(r.deleted) + " blob(s) and " +
                    std::to_string(r.history_deleted) + " history object(s)\n";
  for (const std::string& s : r.skipped) text += "not swept (marks unreadable): " + s + "\n";
  out.Print(text);
  return failed;
}

}  // namespace blobstate::cli
