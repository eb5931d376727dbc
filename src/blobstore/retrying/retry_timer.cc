#include "blobstore/retrying/retry_timer.h"

#include <cassert>
#include <vector>

namespace blobstate {

RetryTimer::RetryTimer(std::string name) : name_(std::move(name)), thread_([this] { Loop(); }) {}

RetryTimer::~RetryTimer() { Shutdown(); }

void RetryTimer::RunAt(Clock::time_point deadline, Callback cb) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      bool earliest = pending_.empty() || deadline < pending_.begin()->first.first;
      pending_.emplace(std::make_pair(deadline, next_seq_++), std::move(cb));
      if (earliest) cv_.notify_one();
      return;
    }
  }
  cb(true);
}

void RetryTimer::Shutdown() {
  assert(std::this_thread::get_id() != thread_.get_id() && "RetryTimer::Shutdown from a callback");
  std::vector<Callback> cancelled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [key, cb] : pending_) cancelled.push_back(std::move(cb));
    pending_.clear();
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  for (Callback& cb : cancelled) cb(true);
}

void RetryTimer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (pending_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = pending_.begin();
    // A copy: the entry may be gone (Shutdown, an earlier timer) while this waits.
    const Clock::time_point due = first->first.first;
    if (Clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    Callback cb = std::move(first->second);
    pending_.erase(first);
    lock.unlock();
    cb(false);
    cb = nullptr;  // destroy its captures outside the lock, too
    lock.lock();
  }
}

}  // namespace blobstate
