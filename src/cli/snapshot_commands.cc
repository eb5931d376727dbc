// The snapshot commands: backup-dir, restore-dir, show, gc.
#include <dirent.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <thread>

#include "blobstate/blob_store.h"
#include "blobstate/diff.h"
#include "blobstate/index.h"
#include "blobstate/transfer.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "cli/task_flags.h"

namespace blobstate::cli {
namespace {

using Clock = std::chrono::steady_clock;
// Blobs of an unfinished backup expire after this long if nothing commits them.
constexpr std::chrono::hours kUncommittedTtl(24);

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

size_t CpuThreads() { return std::max(2u, std::thread::hardware_concurrency()); }

Result<bool> IsEmptyOrMissing(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) {
    if (errno == ENOENT) return true;
    return ErrnoError("open " + dir, errno);
  }
  while (struct dirent* e = ::readdir(d.get())) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) return false;
  }
  return true;
}

Result<SnapshotIndex> ReadIndex(BlobStore& store, const std::string& id) {
  std::string bytes;
  RETURN_IF_ERROR(store.Get(id, StringSinkFactory(&bytes))
                      .GetFor(kCommandTimeout, "get snapshot index " + id)
                      .status()
                      .WithContext("snapshot index " + id));
  Result<SnapshotIndex> index = DecodeSnapshotIndex(bytes);
  if (!index.ok()) return index.status().WithContext("snapshot index " + id);
  return index;
}

}  // namespace

Status BackupDirCommand(const std::vector<std::string>& args, CommandOutput& out) {
  std::string url, previous_id, job = "cli", task = "cli", store_name = "dir";
  uint64_t part_size = TransferOptions().part_size;
  bool json = false;
  Flags flags("backup-dir",
              "Backs up DIR as a snapshot (incrementally against --previous) and prints the\n"
              "snapshot index blob id. Unchanged files reuse the previous snapshot's blobs.",
              "DIR");
  flags.String("blob-store", &url, "blob store URL, e.g. file:///var/backups", true);
  flags.String("previous", &previous_id, "snapshot index blob id to diff against");
  flags.String("job", &job, "job name recorded in the snapshot (default: cli)");
  flags.String("task", &task, "task name recorded in the snapshot (default: cli)");
  flags.String("store", &store_name, "store name recorded in the snapshot (default: dir)");
  flags.Uint("part-size", &part_size, "bytes per blob of a large file (default: 8 MiB)");
  flags.Bool("json", &json, "print the result as JSON");
  RETURN_IF_ERROR(out.Parse(flags, args, 1));
  if (flags.help_requested()) return out.Help(flags.Help());
  const std::string dir = flags.positionals()[0];

  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, OpenBlobStore(url, {}));
  SnapshotIndex previous;
  if (!previous_id.empty()) {
    ASSIGN_OR_RETURN(previous, ReadIndex(*store, previous_id));
  }
  ASSIGN_OR_RETURN(DirDiff diff, DiffDir(dir, previous.root, {}));
  ThreadPool cpu("cli-cpu", CpuThreads());
  Transfer transfer(*store, cpu, {.part_size = part_size, .ttl = kUncommittedTtl});
  BlobMetadata meta{.job_name = job, .task_name = task, .store_name = store_name};
  ASSIGN_OR_RETURN(DirIndex root,
                   transfer.PutDir(dir, diff, meta).GetFor(kCommandTimeout, "upload of " + dir));

  SnapshotIndex index;
  index.creation_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  index.metadata = {.job_name = job, .task_name = task, .store_name = store_name};
  index.root = root;
  index.prev_snapshot_index_blob_id = previous_id;
  meta.file_path = "snapshot-index";
  meta.ttl = kUncommittedTtl;
  ASSIGN_OR_RETURN(std::string index_id,
                   store->Put(StringSourceFactory(EncodeSnapshotIndex(index)), meta)
                       .GetFor(kCommandTimeout, "put of the snapshot index"));

  // Commit: the new blobs and the index become permanent, the index last.
  std::set<std::string> old_ids;
  for (std::string& id : BlobIdsOf(previous.root)) old_ids.insert(std::move(id));
  std::vector<std::string> new_ids;
  for (std::string& id : BlobIdsOf(root)) {
    if (!old_ids.count(id)) new_ids.push_back(std::move(id));
  }
  RETURN_IF_ERROR(transfer.RemoveTtls(new_ids).GetFor(kCommandTimeout, "commit of the blobs"));
  RETURN_IF_ERROR(transfer.RemoveTtls({index_id}).GetFor(kCommandTimeout, "commit of the index"));

  TreeTotals total = TotalsOf(root);
  uint64_t up_files = diff.FilesAdded(), up_bytes = diff.BytesAdded();
  double secs = Seconds(start);
  if (json) {
    out.Print("{\"snapshot_index\":" + JsonString(index_id) + ",\"files_uploaded\":" +
              std::to_string(up_files) + ",\"bytes_uploaded\":" + std::to_string(up_bytes) +
              ",\"files_reused\":" + std::to_string(total.files - up_files) +
              ",\"bytes_reused\":" + std::to_string(total.bytes - up_bytes) + ",\"blobs_put\":" +
              std::to_string(new_ids.size() + 1) + ",\"seconds\":" + std::to_string(secs) + "}\n");
  } else {
    char line[512];
    std::snprintf(
        line, sizeof(line),
        "backed up %s: %llu files (%s) uploaded, %llu files (%s) reused, %zu blobs put,"
        " in %.2f s\nsnapshot index: %s\n",
        dir.c_str(), static_cast<unsigned long long>(up_files), HumanBytes(up_bytes).c_str(),
        static_cast<unsigned long long>(total.files - up_files),
        HumanBytes(total.bytes - up_bytes).c_str(), new_ids.size() + 1, secs, index_id.c_str());
    out.Print(line);
  }
  return Status::Ok();
}

Status RestoreDirCommand(const std::vector<std::string>& args, CommandOutput& out) {
  std::string url, index_id;
  bool json = false, no_verify = false;
  Flags flags("restore-dir",
              "Restores the snapshot --index into DIR, which must be missing or empty.\n"
              "Every file is verified against its checksum unless --no-verify.",
              "DIR");
  flags.String("blob-store", &url, "blob store URL, e.g. file:///var/backups", true);
  flags.String("index", &index_id, "snapshot index blob id (printed by backup-dir)", true);
  flags.Bool("no-verify", &no_verify, "skip the content checksum check of restored files");
  flags.Bool("json", &json, "print the result as JSON");
  RETURN_IF_ERROR(out.Parse(flags, args, 1));
  if (flags.help_requested()) return out.Help(flags.Help());
  const std::string dir = flags.positionals()[0];

  auto start = Clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, OpenBlobStore(url, {}));
  ASSIGN_OR_RETURN(SnapshotIndex index, ReadIndex(*store, index_id));
  ASSIGN_OR_RETURN(bool empty, IsEmptyOrMissing(dir));
  if (!empty) return FailedPreconditionError("restore target is not empty: " + dir);
  ThreadPool cpu("cli-cpu", CpuThreads());
  Transfer transfer(*store, cpu, {.verify_checksums = !no_verify});
  RETURN_IF_ERROR(transfer.GetDir(index.root, dir).GetFor(kCommandTimeout, "restore of " + dir));
  TreeTotals total = TotalsOf(index.root);
  double secs = Seconds(start);
  if (json) {
    out.Print("{\"files_restored\":" + std::to_string(total.files) + ",\"bytes_restored\":" +
              std::to_string(total.bytes) + ",\"verified\":" + (no_verify ? "false" : "true") +
              ",\"seconds\":" + std::to_string(secs) + "}\n");
  } else {
    char line[512];
    std::snprintf(line, sizeof(line), "restored %llu files (%s) into %s in %.2f s%s\n",
                  static_cast<unsigned long long>(total.files), HumanBytes(total.bytes).c_str(),
                  dir.c_str(), secs, no_verify ? "" : ", checksums verified");
    out.Print(line);
  }
  return Status::Ok();
}

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

}  // namespace

Status ShowCommand(const std::vector<std::string>& args, CommandOutput& out) {
  std::string url, index_id;
  bool json = false;
  Flags flags("show", "Prints the tree of the snapshot --index with sizes.");
  flags.String("blob-store", &url, "blob store URL", true);
  flags.String("index", &index_id, "snapshot index blob id", true);
  flags.Bool("json", &json, "print a summary as JSON");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, OpenBlobStore(url, {}));
  ASSIGN_OR_RETURN(SnapshotIndex index, ReadIndex(*store, index_id));
  TreeTotals t = TotalsOf(index.root);
  const SnapshotMetadata& m = index.metadata;
  if (json) {
    out.Print("{\"job\":" + JsonString(m.job_name) + ",\"task\":" + JsonString(m.task_name) +
              ",\"store\":" + JsonString(m.store_name) +
              ",\"checkpoint_id\":" + JsonString(m.checkpoint_id) +
              ",\"created_ms\":" + std::to_string(index.creation_time_ms) +
              ",\"previous\":" + JsonString(index.prev_snapshot_index_blob_id) + ",\"files\":" +
              std::to_string(t.files) + ",\"bytes\":" + std::to_string(t.bytes) + "}\n");
    return Status::Ok();
  }
  std::string text =
      "snapshot " + index_id + "\n  job " + m.job_name + ", task " + m.task_name + ", store " +
      m.store_name + "\n  " + std::to_string(t.files) + " files, " + HumanBytes(t.bytes) +
      "\n  previous: " +
      (index.prev_snapshot_index_blob_id.empty() ? "(none)" : index.prev_snapshot_index_blob_id) +
      "\n";
  ShowDir(index.root, "  ", &text);
  out.Print(text);
  return Status::Ok();
}

Status GcCommand(const std::vector<std::string>& args, CommandOutput& out) {
  std::string url;
  bool json = false, dry_run = false;
  Flags flags("gc",
              "Deletes blobs whose TTL expired: what an interrupted backup left behind.\n"
              "Blobs of committed snapshots have no TTL and are never touched.");
  flags.String("blob-store", &url, "blob store URL", true);
  flags.Bool("dry-run", &dry_run, "list what would be deleted, delete nothing");
  flags.Bool("json", &json, "print the result as JSON");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, OpenBlobStore(url, {}));
  ASSIGN_OR_RETURN(std::vector<std::string> expired,
                   store->ListExpired(std::chrono::system_clock::now())
                       .GetFor(kCommandTimeout, "listing of expired blobs"));
  if (!dry_run) {
    ThreadPool cpu("cli-cpu", 2);
    Transfer transfer(*store, cpu, {});
    RETURN_IF_ERROR(transfer.DeleteBlobs(expired).GetFor(kCommandTimeout, "deletion"));
  }
  if (json) {
    std::string ids;
    for (const std::string& id : expired) ids += (ids.empty() ? "" : ",") + JsonString(id);
    out.Print(std::string("{\"dry_run\":") + (dry_run ? "true" : "false") + ",\"expired\":[" + ids +
              "]}\n");
  } else {
    std::string text;
    for (const std::string& id : expired)
      text += (dry_run ? "would delete " : "deleted ") + id + "\n";
    text += std::to_string(expired.size()) + " expired blob(s)" +
            (dry_run ? ", none deleted (dry run)\n" : " deleted\n");
    out.Print(text);
  }
  return Status::Ok();
}

}  // namespace blobstate::cli
