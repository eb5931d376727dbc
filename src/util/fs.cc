#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "util/random.h"

namespace blobstate {

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

Result<File> File::Open(const std::string& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoError("open " + path, errno);
  return File(fd, path);
}

Result<File> File::OpenAt(const File& dir, const std::string& name, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::openat(dir.fd(), name.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  std::string path = JoinPath(dir.path(), name);
  if (fd < 0) return ErrnoError("open " + path, errno);
  return File(fd, std::move(path));
}

Result<File> File::Unnamed(const std::string& dir) {
  const char* tmp = std::getenv("TMPDIR");
  Status first;
  for (const std::string& d : {dir, std::string(tmp != nullptr && *tmp != 0 ? tmp : "/tmp")}) {
    if (d.empty()) continue;
    Result<File> f = File::Open(d, O_TMPFILE | O_RDWR, 0600);
    if (f.ok()) return f;
    if (first.ok()) first = f.status();
  }
  const int fd = ::memfd_create("blobstate-scratch", MFD_CLOEXEC);
  if (fd < 0) return first.ok() ? ErrnoError("memfd_create", errno) : first;
  return File(fd, "(memory)");
}

Result<size_t> File::Read(void* buf, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd_, buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return ErrnoError("read " + path_, errno);
  }
}

Result<size_t> File::ReadAt(void* buf, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, static_cast<char*>(buf) + done, n - done, offset + done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read " + path_, errno);
    }
    if (r == 0) break;
    done += r;
  }
  return done;
}

Status File::Write(const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t r = ::write(fd_, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write " + path_, errno);
    }
    p += r;
    n -= r;
  }
  return Status::Ok();
}

Status File::WriteAt(const void* buf, size_t n, uint64_t offset) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t r = ::pwrite(fd_, p, n, offset);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write " + path_, errno);
    }
    p += r;
    n -= r;
    offset += r;
  }
  return Status::Ok();
}

Status File::Sync() {
  if (::fsync(fd_) != 0) return ErrnoError("fsync " + path_, errno);
  return Status::Ok();
}

Result<struct stat> File::Stat() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return ErrnoError("stat " + path_, errno);
  return st;
}

Status File::Close() {
  int fd = fd_;
  fd_ = -1;
  if (fd >= 0 && ::close(fd) != 0 && errno != EINTR) return ErrnoError("close " + path_, errno);
  return Status::Ok();
}

Result<struct stat> LStat(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return ErrnoError("stat " + path, errno);
  return st;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return InvalidArgumentError("mkdir: empty path");
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoError("mkdir " + prefix, errno);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat " + path, errno);
  if (!S_ISDIR(st.st_mode)) return FailedPreconditionError("not a directory: " + path);
  return Status::Ok();
}

Status SyncDir(const std::string& path) {
  ASSIGN_OR_RETURN(File dir, File::Open(path, O_RDONLY | O_DIRECTORY));
  return dir.Sync();
}

Status SyncFileSystem(const std::string& path) {
  ASSIGN_OR_RETURN(File dir, File::Open(path, O_RDONLY | O_DIRECTORY));
  if (::syncfs(dir.fd()) != 0) return ErrnoError("syncfs " + path, errno);
  return Status::Ok();
}

namespace {

// Removes the contents of the directory open as `dir`, then nothing else.
Status RemoveContents(int dir_fd, const std::string& path) {
  int fd = ::dup(dir_fd);
  if (fd < 0) return ErrnoError("dup " + path, errno);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return ErrnoError("opendir " + path, errno);
  }
  struct stat self;
  if (::fstat(dir_fd, &self) != 0) {
    ::closedir(d);
    return ErrnoError("stat " + path, errno);
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    entries.emplace_back(std::move(name), e->d_type == DT_DIR);
  }
  ::closedir(d);
  for (const auto& [name, is_dir_hint] : entries) {
    if (::unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM)
      return ErrnoError("unlink " + JoinPath(path, name), errno);
    int child = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) return ErrnoError("open " + JoinPath(path, name), errno);
    struct stat st;
    Status s = ::fstat(child, &st) != 0 ? ErrnoError("stat " + JoinPath(path, name), errno)
               : st.st_dev != self.st_dev
                   ? FailedPreconditionError(JoinPath(path, name) +
                                             " is a mount point: removal stops there")
                   : RemoveContents(child, JoinPath(path, name));
    ::close(child);
    RETURN_IF_ERROR(s);
    if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return ErrnoError("rmdir " + JoinPath(path, name), errno);
    }
  }
  return Status::Ok();
}

}  // namespace

Status RemoveAll(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return Status::Ok();
  if (errno != EISDIR && errno != EPERM) return ErrnoError("unlink " + path, errno);
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + path, errno);
  Status s = RemoveContents(fd, path);
  ::close(fd);
  RETURN_IF_ERROR(s);
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("rmdir " + path, errno);
  return Status::Ok();
}

namespace {

// FindMountPoint below the open directory `fd` (`path`), on device `dev`.
Result<std::string> FindMountPointIn(int fd, const std::string& path, dev_t dev) {
  int dup_fd = ::dup(fd);
  if (dup_fd < 0) return ErrnoError("dup " + path, errno);
  DIR* d = ::fdopendir(dup_fd);
  if (d == nullptr) {
    ::close(dup_fd);
    return ErrnoError("opendir " + path, errno);
  }
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name == "." || name == ".." || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)) continue;
    subdirs.emplace_back(name);
  }
  ::closedir(d);
  for (const std::string& name : subdirs) {
    const std::string sub = JoinPath(path, name);
    int child = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      if (errno == ENOTDIR || errno == ELOOP || errno == ENOENT) continue;  // not a directory
      return ErrnoError("open " + sub, errno);
    }
    struct stat st;
    Result<std::string> found = ::fstat(child, &st) != 0
                                    ? Result<std::string>(ErrnoError("stat " + sub, errno))
                                : st.st_dev != dev ? Result<std::string>(sub)
                                                   : FindMountPointIn(child, sub, dev);
    ::close(child);
    if (!found.ok() || !found->empty()) return found;
  }
  return std::string();
}

}  // namespace

Result<std::string> FindMountPoint(const std::string& path) {
  ASSIGN_OR_RETURN(File dir, File::Open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  ASSIGN_OR_RETURN(struct stat st, dir.Stat());
  return FindMountPointIn(dir.fd(), path, st.st_dev);
}

Result<bool> IsEmptyDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return ErrnoError("opendir " + path, errno);
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoError("rename " + from + " to " + to, errno);
  }
  return Status::Ok();
}

Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
    return ErrnoError("rename " + from + " to " + to, errno);
  }
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp-" + RandomHex(8);
  {
    ASSIGN_OR_RETURN(File f, File::Open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
    Status s = f.Write(data.data(), data.size());
    if (s.ok()) s = f.Sync();
    if (s.ok()) s = f.Close();
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (Status s = Rename(tmp, path); !s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return SyncDir(DirName(path));
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_size) {
  ASSIGN_OR_RETURN(File f, File::Open(path, O_RDONLY));
  ASSIGN_OR_RETURN(struct stat st, f.Stat());
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    return InvalidArgumentError("file too large (" + std::to_string(st.st_size) +
                                " bytes): " + path);
  }
  std::string out;
  out.resize(st.st_size);
  ASSIGN_OR_RETURN(size_t n, f.ReadAt(out.data(), out.size(), 0));
  out.resize(n);
  return out;
}

Status SetModeAndMtime(File& f, uint32_t mode, int64_t mtime_ns) {
  if (::fchmod(f.fd(), mode & 0777) != 0) return ErrnoError("chmod " + f.path(), errno);
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = mtime_ns / 1'000'000'000;
  times[0].tv_nsec = times[1].tv_nsec = mtime_ns % 1'000'000'000;
  if (times[0].tv_nsec < 0) {  // mtimes before 1970
    times[0].tv_sec = times[1].tv_sec -= 1;
    times[0].tv_nsec = times[1].tv_nsec += 1'000'000'000;
  }
  if (::futimens(f.fd(), times) != 0) return ErrnoError("set mtime of " + f.path(), errno);
  return Status::Ok();
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

Status CopyFile(const std::string& src, const std::string& dest) {
  ASSIGN_OR_RETURN(File in, File::Open(src, O_RDONLY | O_NOFOLLOW));
  ASSIGN_OR_RETURN(struct stat st, in.Stat());
  ASSIGN_OR_RETURN(File out, File::Open(dest, O_WRONLY | O_CREAT | O_EXCL, st.st_mode & 07777));
  IoBuffer buf(kIoChunkSize);
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, in.Read(buf.data(), buf.size()));
    if (n == 0) break;
    RETURN_IF_ERROR(out.Write(buf.data(), n));
  }
  // The mode too: open's was masked by the umask.
  if (::fchmod(out.fd(), st.st_mode & 07777) != 0) return ErrnoError("chmod " + dest, errno);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(out.fd(), times) != 0) return ErrnoError("set mtime of " + dest, errno);
  return out.Close();
}

namespace {

// An entry of a directory: its inode and whether it is a directory, from readdir (lstat
// only where the file system does not say).
struct DirEntry {
  ino_t ino;
  bool is_dir;
};

// The entries of the directory `path` but "." and "..".
Result<std::map<std::string, DirEntry>> ListEntries(const std::string& path) {
  std::map<std::string, DirEntry> entries;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(path.c_str()), ::closedir);
  if (!d) return ErrnoError("opendir " + path, errno);
  errno = 0;
  while (struct dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    DirEntry entry{e->d_ino, e->d_type == DT_DIR};
    if (e->d_type == DT_UNKNOWN) {
      ASSIGN_OR_RETURN(struct stat st, LStat(JoinPath(path, name)));
      entry = {st.st_ino, S_ISDIR(st.st_mode)};
    }
    entries.emplace(std::move(name), entry);
    errno = 0;
  }
  if (errno != 0) return ErrnoError("readdir " + path, errno);
  return entries;
}

// LinkTree of the directory `src` (stat `root`) into the directory `dest`.
Status LinkTreeInto(const std::string& src, const struct stat& root, const std::string& dest) {
  ASSIGN_OR_RETURN(struct stat at, LStat(dest));
  if ((at.st_mode & 07777) != (root.st_mode & 07777) &&
      ::chmod(dest.c_str(), root.st_mode & 07777) != 0) {
    return ErrnoError("chmod " + dest, errno);
  }
  ASSIGN_OR_RETURN(auto from_entries, ListEntries(src));
  ASSIGN_OR_RETURN(auto to_entries, ListEntries(dest));
  // Whether `to`, an entry of `dest`, is the same file as the entry `st` of `src`.
  auto same_file = [&at](const DirEntry& to, const struct stat& st) {
    return S_ISREG(st.st_mode) && !to.is_dir && st.st_dev == at.st_dev && st.st_ino == to.ino;
  };
  for (const auto& entry : from_entries) {
    const std::string& name = entry.first;
    const std::string from_path = JoinPath(src, name), to_path = JoinPath(dest, name);
    ASSIGN_OR_RETURN(struct stat st, LStat(from_path));
    auto it = to_entries.find(name);
    if (it != to_entries.end()) {
      const DirEntry to = it->second;
      to_entries.erase(it);
      if (same_file(to, st)) continue;
      if (S_ISDIR(st.st_mode) && to.is_dir) {
        RETURN_IF_ERROR(LinkTreeInto(from_path, st, to_path));
        continue;
      }
      RETURN_IF_ERROR(RemoveAll(to_path));
    }
    if (S_ISDIR(st.st_mode)) {
      if (::mkdir(to_path.c_str(), st.st_mode & 07777) != 0) {
        return ErrnoError("mkdir " + to_path, errno);
      }
      RETURN_IF_ERROR(LinkTreeInto(from_path, st, to_path));
    } else if (!S_ISREG(st.st_mode)) {
      return InvalidArgumentError("only regular files and directories can be linked: " + from_path);
    } else if (::link(from_path.c_str(), to_path.c_str()) != 0) {
      if (errno != EXDEV && errno != EPERM) {
        return ErrnoError("link " + from_path + " to " + to_path, errno);
      }
      RETURN_IF_ERROR(CopyFile(from_path, to_path));
    }
  }
  for (const auto& [name, to] : to_entries) {  // what `src` no longer has
    RETURN_IF_ERROR(RemoveAll(JoinPath(dest, name)));
  }
  return Status::Ok();
}

}  // namespace

Status LinkTree(const std::string& src, const std::string& dest) {
  ASSIGN_OR_RETURN(struct stat root, LStat(src));
  if (!S_ISDIR(root.st_mode)) return InvalidArgumentError("not a directory: " + src);
  struct stat st;
  if (::lstat(dest.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoError("stat " + dest, errno);
    if (::mkdir(dest.c_str(), root.st_mode & 07777) != 0) return ErrnoError("mkdir " + dest, errno);
  } else if (!S_ISDIR(st.st_mode)) {
    return InvalidArgumentError("not a directory: " + dest);
  }
  return LinkTreeInto(src, root, dest);
}

}  // namespace blobstate
