// RetryingBlobStore: a decorator that retries the retriable failures of any BlobStore.
//
// A call is attempted up to policy.max_attempts times, waiting between attempts per
// RetryPolicy (exponential backoff, full jitter, an elapsed-time budget). The budget is
// charged with the backoffs and the time attempts work, not the time they wait in the
// inner store's queue: a put or get is charged from when it opens its source or sink, so
// the last request of a transfer queued behind thousands is retried like the first. Other
// calls are charged from when they are made. Only errors with
// Status::IsRetriable() are retried; any other outcome, success included, is final at
// once. Each attempt is a new call of the inner store with the same SourceFactory or
// SinkFactory, so each attempt reads a fresh source or writes a fresh sink.
//
// What a retry means for each call:
//   - Put: an attempt whose reply was lost may have stored a blob all the same; the retry
//     stores another under a new id. The orphan expires by its TTL (hence puts carry one).
//   - Delete: kGone is returned unchanged and never retried. It is also what a retry
//     returns when the lost attempt did delete the blob, so callers treat IsIgnorable()
//     as success.
//   - DeleteObject: as Delete.
//   - PutObject with a condition: a retry after a lost reply fails its condition (kAborted)
//     against the lost attempt's own write; the caller reads the object back to tell.
//   - Get, RemoveTtl, ExpiryOf, ListBlobs, DeleteExpired, Flush, unconditional PutObject,
//   GetObject,
//     ListObjects: idempotent; retried as they are.
// When it gives up on a retriable error, the error keeps the last attempt's code, and its
// message says how many attempts were made, e.g.
//   "UNAVAILABLE: put: gave up after 5 attempts: connection refused".
//
// Threads: waiting never blocks an executor. Backoffs are kept by a RetryTimer owned by the
// decorator (one thread, "blobstore-retry"); when one is due, the timer's thread starts the
// next attempt, which only enqueues work on the inner store's executor. A returned future
// completes where the final attempt completed: normally on the inner store's executor; on
// the timer's thread or the calling thread when the inner store failed synchronously. Use
// Then/Map with an executor to continue. Safe for concurrent use.
//
// Example:
//   RetryingBlobStore store(std::move(backend), RetryPolicy{.max_attempts = 3});
//   Result<std::string> id = store.Put(StringSourceFactory("x"), meta).GetFor(60s);
#ifndef BLOBSTATE_BLOBSTORE_RETRYING_RETRYING_BLOB_STORE_H_
#define BLOBSTATE_BLOBSTORE_RETRYING_RETRYING_BLOB_STORE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstore/gate.h"
#include "blobstore/retrying/retry_timer.h"

namespace blobstate {

class RetryingBlobStore final : public BlobStore {
 public:
  // REQUIRES: policy.max_attempts >= 1.
  RetryingBlobStore(std::unique_ptr<BlobStore> inner, RetryPolicy policy);
  // Completes every call in flight: calls waiting for a retry end at once with their last
  // error (noting that the store is closing); running attempts are waited for. Then
  // destroys the inner store. REQUIRES: not called on the inner store's executor or from a
  // continuation that runs on the retry timer.
  ~RetryingBlobStore() override;

  Future<std::string> Put(SourceFactory source, const BlobMetadata& metadata) override;
  Future<void> Get(const std::string& id, SinkFactory sink) override;
  Future<void> GetRange(const std::string& id, uint64_t offset, uint64_t length,
                        SinkFactory sink) override;
  // ReadRange: the inner store's, once; a retriable failure is retried through GetRange
  // (waited for).
  Status ReadRange(const std::string& id, uint64_t offset, uint64_t length,
                   const SinkFactory& sink) override;
  Future<void> Delete(const std::string& id) override;
  Future<void> RemoveTtl(const std::string& id) override;
  Future<std::optional<std::chrono::system_clock::time_point>> ExpiryOf(
      const std::string& id) override;
  Future<BlobPage> ListBlobs(const std::string& prefix, const std::string& token) override;
  Future<void> DeleteExpired(const std::string& id,
                             std::chrono::system_clock::time_point now) override;
  Future<void> Flush() override;
  Future<std::string> PutObject(const std::string& name, std::string data,
                                const ObjectCondition& condition) override;
  Future<VersionedObject> GetObject(const std::string& name) override;
  Future<void> DeleteObject(const std::string& name) override;
  Future<std::vector<std::string>> ListObjects(const std::string& prefix) override;
  // The inner store's description.
  std::string Describe() const override;
  bool FencingOff() const override { return inner_->FencingOff(); }
  std::string LocalDirectory() const override { return inner_->LocalDirectory(); }

  // Retries started so far (attempts beyond the first of each call), for metrics.
  uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }

  // The bound of the jittered wait before retry `retry` (1 for the first retry):
  // min(max_backoff, initial_backoff * 2^(retry-1)).
  static std::chrono::milliseconds BackoffBound(const RetryPolicy& policy, int retry);

 private:
  struct AttemptStart;
  template <typename T>
  struct Call;

  // Runs `attempt` until it succeeds, fails permanently, or the policy gives up.
  // `method` must be a string literal (it outlives the call). `started`, if given, is marked
  // by the attempt when it begins its work (opens its source or sink).
  template <typename T>
  Future<T> WithRetries(std::string_view method, std::string what,
                        std::function<Future<T>()> attempt,
                        std::shared_ptr<AttemptStart> started = nullptr);
  template <typename T>
  void StartAttempt(std::shared_ptr<Call<T>> call);
  template <typename T>
  void OnAttemptDone(std::shared_ptr<Call<T>> call, Result<T> result);
  template <typename T>
  void Finish(const std::shared_ptr<Call<T>>& call, Result<T> result);

  std::unique_ptr<BlobStore> inner_;
  const RetryPolicy policy_;
  std::atomic<uint64_t> retries_{0};
  Gate gate_;         // one entry per call in flight
  RetryTimer timer_;  // shut down first by the destructor: its thread starts attempts
};

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_RETRYING_RETRYING_BLOB_STORE_H_
