// The staging area of one store's restore: where each file of the snapshot comes from, and
// how the assembled tree replaces the store directory in one step.
//
// A restore of store directory D assembles the snapshot's tree in "D.restore" (beside D, so
// on the same file system) and swaps it in at the end (SwapIn): until then D holds its
// previous contents, whole, and a crash at any point leaves either them or the new tree.
// "D.restore.snapshot" names the snapshot index the staged files were verified against, so
// that an interrupted restore of the same snapshot keeps them without reading them again.
//
// PlanRestore decides, before anything is written, where each file of the snapshot comes
// from:
//   kept      staged by an interrupted restore: of the same snapshot, with the recorded size
//             and mtime (a staged file gets them only once verified); else with matching
//             content;
//   local     a file at the same relative path with matching content in a local checkpoint
//             directory "D-<id>" (the snapshot's own first) or in D itself: hard-linked if
//             the store never changes it in place (RocksDB's .sst and .blob files), else
//             copied and given the recorded mode and mtime;
//   download  everything else; a download that an interrupted restore left under its
//             partial name (Transfer::GetFile) continues: its parts are read and checked
//             against their checksums, and only those that differ are downloaded.
// A local file's content matches when its size is the recorded one and either its stat
// identity is the one recorded in the index (docs/format.md, "Checksum reuse": no read) or
// its checksum is (one read). Unreadable candidates are skipped, not errors.
//
// Never writes outside D and its staging area, whatever the index says: names are single
// path components (IsValidName) and no symlink in the staging area is followed.
#ifndef BLOBSTATE_RESTORE_STAGING_H_
#define BLOBSTATE_RESTORE_STAGING_H_

#include <string>
#include <vector>

#include "blobstate/index.h"
#include "blobstate/snapshot.h"
#include "blobstate/status.h"

namespace blobstate {

// "<dir>.restore": where a restore of store directory `dir` assembles the new tree.
std::string StagingDirOf(const std::string& dir);

// A file of the snapshot that is not staged yet.
struct PlannedFile {
  const FileIndex* file;  // in the snapshot's index, which must outlive the plan
  std::string rel_path;   // below the store directory
  std::string path;       // in the staging area
  std::string from;       // the local file it is linked or copied from; empty: downloaded
  bool link = false;
  std::vector<bool> have;  // of a download: the parts an interrupted one left, verified
};

struct RestorePlan {
  std::string staging;             // StagingDirOf(dir)
  std::string snapshot_id;         // the snapshot index blob id; empty: no snapshot
  std::vector<std::string> stale;  // staging entries to remove first
  std::vector<std::string> dirs;   // staging directories to make, parents first
  std::vector<PlannedFile> local;
  std::vector<PlannedFile> downloads;
  // `downloaded`: the files to download, and the bytes of the parts they lack; `resumed`:
  // the bytes of the parts interrupted downloads left, verified (counted as reused).
  TreeTotals kept, linked, copied, downloaded;
  uint64_t resumed_bytes = 0;
};

// The plan to restore `snapshot` (null: an empty store) into store directory `dir`. Only
// reads. kInvalidArgument, naming the entry, for a name that cannot be in an index.
Result<RestorePlan> PlanRestore(const std::string& dir, const StoreSnapshot* snapshot);

// kFailedPrecondition naming `store`, the bytes needed and the bytes free unless the file
// system of the existing directory `path` has `needed` bytes available.
Status CheckFreeSpace(const std::string& store, const std::string& path, uint64_t needed);

// Readies the staging area for the downloads: removes stale entries, records the snapshot,
// makes the directories, and links or copies the local files (copies are made durable when
// `sync`).
Status PrepareStaging(const RestorePlan& plan, bool sync);

// Once every file is staged: makes the tree durable (if `sync`), swaps it with `dir` (or
// renames it there if `dir` is absent), then deletes the previous contents. A failure to
// delete them is not an error: the next restore clears them from the staging area.
Status SwapIn(const std::string& dir, const RestorePlan& plan, bool sync);

}  // namespace blobstate

#endif  // BLOBSTATE_RESTORE_STAGING_H_
