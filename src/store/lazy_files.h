// LazyFiles: the files of a store directory that are still only in the blob store, while a
// lazy restore makes them local.
//
// A read of a range waits for what covers it, got at once (ahead of the background fetch):
// the chunks that hold it, by one ranged read, where the parts record their chunks'
// checksums (index version 3); else the whole parts. From a blob store that reads locally
// (file://: BlobStore::ReadRange), the chunks are read on the reader's thread and served,
// not kept: that store is its own cache. FetchAll gets every part in the background. Each
// chunk or part is checked against the checksum its snapshot index records before anything
// reads it, so no unverified byte is ever served. When every part of a file is local, the
// file is finished (its checksum from its parts, recorded mode and mtime, fsync) and
// renamed to its name. Once every file is, the directory is an ordinary one: nothing of
// this class stays in it.
//
// A file's parts land in PartialNameOf(<dir>/<name>), a file of the recorded size. After a
// crash, the next LazyFiles of the same files keeps the parts found there that check out
// (VerifiedParts) and gets the rest.
//
// Example:
//   ASSIGN_OR_RETURN(auto files, LazyFiles::Create(transfer, "store s", dir, remote));
//   ... open the store through LazyFileSystem(files) ...
//   Future<void> local = files->FetchAll(executor, 4);
//
// Thread safety: every method may be called from any thread. Read and MakeLocal block:
// call them from the store's threads (RocksDB's), never from `transfer`'s executor.
#ifndef BLOBSTATE_STORE_LAZY_FILES_H_
#define BLOBSTATE_STORE_LAZY_FILES_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "blobstate/future.h"
#include "blobstate/index.h"
#include "blobstate/status.h"
#include "blobstate/store.h"
#include "index/index_file.h"
#include "transfer/transfer.h"
#include "util/fs.h"

namespace blobstate {

// The reads of a store's files (the store's own: RocksDB waits for them), so that the
// background download yields to them: while one waits, or for `linger` after one that was
// made on its reader's thread (from a blob store that reads locally, whose reads compete
// with the download for the same cores: its reader is likely to read again), it starts no
// part beyond one in flight (so that it never stops).
class Foreground {
 public:
  // How long a reader counts as reading after a read made on its thread. Measured on a
  // 1 GiB store through file:// (4 runs each, alternating): random Gets during the download
  // ran at a median 50,100/s with it, 23,600/s without, and the store was local after
  // 1.18-1.29 s against 0.87-0.93 s. Two parts in flight instead of one while a read
  // lingers left Gets at 22-28k/s against 25-41k/s on a 4 GiB store. A read that waited
  // for a remote store does not linger: when every read did, the downloads through s3rver
  // and Azurite (10 ms added per request) took 1.41x and 1.28x a full restore at 1 GiB.
  static constexpr std::chrono::milliseconds kLinger{10};

  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `now`: the clock that times the linger (tests give their own).
  explicit Foreground(std::chrono::steady_clock::duration linger = kLinger,
                      Clock now = std::chrono::steady_clock::now)
      : linger_(linger), now_(std::move(now)) {}

  // A read starts and ends waiting. `linger`: it was made on its reader's thread (from a
  // blob store that reads locally), so that its reader competes with the download for the
  // cores; it then lingers.
  void Enter();
  void Leave(bool linger);
  // Completes when the background download may start a part: at once if no read waits or
  // lingers, or none of its parts is in flight. Each completion must be matched by a Done.
  Future<void> Turn();
  // A part that Turn let start landed (or failed): its file's finish, if it was the last
  // part, is not waited for, so that the next part downloads while the file is synced.
  void Done();

 private:
  // Whether a part may start beyond those in flight. REQUIRES: mu_ held.
  bool MayStart(std::chrono::steady_clock::time_point now) const;
  // Decrements `count` (waiting_ or running_), then lets the queued turns go that may.
  // `linger`: a read ended that lingers from now.
  void Decrement(int& count, bool linger);

  const std::chrono::steady_clock::duration linger_;
  const Clock now_;
  std::mutex mu_;
  int waiting_ = 0;  // GUARDED_BY(mu_); reads
  int running_ = 0;  // GUARDED_BY(mu_); background parts in flight
  // GUARDED_BY(mu_); when the last read that lingers ended (none yet: nullopt)
  std::optional<std::chrono::steady_clock::time_point> last_read_;
  std::vector<Promise<void>> queued_;  // GUARDED_BY(mu_); turns not given yet
};

// A file not yet local: reads of it, and its parts' state.
class LazyFile : public std::enable_shared_from_this<LazyFile> {
 public:
  LazyFile(Transfer& transfer, std::shared_ptr<Foreground> foreground, std::string what,
           std::string path, FileIndex index, File tmp, std::vector<bool> have);

  const FileIndex& index() const { return index_; }
  // Reads up to `n` bytes at `offset` into `buf` (fewer only at the end of the file), once
  // what holds them is got and checked (see the top of this file). Errors name the store,
  // the file and the blob (kDataLoss for a chunk or part that does not match its checksum).
  // Returns only once every request it started ended, failed or not.
  Result<size_t> Read(uint64_t offset, size_t n, char* buf);
  // Waits until the file is local under its name (every part got, the file finished).
  Status MakeLocal();
  // Whether the file is finished and renamed to its name.
  bool local() const;
  // Once every part was got: OK if the file is local (or dropped), else why it is not.
  Status Settled() const;
  // A part's fetch: `landed` completes once its bytes are in the partial file, checked (or
  // the fetch failed); `local` once it is local, after the file is finished (its fsync) if
  // it was the last part.
  struct Fetch {
    Future<void> landed;
    Future<void> local;
  };
  // Gets part `i` unless it is local or on its way. Both complete at once for a dropped
  // file, and for a local part (`local` once the file is finished, if it is being); without
  // an error for a file dropped while the part was fetched.
  Fetch FetchPart(size_t i);
  // FetchPart(i).local.
  Future<void> GetPart(size_t i) { return FetchPart(i).local; }
  // Stops serving the file (it was deleted): its partial file goes. False if the file was
  // local already: it is then at its name, for the caller to delete.
  bool Drop();

 private:
  enum class PartState { kAbsent, kFetching, kLocal };
  struct Part {
    PartState state = PartState::kAbsent;
    std::vector<Promise<void>> landed;   // of the fetch under way: Fetch::landed
    std::vector<Promise<void>> waiters;  // of the fetch under way: Fetch::local
    std::vector<bool> chunks;            // those local (and checked), while it is not
  };
  // A read of chunks of a part, from chunk `first` on.
  struct ChunkRead {
    size_t part;
    size_t first;
    Future<std::string> bytes;
  };
  // Where the blob store reads locally and part `i` (whose chunks record checksums) is not
  // local: reads the chunks that hold bytes [from, to) of it on this thread and copies
  // those bytes, checked, to `out`; nothing is kept. Else nullopt.
  std::optional<Status> ReadHere(size_t i, uint64_t from, uint64_t to, char* out);
  // Reads the chunks that hold bytes [from, to) of part `i` (whose chunks record checksums)
  // and are not local, in one request; nullopt if none is to read.
  std::optional<ChunkRead> GetChunks(size_t i, uint64_t from, uint64_t to);
  // Writes what `read` got into the partial file, unless the part got there first.
  Status PutChunks(ChunkRead& read);
  // Called once part `i`'s fetch ended.
  void PartDone(size_t i, const Status& s);
  // Finishes the file once its last part is local (on the thread that got that part).
  Status Finish();

  Transfer& transfer_;
  const std::shared_ptr<Foreground> foreground_;  // Read and MakeLocal count in it
  const std::string what_;                        // "store s, file a/b": for messages
  const std::string path_;
  const std::string tmp_path_;
  const FileIndex index_;
  File tmp_;                            // pread from any thread; pwrite of checked chunks under mu_
  std::atomic<bool> reads_here_{true};  // false once the store said it reads only remotely
  mutable std::mutex mu_;
  std::vector<Part> parts_;                    // GUARDED_BY(mu_)
  size_t parts_left_ = 0;                      // GUARDED_BY(mu_)
  bool local_ = false;                         // GUARDED_BY(mu_)
  bool dropped_ = false;                       // GUARDED_BY(mu_)
  Status finish_error_;                        // GUARDED_BY(mu_)
  std::vector<Promise<void>> local_waiters_;   // GUARDED_BY(mu_); of MakeLocal
  std::vector<Promise<void>> finish_waiters_;  // GUARDED_BY(mu_); of FetchPart, while finishing
};

// The manifest of a lazy restore (RemoteManifestOf, store.h) is a snapshot index
// (docs/format.md, section 2) whose root lists the files not local yet.
// Writes `remote` (its root's files present are the files) as the manifest of `dir`,
// durably.
Status WriteRemoteManifest(const std::string& dir, const SnapshotIndex& remote);
// Removes the manifest of `dir`, if any, durably.
Status RemoveRemoteManifest(const std::string& dir);
// The manifest of `dir`, read a directory at a time, if it has one; else null. Errors
// name the manifest.
Result<std::shared_ptr<const IndexFile>> OpenRemoteManifest(const std::string& dir);

class LazyFiles : public std::enable_shared_from_this<LazyFiles> {
 public:
  // Serves `files` (name below `dir` -> the snapshot's entry, whose parts must record
  // checksums) of store directory `dir`. A file already at its name is left out; one
  // whose partial file holds checked parts continues from them. `what` names the store in
  // messages ("store s"). kFailedPrecondition if a file's parts record no checksums.
  static Result<std::shared_ptr<LazyFiles>> Create(Transfer& transfer, std::string what,
                                                   std::string dir,
                                                   std::map<std::string, FileIndex> files);

  // LazyFiles of the manifest of `dir` (see RemoteManifestOf), if it has one, else null.
  // Once FetchAll made every file local, it deletes the manifest. Errors name the manifest.
  static Result<std::shared_ptr<LazyFiles>> Open(Transfer& transfer, std::string what,
                                                 const std::string& dir);

  const std::string& dir() const { return dir_; }
  // The file at `path` (`dir` + "/" + its name) if it is not local yet, or the file an
  // alias at `path` reads as; else null.
  std::shared_ptr<LazyFile> Find(const std::string& path) const;
  // The names of the files not yet local, and of the aliases, directly in directory `path`.
  std::vector<std::string> RemoteChildren(const std::string& path) const;
  // The size of the largest part of a file not local yet; 0 if there is none.
  uint64_t LargestPart() const;
  // Stops serving the file at `path` (it was deleted): true if it was served (an alias
  // just goes); false if it is not, or local already, for the caller to delete.
  bool Drop(const std::string& path);

  // Aliases: hard links of files not local yet (RocksDB's Checkpoint links a store's tables
  // into a directory it then renames), made without downloading them. An alias reads as its
  // file, for as long as it is in its directory; it never becomes local there.
  // Makes `path` an alias of `file` (a file of these LazyFiles); false if `file` is local
  // already, so that a real link can be made.
  bool AddAlias(const std::string& path, std::shared_ptr<LazyFile> file);
  // For the rename of directory `from` to `to`: writes the aliases directly in `from` as
  // the manifest of `to` (RemoteManifestOf), durably, before the rename, so that `to` never
  // lacks a file without listing it. False (and nothing written) if `from` holds none.
  Result<bool> WriteAliasManifest(const std::string& from, const std::string& to) const;
  // Forgets the aliases directly in `dir` (renamed away: its manifest lists them).
  void ForgetAliases(const std::string& dir);

  // Gets every part not yet local, `window` at a time, file after file, starting no part
  // beyond one in flight while a read waits (a part is in flight until it lands: a file's
  // finish, after its last part, runs beside the next part); completes once every file is
  // local (their names durable, then the manifest, if any, deleted), with the first error
  // otherwise. Stop ends it early: what is in flight ends, nothing more starts. Failpoints
  // (docs/failpoints.md): lazy.before_part and lazy.after_part around each part it gets;
  // lazy.before_finish and lazy.after_finish around each file's finish (whoever got its
  // last part).
  Future<void> FetchAll(Executor& executor, size_t window);
  void Stop();

 private:
  explicit LazyFiles(std::string dir) : dir_(std::move(dir)) {}

  const std::string dir_;
  std::string manifest_;  // what Open read, if any
  const std::shared_ptr<Foreground> foreground_ = std::make_shared<Foreground>();
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<LazyFile>> files_;    // GUARDED_BY(mu_); by path
  std::map<std::string, std::shared_ptr<LazyFile>> aliases_;  // GUARDED_BY(mu_); by path
};

}  // namespace blobstate

#endif  // BLOBSTATE_STORE_LAZY_FILES_H_
