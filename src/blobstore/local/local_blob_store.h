// LocalBlobStore: the `file://DIR` backend, the embedded default. Blobs are files under a
// directory on a local or mounted file system.
//
// Layout under DIR (the directories are created by Open):
//   blobs/<shard>/<id>   the bytes of blob <id>. <shard> is two lowercase hex digits: the
//                        low byte of the 32-bit FNV-1a hash of <id>. Each '/' of the id
//                        makes a subdirectory; directories are never removed.
//   ttl/<id>             the TTL marker of blob <id>: one line
//                        "blobstate-ttl 1 <expiry, ms since the Unix epoch>\n".
//   objects/<name>       named object <name> (checkpoints); each '/' makes a subdirectory.
//   tmp/<128-bit random hex>.{blob,ttl,obj}
//                        files being written, created with O_EXCL. Never visible as blobs.
//
// Write order of a put, each step durable (fsync of the file, then of the directory that
// gained an entry) before the next:
//   1. the source's bytes into tmp/<r>.blob, streamed in kIoChunkSize chunks;
//   2. with a TTL: the marker into tmp/<r>.ttl, renamed to ttl/<id>;
//   3. tmp/<r>.blob renamed to blobs/<shard>/<id>: the blob becomes visible.
// So a crash never leaves a visible TTL'd blob without its marker. A crash leaves at worst
// a temp file (removed by a sweep, see ListExpired) or a marker without a blob (listed by
// ListExpired once expired; Delete removes it).
//
// Expiry is lazy, as with an S3 lifecycle rule: a blob past its TTL stays readable (Get
// and RemoveTtl still work) until it is deleted, which gc does for what ListExpired lists.
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
}  // namespace local_internal

class LocalBlobStore final : public BlobStore {
 public:
  // Temp files older than this are from crashed puts; ListExpired removes them.
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
  // kResourceExhausted). Nothing is visible after a failure.
  Future<std::string> Put(SourceFactory source, const BlobMetadata& metadata) override;
  // Get: kInvalidArgument for an invalid id (before any I/O; the factory is not called);
  // kNotFound naming the id if the blob is absent (the factory is not called); the
  // factory's and sink's errors unchanged (Finish is then not called).
  Future<void> Get(const std::string& id, SinkFactory sink) override;
  // Delete: removes the blob, then its marker (even when the blob is absent, so that a
  // stale marker goes too). kGone if the blob was absent; kInvalidArgument as for Get.
  Future<void> Delete(const std::string& id) override;
  // RemoveTtl: kNotFound if the blob is absent, else removes the marker (durably) if any.
  Future<void> RemoveTtl(const std::string& id) override;
  // ListExpired: the ids of all markers whose expiry is before `now`, sorted, including
  // stale markers whose blob is gone. A marker that cannot be parsed (only possible by
  // outside tampering: markers are written by rename) is skipped, never deleted. Also
  // removes temp files whose mtime is more than kStaleTempAge before the real clock (not
  // `now`, which tests move freely).
  Future<std::vector<std::string>> ListExpired(std::chrono::system_clock::time_point now) override;

  // Named objects live in objects/<name>, written like blobs (temp file, fsync, rename,
  // fsync of the directory), so a put replaces an object atomically and durably.
  Future<void> PutObject(const std::string& name, std::string data) override;
  Future<std::string> GetObject(const std::string& name) override;
  Future<void> DeleteObject(const std::string& name) override;
  Future<std::vector<std::string>> ListObjects(const std::string& prefix) override;

  // "file://DIR".
  std::string Describe() const override;

 private:
  LocalBlobStore(std::shared_ptr<const local_internal::Layout> layout,
                 std::unique_ptr<ThreadPool> own_pool, Executor& executor);

  // Runs fn() on executor_ and completes the future with its outcome (Status or Result<T>);
  // an exception becomes kInternal.
  template <typename T, typename Fn>
  Future<T> Run(Fn fn);

  std::shared_ptr<const local_internal::Layout> layout_;
  std::unique_ptr<ThreadPool> own_pool_;  // null when the executor is the caller's
  Executor& executor_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_LOCAL_LOCAL_BLOB_STORE_H_
