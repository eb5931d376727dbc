#include "diff/diff.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <set>

#include "index/codec.h"
#include "util/fs.h"
#include "util/hash.h"

namespace blobstate {
namespace {

constexpr auto kRacyWindow = std::chrono::seconds(2);

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

FileMetadata FromStat(const struct stat& st) {
  FileMetadata m;
  m.size = static_cast<uint64_t>(st.st_size);
  m.mtime_ns = MtimeNs(st);
  m.mode = st.st_mode & 07777;
  m.uid = st.st_uid;
  m.gid = st.st_gid;
  m.device = st.st_dev;
  m.inode = st.st_ino;
  return m;
}

// One entry of a local directory, from lstat.
struct Entry {
  std::string name;
  struct stat st;
};

// Lists `path` (sorted by name), rejecting entries that cannot be in a store.
Result<std::vector<Entry>> ListDir(const std::string& path, const DiffOptions& options) {
  ASSIGN_OR_RETURN(File dir, File::Open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  int fd = ::dup(dir.fd());
  if (fd < 0) return ErrnoError("dup " + path, errno);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd), ::closedir);
  if (!d) {
    ::close(fd);
    return ErrnoError("opendir " + path, errno);
  }
  std::vector<Entry> entries;
  errno = 0;
  while (struct dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (std::find(options.excluded_names.begin(), options.excluded_names.end(), name) !=
        options.excluded_names.end()) {
      continue;
    }
    std::string full = JoinPath(path, name);
    if (!IsValidName(name)) return InvalidArgumentError("name not allowed in a store: " + full);
    Entry entry{std::move(name), {}};
    if (::fstatat(dir.fd(), entry.name.c_str(), &entry.st, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoError("stat " + full, errno);
    }
    if (S_ISLNK(entry.st.st_mode)) {
      return InvalidArgumentError("symbolic links are not supported in stores: " + full);
    }
    if (!S_ISREG(entry.st.st_mode) && !S_ISDIR(entry.st.st_mode)) {
      return InvalidArgumentError("only regular files and directories are supported: " + full);
    }
    entries.push_back(std::move(entry));
    errno = 0;
  }
  if (errno != 0) return ErrnoError("readdir " + path, errno);
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return entries;
}

// Clears the removed lists of `dir` and its subdirectories.
void StripRemoved(DirIndex& dir) {
  dir.files_removed.clear();
  dir.subdirs_removed.clear();
  for (DirIndex& sub : dir.subdirs_present) StripRemoved(sub);
}

// Whether the local file `path` (metadata `now`) has the content of `recorded`. On a match
// returns the FileIndex to retain: the old blobs with the local file's metadata.
Result<std::optional<FileIndex>> MatchFile(const std::string& path, const FileMetadata& now,
                                           const struct stat& st, const FileIndex& recorded) {
  if (now.size != recorded.metadata.size) return std::optional<FileIndex>();
  FileIndex kept = recorded;
  if (SameIdentity(recorded.metadata, now)) {
    kept.metadata = now;
    return std::optional<FileIndex>(std::move(kept));
  }
  auto hashed_at = std::chrono::system_clock::now();
  uint64_t size = 0;
  ASSIGN_OR_RETURN(Checksum sum, ChecksumLike(path, recorded, &size));
  if (sum != recorded.checksum || size != recorded.metadata.size) {
    return std::optional<FileIndex>();
  }
  kept.metadata = MetadataForIndex(st, hashed_at);
  return std::optional<FileIndex>(std::move(kept));
}

// A DirDiff in which everything under `path` (at `depth` below the root) is new.
Result<DirDiff> AddedDir(const std::string& path, std::string name, const DiffOptions& options,
                         int depth);

Result<DirDiff> Diff(const std::string& path, std::string name, const DirIndex& remote,
                     const DiffOptions& options, int depth) {
  if (depth > kMaxDirectoryDepth) {
    return InvalidArgumentError("directories nested deeper than " +
                                std::to_string(kMaxDirectoryDepth) + " levels: " + path);
  }
  ASSIGN_OR_RETURN(std::vector<Entry> entries, ListDir(path, options));
  DirDiff diff;
  diff.name = std::move(name);
  std::map<std::string_view, const FileIndex*> remote_files;
  for (const FileIndex& f : remote.files_present) remote_files.emplace(f.name, &f);
  std::map<std::string_view, const DirIndex*> remote_dirs;
  for (const DirIndex& d : remote.subdirs_present) remote_dirs.emplace(d.name, &d);
  std::set<std::string_view> local_files, local_dirs;

  for (const Entry& e : entries) {
    std::string full = JoinPath(path, e.name);
    if (S_ISDIR(e.st.st_mode)) {
      local_dirs.insert(e.name);
      auto it = remote_dirs.find(e.name);
      if (it == remote_dirs.end()) {
        ASSIGN_OR_RETURN(DirDiff added, AddedDir(full, e.name, options, depth + 1));
        diff.subdirs_added.push_back(std::move(added));
      } else {
        ASSIGN_OR_RETURN(DirDiff sub, Diff(full, e.name, *it->second, options, depth + 1));
        diff.subdirs_retained.push_back(std::move(sub));
      }
      continue;
    }
    local_files.insert(e.name);
    FileMetadata now = FromStat(e.st);
    auto it = remote_files.find(e.name);
    if (it != remote_files.end()) {
      ASSIGN_OR_RETURN(std::optional<FileIndex> kept, MatchFile(full, now, e.st, *it->second));
      if (kept) {
        diff.files_retained.push_back(std::move(*kept));
        continue;
      }
      diff.files_removed.push_back(*it->second);  // changed: its old blobs go
    }
    diff.files_added.push_back(LocalFile{e.name, now});
  }
  for (const FileIndex& f : remote.files_present) {
    if (!local_files.count(f.name)) diff.files_removed.push_back(f);
  }
  for (const DirIndex& d : remote.subdirs_present) {
    if (local_dirs.count(d.name)) continue;
    DirIndex removed = d;  // what it held is what goes; what it had removed went before
    StripRemoved(removed);
    diff.subdirs_removed.push_back(std::move(removed));
  }
  return diff;
}

Result<DirDiff> AddedDir(const std::string& path, std::string name, const DiffOptions& options,
                         int depth) {
  return Diff(path, std::move(name), DirIndex{}, options, depth);
}

}  // namespace

bool DirDiff::Empty() const {
  if (!files_added.empty() || !files_removed.empty() || !subdirs_added.empty() ||
      !subdirs_removed.empty()) {
    return false;
  }
  return std::all_of(subdirs_retained.begin(), subdirs_retained.end(),
                     [](const DirDiff& d) { return d.Empty(); });
}

uint64_t DirDiff::FilesAdded() const {
  uint64_t n = files_added.size();
  for (const auto* list : {&subdirs_added, &subdirs_retained}) {
    for (const DirDiff& d : *list) n += d.FilesAdded();
  }
  return n;
}

uint64_t DirDiff::BytesAdded() const {
  uint64_t n = 0;
  for (const LocalFile& f : files_added) n += f.metadata.size;
  for (const auto* list : {&subdirs_added, &subdirs_retained}) {
    for (const DirDiff& d : *list) n += d.BytesAdded();
  }
  return n;
}

Result<DirDiff> DiffDir(const std::string& local_dir, const DirIndex& remote,
                        const DiffOptions& options) {
  return Diff(local_dir, "", remote, options, 0);
}

Result<Checksum> ChecksumLike(const std::string& path, const FileIndex& like, uint64_t* size) {
  if (like.blobs.size() <= 1 || !HasPartChecksums(like)) return HashFile(path, size);
  ASSIGN_OR_RETURN(File f, File::Open(path, O_RDONLY | O_NOFOLLOW));
  std::vector<Checksum> parts;
  uint64_t total = 0;
  for (size_t i = 0; i < like.blobs.size(); ++i) {
    const uint64_t end = i + 1 < like.blobs.size() ? like.blobs[i + 1].offset : like.metadata.size;
    uint64_t got = 0;
    ASSIGN_OR_RETURN(Checksum part, HashNext(f, end - like.blobs[i].offset, &got));
    parts.push_back(part);
    total += got;
  }
  uint64_t rest = 0;
  RETURN_IF_ERROR(HashRest(f, &rest).status());  // a longer file: count what is left
  *size = total + rest;
  return FileChecksumOfParts(parts);
}

FileMetadata MetadataForIndex(const struct stat& st,
                              std::chrono::system_clock::time_point hashed_at) {
  FileMetadata m = FromStat(st);
  auto mtime = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(m.mtime_ns)));
  if (mtime + kRacyWindow > hashed_at) {
    m.device = 0;
    m.inode = 0;
  }
  return m;
}

bool SameIdentity(const FileMetadata& recorded, const FileMetadata& now) {
  return recorded.inode != 0 && recorded.device == now.device && recorded.inode == now.inode &&
         recorded.size == now.size && recorded.mtime_ns == now.mtime_ns;
}

}  // namespace blobstate
