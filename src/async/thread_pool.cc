#include <cassert>

#include "blobstate/future.h"

namespace blobstate {
namespace {
thread_local const ThreadPool* current_pool = nullptr;
}  // namespace

ThreadPool::ThreadPool(std::string name, size_t threads) : name_(std::move(name)) {
  assert(threads >= 1);
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::Execute(Task task) {
  // Notify under the lock: once it is released, the task may run and let the owner destroy
  // this pool, so the condition variable must not be touched after that.
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(task));
  cv_.notify_one();
}

bool ThreadPool::IsCurrentThread() const { return current_pool == this; }

void ThreadPool::Loop() {
  current_pool = this;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // A stopping pool still drains its queue, including tasks that running tasks add, so
    // that every promise handed out completes. It exits once nothing is queued or running.
    cv_.wait(lock, [&] { return !queue_.empty() || (stopping_ && busy_ == 0); });
    if (queue_.empty()) {
      cv_.notify_all();
      return;
    }
    Task task = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    task();
    task = nullptr;  // Destroy captures before taking the lock again.
    lock.lock();
    --busy_;
    if (stopping_ && busy_ == 0 && queue_.empty()) cv_.notify_all();
  }
}

std::string_view CurrentExecutorName() {
  return current_pool ? current_pool->name() : std::string_view();
}

}  // namespace blobstate
