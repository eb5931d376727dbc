#include "blobstate/future.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "async/pipeline.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;

TEST(ThreadPoolTest, RunsTasksOnItsOwnNamedThreads) {
  ThreadPool pool("pool-a", 2);
  Promise<std::string> p;
  Future<std::string> f = p.GetFuture();
  pool.Execute([&p, &pool] {
    EXPECT_TRUE(pool.IsCurrentThread());
    p.Set(std::string(CurrentExecutorName()));
  });
  EXPECT_EQ(*std::move(f).Get(), "pool-a");
  EXPECT_FALSE(pool.IsCurrentThread());
  EXPECT_EQ(CurrentExecutorName(), "");
}

TEST(ThreadPoolTest, DestructorDrainsQueueIncludingNestedTasks) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool("drain", 1);
    for (int i = 0; i < 100; ++i) {
      pool.Execute([&] {
        ++ran;
        pool.Execute([&] { ++ran; });
      });
    }
  }
  EXPECT_EQ(ran.load(), 200);
}

TEST(FutureTest, ThenRunsOnNamedExecutorWithResult) {
  ThreadPool a("exec-a", 1), b("exec-b", 1);
  Promise<int> p;
  auto f = p.GetFuture().Then(b, [](Result<int> r) -> Result<std::string> {
    EXPECT_EQ(CurrentExecutorName(), "exec-b");
    return std::to_string(*r);
  });
  a.Execute([p = std::move(p)]() mutable { p.Set(41); });
  EXPECT_EQ(*std::move(f).Get(), "41");
}

TEST(FutureTest, MapSkipsFunctionOnErrorAndPropagatesIt) {
  ThreadPool pool("map", 1);
  std::atomic<bool> called{false};
  auto f = MakeReadyFuture<int>(NotFoundError("blob x"))
               .Map(pool,
                    [&](int v) {
                      called = true;
                      return v + 1;
                    })
               .Map(pool, [&](int v) {
                 called = true;
                 return v * 2;
               });
  Result<int> r = std::move(f).Get();
  EXPECT_FALSE(called.load());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "blob x");
}

TEST(FutureTest, MapComposesFuturesStatusesAndVoid) {
  ThreadPool pool("compose", 2);
  auto f =
      MakeReadyFuture<int>(2)
          .Map(pool, [&](int v) { return MakeReadyFuture<int>(v * 10); })
          .Map(pool, [](int v) -> Status { return v == 20 ? Status::Ok() : InternalError("bad"); })
          .Map(pool, [] { return std::string("done"); });
  EXPECT_EQ(*std::move(f).Get(), "done");
  Future<void> v = MakeReadyFuture().Map(pool, [] {});
  EXPECT_TRUE(std::move(v).Get().ok());
}

TEST(FutureTest, ChainedCallbacksRunInDependencyOrder) {
  ThreadPool pool("order", 2);
  std::mutex mu;
  std::vector<int> order;
  auto log = [&](int step) {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(step);
  };
  Promise<void> start;
  auto chain = start.GetFuture()
                   .Map(pool, [&] { log(1); })
                   .Map(pool,
                        [&] {
                          std::this_thread::sleep_for(5ms);
                          log(2);
                        })
                   .Map(pool, [&] { log(3); });
  log(0);
  start.Set(Result<void>());
  ASSERT_TRUE(std::move(chain).Get().ok());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(FutureTest, ExceptionInContinuationBecomesInternalError) {
  ThreadPool pool("throw", 1);
  auto f = MakeReadyFuture<int>(1).Map(pool, [](int) -> int { throw std::runtime_error("boom"); });
  Result<int> r = std::move(f).Get();
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("boom"), std::string::npos);
}

TEST(FutureTest, AbandonedPromiseCompletesFutureWithError) {
  Future<int> f;
  {
    Promise<int> p;
    f = p.GetFuture();
  }
  Result<int> r = std::move(f).Get();
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(FutureTest, GetForTimesOutWithDeadlineExceededNamingOperation) {
  Promise<int> p;
  Result<int> r = p.GetFuture().GetFor(20ms, "upload of store s1");
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("upload of store s1"), std::string::npos);
  p.Set(1);  // completing later is harmless
}

TEST(FutureTest, IsReadyDoesNotBlock) {
  Promise<int> p;
  Future<int> f = p.GetFuture();
  EXPECT_FALSE(f.IsReady());
  p.Set(3);
  EXPECT_TRUE(f.IsReady());
  EXPECT_EQ(*std::move(f).Get(), 3);
}

TEST(AllOfTest, CollectsValuesInInputOrder) {
  ThreadPool pool("allof", 2);
  std::vector<Future<int>> fs;
  for (int i = 0; i < 50; ++i) {
    fs.push_back(MakeReadyFuture<int>(i).Map(pool, [](int v) {
      if (v % 7 == 0) std::this_thread::sleep_for(1ms);
      return v * v;
    }));
  }
  Result<std::vector<int>> all = AllOf(std::move(fs)).Get();
  ASSERT_TRUE(all.ok());
  for (int i = 0; i < 50; ++i) EXPECT_EQ((*all)[i], i * i);
  EXPECT_TRUE(AllOf(std::vector<Future<int>>{}).Get().ok());
}

TEST(AllOfTest, WaitsForAllThenReportsFirstErrorInCompletionOrder) {
  Promise<void> a, b, c;
  std::vector<Future<void>> fs;
  fs.push_back(a.GetFuture());
  fs.push_back(b.GetFuture());
  fs.push_back(c.GetFuture());
  Future<void> all = AllOf(std::move(fs));
  b.Set(UnavailableError("second input failed first"));
  a.Set(NotFoundError("first input failed later"));
  EXPECT_FALSE(all.IsReady());  // c still running: not done until every input is
  c.Set(Result<void>());
  Result<void> r = std::move(all).Get();
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST(WindowedTest, KeepsAtMostTheWindowInFlightAndSettlesEveryCallInOrder) {
  ThreadPool pool("windowed", 4);
  std::atomic<int> in_flight{0}, most{0};
  Result<std::vector<Result<int>>> r =
      Windowed<int>(pool, 200, 3, [&](size_t i) {
        int now = ++in_flight;
        for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {
        }
        return Async(pool, [&, i]() -> Result<int> {
          --in_flight;  // before the future completes, so before the next call is made
          if (i % 50 == 7) return UnavailableError("call " + std::to_string(i));
          return static_cast<int>(i) * 2;
        });
      }).GetFor(std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 200u);
  for (size_t i = 0; i < r->size(); ++i) {
    if (i % 50 == 7) {
      EXPECT_EQ((*r)[i].status().message(), "call " + std::to_string(i));
    } else {
      EXPECT_EQ(*(*r)[i], static_cast<int>(i) * 2);
    }
  }
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 1);
  Result<std::vector<Result<int>>> none = Windowed<int>(pool, 0, 3, [](size_t) {
                                            return MakeReadyFuture<int>(1);
                                          }).GetFor(std::chrono::seconds(60));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(PipelineTest, RunsEverythingTheProducerStartsAWindowAtATime) {
  ThreadPool pool("pipeline", 4);
  std::atomic<int> in_flight{0}, most{0};
  int produced = 0, calls = 0;  // the producer is never called concurrently with itself
  Result<void> r = Pipeline(pool, 3, [&]() -> Result<std::optional<Future<void>>> {
                     ++calls;
                     if (produced == 200) return std::optional<Future<void>>();
                     ++produced;
                     int now = ++in_flight;
                     for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {
                     }
                     return std::optional(Async(pool, [&]() -> Result<void> {
                       --in_flight;
                       return Result<void>();
                     }));
                   }).GetFor(std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(produced, 200);
  EXPECT_EQ(calls, 201);
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 1);
}

TEST(PipelineTest, StopsAtTheFirstErrorOnceWhatRunsHasEnded) {
  ThreadPool pool("pipeline", 2);
  for (bool producer_fails : {false, true}) {
    std::atomic<int> ended{0};
    int produced = 0;
    Result<void> r = Pipeline(pool, 4, [&]() -> Result<std::optional<Future<void>>> {
                       if (++produced == 10) {
                         if (producer_fails) return UnavailableError("producer");
                         return std::optional(MakeReadyFuture<void>(UnavailableError("work")));
                       }
                       return std::optional(Async(pool, [&]() -> Result<void> {
                         std::this_thread::sleep_for(std::chrono::milliseconds(1));
                         ++ended;
                         return Result<void>();
                       }));
                     }).GetFor(std::chrono::seconds(60));
    EXPECT_EQ(r.status().message(), producer_fails ? "producer" : "work");
    EXPECT_LE(produced, 10 + 4);            // nothing much is started after the error
    EXPECT_EQ(ended.load(), produced - 1);  // all the others ended first
  }
}

TEST(ToMapTest, MapsKeysToValuesOrFails) {
  std::map<std::string, Future<int>> m;
  m.emplace("a", MakeReadyFuture<int>(1));
  m.emplace("b", MakeReadyFuture<int>(2));
  Result<std::map<std::string, int>> r = ToMap(std::move(m)).Get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("a"), 1);
  EXPECT_EQ(r->at("b"), 2);

  std::map<std::string, Future<int>> bad;
  bad.emplace("a", MakeReadyFuture<int>(1));
  bad.emplace("b", MakeReadyFuture<int>(GoneError("b")));
  EXPECT_EQ(ToMap(std::move(bad)).Get().status().code(), StatusCode::kGone);
}

TEST(FutureTest, ThenSeesErrorsAndCanRecover) {
  ThreadPool pool("recover", 1);
  auto f = MakeReadyFuture<int>(GoneError("already deleted"))
               .Then(pool, [](Result<int> r) -> Result<int> {
                 if (r.status().IsIgnorable()) return 0;
                 return r;
               });
  EXPECT_EQ(*std::move(f).Get(), 0);
}

}  // namespace
}  // namespace blobstate
