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

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "blobstate/index.h"
#include "blobstate/status.h"
#include "checkpoint/snapshot_util.h"
#include "index/index_file.h"

namespace blobstate {

// "<dir>.restore": where a restore of store directory `dir` assembles the new tree.
std::string StagingDirOf(const std::string& dir);

// Where each file of the snapshot comes from, decided by PlanRestore before anything is
// written, a few bytes a file: the snapshot's files are walked again to stage them (see
// StagingWalk), so nothing else per file is held.
struct RestorePlan {
  std::string staging;               // StagingDirOf(dir)
  std::string snapshot_id;           // the snapshot index blob id; empty: no snapshot
  std::vector<std::string> sources;  // local directories files are linked or copied from
  std::vector<std::string> stale;    // staging entries to remove first
  // Per directory present in the snapshot, in IndexFile::Cursor order (the root first):
  // whether its staging directory is to be made.
  std::vector<bool> make_dirs;
  // Per file present, in the same order: kKept, kDownload, or kLink/kCopy with the index
  // of its source in `sources` above kSourceShift.
  std::vector<uint16_t> files;
  // Of downloads an interrupted restore left (by file number): the parts verified.
  std::unordered_map<uint64_t, std::vector<bool>> have;
  // `downloaded`: the files to download, and the bytes of the parts they lack; `resumed`:
  // the bytes of the parts interrupted downloads left, verified (counted as reused).
  TreeTotals kept, linked, copied, downloaded;
  uint64_t resumed_bytes = 0;

  static constexpr uint16_t kKept = 0, kLink = 1, kCopy = 2, kDownload = 3;
  static constexpr int kSourceShift = 2;
};

// The plan to restore `snapshot` (null: an empty store) into store directory `dir`. Only
// reads; memory stays within the largest directory and the few bytes a file of the plan.
// kInvalidArgument, naming the entry, for a name that cannot be in an index; the index's
// errors (IndexFile::ReadDir).
Result<RestorePlan> PlanRestore(const std::string& dir, const StoreIndex* snapshot);

// kFailedPrecondition naming `store`, the bytes needed and the bytes free unless the file
// system of the existing directory `path` has `needed` bytes available.
Status CheckFreeSpace(const std::string& store, const std::string& path, uint64_t needed);

// Readies the staging area: removes stale entries and records the snapshot, if the files
// about to be staged are `verified` (their checksums checked): the record vouches for them
// to a later restore. Unverified, the area is left with no record.
Status PrepareStaging(const RestorePlan& plan, bool verified);

// The bytes of `file` in the parts that `have` (of VerifiedParts) marks.
uint64_t HaveBytes(const FileIndex& file, const std::vector<bool>& have);

// A file StagingWalk leaves to download.
struct PlannedDownload {
  FileIndex file;
  std::string rel_path;    // below the store directory
  std::string path;        // in the staging area
  std::vector<bool> have;  // the parts an interrupted download left, verified
};

// Stages the snapshot as `plan` says, a directory at a time, in PlanRestore's order: makes
// the directories and links or copies the local files (copies are made durable when
// `sync`), and hands out the files to download. `plan` and `snapshot` must outlive it.
class StagingWalk {
 public:
  StagingWalk(const RestorePlan& plan, const StoreIndex* snapshot, bool sync);
  // The next file to download, once what comes before it is staged; nullopt after the last.
  // Errors name the file. No call may follow an error.
  Result<std::optional<PlannedDownload>> Next();

 private:
  // Links or copies `f` into `path` from the source `how` names.
  Status StageLocal(const FileIndex& f, const std::string& path, uint16_t how);

  const RestorePlan& plan_;
  const bool sync_;
  std::optional<IndexFile::Cursor> cursor_;
  size_t dir_number_ = 0;
  uint64_t file_number_ = 0;
  IndexFile::Dir dir_;    // the directory being staged
  std::string rel_;       // its path below the store
  size_t next_file_ = 0;  // in dir_.files_present
};

// Once every file is staged: makes the tree durable (if `sync`), swaps it with `dir` (or
// renames it there if `dir` is absent), then deletes the previous contents. A failure to
// delete them is not an error: the next restore clears them from the staging area.
// `*swapped` is set once `dir` holds the staged tree: an error after that (syncing the
// parent directory) leaves it there.
Status SwapIn(const std::string& dir, const RestorePlan& plan, bool sync, bool* swapped);

}  // namespace blobstate

#endif  // BLOBSTATE_RESTORE_STAGING_H_
