// Gate: counts the operations in flight so that a destructor can wait for them.
//
// Example:
//   gate_.Enter();                       // when a call starts
//   promise.Set(result); gate_.Leave();  // the last thing the call does
//   ~Store() { gate_.Wait(); }           // before the members the calls use go away
#ifndef BLOBSTATE_BLOBSTORE_GATE_H_
#define BLOBSTATE_BLOBSTORE_GATE_H_

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace blobstate {

// Thread-safe.
class Gate {
 public:
  void Enter() {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }
  // REQUIRES: matches an Enter. After it returns the caller may no longer touch the
  // object that owns the gate (its destructor may be running).
  void Leave() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--in_flight_ == 0) cv_.notify_all();
  }
  // Blocks until every entered operation has left.
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_GATE_H_
