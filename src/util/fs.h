// The one seam to the local file system: RAII descriptors, full reads and writes,
// durable writes (temp name, fsync, rename, fsync of the directory), tree removal.
// Every error names the path concerned.
#ifndef BLOBSTATE_UTIL_FS_H_
#define BLOBSTATE_UTIL_FS_H_

#include <fcntl.h>
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "blobstate/status.h"

namespace blobstate {

// Size of one read or write on the streaming paths (hashing, upload, download).
inline constexpr size_t kIoChunkSize = 1 << 20;

// A heap buffer that is not zero-initialised.
class IoBuffer {
 public:
  explicit IoBuffer(size_t size) : data_(new char[size]), size_(size) {}
  char* data() { return data_.get(); }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_;
};

// An open file descriptor, closed on destruction. Move-only.
class File {
 public:
  File() = default;
  File(File&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  File& operator=(File&& o) noexcept;
  ~File();

  // open(2) with O_CLOEXEC added.
  static Result<File> Open(const std::string& path, int flags, mode_t mode = 0644);
  // openat(2) relative to the directory `dir`.
  static Result<File> OpenAt(const File& dir, const std::string& name, int flags,
                             mode_t mode = 0644);

  // A new file without a name, gone once closed whatever happens: O_TMPFILE in `dir`,
  // else (no such files on its file system, or no `dir`) in $TMPDIR or /tmp, else in
  // memory (memfd_create). For scratch data too large to hold in memory.
  static Result<File> Unnamed(const std::string& dir);

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Reads up to n bytes; 0 means end of file.
  Result<size_t> Read(void* buf, size_t n);
  // Reads up to n bytes at `offset`, retrying short reads; fewer only at end of file.
  Result<size_t> ReadAt(void* buf, size_t n, uint64_t offset);
  // Writes all n bytes.
  Status Write(const void* buf, size_t n);
  Status WriteAt(const void* buf, size_t n, uint64_t offset);
  Status Sync();
  Result<struct stat> Stat() const;
  // Closes and reports the error of close(2).
  Status Close();

 private:
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// lstat(2); kNotFound if absent.
Result<struct stat> LStat(const std::string& path);
bool PathExists(const std::string& path);

// mkdir -p. Existing directories are fine.
Status MakeDirs(const std::string& path, mode_t mode = 0755);
// fsync(2) of a directory, making renames and creations in it durable.
Status SyncDir(const std::string& path);
// syncfs(2) of the file system that holds `path` (a directory): everything written to it
// before the call is durable when it returns, as after sync(1).
Status SyncFileSystem(const std::string& path);
// rm -rf that never follows symlinks and never crosses into another file system (a mount
// point inside `path` fails with kFailedPrecondition naming it). A missing path is OK.
Status RemoveAll(const std::string& path);
// The first directory below `path` (never following symlinks) that is on another file
// system than `path` (a mount point); "" if there is none.
Result<std::string> FindMountPoint(const std::string& path);
// Whether the directory `path` has no entries.
Result<bool> IsEmptyDir(const std::string& path);
// rename(2).
Status Rename(const std::string& from, const std::string& to);
// rename(2) that fails (kAlreadyExists) rather than replace an existing `to`.
Status RenameNoReplace(const std::string& from, const std::string& to);

// Writes `data` to `path` durably: temp name, fsync, rename, fsync of the directory.
// Readers see the old content or the new, never a torn file.
Status WriteFileAtomic(const std::string& path, std::string_view data);
// Reads a whole (small) file: for indexes and metadata, never for store data.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_size = 1u << 30);

// Makes `dest` a copy of the tree `src` made of hard links: directories (empty ones
// included) with `src`'s permission bits, regular files linked, or copied in kIoChunkSize
// chunks keeping mode and mtime when linking fails with EXDEV (another file system) or
// EPERM. If `dest` exists, only what differs changes: a file that already is the same file
// (device and inode) stays, other entries are replaced, and entries `src` lacks are
// removed. Never follows symlinks: kInvalidArgument naming the path for a symlink or special
// file in `src`, or for a `dest` that is not a directory.
Status LinkTree(const std::string& src, const std::string& dest);

// Copies the regular file `src` to the new file `dest` (O_EXCL) in kIoChunkSize chunks,
// keeping mode and mtime.
Status CopyFile(const std::string& src, const std::string& dest);

// Gives the open file `f` the permission bits of `mode` (07777 & 0777: never setuid,
// setgid or sticky) and the mtime `mtime_ns` (ns since the epoch, negative before 1970).
Status SetModeAndMtime(File& f, uint32_t mode, int64_t mtime_ns);

// The directory part of `path` ("." when there is none).
std::string DirName(const std::string& path);
// The last component of `path` (all of it when there is no slash).
std::string BaseName(const std::string& path);
// `dir` + "/" + `name`.
std::string JoinPath(std::string_view dir, std::string_view name);

}  // namespace blobstate

#endif  // BLOBSTATE_UTIL_FS_H_
