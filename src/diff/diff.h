// The delta between a local directory and the directory index of its last snapshot.
//
// For backup, DiffDir says which files to upload (new or changed), which to keep (their
// blobs are reused), which to remove, and the same for subdirectories, recursively.
//
// A file is unchanged only when its content checksum matches. The checksum recorded in the
// index is reused without reading the file while the file's stat identity is the recorded
// one (docs/format.md, "Checksum reuse"); otherwise the file is hashed.
//
// Example:
//   ASSIGN_OR_RETURN(DirDiff diff, DiffDir("/state/store-ckpt-42", previous.root, {}));
//   // upload diff.files_added, keep diff.files_retained, delete diff.files_removed later
//
// DiffDir only reads the local tree, on the calling thread.
#ifndef BLOBSTATE_DIFF_DIFF_H_
#define BLOBSTATE_DIFF_DIFF_H_

#include <sys/stat.h>

#include <chrono>
#include <string>
#include <vector>

#include "blobstate/index.h"
#include "blobstate/status.h"

namespace blobstate {

// A local file that is new or changed since the last snapshot.
struct LocalFile {
  std::string name;
  FileMetadata metadata;  // from lstat; identity trusted per docs/format.md
};

struct DirDiff {
  std::string name;                       // empty for the root
  std::vector<LocalFile> files_added;     // new or changed: upload
  std::vector<FileIndex> files_retained;  // unchanged content: keep the blobs (metadata
                                          // refreshed from the local file)
  std::vector<FileIndex> files_removed;   // gone or changed: delete the blobs after commit
  std::vector<DirDiff> subdirs_added;     // new: everything under them is in files_added
  std::vector<DirDiff> subdirs_retained;  // present before and now: diffed recursively
  std::vector<DirIndex> subdirs_removed;  // gone: every blob under them is deleted

  // Whether nothing was added or removed at any depth.
  bool Empty() const;
  // The number and bytes of files to upload, at every depth.
  uint64_t FilesAdded() const;
  uint64_t BytesAdded() const;
};

struct DiffOptions {
  // File names (at any depth) treated as absent: never uploaded, ignored when comparing
  // (e.g. an offsets file written beside a checkpoint after its upload). Default: none.
  std::vector<std::string> excluded_names;
};

// Diffs the directory `local_dir` against `remote`, the root of the previous snapshot (an
// empty DirIndex for the first one). Errors name the path: kInvalidArgument for a symlink,
// device, fifo or socket (not supported in stores) or a name that cannot be in an index;
// kNotFound if `local_dir` is missing; I/O errors as they come.
Result<DirDiff> DiffDir(const std::string& local_dir, const DirIndex& remote,
                        const DiffOptions& options);

// The checksum of the local file at `path`, taken the way `like` records its own (one
// read): part by part at `like`'s offsets, composed by FileChecksumOfParts, when its parts
// record theirs; else of the whole content. Sets *size to the bytes read: a file of
// another size has another checksum, whatever this returns.
Result<Checksum> ChecksumLike(const std::string& path, const FileIndex& like, uint64_t* size);

// FileMetadata of a file from its stat, as recorded in an index for a checksum computed at
// `hashed_at`: the identity (device, inode) is zeroed when the file is racily fresh, i.e.
// modified less than 2 s before `hashed_at` (docs/format.md, "Checksum reuse").
FileMetadata MetadataForIndex(const struct stat& st,
                              std::chrono::system_clock::time_point hashed_at);

// Whether the checksum recorded with `recorded` may be reused for a file whose current
// metadata is `now`: same non-zero identity, size and mtime.
bool SameIdentity(const FileMetadata& recorded, const FileMetadata& now);

}  // namespace blobstate

#endif  // BLOBSTATE_DIFF_DIFF_H_
