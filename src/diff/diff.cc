#include "diff/diff.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>

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

// One entry of a local directory, from lstat; or a file not local (`remote`, st unset).
struct Entry {
  std::string name;
  struct stat st;
  const FileIndex* remote = nullptr;
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

// Adds the files of `remote` that `entries` (sorted by name) lacks, keeping them sorted.
void AddRemote(const std::vector<FileIndex>& remote, std::vector<Entry>& entries) {
  const size_t local = entries.size();
  auto by_name = [](const Entry& a, const Entry& b) { return a.name < b.name; };
  for (const FileIndex& f : remote) {
    Entry e{f.name, {}, &f};
    if (!std::binary_search(entries.begin(), entries.begin() + local, e, by_name)) {
      entries.push_back(std::move(e));
    }
  }
  if (entries.size() > local) std::sort(entries.begin(), entries.end(), by_name);
}

// Whether the local file `path` (metadata `now`) has the content of `recorded`. On a match
// `recorded` becomes the FileIndex to retain: the old blobs with the local file's metadata.
Result<bool> MatchFile(const std::string& path, const FileMetadata& now, const struct stat& st,
                       FileIndex& recorded) {
  if (now.size != recorded.metadata.size) return false;
  if (SameIdentity(recorded.metadata, now)) {
    recorded.metadata = now;
    return true;
  }
  auto hashed_at = std::chrono::system_clock::now();
  uint64_t size = 0;
  ASSIGN_OR_RETURN(Checksum sum, ChecksumLike(path, recorded, &size));
  if (sum != recorded.checksum || size != recorded.metadata.size) return false;
  recorded.metadata = MetadataForIndex(st, hashed_at);
  return true;
}

}  // namespace

TreeDiff::TreeDiff(std::string local_dir, std::shared_ptr<const IndexFile> previous,
                   DiffOptions options)
    : root_(std::move(local_dir)), previous_(std::move(previous)), options_(std::move(options)) {
  stack_.push_back(Pending{.parent = 0,
                           .depth = 0,
                           .previous = previous_ ? std::optional(previous_->root()) : std::nullopt,
                           .listed_removed = false,
                           .removed = false});
}

Result<std::optional<DirDelta>> TreeDiff::Next() {
  if (stack_.empty()) return std::optional<DirDelta>();
  Pending p = std::move(stack_.back());
  stack_.pop_back();
  DirDelta delta{.number = next_number_++,
                 .parent = p.parent,
                 .name = p.name,
                 .path = p.path,
                 .listed_removed = p.listed_removed,
                 .removed = p.removed};
  IndexFile::Dir previous;
  if (p.previous) {
    ASSIGN_OR_RETURN(previous, previous_->ReadDir(*p.previous));
  }
  if (!p.removed) {
    RETURN_IF_ERROR(DiffLocal(p, std::move(previous), delta));
    return std::optional<DirDelta>(std::move(delta));
  }
  // Gone: what it held goes too; what it had removed went before.
  delta.files_retained = std::move(previous.files_present);
  for (auto it = previous.subdirs_present.rbegin(); it != previous.subdirs_present.rend(); ++it) {
    stack_.push_back(Pending{delta.number, it->name, JoinPath(p.path, it->name), p.depth + 1,
                             std::move(*it), false, true});
  }
  return std::optional<DirDelta>(std::move(delta));
}

Status TreeDiff::DiffLocal(const Pending& p, IndexFile::Dir previous, DirDelta& delta) {
  const std::string path = p.path.empty() ? root_ : JoinPath(root_, p.path);
  if (p.depth > kMaxDirectoryDepth) {
    return InvalidArgumentError("directories nested deeper than " +
                                std::to_string(kMaxDirectoryDepth) + " levels: " + path);
  }
  ASSIGN_OR_RETURN(std::vector<Entry> entries, ListDir(path, options_));
  IndexFile::Dir not_local;  // held while `entries` point into it
  if (p.depth == 0 && options_.remote != nullptr) {
    ASSIGN_OR_RETURN(not_local, options_.remote->ReadDir(options_.remote->root()));
    if (!not_local.subdirs_present.empty()) {
      return FailedPreconditionError("the files of " + root_ +
                                     " that are not local list a directory: not supported");
    }
    AddRemote(not_local.files_present, entries);
  }
  std::map<std::string_view, FileIndex*> remote_files;
  for (FileIndex& f : previous.files_present) remote_files.emplace(f.name, &f);
  std::map<std::string_view, IndexFile::DirRef*> remote_dirs;
  for (IndexFile::DirRef& d : previous.subdirs_present) remote_dirs.emplace(d.name, &d);
  std::vector<Pending> children;  // in name order
  for (const Entry& e : entries) {
    const std::string full = JoinPath(path, e.name);
    const std::string rel = p.path.empty() ? e.name : JoinPath(p.path, e.name);
    if (e.remote != nullptr) {  // kept as the previous snapshot holds it
      auto it = remote_files.find(e.name);
      if (it == remote_files.end() || it->second->checksum != e.remote->checksum ||
          it->second->metadata.size != e.remote->metadata.size) {
        return FailedPreconditionError(
            full +
            " is not local (listed as still in the blob store) and the previous "
            "snapshot does not hold it with that content");
      }
      delta.files_retained.push_back(std::move(*it->second));
      remote_files.erase(it);
      continue;
    }
    if (S_ISDIR(e.st.st_mode)) {
      auto it = remote_dirs.find(e.name);
      std::optional<IndexFile::DirRef> ref;
      if (it != remote_dirs.end()) {
        ref = std::move(*it->second);
        remote_dirs.erase(it);
      }
      children.push_back(
          Pending{delta.number, e.name, rel, p.depth + 1, std::move(ref), false, false});
      continue;
    }
    const FileMetadata now = FromStat(e.st);
    auto it = remote_files.find(e.name);
    if (it != remote_files.end()) {
      FileIndex& recorded = *it->second;
      remote_files.erase(it);
      ASSIGN_OR_RETURN(bool same, MatchFile(full, now, e.st, recorded));
      (same ? delta.files_retained : delta.files_removed).push_back(std::move(recorded));
      if (same) continue;  // else changed: its old blobs go
    }
    delta.files_added.push_back(LocalFile{e.name, now});
  }
  for (auto& [name, f] : remote_files) delta.files_removed.push_back(std::move(*f));
  for (auto& [name, d] : remote_dirs) {
    children.push_back(Pending{delta.number, d->name, JoinPath(p.path, d->name), p.depth + 1,
                               std::move(*d), true, true});
  }
  std::sort(children.begin(), children.end(),
            [](const Pending& a, const Pending& b) { return a.name < b.name; });
  for (auto it = children.rbegin(); it != children.rend(); ++it) stack_.push_back(std::move(*it));
  return Status::Ok();
}

Result<Checksum> ChecksumLike(const std::string& path, const FileIndex& like, uint64_t* size) {
  if (like.blobs.size() <= 1 || !HasPartChecksums(like)) return HashFile(path, size);
  ASSIGN_OR_RETURN(File f, File::Open(path, O_RDONLY | O_NOFOLLOW));
  std::vector<Checksum> parts;
  uint64_t total = 0;
  for (size_t i = 0; i < like.blobs.size(); ++i) {
    const uint64_t end = PartEnd(like, i);
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
