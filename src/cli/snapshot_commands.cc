// The snapshot commands: show, gc.
#include <chrono>
#include <memory>

#include "blobstate/blob_store.h"
#include "blobstate/index.h"
#include "blobstate/snapshot.h"
#include "blobstate/transfer.h"
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

Status ShowCommand(const std::vector<std::string>& args, CommandOutput& out) {
  std::string url, index_id;
  bool json = false;
  Flags flags("show", "Prints the tree of the snapshot --index with sizes.");
  flags.String("blob-store", &url, kBlobStoreUrlHelp, true);
  flags.String("index", &index_id, "snapshot index blob id", true);
  flags.Bool("json", &json,
             "print the snapshot and its tree as JSON (a failure as {\"error\":...})");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store,
                   out.Checked(OpenBlobStore(url, {.must_exist = true})));
  ThreadPool pool("cli", 1);
  ASSIGN_OR_RETURN(SnapshotIndex index, GetSnapshotIndex(*store, pool, index_id)
                                            .GetFor(kCommandTimeout, "get of the snapshot index"));
  TreeTotals t = TotalsOf(index.root);
  const SnapshotMetadata& m = index.metadata;
  if (json) {
    out.Print("{\"job\":" + JsonString(m.job_name) + ",\"task\":" + JsonString(m.task_name) +
              ",\"store\":" + JsonString(m.store_name) +
              ",\"checkpoint_id\":" + JsonString(m.checkpoint_id) +
              ",\"created_ms\":" + std::to_string(index.creation_time_ms) +
              ",\"previous\":" + JsonString(index.prev_snapshot_index_blob_id) +
              ",\"files\":" + std::to_string(t.files) + ",\"bytes\":" + std::to_string(t.bytes) +
              ",\"tree\":" + DirJson(index.root) + "}\n");
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
  flags.String("blob-store", &url, kBlobStoreUrlHelp, true);
  flags.Bool("dry-run", &dry_run, "list what would be deleted, delete nothing");
  flags.Bool("json", &json, "print the result as JSON (a failure as {\"error\":...})");
  RETURN_IF_ERROR(out.Parse(flags, args, 0));
  if (flags.help_requested()) return out.Help(flags.Help());
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store,
                   out.Checked(OpenBlobStore(url, {.must_exist = true})));
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
