// The delta between a local directory tree and the index of its last snapshot.
//
// For backup, TreeDiff says, one directory at a time, which files to upload (new or
// changed), which to keep (their blobs are reused), which to remove, and which
// directories are gone. It reads the previous index from an IndexFile a directory at a
// time, so memory stays within the largest directory whatever the size of the tree.
//
// A file is unchanged only when its content checksum matches. The checksum recorded in the
// index is reused without reading the file while the file's stat identity is the recorded
// one (docs/format.md, "Checksum reuse"); otherwise the file is hashed.
//
// Example:
//   TreeDiff diff("/state/store-ckpt-42", previous_index, {});
//   while (true) {
//     ASSIGN_OR_RETURN(std::optional<DirDelta> dir, diff.Next());
//     if (!dir) break;
//     // upload dir->files_added, keep dir->files_retained, delete dir->files_removed later
//   }
//
// TreeDiff only reads the local tree and the index, on the calling thread.
#ifndef BLOBSTATE_DIFF_DIFF_H_
#define BLOBSTATE_DIFF_DIFF_H_

#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blobstate/index.h"
#include "blobstate/status.h"
#include "index/index_file.h"

namespace blobstate {

// A local file that is new or changed since the last snapshot.
struct LocalFile {
  std::string name;
  FileMetadata metadata;  // from lstat; identity trusted per docs/format.md
};

// One directory of the new snapshot.
struct DirDelta {
  size_t number = 0;  // in the order TreeDiff::Next gives them: the root is 0
  size_t parent = 0;  // the number of the parent (the root's is 0)
  std::string name;   // empty for the root
  std::string path;   // below the local root: "" for the root, else "a/b"
  // Gone since the last snapshot (nothing of it is local): listed_removed for the top of
  // such a subtree, which its parent lists as removed; removed for all of it.
  bool listed_removed = false;
  bool removed = false;
  std::vector<LocalFile> files_added;     // new or changed: upload. Never in a removed one.
  std::vector<FileIndex> files_retained;  // unchanged content: keep the blobs (metadata
                                          // refreshed from the local file). In a removed
                                          // directory: the files it held, gone too.
  std::vector<FileIndex> files_removed;   // gone or changed: delete the blobs after commit
};

struct DiffOptions {
  // File names (at any depth) treated as absent: never uploaded, ignored when comparing
  // (e.g. an offsets file written beside a checkpoint after its upload). Default: none.
  std::vector<std::string> excluded_names;
  // The files of the tree's top directory that are not local (a lazy restore's, listed in
  // the tree's manifest, RemoteManifestOf): its root's files, in the index format. Each
  // one missing locally must be a file of the previous snapshot with the same size and
  // checksum, and is retained as it; one present locally is diffed as any other. Default:
  // none.
  std::shared_ptr<const IndexFile> remote;
};

class TreeDiff {
 public:
  // Diffs the directory `local_dir` against `previous`, the index of the last snapshot
  // (null for the first one).
  TreeDiff(std::string local_dir, std::shared_ptr<const IndexFile> previous, DiffOptions options);

  // The next directory: each before what is under it, siblings by name; nullopt after the
  // last. Errors name the path: kInvalidArgument for a symlink, device, fifo or socket (not
  // supported in stores), a name that cannot be in an index, or nesting deeper than an
  // index may hold; kNotFound if `local_dir` is missing; kFailedPrecondition for a remote
  // file that the previous snapshot does not hold as it is (or a remote directory); the
  // indexes' errors (IndexFile::ReadDir); I/O errors as they come. No call may follow an
  // error.
  Result<std::optional<DirDelta>> Next();

 private:
  struct Pending {
    size_t parent;
    std::string name;
    std::string path;
    int depth;
    std::optional<IndexFile::DirRef> previous;  // its entry in the previous index
    bool listed_removed;
    bool removed;
  };
  Status DiffLocal(const Pending& p, IndexFile::Dir previous, DirDelta& delta);

  const std::string root_;
  const std::shared_ptr<const IndexFile> previous_;
  const DiffOptions options_;
  std::vector<Pending> stack_;
  size_t next_number_ = 0;
};

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
