#include "blobstore/retrying/retrying_blob_store.h"

#include <cassert>
#include <exception>
#include <random>

#include "blobstore/open_blob_store.h"

namespace blobstate {
namespace {

using Clock = std::chrono::steady_clock;

// Uniform in [0, bound]: full jitter.
std::chrono::milliseconds Jitter(std::chrono::milliseconds bound) {
  thread_local std::mt19937_64 gen(std::random_device{}());
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(bound.count(), 0));
  return std::chrono::milliseconds(dist(gen));
}

std::string Attempts(int n) { return std::to_string(n) + (n == 1 ? " attempt" : " attempts"); }

}  // namespace

// When the running attempt of a put or get began its work: the first time it opened its
// source or sink (until then it waited in the inner store's queue). 0: not yet.
struct RetryingBlobStore::AttemptStart {
  std::atomic<Clock::rep> at{0};
  void Mark() {
    Clock::rep none = 0;
    at.compare_exchange_strong(none, Clock::now().time_since_epoch().count());
  }
};

// One call in flight. Only one attempt runs at a time, and each step happens after the
// previous one (through the future's or the timer's synchronization), so no lock is needed.
template <typename T>
struct RetryingBlobStore::Call {
  std::string_view method;  // "put", "get", ...: for RetryPolicy::on_retry
  std::string what;         // "put", "get <id>", ... for messages
  std::function<Future<T>()> attempt;
  std::shared_ptr<AttemptStart> started;  // puts and gets only
  Promise<T> promise;
  Clock::time_point called;  // when the running attempt was called
  Clock::duration spent{0};  // charged to the retry budget so far
  int attempts = 0;
};

RetryingBlobStore::RetryingBlobStore(std::unique_ptr<BlobStore> inner, RetryPolicy policy)
    : inner_(std::move(inner)), policy_(policy), timer_("blobstore-retry") {
  assert(policy_.max_attempts >= 1);
}

RetryingBlobStore::~RetryingBlobStore() {
  // Calls waiting for a backoff end now; calls whose attempt is running end when it does
  // (a retriable failure then meets the shut-down timer and ends too).
  timer_.Shutdown();
  gate_.Wait();
}

std::chrono::milliseconds RetryingBlobStore::BackoffBound(const RetryPolicy& policy, int retry) {
  auto bound = std::min(policy.initial_backoff, policy.max_backoff);
  for (int i = 1; i < retry && bound.count() > 0 && bound < policy.max_backoff; ++i) {
    bound = bound > policy.max_backoff / 2 ? policy.max_backoff : bound * 2;
  }
  return bound;
}

template <typename T>
Future<T> RetryingBlobStore::WithRetries(std::string_view method, std::string what,
                                         std::function<Future<T>()> attempt,
                                         std::shared_ptr<AttemptStart> started) {
  auto call = std::make_shared<Call<T>>();
  call->method = method;
  call->what = std::move(what);
  call->attempt = std::move(attempt);
  call->started = std::move(started);
  Future<T> out = call->promise.GetFuture();
  gate_.Enter();
  StartAttempt(std::move(call));
  return out;
}

template <typename T>
void RetryingBlobStore::StartAttempt(std::shared_ptr<Call<T>> call) {
  ++call->attempts;
  call->called = Clock::now();
  if (call->started) call->started->at.store(0);
  Future<T> f = [&]() -> Future<T> {
    try {
      return call->attempt();
    } catch (const std::exception& e) {
      return MakeReadyFuture<T>(InternalError(call->what + ": exception: " + e.what()));
    } catch (...) {
      return MakeReadyFuture<T>(InternalError(call->what + ": unknown exception"));
    }
  }();
  std::move(f).Subscribe([this, call = std::move(call)](Result<T> r) mutable {
    OnAttemptDone(std::move(call), std::move(r));
  });
}

template <typename T>
void RetryingBlobStore::OnAttemptDone(std::shared_ptr<Call<T>> call, Result<T> result) {
  Status s = result.status();
  if (s.ok() || !s.IsRetriable()) return Finish(call, std::move(result));
  if (call->attempts >= policy_.max_attempts) {
    return Finish<T>(call,
                     s.WithContext(call->what + ": gave up after " + Attempts(call->attempts)));
  }
  // The attempt is charged from when it began its work: a put or get from when it opened
  // its source or sink (not from when it was queued; if it failed before opening one, it
  // is charged nothing), anything else from when it was called.
  const Clock::time_point now = Clock::now();
  Clock::time_point began = call->called;
  if (call->started) {
    const Clock::rep at = call->started->at.load();
    began = at == 0 ? now : Clock::time_point(Clock::duration(at));
  }
  call->spent += now - began;
  auto delay = Jitter(BackoffBound(policy_, call->attempts));
  call->spent += delay;
  if (call->spent >= policy_.max_elapsed) {
    return Finish<T>(call, s.WithContext(call->what + ": gave up after " +
                                         Attempts(call->attempts) + " (retry budget of " +
                                         std::to_string(policy_.max_elapsed.count()) + " ms)"));
  }
  retries_.fetch_add(1, std::memory_order_relaxed);
  if (policy_.on_retry) policy_.on_retry(call->method);
  timer_.RunAfter(delay, [this, call, s](bool cancelled) mutable {
    if (cancelled) {
      return Finish<T>(
          call, s.WithContext(call->what + ": store closing after " + Attempts(call->attempts)));
    }
    StartAttempt(std::move(call));
  });
}

template <typename T>
void RetryingBlobStore::Finish(const std::shared_ptr<Call<T>>& call, Result<T> result) {
  call->promise.Set(std::move(result));
  gate_.Leave();  // last: the destructor may proceed from here on
}

Future<std::string> RetryingBlobStore::Put(SourceFactory source, const BlobMetadata& metadata) {
  auto started = std::make_shared<AttemptStart>();
  SourceFactory marked = [started, source = std::move(source)] {
    started->Mark();
    return source();
  };
  return WithRetries<std::string>(
      "put", "put",
      [inner = inner_.get(), marked = std::move(marked), metadata] {
        return inner->Put(marked, metadata);
      },
      started);
}

Future<void> RetryingBlobStore::Get(const std::string& id, SinkFactory sink) {
  auto started = std::make_shared<AttemptStart>();
  SinkFactory marked = [started, sink = std::move(sink)] {
    started->Mark();
    return sink();
  };
  return WithRetries<void>(
      "get", "get " + id,
      [inner = inner_.get(), id, marked = std::move(marked)] { return inner->Get(id, marked); },
      started);
}

Future<void> RetryingBlobStore::GetRange(const std::string& id, uint64_t offset, uint64_t length,
                                         SinkFactory sink) {
  if (Status s = CheckRange(id, offset, length); !s.ok()) return MakeReadyFuture<void>(s);
  auto started = std::make_shared<AttemptStart>();
  SinkFactory marked = [started, sink = std::move(sink)] {
    started->Mark();
    return sink();
  };
  return WithRetries<void>(
      "get-range", "get " + RangeDescription(id, offset, length),
      [inner = inner_.get(), id, offset, length, marked = std::move(marked)] {
        return inner->GetRange(id, offset, length, marked);
      },
      started);
}

Status RetryingBlobStore::ReadRange(const std::string& id, uint64_t offset, uint64_t length,
                                    const SinkFactory& sink) {
  Status s = inner_->ReadRange(id, offset, length, sink);
  if (!s.IsRetriable()) return s;
  return GetRange(id, offset, length, sink).Get().status();
}

Future<void> RetryingBlobStore::Delete(const std::string& id) {
  return WithRetries<void>("delete", "delete " + id,
                           [inner = inner_.get(), id] { return inner->Delete(id); });
}

Future<void> RetryingBlobStore::RemoveTtl(const std::string& id) {
  return WithRetries<void>("remove-ttl", "remove TTL of " + id,
                           [inner = inner_.get(), id] { return inner->RemoveTtl(id); });
}

Future<std::optional<std::chrono::system_clock::time_point>> RetryingBlobStore::ExpiryOf(
    const std::string& id) {
  return WithRetries<std::optional<std::chrono::system_clock::time_point>>(
      "expiry-of", "TTL of " + id, [inner = inner_.get(), id] { return inner->ExpiryOf(id); });
}

Future<BlobPage> RetryingBlobStore::ListBlobs(const std::string& prefix, const std::string& token) {
  return WithRetries<BlobPage>(
      "list-blobs", "listing of " + prefix,
      [inner = inner_.get(), prefix, token] { return inner->ListBlobs(prefix, token); });
}

Future<void> RetryingBlobStore::DeleteExpired(const std::string& id,
                                              std::chrono::system_clock::time_point now) {
  return WithRetries<void>(
      "delete-expired", "delete of expired " + id,
      [inner = inner_.get(), id, now] { return inner->DeleteExpired(id, now); });
}

Future<void> RetryingBlobStore::Flush() {
  return WithRetries<void>("flush", "flush", [inner = inner_.get()] { return inner->Flush(); });
}

Future<std::string> RetryingBlobStore::PutObject(const std::string& name, std::string data,
                                                 const ObjectCondition& condition) {
  auto shared = std::make_shared<const std::string>(std::move(data));
  return WithRetries<std::string>("put-object", "put object " + name,
                                  [inner = inner_.get(), name, shared, condition] {
                                    return inner->PutObject(name, *shared, condition);
                                  });
}

Future<VersionedObject> RetryingBlobStore::GetObject(const std::string& name) {
  return WithRetries<VersionedObject>(
      "get-object", "get object " + name,
      [inner = inner_.get(), name] { return inner->GetObject(name); });
}

Future<void> RetryingBlobStore::DeleteObject(const std::string& name) {
  return WithRetries<void>("delete-object", "delete object " + name,
                           [inner = inner_.get(), name] { return inner->DeleteObject(name); });
}

Future<std::vector<std::string>> RetryingBlobStore::ListObjects(const std::string& prefix) {
  return WithRetries<std::vector<std::string>>(
      "list-objects", "list objects " + prefix,
      [inner = inner_.get(), prefix] { return inner->ListObjects(prefix); });
}

std::string RetryingBlobStore::Describe() const { return inner_->Describe(); }

}  // namespace blobstate
