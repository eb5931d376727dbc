// RetryTimer: runs short callbacks at deadlines on one thread of its own, so that waiting (for
// a retry's backoff) never occupies an executor's thread.
//
// Example:
//   RetryTimer timer("blobstore-retry");
//   timer.RunAfter(250ms, [](bool cancelled) { if (!cancelled) StartNextAttempt(); });
#ifndef BLOBSTATE_BLOBSTORE_RETRYING_RETRY_TIMER_H_
#define BLOBSTATE_BLOBSTORE_RETRYING_RETRY_TIMER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "blobstate/future.h"

namespace blobstate {

// Thread-safe.
class RetryTimer {
 public:
  using Clock = std::chrono::steady_clock;
  // cancelled is false when called at the deadline, true when the timer shut down first.
  using Callback = UniqueFunction<void(bool cancelled)>;

  explicit RetryTimer(std::string name);
  // Shutdown().
  ~RetryTimer();
  RetryTimer(const RetryTimer&) = delete;
  RetryTimer& operator=(const RetryTimer&) = delete;

  // Calls cb(false) on the timer's thread at or soon after `deadline`, in deadline order
  // (ties in order of scheduling). If the timer shuts down first, calls cb(true) on the
  // thread calling Shutdown; once shut down, calls cb(true) at once on this thread.
  // Callbacks must be short and must not block: they hold up every later one.
  void RunAt(Clock::time_point deadline, Callback cb);
  void RunAfter(Clock::duration delay, Callback cb) { RunAt(Clock::now() + delay, std::move(cb)); }

  // Cancels every pending callback (each gets cb(true) here), then joins the thread; a
  // callback running meanwhile finishes first. Idempotent.
  // REQUIRES: not called from a timer callback.
  void Shutdown();

  // The name given at construction.
  const std::string& name() const { return name_; }

 private:
  void Loop();

  const std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Keyed by (deadline, sequence number), so that equal deadlines keep their order.
  std::map<std::pair<Clock::time_point, uint64_t>, Callback> pending_;  // GUARDED_BY(mu_)
  uint64_t next_seq_ = 0;                                               // GUARDED_BY(mu_)
  bool stopping_ = false;                                               // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_RETRYING_RETRY_TIMER_H_
