// Local checkpoint directories of a store, and snapshots of a closed store.
#include "blobstate/store.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "blobstate/checkpoint.h"
#include "util/fs.h"

namespace blobstate {
namespace {

std::string_view WithoutTrailingSlashes(std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  return dir;
}

// The checkpoint ids of the entries "<base>-<id><suffix>" in `parent`, unsorted: real
// directories when `suffix` is empty (checkpoint directories), else regular files (their
// manifests, ".remote"). Symlinks and other entries with such names are left out.
Result<std::vector<std::string>> CheckpointIdsIn(const std::string& parent, std::string_view base,
                                                 std::string_view suffix = "") {
  std::vector<std::string> ids;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(parent.c_str()), ::closedir);
  if (!d) {
    if (errno == ENOENT) return ids;
    return ErrnoError("opendir " + parent, errno);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name.size() > base.size() + 1 + suffix.size() && name.starts_with(base) &&
        name[base.size()] == '-' && name.ends_with(suffix) &&
        IsValidCheckpointId(
            name.substr(base.size() + 1, name.size() - base.size() - 1 - suffix.size()))) {
      names.emplace_back(name);
    }
    errno = 0;
  }
  if (errno != 0) return ErrnoError("readdir " + parent, errno);
  for (const std::string& name : names) {
    struct stat st;
    if (::lstat(JoinPath(parent, name).c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // deleted meanwhile
      return ErrnoError("stat " + JoinPath(parent, name), errno);
    }
    if (suffix.empty() ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) {
      ids.push_back(name.substr(base.size() + 1, name.size() - base.size() - 1 - suffix.size()));
    }
  }
  return ids;
}

// Hard-links the tree `dir` into `dest`. The newest checkpoint directory of `dir`, if any,
// becomes `dest` first, so that only what changed since it is linked and unlinked: most of
// a backup of many small files with few changes went to linking them all anew.
Status SnapshotDirectory(const std::string& dir, const std::string& dest) {
  ASSIGN_OR_RETURN(std::vector<std::string> previous, ListCheckpointDirs(dir));
  if (!previous.empty()) RETURN_IF_ERROR(Rename(previous.back(), dest));
  return LinkTree(dir, dest);
}

Status SnapshotRocksDb(const std::string& dir, const std::string& dest, BlobStore* remote) {
  ASSIGN_OR_RETURN(std::unique_ptr<RocksDbStore> db, RocksDbStore::Open(dir, {.remote = remote}));
  return db->Checkpoint(dest);
}

}  // namespace

std::string CheckpointDirOf(std::string_view store_dir, std::string_view checkpoint_id) {
  std::string out(WithoutTrailingSlashes(store_dir));
  out += '-';
  out += checkpoint_id;
  return out;
}

Result<std::vector<std::string>> ListCheckpointDirs(const std::string& store_dir) {
  const std::string dir(WithoutTrailingSlashes(store_dir));
  const size_t slash = dir.find_last_of('/');
  const std::string parent = DirName(dir);
  const std::string_view base =
      slash == std::string::npos ? std::string_view(dir) : std::string_view(dir).substr(slash + 1);
  if (base.empty()) return InvalidArgumentError("not a store directory: \"" + store_dir + "\"");
  ASSIGN_OR_RETURN(std::vector<std::string> ids, CheckpointIdsIn(parent, base));
  std::sort(ids.begin(), ids.end());  // ids sort by time as strings
  std::vector<std::string> dirs;
  dirs.reserve(ids.size());
  for (const std::string& id : ids) dirs.push_back(CheckpointDirOf(dir, id));
  return dirs;
}

Status DeleteCheckpointDirs(const std::string& store_dir, std::string_view keep_id) {
  ASSIGN_OR_RETURN(std::vector<std::string> dirs, ListCheckpointDirs(store_dir));
  const std::string keep = keep_id.empty() ? "" : CheckpointDirOf(store_dir, keep_id);
  for (const std::string& dir : dirs) {
    if (dir != keep) RETURN_IF_ERROR(RemoveAll(dir));
  }
  // Then the manifests of the directories gone (a manifest without its directory is
  // harmless; the other way round, a directory would seem to lack files).
  const std::string dir(WithoutTrailingSlashes(store_dir));
  ASSIGN_OR_RETURN(std::vector<std::string> listed,
                   CheckpointIdsIn(DirName(dir), BaseName(dir), ".remote"));
  for (const std::string& id : listed) {
    if (id != keep_id) RETURN_IF_ERROR(RemoveAll(RemoteManifestOf(CheckpointDirOf(dir, id))));
  }
  return Status::Ok();
}

Status SnapshotClosedStore(const StoreConfig& config, const std::string& dest, BlobStore* remote) {
  if (config.dir.empty()) {
    return FailedPreconditionError("store " + config.name + " has no directory to snapshot");
  }
  ASSIGN_OR_RETURN(struct stat st, LStat(config.dir));
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgumentError("store directory is a symlink or not a directory: " + config.dir);
  }
  if (PathExists(dest)) return AlreadyExistsError("snapshot destination exists: " + dest);
  Status s = config.engine == StoreEngine::kRocksDb ? SnapshotRocksDb(config.dir, dest, remote)
                                                    : SnapshotDirectory(config.dir, dest);
  // A partial snapshot must not pass for a checkpoint directory; `dest` did not exist.
  if (!s.ok()) {
    RemoveAll(dest).IgnoreError();
    RemoveAll(RemoteManifestOf(dest)).IgnoreError();
  }
  return s;
}

}  // namespace blobstate
