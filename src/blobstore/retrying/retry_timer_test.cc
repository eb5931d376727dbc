#include "blobstore/retrying/retry_timer.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <vector>

namespace blobstate {
namespace {

using namespace std::chrono_literals;

// Collects what callbacks report, and lets a test wait for a number of reports.
struct Reports {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen;  // GUARDED_BY(mu)

  RetryTimer::Callback Record(std::string what) {
    return [this, what](bool cancelled) {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(what + (cancelled ? ":cancelled" : ""));
      cv.notify_all();
    };
  }
  std::vector<std::string> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, 60s, [&] { return seen.size() >= n; }));
    return seen;
  }
};

TEST(RetryTimerTest, RunsCallbacksInDeadlineOrder) {
  Reports reports;
  RetryTimer timer("timer-test");
  // The timer's thread is held in a callback while the others are scheduled, so that none
  // runs before all are queued, however slowly this thread gets there.
  std::promise<void> holding, release;
  timer.RunAfter(0s, [&](bool) {
    holding.set_value();
    release.get_future().wait();
  });
  holding.get_future().wait();
  auto now = RetryTimer::Clock::now();
  timer.RunAt(now + 30ms, reports.Record("c"));
  timer.RunAt(now + 10ms, reports.Record("b"));
  timer.RunAt(now, reports.Record("a1"));
  timer.RunAt(now, reports.Record("a2"));
  release.set_value();
  EXPECT_EQ(reports.WaitFor(4), (std::vector<std::string>{"a1", "a2", "b", "c"}));
}

TEST(RetryTimerTest, ShutdownCancelsPendingCallbacks) {
  Reports reports;
  RetryTimer timer("timer-test");
  timer.RunAfter(1h, reports.Record("later"));
  timer.Shutdown();
  EXPECT_EQ(reports.WaitFor(1), std::vector<std::string>{"later:cancelled"});
  timer.RunAfter(0s, reports.Record("after"));
  EXPECT_EQ(reports.WaitFor(2), (std::vector<std::string>{"later:cancelled", "after:cancelled"}));
  timer.Shutdown();  // idempotent
}

TEST(RetryTimerTest, CallbacksMayScheduleMoreCallbacks) {
  Reports reports;
  RetryTimer timer("timer-test");
  timer.RunAfter(0s, [&](bool cancelled) {
    timer.RunAfter(1ms, reports.Record("second"));
    reports.Record("first")(cancelled);
  });
  EXPECT_EQ(reports.WaitFor(2), (std::vector<std::string>{"first", "second"}));
}

TEST(RetryTimerTest, DestructorCancelsPendingCallbacks) {
  Reports reports;
  {
    RetryTimer timer("timer-test");
    timer.RunAfter(1h, reports.Record("x"));
  }
  EXPECT_EQ(reports.WaitFor(1), std::vector<std::string>{"x:cancelled"});
}

}  // namespace
}  // namespace blobstate
