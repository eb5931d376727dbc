#include "restore/staging.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "blobstate/store.h"
#include "diff/diff.h"
#include "index/codec.h"
#include "transfer/transfer.h"
#include "util/failpoint.h"
#include "util/fs.h"
#include "util/random.h"

namespace blobstate {
namespace {

std::string MarkerOf(const std::string& staging) { return staging + ".snapshot"; }

// Files that the store's engine never changes in place, and so may be shared by hard link
// between a local checkpoint and the restored store: RocksDB's SST and blob files. Others
// (MANIFEST, WAL, OPTIONS, any file of a plain directory store) are copied.
bool IsImmutable(std::string_view name) {
  return name.ends_with(".sst") || name.ends_with(".blob");
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// The entries of directory `path` by name, from lstat; empty if it is missing or unreadable.
std::map<std::string, struct stat> ListEntries(const std::string& path) {
  std::map<std::string, struct stat> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(path.c_str()), ::closedir);
  if (!d) return out;
  while (struct dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d.get()), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      out.emplace(std::move(name), st);
    }
  }
  return out;
}

std::string Below(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : JoinPath(rel, name);
}

void Add(TreeTotals& t, const FileIndex& f) {
  ++t.files;
  t.bytes += f.metadata.size;
}

class Planner {
 public:
  Planner(const std::string& dir, const StoreIndex* snapshot, RestorePlan& plan)
      : plan_(plan), now_(std::chrono::system_clock::now()) {
    plan_.staging = StagingDirOf(dir);
    if (snapshot != nullptr) plan_.snapshot_id = snapshot->index_blob_id;
    Result<std::string> marker = ReadSmallFile(MarkerOf(plan_.staging), 4096);
    trusted_ = snapshot != nullptr && marker.ok() && *marker == plan_.snapshot_id;
    // Where local copies are looked for: the snapshot's own checkpoint first (its files
    // have the identities the index records), then the store, then other checkpoints.
    const std::string own =
        snapshot != nullptr ? CheckpointDirOf(dir, snapshot->index->header().metadata.checkpoint_id)
                            : "";
    if (!own.empty() && PathExists(own)) plan_.sources.push_back(own);
    plan_.sources.push_back(dir);
    Result<std::vector<std::string>> others = ListCheckpointDirs(dir);
    if (others.ok()) {
      for (std::string& o : *others) {
        if (o != own && plan_.sources.size() < kMaxSources) plan_.sources.push_back(std::move(o));
      }
    }
  }

  // Plans every directory of `snapshot` (null: none) present, in IndexFile::Cursor order;
  // `staged`: whether the staging area exists.
  Status Run(const StoreIndex* snapshot, bool staged) {
    if (snapshot == nullptr) return PlanDir(IndexFile::Dir{}, "", staged);
    IndexFile::Cursor cursor(*snapshot->index, /*present_only=*/true);
    staged_[snapshot->index->root().offset] = staged;
    while (true) {
      IndexFile::DirRef at;
      ASSIGN_OR_RETURN(std::optional<IndexFile::Dir> dir, cursor.Next(&at));
      if (!dir) return Status::Ok();
      auto it = staged_.find(at.offset);
      const bool here_staged = it != staged_.end() && it->second;
      if (it != staged_.end()) staged_.erase(it);
      RETURN_IF_ERROR(PlanDir(*dir, IndexFile::PathOf(at), here_staged));
    }
  }

 private:
  static constexpr size_t kMaxSources = size_t{1} << (16 - RestorePlan::kSourceShift);

  // Plans directory `d` of the snapshot at `rel` below the store; `staged`: whether its
  // staging directory exists (else everything in it is planned anew).
  Status PlanDir(const IndexFile::Dir& d, const std::string& rel, bool staged) {
    const std::string here = rel.empty() ? plan_.staging : JoinPath(plan_.staging, rel);
    plan_.make_dirs.push_back(!staged);
    std::map<std::string, struct stat> entries;
    if (staged) entries = ListEntries(here);
    std::set<std::string_view> wanted;
    std::set<std::string> partials;  // interrupted downloads to continue
    for (const IndexFile::DirRef& sub : d.subdirs_present) {
      const std::string sub_rel = Below(rel, sub.name);
      if (!IsValidName(sub.name)) return InvalidArgumentError("invalid directory name: " + sub_rel);
      wanted.insert(sub.name);
      auto it = entries.find(sub.name);
      const bool is_dir = it != entries.end() && S_ISDIR(it->second.st_mode);
      if (it != entries.end() && !is_dir) plan_.stale.push_back(JoinPath(here, sub.name));
      staged_[sub.offset] = is_dir;
    }
    for (const FileIndex& f : d.files_present) {
      const std::string file_rel = Below(rel, f.name);
      if (!IsValidName(f.name)) return InvalidArgumentError("invalid file name: " + file_rel);
      wanted.insert(f.name);
      const std::string path = JoinPath(here, f.name);
      auto it = entries.find(f.name);
      if (it != entries.end()) {
        if (S_ISREG(it->second.st_mode) && Matches(path, it->second, f, trusted_)) {
          Add(plan_.kept, f);
          plan_.files.push_back(RestorePlan::kKept);
          continue;
        }
        plan_.stale.push_back(path);
      }
      PlanFile(f, file_rel);
      const std::string partial = PartialNameOf(path);
      const std::string partial_name = partial.substr(partial.rfind('/') + 1);
      if (entries.count(partial_name) && Resume(f, partial)) partials.insert(partial_name);
    }
    for (const auto& [name, st] : entries) {
      if (!wanted.count(name) && !partials.count(name)) plan_.stale.push_back(JoinPath(here, name));
    }
    return Status::Ok();
  }

  // Whether the file at `path` (stat `st`) holds the content `f` records.
  bool Matches(const std::string& path, const struct stat& st, const FileIndex& f,
               bool trust_mtime) const {
    if (static_cast<uint64_t>(st.st_size) != f.metadata.size) return false;
    if (trust_mtime && MtimeNs(st) == f.metadata.mtime_ns) return true;
    if (SameIdentity(f.metadata, MetadataForIndex(st, now_))) return true;
    uint64_t size = 0;
    Result<Checksum> sum = ChecksumLike(path, f, &size);
    return sum.ok() && *sum == f.checksum && size == f.metadata.size;
  }

  // Whether the download just planned for `f` continues the interrupted one staged at
  // `partial`: then it skips the parts of it that are verified.
  bool Resume(const FileIndex& f, const std::string& partial) {
    if (plan_.files.back() != RestorePlan::kDownload) return false;
    std::vector<bool> have = VerifiedParts(partial, f);
    const uint64_t kept = HaveBytes(f, have);
    plan_.downloaded.bytes -= kept;
    plan_.resumed_bytes += kept;
    if (have.empty()) return false;
    plan_.have[plan_.files.size() - 1] = std::move(have);
    return true;
  }

  void PlanFile(const FileIndex& f, const std::string& rel) {
    for (size_t i = 0; i < plan_.sources.size(); ++i) {
      const std::string from = JoinPath(plan_.sources[i], rel);
      Result<struct stat> st = LStat(from);
      if (!st.ok() || !S_ISREG(st->st_mode) || !Matches(from, *st, f, false)) continue;
      const bool link = IsImmutable(f.name);
      Add(link ? plan_.linked : plan_.copied, f);
      plan_.files.push_back(static_cast<uint16_t>((link ? RestorePlan::kLink : RestorePlan::kCopy) |
                                                  (i << RestorePlan::kSourceShift)));
      return;
    }
    Add(plan_.downloaded, f);
    plan_.files.push_back(RestorePlan::kDownload);
  }

  RestorePlan& plan_;
  const std::chrono::system_clock::time_point now_;
  bool trusted_ = false;
  // Whether the staging directory of each directory planned for but not yet reached (by
  // its offset in the index) exists.
  std::unordered_map<uint64_t, bool> staged_;
};

// Copies `from` to `to` (absent) by way of a temporary name, with the mode and mtime of `f`.
Status CopyIn(const std::string& from, const std::string& to, const FileIndex& f, bool sync) {
  const std::string tmp = JoinPath(DirName(to), ".blobstate-tmp-" + RandomHex(8));
  Status s = CopyFile(from, tmp);
  if (s.ok()) {
    Result<File> file = File::Open(tmp, O_RDWR | O_NOFOLLOW);
    s = file.status();
    if (s.ok()) s = SetModeAndMtime(*file, f.metadata.mode, f.metadata.mtime_ns);
    if (s.ok() && sync) s = file->Sync();
    if (s.ok()) s = file->Close();
  }
  if (s.ok()) s = Rename(tmp, to);
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

}  // namespace

std::string StagingDirOf(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d + ".restore";
}

Result<RestorePlan> PlanRestore(const std::string& dir, const StoreIndex* snapshot) {
  RestorePlan plan;
  Planner planner(dir, snapshot, plan);
  Result<struct stat> root = LStat(plan.staging);
  const bool staged = root.ok() && S_ISDIR(root->st_mode);
  if (root.ok() && !staged) plan.stale.push_back(plan.staging);  // never followed
  RETURN_IF_ERROR(planner.Run(snapshot, staged));
  return plan;
}

Status CheckFreeSpace(const std::string& store, const std::string& path, uint64_t needed) {
  struct statvfs fs;
  if (::statvfs(path.c_str(), &fs) != 0) return ErrnoError("statvfs " + path, errno);
  const uint64_t free = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (needed <= free) return Status::Ok();
  return FailedPreconditionError("restore of store " + store + " needs " + std::to_string(needed) +
                                 " bytes on the file system of " + path + ", which has " +
                                 std::to_string(free) + " bytes free: nothing was changed");
}

uint64_t HaveBytes(const FileIndex& file, const std::vector<bool>& have) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < have.size() && i < file.blobs.size(); ++i) {
    if (have[i]) bytes += PartEnd(file, i) - file.blobs[i].offset;
  }
  return bytes;
}

Status PrepareStaging(const RestorePlan& plan, bool verified) {
  const std::string marker = MarkerOf(plan.staging);
  // The marker vouches only for what it was written after: first the files of another
  // snapshot go, then it names this one.
  Result<std::string> recorded = ReadSmallFile(marker, 4096);
  const bool keep = verified && recorded.ok() && *recorded == plan.snapshot_id;
  if (recorded.ok() && !keep && ::unlink(marker.c_str()) != 0) {
    return ErrnoError("unlink " + marker, errno);
  }
  for (const std::string& path : plan.stale) RETURN_IF_ERROR(RemoveAll(path));
  if (verified && !plan.snapshot_id.empty() && !keep) {
    RETURN_IF_ERROR(WriteFileAtomic(marker, plan.snapshot_id));
  }
  return Status::Ok();
}

StagingWalk::StagingWalk(const RestorePlan& plan, const StoreIndex* snapshot, bool sync)
    : plan_(plan), sync_(sync) {
  if (snapshot != nullptr) cursor_.emplace(*snapshot->index, /*present_only=*/true);
}

Result<std::optional<PlannedDownload>> StagingWalk::Next() {
  while (true) {
    while (next_file_ < dir_.files_present.size()) {
      FileIndex& f = dir_.files_present[next_file_++];
      const uint64_t number = file_number_++;
      if (number >= plan_.files.size()) return InternalError("the restore plan has too few files");
      const uint16_t how = plan_.files[number];
      const std::string rel = Below(rel_, f.name);
      const std::string path = JoinPath(JoinPath(plan_.staging, rel_), f.name);
      if (how == RestorePlan::kKept) continue;
      if (how == RestorePlan::kDownload) {
        auto have = plan_.have.find(number);
        return std::optional(
            PlannedDownload{std::move(f), rel, path,
                            have == plan_.have.end() ? std::vector<bool>() : have->second});
      }
      Status s = StageLocal(f, path, how);
      if (!s.ok()) return s.WithContext("file " + rel);
    }
    // The next directory: the root first, even of no snapshot.
    IndexFile::DirRef at;
    std::optional<IndexFile::Dir> dir;
    if (cursor_) {
      ASSIGN_OR_RETURN(dir, cursor_->Next(&at));
    } else if (dir_number_ == 0) {
      dir.emplace();
    }
    if (!dir) return std::optional<PlannedDownload>();
    if (dir_number_ >= plan_.make_dirs.size()) {
      return InternalError("the restore plan has too few directories");
    }
    rel_ = cursor_ ? IndexFile::PathOf(at) : "";
    const std::string here = rel_.empty() ? plan_.staging : JoinPath(plan_.staging, rel_);
    if (plan_.make_dirs[dir_number_++] && ::mkdir(here.c_str(), 0755) != 0) {
      return ErrnoError("mkdir " + here, errno);
    }
    dir_ = std::move(*dir);
    next_file_ = 0;
  }
}

Status StagingWalk::StageLocal(const FileIndex& f, const std::string& path, uint16_t how) {
  const size_t source = how >> RestorePlan::kSourceShift;
  if (source >= plan_.sources.size()) return InternalError("the restore plan names no such source");
  const std::string from = JoinPath(plan_.sources[source], path.substr(plan_.staging.size() + 1));
  const bool link = (how & ((1 << RestorePlan::kSourceShift) - 1)) == RestorePlan::kLink;
  if (link && ::link(from.c_str(), path.c_str()) == 0) return Status::Ok();
  return CopyIn(from, path, f, sync_);
}

Status SwapIn(const std::string& dir, const RestorePlan& plan, bool sync, bool* swapped) {
  *swapped = false;
  const std::string parent = DirName(plan.staging);
  if (sync) RETURN_IF_ERROR(SyncFileSystem(plan.staging));
  // Once swapped, the staging area holds the previous contents: no marker may vouch for them.
  const std::string marker = MarkerOf(plan.staging);
  if (::unlink(marker.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("unlink " + marker, errno);
  }
  if (sync) RETURN_IF_ERROR(SyncDir(parent));
  const unsigned flags = PathExists(dir) ? RENAME_EXCHANGE : RENAME_NOREPLACE;
  RETURN_IF_ERROR(Failpoint("restore.before_swap"));
  if (::renameat2(AT_FDCWD, plan.staging.c_str(), AT_FDCWD, dir.c_str(), flags) != 0) {
    return ErrnoError("rename " + plan.staging + " to " + dir, errno);
  }
  *swapped = true;
  RETURN_IF_ERROR(Failpoint("restore.after_swap"));
  if (sync) RETURN_IF_ERROR(SyncDir(parent));
  RemoveAll(plan.staging).IgnoreError();
  return Status::Ok();
}

}  // namespace blobstate
