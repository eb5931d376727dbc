// LocalBlobStore: the `file://DIR` backend, the embedded default. Blobs are files under a
// directory on a local or mounted file system.
//
// Layout under DIR (the directories are created by Open):
//   blobs/<shard>/<id>    the bytes of blob <id> once it has no TTL. <shard> is two lowercase
//                         hex digits: the low byte of the 32-bit FNV-1a hash of <id>. Each
//                         '/' of the id makes a subdirectory; directories are never removed.
//   pending/<shard>/<id>  the bytes of blob <id> while it has a TTL; the file's mtime is the
//                         expiry. RemoveTtl renames it to blobs/<shard>/<id>.
//   objects/<name>        named object <name> (checkpoints); each '/' makes a subdirectory.
//   locks/<name>          lock file of named object <name>: every put of the object holds
//                         flock(2) on it (and a mutex within the process) from its
//                         condition check to its rename, so conditional puts are a
//                         compare-and-swap between processes and hosts whose file system
//                         maps flock to shared locks (local disks, NFSv4).
//   tmp/<128-bit random hex>.{blob,obj}
//                         files being written, created with O_EXCL. Never visible as blobs.
//
// A blob is one file, in exactly one of blobs/ and pending/, so a crash can never separate
// a blob from its TTL. A put streams the source into tmp/<r>.blob, sets its mtime to the
// expiry (with a TTL), and renames it into place: a reader sees all of it or nothing.
//
// Durability is batched, as `cp -r` + `sync` does: Put, Delete and RemoveTtl sync nothing
// themselves, and Flush (one syncfs(2)) makes all that completed before it durable. After a
// crash before Flush, what was not flushed may be lost; a blob in pending/ may then carry
// an older mtime and so expire early, which is harmless, since no persisted checkpoint can
// reference a blob put after the last Flush. Named objects are durable on return (temp
// file, fsync, rename, fsync of the directory).
//
// Expiry is lazy, as with an S3 lifecycle rule: a blob past its TTL stays readable (Get
// and RemoveTtl still work) until it is deleted, which gc does (DeleteExpired).
//
// Threads: every call runs on the store's executor: the id check, the factory call, every
// Read and Write of the source or sink, all file I/O. The caller's thread only enqueues.
// Each returned future completes on that executor. Safe for concurrent use.
//
// Example:
//   ASSIGN_OR_RETURN(std::unique_ptr<LocalBlobStore> store, LocalBlobStore::Open(dir, 4));
//   Result<std::string> id = store->Put(StringSourceFactory("x"), meta).GetFor(60s);
#ifndef BLOBSTATE_BLOBSTORE_LOCAL_LOCAL_BLOB_STORE_H_
#define BLOBSTATE_BLOBSTORE_LOCAL_LOCAL_BLOB_STORE_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/future.h"

namespace blobstate {

namespace local_internal {
struct Layout;
class OpenBlobs;
}  // namespace local_internal

class LocalBlobStore final : public BlobStore {
 public:
  // Temp files older than this are from crashed puts; Flush removes them.
  static constexpr std::chrono::hours kStaleTempAge{1};

  // Opens the store in the absolute directory `dir`, creating it and its layout if
  // needed, with a pool of `io_threads` threads of its own ("blobstore-local").
  // Errors: kInvalidArgument for a relative dir or io_threads == 0; file system errors.
  static Result<std::unique_ptr<LocalBlobStore>> Open(const std::string& dir, size_t io_threads);
  // Same, but runs requests on `executor`. Requests keep what they need alive, so the
  // store may be destroyed while some are queued; `executor` must outlive them.
  static Result<std::unique_ptr<LocalBlobStore>> Open(const std::string& dir, Executor& executor);

  // With an own pool: runs every queued request, then joins the pool, so every future
  // handed out completes. REQUIRES: not called on the store's executor.
  ~LocalBlobStore() override;

  // Put: see BlobStore. Errors: the factory's and source's errors unchanged; kDataLoss if
  // the source yields more or fewer bytes than its size(); file system errors (ENOSPC is
  // kFailedPrecondition: never retried). Nothing is visible after a failure.
  Future<std::string> Put(SourceFactory source, const BlobMetadata& metadata) override;
  // Get: kInvalidArgument for an invalid id (before any I/O; the factory is not called);
  // kNotFound naming the id if the blob is absent (the factory is not called); the
  // factory's and sink's errors unchanged (Finish is then not called).
  Future<void> Get(const std::string& id, SinkFactory sink) override;
  Future<void> GetRange(const std::string& id, uint64_t offset, uint64_t length,
                        SinkFactory sink) override;
  // ReadRange: reads the range on the calling thread, as GetRange does on the executor.
  // The files of the last blobs read so stay open until the store is destroyed or deletes
  // them: up to an eighth of the soft limit on open files (OpenBlobs::DefaultCapacity).
  Status ReadRange(const std::string& id, uint64_t offset, uint64_t length,
                   const SinkFactory& sink) override;
  // Delete: removes the blob, with or without a TTL. kGone if it was absent;
  // kInvalidArgument as for Get.
  Future<void> Delete(const std::string& id) override;
  // RemoveTtl: moves the blob from pending/ to blobs/; kNotFound if it is in neither.
  Future<void> RemoveTtl(const std::string& id) override;
  // ExpiryOf: the mtime of the blob's file in pending/; nullopt if it is in blobs/.
  Future<std::optional<std::chrono::system_clock::time_point>> ExpiryOf(
      const std::string& id) override;
  // ListBlobs: a page holds blobs of one shard (pending/ and blobs/), sorted by id; its
  // memory is one shard's listing. `modified` is the file's ctime (its put, or the rename
  // of RemoveTtl). Files that no put could have written (a wrong shard, an invalid id) are
  // skipped, never listed.
  Future<BlobPage> ListBlobs(const std::string& prefix, const std::string& token) override;
  // DeleteExpired: unlinks the blob's file in pending/ if its mtime is before `now`; a
  // blob that RemoveTtl moved to blobs/ is never touched.
  Future<void> DeleteExpired(const std::string& id,
                             std::chrono::system_clock::time_point now) override;
  // Flush: syncfs(2) of the file system that holds the store. Also removes temp files
  // whose mtime is more than kStaleTempAge before the real clock (crashed puts).
  Future<void> Flush() override;

  // Named objects live in objects/<name>, written to a temp file, fsynced, renamed into
  // place and the directory fsynced: a put replaces an object atomically and durably.
  Future<std::string> PutObject(const std::string& name, std::string data,
                                const ObjectCondition& condition) override;
  Future<VersionedObject> GetObject(const std::string& name) override;
  Future<void> DeleteObject(const std::string& name) override;
  Future<std::vector<std::string>> ListObjects(const std::string& prefix) override;

  // "file://DIR".
  std::string Describe() const override;
  std::string LocalDirectory() const override;

 private:
  LocalBlobStore(std::shared_ptr<const local_internal::Layout> layout,
                 std::unique_ptr<ThreadPool> own_pool, Executor& executor);

  // Runs fn() on executor_ and completes the future with its outcome (Status or Result<T>);
  // an exception becomes kInternal.
  template <typename T, typename Fn>
  Future<T> Run(Fn fn);

  std::shared_ptr<const local_internal::Layout> layout_;
  std::shared_ptr<local_internal::OpenBlobs> open_blobs_;  // ReadRange's
  std::unique_ptr<ThreadPool> own_pool_;                   // null when the executor is the caller's
  Executor& executor_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_LOCAL_LOCAL_BLOB_STORE_H_
