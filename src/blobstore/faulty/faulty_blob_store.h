// FaultyBlobStore: a decorator for tests that injects scripted failures into any BlobStore.
//
// Faults are scripted per method and per call number (1 for the first call of a method),
// or for every call of a method that has no call-specific fault. Calls without a fault are
// forwarded unchanged. Every call is counted, faulted or not.
//
// Example:
//   auto faulty = std::make_unique<FaultyBlobStore>(std::move(local));
//   faulty->Script(FaultyBlobStore::Method::kPut, 2,
//                  FaultyBlobStore::Fault::SyncError(UnavailableError("injected")));
//   // the second Put fails at once; the first and third reach the inner store.
//
// Threads: forwarded calls complete where the inner store completes them. Delays and
// replaced results run on the decorator's own pool ("blobstore-faulty"). Safe for
// concurrent use: scripts may change while calls run.
#ifndef BLOBSTATE_BLOBSTORE_FAULTY_FAULTY_BLOB_STORE_H_
#define BLOBSTATE_BLOBSTORE_FAULTY_FAULTY_BLOB_STORE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/future.h"
#include "blobstore/gate.h"

namespace blobstate {

class FaultyBlobStore final : public BlobStore {
 public:
  enum class Method {
    kPut,
    kGet,
    kGetRange,
    kDelete,
    kRemoveTtl,
    kExpiryOf,
    kListBlobs,
    kDeleteExpired,
    kFlush,
    kPutObject,
    kGetObject,
    kDeleteObject,
    kListObjects,  // last: kMethods counts up to it
  };

  // One injected failure.
  struct Fault {
    enum class Kind { kSyncError, kAsyncError, kDelay, kPartialTransfer };

    // Fails before the inner store is called (no I/O, no factory call): the returned
    // future is already failed with `error`.
    static Fault SyncError(Status error);
    // Calls the inner store; when it is done, whatever its outcome, the result is replaced
    // by `error`, delivered on the decorator's pool. On a Put or Delete the effect stays: a
    // reply lost after the work was done.
    static Fault AsyncError(Status error);
    // AsyncError(kUnavailable): the work is done but the caller is told it failed.
    static Fault LostReply() { return AsyncError(UnavailableError("injected lost reply")); }
    // Sleeps `delay` on the decorator's pool, then forwards the call.
    static Fault Delay(std::chrono::milliseconds delay);
    // Put: the inner store may read only the first `bytes` of the source; the next Read
    //   fails with `error`, so the put fails and leaves nothing visible.
    // Get: the sink receives only the first `bytes` of the blob, then Write (or, for a
    //   shorter blob, the final step) fails with `error`; the sink's Finish is not called.
    // In both cases the call ends with `error`. Other methods: as AsyncError(error).
    static Fault PartialTransfer(uint64_t bytes,
                                 Status error = UnavailableError("injected partial transfer"));

    Kind kind = Kind::kSyncError;
    Status error;
    std::chrono::milliseconds delay{0};
    uint64_t bytes = 0;
  };

  // Owns `inner`. `threads` run delays and replaced results.
  explicit FaultyBlobStore(std::unique_ptr<BlobStore> inner, size_t threads = 2);
  // Waits for every call in flight to complete (delays included), then destroys the
  // inner store. REQUIRES: not called on the inner store's or the decorator's threads.
  ~FaultyBlobStore() override;

  // Makes call number `call` (from 1) of `method` fail with `fault`, replacing any fault
  // scripted for that call. A call already made is not affected.
  void Script(Method method, int call, Fault fault);
  // Makes every call of `method` without a call-specific fault fail with `fault`.
  void ScriptAll(Method method, Fault fault);
  // Forgets every script; counts stay.
  void ClearScripts();

  // The calls of `method` made so far.
  int calls(Method method) const;

  // The decorated store (for setting up and checking state behind the faults).
  BlobStore& inner() { return *inner_; }

  Future<std::string> Put(SourceFactory source, const BlobMetadata& metadata) override;
  Future<void> Get(const std::string& id, SinkFactory sink) override;
  Future<void> GetRange(const std::string& id, uint64_t offset, uint64_t length,
                        SinkFactory sink) override;
  Future<void> Delete(const std::string& id) override;
  Future<void> RemoveTtl(const std::string& id) override;
  Future<std::optional<std::chrono::system_clock::time_point>> ExpiryOf(
      const std::string& id) override;
  Future<BlobPage> ListBlobs(const std::string& prefix, const std::string& token) override;
  Future<void> DeleteExpired(const std::string& id,
                             std::chrono::system_clock::time_point now) override;
  Future<void> Flush() override;
  // Named objects: PartialTransfer acts as AsyncError on them.
  Future<std::string> PutObject(const std::string& name, std::string data,
                                const ObjectCondition& condition) override;
  Future<VersionedObject> GetObject(const std::string& name) override;
  Future<void> DeleteObject(const std::string& name) override;
  Future<std::vector<std::string>> ListObjects(const std::string& prefix) override;
  // "faulty(<inner's description>)".
  std::string Describe() const override;
  bool FencingOff() const override { return inner_->FencingOff(); }
  std::string LocalDirectory() const override { return inner_->LocalDirectory(); }

 private:
  static constexpr size_t kMethods = static_cast<size_t>(Method::kListObjects) + 1;  // the last

  // Counts the call and returns its fault, if any.
  std::optional<Fault> NextFault(Method method);

  // Applies `fault` (if any) to `forward`, which calls the inner store.
  template <typename T>
  Future<T> Apply(std::optional<Fault> fault, UniqueFunction<Future<T>()> forward);

  std::unique_ptr<BlobStore> inner_;
  std::array<std::atomic<int>, kMethods> calls_{};
  mutable std::mutex mu_;
  std::map<std::pair<Method, int>, Fault> scripted_;  // GUARDED_BY(mu_)
  std::map<Method, Fault> scripted_all_;              // GUARDED_BY(mu_)
  Gate gate_;                                         // one entry per call in flight
  ThreadPool pool_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_FAULTY_FAULTY_BLOB_STORE_H_
