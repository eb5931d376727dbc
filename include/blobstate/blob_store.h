// The blob store: where snapshots live.
//
// A BlobStore keeps immutable blobs under ids it chooses. Every call is asynchronous and
// runs on the backend's own executor; the returned future completes on that executor.
// OpenBlobStore opens one by URL: `file://DIR` (a directory, the embedded default),
// `s3://BUCKET/PREFIX` (the S3 REST API) or `azure://ACCOUNT/CONTAINER/PREFIX` (the Blob
// REST API), each behind retries of transient failures. An application may also implement
// BlobStore itself.
//
// A put or get takes a factory rather than a stream, so that each attempt (a retry) reads
// from a fresh source or writes into a fresh sink.
//
// Example:
//   ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, OpenBlobStore("file:///tmp/bs", {}));
//   Result<std::string> id = store->Put(StringSourceFactory("hello"), {.ttl = 1h}).Get();
//   std::string back;
//   Status s = store->Get(*id, StringSinkFactory(&back)).Get().status();
#ifndef BLOBSTATE_BLOB_STORE_H_
#define BLOBSTATE_BLOB_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blobstate/future.h"
#include "blobstate/status.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

class MetricsSink;

// The bytes of one put attempt.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // The number of bytes Read yields in all.
  virtual uint64_t size() const = 0;
  // Reads up to n bytes into buf; 0 only at the end.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

// Where the bytes of one get attempt go.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  virtual Status Write(const char* data, size_t n) = 0;
  // The blob's size, when the backend learns it before the first Write: a hint to size
  // buffers by, never trusted (Write may bring more or fewer bytes).
  virtual void ExpectSize(uint64_t bytes) { (void)bytes; }
  // Called once, after the last Write, when the whole blob has arrived. A sink that was not
  // finished must leave nothing visible behind (the attempt failed).
  virtual Status Finish() = 0;
};

using SourceFactory = std::function<Result<std::unique_ptr<BlobSource>>()>;
using SinkFactory = std::function<Result<std::unique_ptr<BlobSink>>()>;

// In-memory sources and sinks, for small blobs (indexes, checkpoints) and tests.
SourceFactory StringSourceFactory(std::string data);
// Each attempt clears *out and fills it; *out must outlive the get.
SinkFactory StringSinkFactory(std::string* out);

// What a put records with a blob. The names serve the id (so that a bucket listing shows
// whose blob it is) and messages; none of them may contain characters outside
// [A-Za-z0-9._-] (others are replaced).
struct BlobMetadata {
  std::string job_name;
  std::string task_name;
  std::string store_name;
  std::string file_path;  // the file within the store, or a role such as "snapshot-index"
  // The blob expires (and may be deleted by the store or by gc) this long after the put
  // unless RemoveTtl is called first. Zero: no expiry.
  std::chrono::seconds ttl{0};
};

// A blob as a listing shows it.
struct BlobInfo {
  std::string id;
  uint64_t size = 0;
  // When the blob was put or, on file://, lost its TTL: gc's measure of an orphan's age.
  std::chrono::system_clock::time_point modified;
  // Whether the listing shows TTLs (file://, Azure); if not (S3), ExpiryOf tells.
  bool ttl_listed = false;
  // If ttl_listed: when the blob's TTL expires; nullopt if it has none.
  std::optional<std::chrono::system_clock::time_point> expires;
};

// One page of a listing of blobs.
struct BlobPage {
  std::vector<BlobInfo> blobs;  // in id order
  std::string next;             // the token of the next page; empty after the last page
};

// The most blobs a page of ListBlobs holds.
inline constexpr size_t kMaxListPage = 1000;

// A named object with its version: an opaque token that a put of other bytes always changes
// (the ETag on S3 and Azure; on file:// one made from the file's identity and a hash of its
// bytes). A put of the same bytes may keep it (S3's ETag is their MD5): callers that
// compare-and-swap make every write's bytes unique (a checkpoint names its writer).
struct VersionedObject {
  std::string data;
  std::string version;
};

// When a PutObject may replace a named object.
struct ObjectCondition {
  enum class Kind {
    kAlways,     // unconditionally
    kIfAbsent,   // only if no object has the name (S3/Azure: If-None-Match: *)
    kIfVersion,  // only if the object exists with version `version` (If-Match)
  };
  Kind kind = Kind::kAlways;
  std::string version;

  static ObjectCondition IfAbsent() { return {.kind = Kind::kIfAbsent}; }
  static ObjectCondition IfVersion(std::string v) {
    return {.kind = Kind::kIfVersion, .version = std::move(v)};
  }
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Stores the bytes of a fresh source from `source` under a new id, which no other put
  // returns, on this host or any other. A put that fails leaves no visible blob. The blob
  // is readable once the put completes, and survives a crash once a later Flush completes.
  // Errors: the source's errors as they are; retriable codes for transient failures.
  virtual Future<std::string> Put(SourceFactory source, const BlobMetadata& metadata) = 0;

  // Writes the whole of blob `id` into a fresh sink from `sink` and finishes it.
  // kNotFound if there is no such blob (never put, or deleted). Expiry is lazy, as with an
  // object store's lifecycle rule: a blob past its TTL may stay readable until deleted.
  virtual Future<void> Get(const std::string& id, SinkFactory sink) = 0;

  // Writes bytes [offset, offset + length) of blob `id` into a fresh sink from `sink` and
  // finishes it: a read of part of a blob (a lazily restored file, say) without the rest.
  // kInvalidArgument if length is 0; kNotFound as Get; kOutOfRange naming the blob if it
  // ends before offset + length (nothing is finished then). The default reads the whole
  // blob with Get and keeps the range: a backend overrides it to read only the range.
  virtual Future<void> GetRange(const std::string& id, uint64_t offset, uint64_t length,
                                SinkFactory sink);

  // GetRange on the calling thread: returns once the range is written into a sink from
  // `sink` and finished, with GetRange's errors. For a backend whose reads are local and
  // quick (file://), so that a caller that would only wait for GetRange skips the hand-offs
  // to the backend's executor and back. kUnimplemented, touching nothing, where reads go
  // over a network (the default): the caller then uses GetRange. Decorators forward it.
  virtual Status ReadRange(const std::string& id, uint64_t offset, uint64_t length,
                           const SinkFactory& sink);

  // Deletes blob `id`, with or without a TTL. kGone (ignorable) if it is already gone.
  // Idempotent.
  virtual Future<void> Delete(const std::string& id) = 0;

  // Makes blob `id` permanent. Idempotent; kNotFound if the blob does not exist.
  virtual Future<void> RemoveTtl(const std::string& id) = 0;

  // Makes every Put, Delete and RemoveTtl that completed before this call durable: after
  // it completes, a crash of the host or of the store loses none of them. Backends whose
  // calls are durable on completion (S3, Azure) complete it at once. The backup manager
  // flushes before a checkpoint that references new blobs is persisted, and after deletions.
  virtual Future<void> Flush() = 0;

  // When blob `id`'s TTL expires; nullopt if it has none (RemoveTtl was called since its
  // put with one, or it was put without). kNotFound if the blob does not exist.
  virtual Future<std::optional<std::chrono::system_clock::time_point>> ExpiryOf(
      const std::string& id) = 0;

  // One page of the blobs whose ids start with `prefix`: the first page for an empty
  // `token`, else the page after the one whose `next` it is. For gc and verify: never used
  // on the commit or restore path. Memory: one page (at most kMaxListPage blobs).
  virtual Future<BlobPage> ListBlobs(const std::string& prefix, const std::string& token) = 0;

  // Deletes blob `id` only if its TTL expired before `now`. kAborted, deleting nothing, if
  // it has no TTL or a later one (so a RemoveTtl that wins the race keeps its blob); kGone
  // if it is absent. The condition is checked by the delete itself where the service
  // offers it (Azure: x-ms-if-tags; file://: only the copy with the TTL is removed, never
  // the one RemoveTtl made permanent); S3, which has no such condition, reads the tags
  // first.
  virtual Future<void> DeleteExpired(const std::string& id,
                                     std::chrono::system_clock::time_point now) = 0;

  // Named objects: small mutable objects (checkpoints) under names the caller chooses,
  // valid as blob ids (IsValidBlobId), in a namespace apart from blobs. A put replaces the
  // object atomically: a reader sees the old bytes or the new ones, never a mix.
  // At most kMaxObjectSize bytes (kInvalidArgument beyond). Every put gives the object a
  // new version (ObjectVersion), and a put may be conditional on the version it replaces:
  // the compare-and-swap that fences a task's writers (see ObjectCondition).
  //
  // Returns the version the put gave the object. kAborted, changing nothing, if
  // `condition` did not hold. A put whose reply was lost may have happened: retried, its
  // condition then fails against its own write, which the caller tells apart by reading
  // the object back.
  virtual Future<std::string> PutObject(const std::string& name, std::string data,
                                        const ObjectCondition& condition) = 0;
  // The object's bytes and version. kNotFound naming the object if there is none.
  virtual Future<VersionedObject> GetObject(const std::string& name) = 0;
  // kGone (ignorable) if there is no such object. Idempotent.
  virtual Future<void> DeleteObject(const std::string& name) = 0;
  // The names of the objects that start with `prefix`, sorted.
  virtual Future<std::vector<std::string>> ListObjects(const std::string& prefix) = 0;

  // Where the store is, for messages (never includes credentials).
  virtual std::string Describe() const = 0;

  // The local directory that holds the store's blobs and objects (file://), or empty for a
  // store that has none. A store directory must lie apart from it (ValidateCommitOptions).
  // Decorators forward it.
  virtual std::string LocalDirectory() const { return ""; }

  // True if the store was opened with fencing turned off (URL parameter `fencing=off`):
  // its PutObject then ignores conditions, and nothing stops two writers of one task.
  // Decorators forward it.
  virtual bool FencingOff() const { return false; }
};

// The largest named object: 16 MiB.
inline constexpr size_t kMaxObjectSize = 16u << 20;

// Whether `id` is acceptable as a blob id: 1..512 characters from [A-Za-z0-9._/-], no
// empty, "." or ".." component, not starting with '/'. Backends reject other ids with
// kInvalidArgument before touching anything, so a hostile index cannot name a path.
bool IsValidBlobId(std::string_view id);

// How a failed call is retried: exponential backoff with full jitter (the wait before retry
// k is uniform in [0, min(max_backoff, initial_backoff * 2^(k-1))]). Only retriable errors
// (Status::IsRetriable) are retried; each retry of a put or get opens a fresh source or sink.
struct RetryPolicy {
  // Attempts in all, the first included; 1 disables retries. Default: 5.
  int max_attempts = 5;
  // The bound of the wait before the first retry; it doubles for each later one.
  // Default: 100 ms.
  std::chrono::milliseconds initial_backoff{100};
  // The largest bound of a wait. Default: 10 s.
  std::chrono::milliseconds max_backoff{10'000};
  // A retry is made only while the call's backoffs and the time its attempts worked stay
  // below this. Time waiting in a queue is not counted: a put or get works from when it
  // opens its source or sink, other calls from when they are made. Default: 2 min.
  std::chrono::milliseconds max_elapsed{120'000};
  // Called (on any thread, so it must be thread-safe and quick) before each retry, with the
  // method retried: "put", "get", "get-range", "delete", "remove-ttl", "expiry-of", "list-blobs",
  // "delete-expired", "flush", "put-object",
  // "get-object", "delete-object" or "list-objects". For metrics. Default: none.
  std::function<void(std::string_view method)> on_retry;
};

// Which certificate authorities a TLS (https://) connection trusts; the peer is always
// verified. Empty fields: the system's CAs.
struct TlsOptions {
  std::string ca_file;  // a PEM bundle of CA certificates
  std::string ca_dir;   // a directory of CA certificates named by hash (c_rehash)
};

struct BlobStoreOptions {
  // Threads that run the blob store's requests; they mostly wait (disk, network), so more
  // than cores pays. Default: 16.
  size_t io_threads = 16;
  // How OpenBlobStore's store retries transient failures. Default: RetryPolicy{}.
  RetryPolicy retry;
  // file:// only: the directory must already be a blob store; nothing is created. For
  // commands that only read, so that a mistyped URL is an error, not a new empty store.
  bool must_exist = false;
  // If set, every attempt of every call is recorded there (NewMeteredBlobStore), and every
  // retry (blob_store_retries_total). It must outlive the store. Default: none.
  MetricsSink* metrics = nullptr;
};

// Opens the blob store at `url`, with its own pool of options.io_threads threads, and
// retries per options.retry: `file:///abs/dir` or `file://rel/dir` (a directory, created if
// missing unless options.must_exist); `s3://BUCKET/PREFIX?endpoint=URL&region=R` and
// `azure://ACCOUNT/CONTAINER/PREFIX?endpoint=URL`, credentials from the environment
// (README "Blob stores" lists the settings and variables). The URLs are a shorthand of
// OpenS3BlobStore's and OpenAzureBlobStore's typed options (s3.h, azure.h).
// kInvalidArgument for an unknown scheme or a malformed URL, naming the URL; kNotFound naming
// the directory if options.must_exist and it holds no blob store; the errors of creating the
// directory; kPermissionDenied if a cloud store's credentials are nowhere to be found.
Result<std::unique_ptr<BlobStore>> OpenBlobStore(std::string_view url,
                                                 const BlobStoreOptions& options);

// `inner`, with each of its calls recorded into `sink` (metrics.h: blob_store_requests_total,
// blob_store_request_seconds, blob_store_bytes_total). `sink` must outlive the store.
std::unique_ptr<BlobStore> NewMeteredBlobStore(std::unique_ptr<BlobStore> inner, MetricsSink& sink);

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_BLOB_STORE_H_
