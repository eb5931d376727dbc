// StoreDirLock and the owner record beside a store directory (store.h).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "blobstate/store.h"
#include "util/fs.h"

namespace blobstate {
namespace {

std::string LockPathOf(const std::string& dir) {
  std::string path = dir;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path + ".lock";
}

}  // namespace

Result<StoreDirLock> StoreDirLock::Acquire(const std::string& dir) {
  const std::string path = LockPathOf(dir);
  RETURN_IF_ERROR(MakeDirs(DirName(path)));
  ASSIGN_OR_RETURN(File file, File::Open(path, O_RDWR | O_CREAT, 0644));
  if (::flock(file.fd(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return FailedPreconditionError("store directory " + dir +
                                     " is in use: another process (or another open task of "
                                     "this one) holds its lock " +
                                     path);
    }
    return ErrnoError("flock " + path, errno);
  }
  StoreDirLock lock(::dup(file.fd()));  // `file` closes its own descriptor; the dup keeps the lock
  if (lock.fd_ < 0) return ErrnoError("dup " + path, errno);
  return lock;
}

StoreDirLock::StoreDirLock(StoreDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

StoreDirLock& StoreDirLock::operator=(StoreDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

StoreDirLock::~StoreDirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

std::string StoreOwner(std::string_view job, std::string_view task, std::string_view store) {
  return std::string(job) + "/" + std::string(task) + "/" + std::string(store);
}

Status RecordStoreDirOwner(const std::string& dir, const std::string& owner) {
  const std::string path = LockPathOf(dir);
  RETURN_IF_ERROR(MakeDirs(DirName(path)));
  ASSIGN_OR_RETURN(File file, File::Open(path, O_WRONLY | O_CREAT, 0644));
  const std::string line = owner + "\n";
  RETURN_IF_ERROR(file.WriteAt(line.data(), line.size(), 0));
  if (::ftruncate(file.fd(), static_cast<off_t>(line.size())) != 0) {
    return ErrnoError("ftruncate " + path, errno);
  }
  RETURN_IF_ERROR(file.Sync());
  return file.Close();
}

Result<std::string> StoreDirOwner(const std::string& dir) {
  Result<std::string> content = ReadSmallFile(LockPathOf(dir), 4096);
  if (content.status().code() == StatusCode::kNotFound) return std::string();
  if (!content.ok()) return content.status();
  std::string owner = std::move(*content);
  if (!owner.empty() && owner.back() == '\n') owner.pop_back();
  return owner;
}

Result<bool> IsRocksDbOpenElsewhere(const std::string& dir) {
  const std::string path = JoinPath(dir, "LOCK");
  Result<File> file = File::Open(path, O_RDONLY);
  if (file.status().code() == StatusCode::kNotFound) return false;
  if (!file.ok()) return file.status();
  // RocksDB locks the whole file with fcntl(F_SETLK); F_GETLK reports a conflicting lock
  // of another process (never this process's own).
  struct flock probe = {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  if (::fcntl(file->fd(), F_GETLK, &probe) != 0) return ErrnoError("fcntl F_GETLK " + path, errno);
  return probe.l_type != F_UNLCK;
}

}  // namespace blobstate
