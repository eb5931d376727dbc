#include "blobstore/retrying/retrying_blob_store.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>

#include "blobstore/blob_store_testing.h"
#include "blobstore/faulty/faulty_blob_store.h"
#include "blobstore/local/local_blob_store.h"
#include "testing/temp_dir.h"

namespace blobstate {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;
using testing::kWait;
using testing::SinkLog;
using testing::SourceLog;
using testing::TempDir;
using Fault = FaultyBlobStore::Fault;
using Method = FaultyBlobStore::Method;
using namespace std::chrono_literals;

// Retrying(Faulty(Local)), with short backoffs so that tests run fast; nothing asserts on
// how long a wait took.
class RetryingBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open({.max_attempts = 5, .initial_backoff = 1ms, .max_backoff = 4ms}); }

  void Open(RetryPolicy policy) {
    retrying_.reset();
    Result<std::unique_ptr<LocalBlobStore>> local = LocalBlobStore::Open(tmp_.Sub("store"), 2);
    ASSERT_TRUE(local.ok()) << local.status();
    auto faulty = std::make_unique<FaultyBlobStore>(std::move(*local));
    faulty_ = faulty.get();
    retrying_ = std::make_unique<RetryingBlobStore>(std::move(faulty), policy);
  }

  std::string PutOk(std::string data) {
    Result<std::string> id =
        faulty_->inner().Put(StringSourceFactory(std::move(data)), meta_).GetFor(kWait);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  TempDir tmp_;
  BlobMetadata meta_{.job_name = "j", .task_name = "t", .store_name = "s", .ttl = 1h};
  FaultyBlobStore* faulty_ = nullptr;  // owned by retrying_
  std::unique_ptr<RetryingBlobStore> retrying_;
};

TEST_F(RetryingBlobStoreTest, PutReopensSourceOnEachAttempt) {
  faulty_->Script(Method::kPut, 1, Fault::PartialTransfer(3));
  faulty_->Script(Method::kPut, 2, Fault::PartialTransfer(0));
  auto log = std::make_shared<SourceLog>();
  std::string data = "a fresh source per attempt";
  Result<std::string> id =
      retrying_->Put(testing::ScriptedSourceFactory(data, log), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(log->opened.load(), 3);
  EXPECT_EQ(log->bytes.load(), 3 + 0 + data.size());
  std::string back;
  ASSERT_TRUE(retrying_->Get(*id, StringSinkFactory(&back)).GetFor(kWait).ok());
  EXPECT_EQ(back, data);
  EXPECT_EQ(retrying_->retries(), 2u);
}

TEST_F(RetryingBlobStoreTest, GetOpensNewSinkOnEachAttempt) {
  std::string data(kIoChunkSize + 10, 'g');
  std::string id = PutOk(data);
  faulty_->Script(Method::kGet, 1, Fault::PartialTransfer(5));
  faulty_->Script(Method::kGet, 2, Fault::PartialTransfer(kIoChunkSize));
  auto log = std::make_shared<SinkLog>();
  ASSERT_TRUE(retrying_->Get(id, testing::RecordingSinkFactory(log)).GetFor(kWait).ok());
  ASSERT_EQ(log->opened, 3);
  EXPECT_EQ(log->data[0], data.substr(0, 5));
  EXPECT_EQ(log->data[1], data.substr(0, kIoChunkSize));
  EXPECT_EQ(log->data[2], data);
  EXPECT_EQ(log->finished, (std::vector<bool>{false, false, true}));
}

TEST_F(RetryingBlobStoreTest, DoesNotRetryPermanentErrors) {
  faulty_->Script(Method::kPut, 1, Fault::SyncError(PermissionDeniedError("denied")));
  EXPECT_EQ(retrying_->Put(StringSourceFactory("x"), meta_).GetFor(kWait).status(),
            PermissionDeniedError("denied"))
      << "a permanent error comes back unchanged";
  std::string back;
  EXPECT_EQ(retrying_->Get("j/t/s/missing", StringSinkFactory(&back)).GetFor(kWait).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(faulty_->calls(Method::kPut), 1);
  EXPECT_EQ(faulty_->calls(Method::kGet), 1);
  EXPECT_EQ(retrying_->retries(), 0u);
}

TEST_F(RetryingBlobStoreTest, GivesUpAfterMaxAttemptsWithLastError) {
  for (int call = 1; call <= 4; ++call) {
    faulty_->Script(Method::kRemoveTtl, call, Fault::SyncError(UnavailableError("early")));
  }
  faulty_->Script(Method::kRemoveTtl, 5, Fault::AsyncError(DeadlineExceededError("the last")));
  faulty_->Script(Method::kRemoveTtl, 6, Fault::SyncError(InternalError("never reached")));
  Status s = retrying_->RemoveTtl("j/t/s/x").GetFor(kWait).status();
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s;
  EXPECT_NE(s.message().find("the last"), std::string::npos) << s;
  EXPECT_NE(s.message().find("gave up after 5 attempts"), std::string::npos) << s;
  EXPECT_EQ(faulty_->calls(Method::kRemoveTtl), 5);
  EXPECT_EQ(retrying_->retries(), 4u);
}

TEST_F(RetryingBlobStoreTest, RetriesAsyncAndSyncErrors) {
  std::string id = PutOk("x");
  faulty_->Script(Method::kRemoveTtl, 1, Fault::SyncError(UnavailableError("sync")));
  faulty_->Script(Method::kRemoveTtl, 2, Fault::AsyncError(ResourceExhaustedError("slow down")));
  faulty_->Script(Method::kRemoveTtl, 3, Fault::AsyncError(DeadlineExceededError("timeout")));
  EXPECT_TRUE(retrying_->RemoveTtl(id).GetFor(kWait).ok());
  EXPECT_EQ(faulty_->calls(Method::kRemoveTtl), 4);
  EXPECT_EQ(retrying_->retries(), 3u);
}

TEST_F(RetryingBlobStoreTest, OnRetryReportsEachRetriedMethod) {
  std::mutex mu;
  std::vector<std::string> methods;
  Open({.max_attempts = 3, .initial_backoff = 1ms, .on_retry = [&](std::string_view m) {
          std::lock_guard<std::mutex> lock(mu);
          methods.emplace_back(m);
        }});
  std::string id = PutOk("x");
  faulty_->Script(Method::kRemoveTtl, 1, Fault::SyncError(UnavailableError("x")));
  faulty_->Script(Method::kGetObject, 1, Fault::SyncError(UnavailableError("x")));
  faulty_->Script(Method::kPut, 1, Fault::SyncError(UnavailableError("x")));
  EXPECT_TRUE(retrying_->RemoveTtl(id).GetFor(kWait).ok());
  EXPECT_EQ(retrying_->GetObject("none").GetFor(kWait).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(retrying_->Put(StringSourceFactory("y"), meta_).GetFor(kWait).ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(methods, (std::vector<std::string>{"remove-ttl", "get-object", "put"}));
}

TEST_F(RetryingBlobStoreTest, RetriesListingsAndConditionalDeletes) {
  faulty_->Script(Method::kListBlobs, 1, Fault::AsyncError(UnavailableError("x")));
  EXPECT_TRUE(retrying_->ListBlobs("", "").GetFor(kWait).ok());
  EXPECT_EQ(faulty_->calls(Method::kListBlobs), 2);
  faulty_->Script(Method::kDeleteExpired, 1, Fault::AsyncError(UnavailableError("x")));
  EXPECT_EQ(retrying_->DeleteExpired("job/task/store/none", system_clock::now())
                .GetFor(kWait)
                .status()
                .code(),
            StatusCode::kGone);
  EXPECT_EQ(faulty_->calls(Method::kDeleteExpired), 2);
}

TEST_F(RetryingBlobStoreTest, DeleteOfAMissingBlobIsGoneAndNotRetried) {
  Status s = retrying_->Delete("j/t/s/missing").GetFor(kWait).status();
  EXPECT_EQ(s.code(), StatusCode::kGone) << s;
  EXPECT_TRUE(s.IsIgnorable());
  EXPECT_EQ(faulty_->calls(Method::kDelete), 1);
}

TEST_F(RetryingBlobStoreTest, DeleteRetriedAfterALostReplyIsGone) {
  std::string id = PutOk("x");
  faulty_->Script(Method::kDelete, 1, Fault::LostReply());
  Status s = retrying_->Delete(id).GetFor(kWait).status();
  EXPECT_EQ(s.code(), StatusCode::kGone) << "the first attempt deleted it: " << s;
  EXPECT_EQ(faulty_->calls(Method::kDelete), 2);
}

TEST_F(RetryingBlobStoreTest, OneAttemptMeansNoRetries) {
  Open({.max_attempts = 1});
  faulty_->Script(Method::kPut, 1, Fault::SyncError(UnavailableError("once")));
  Status s = retrying_->Put(StringSourceFactory("x"), meta_).GetFor(kWait).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("gave up after 1 attempt: once"), std::string::npos) << s;
  EXPECT_EQ(faulty_->calls(Method::kPut), 1);
}

TEST_F(RetryingBlobStoreTest, GivesUpWhenTheElapsedBudgetIsSpent) {
  Open({.max_attempts = 100, .initial_backoff = 0ms, .max_elapsed = 0ms});
  faulty_->ScriptAll(Method::kPut, Fault::SyncError(UnavailableError("down")));
  Status s = retrying_->Put(StringSourceFactory("x"), meta_).GetFor(kWait).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("retry budget"), std::string::npos) << s;
  EXPECT_EQ(faulty_->calls(Method::kPut), 1);
}

TEST_F(RetryingBlobStoreTest, BackoffBoundDoublesUpToTheMaximum) {
  RetryPolicy p{.initial_backoff = 100ms, .max_backoff = 1000ms};
  EXPECT_EQ(RetryingBlobStore::BackoffBound(p, 1), 100ms);
  EXPECT_EQ(RetryingBlobStore::BackoffBound(p, 2), 200ms);
  EXPECT_EQ(RetryingBlobStore::BackoffBound(p, 3), 400ms);
  EXPECT_EQ(RetryingBlobStore::BackoffBound(p, 4), 800ms);
  EXPECT_EQ(RetryingBlobStore::BackoffBound(p, 5), 1000ms);
  EXPECT_EQ(RetryingBlobStore::BackoffBound(p, 1'000'000), 1000ms);
  RetryPolicy huge{.initial_backoff = 1ms, .max_backoff = milliseconds::max()};
  EXPECT_GT(RetryingBlobStore::BackoffBound(huge, 100), 0ms) << "no overflow";
}

TEST_F(RetryingBlobStoreTest, DestructionEndsCallsWaitingForABackoff) {
  Open({.max_attempts = 10, .initial_backoff = 1h, .max_backoff = 1h, .max_elapsed = 100h});
  faulty_->ScriptAll(Method::kPut, Fault::SyncError(UnavailableError("down")));
  // The first attempt fails at once; the call then waits up to an hour for its retry.
  Future<std::string> put = retrying_->Put(StringSourceFactory("x"), meta_);
  retrying_.reset();
  Status s = std::move(put).GetFor(kWait).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("store closing"), std::string::npos) << s;
}

TEST_F(RetryingBlobStoreTest, ManyConcurrentCallsAllSucceedDespiteFaults) {
  // Which call gets which fault depends on timing, so one put may meet many of the 100.
  Open({.max_attempts = 200, .initial_backoff = 1ms, .max_backoff = 4ms});
  for (int call = 1; call <= 200; call += 2) {
    faulty_->Script(Method::kPut, call,
                    call % 4 == 1 ? Fault::SyncError(UnavailableError("odd"))
                                  : Fault::AsyncError(UnavailableError("odd")));
  }
  std::vector<Future<std::string>> puts;
  for (int i = 0; i < 100; ++i) {
    puts.push_back(retrying_->Put(StringSourceFactory(std::to_string(i)), meta_));
  }
  for (auto& f : puts) {
    Result<std::string> id = std::move(f).GetFor(kWait);
    EXPECT_TRUE(id.ok()) << id.status();
  }
  EXPECT_GE(retrying_->retries(), 50u);
}

// A store whose gets wait their turn in one queue, which starts once `open` is ready: as the
// requests of a large transfer queue behind thousands of others.
class QueuedBlobStore : public testing::ForwardingBlobStore {
 public:
  QueuedBlobStore(BlobStore& inner, std::shared_future<void> open)
      : ForwardingBlobStore(inner), open_(std::move(open)) {}
  Future<void> Get(const std::string& id, SinkFactory sink) override {
    return Async(queue_, [this, id, sink]() -> Result<void> {
      open_.wait();
      return ForwardingBlobStore::Get(id, sink).GetFor(kWait);
    });
  }

 private:
  const std::shared_future<void> open_;
  ThreadPool queue_{"queue", 1};
};

// The retry budget is charged from when an attempt begins its work, not from when it was
// queued: a transient failure of the last request of a queue that outlasts the budget is
// retried like the first.
TEST(RetryBudgetTest, ALateRequestQueuedPastTheBudgetIsRetriedLikeTheFirst) {
  TempDir tmp;
  Result<std::unique_ptr<LocalBlobStore>> local = LocalBlobStore::Open(tmp.Sub("store"), 2);
  ASSERT_TRUE(local.ok()) << local.status();
  FaultyBlobStore faulty(std::move(*local));
  Result<std::string> id =
      faulty.inner().Put(StringSourceFactory("x"), {.job_name = "j"}).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  std::promise<void> open;
  constexpr auto kBudget = 1000ms;
  RetryingBlobStore retrying(
      std::make_unique<QueuedBlobStore>(faulty, open.get_future().share()),
      {.max_attempts = 3, .initial_backoff = 1ms, .max_backoff = 1ms, .max_elapsed = kBudget});
  constexpr int kGets = 30;
  faulty.Script(Method::kGet, kGets, Fault::AsyncError(UnavailableError("the late one")));
  std::vector<std::string> got(kGets);
  std::vector<Future<void>> gets;
  for (int i = 0; i < kGets; ++i) gets.push_back(retrying.Get(*id, StringSinkFactory(&got[i])));
  std::this_thread::sleep_for(kBudget + 200ms);  // every get has waited longer than the budget
  open.set_value();
  for (int i = 0; i < kGets; ++i) {
    Result<void> r = std::move(gets[i]).GetFor(kWait);
    EXPECT_TRUE(r.ok()) << "get " << i << ": " << r.status();
    EXPECT_EQ(got[i], "x");
  }
  EXPECT_EQ(retrying.retries(), 1u);
  EXPECT_EQ(faulty.calls(Method::kGet), kGets + 1);
}

// A store whose ReadRange fails with the errors in `errors`, one per call, then forwards.
class FailingReadRange final : public testing::ForwardingBlobStore {
 public:
  FailingReadRange(BlobStore& inner, std::vector<Status> errors)
      : ForwardingBlobStore(inner), inner_(inner), errors_(std::move(errors)) {}
  Status ReadRange(const std::string& id, uint64_t offset, uint64_t length,
                   const SinkFactory& sink) override {
    ++calls;
    if (calls <= static_cast<int>(errors_.size())) return errors_[calls - 1];
    return inner_.ReadRange(id, offset, length, sink);
  }
  int calls = 0;

 private:
  BlobStore& inner_;
  const std::vector<Status> errors_;
};

// ReadRange tries the inner store's once; a transient failure is retried through GetRange,
// a permanent one (or none: kUnimplemented) comes back as it is.
TEST_F(RetryingBlobStoreTest, ReadRangeRetriesATransientFailureThroughGetRange) {
  Result<std::unique_ptr<LocalBlobStore>> local = LocalBlobStore::Open(tmp_.Sub("direct"), 2);
  ASSERT_TRUE(local.ok()) << local.status();
  Result<std::string> id = (*local)->Put(StringSourceFactory("0123456789"), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  auto failing = std::make_unique<FailingReadRange>(
      **local, std::vector<Status>{UnavailableError("busy"), PermissionDeniedError("denied")});
  FailingReadRange* inner = failing.get();
  RetryingBlobStore retrying(std::move(failing), {.initial_backoff = 1ms, .max_backoff = 4ms});
  std::string out;
  ASSERT_TRUE(retrying.ReadRange(*id, 2, 3, StringSinkFactory(&out)).ok());
  EXPECT_EQ(out, "234");
  EXPECT_EQ(inner->calls, 1) << "the retry went through GetRange";
  EXPECT_EQ(retrying.ReadRange(*id, 2, 3, StringSinkFactory(&out)),
            PermissionDeniedError("denied"));
  ASSERT_TRUE(retrying.ReadRange(*id, 9, 1, StringSinkFactory(&out)).ok());
  EXPECT_EQ(out, "9");
  EXPECT_EQ(inner->calls, 3);
  // Faulty(Local) reads only through GetRange.
  EXPECT_EQ(retrying_->ReadRange(*id, 0, 1, StringSinkFactory(&out)).code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(retrying_->retries(), 0u);
}

TEST_F(RetryingBlobStoreTest, DescribesTheInnerStore) {
  EXPECT_EQ(retrying_->Describe(), "faulty(file://" + tmp_.Sub("store") + ")");
}

}  // namespace
}  // namespace blobstate
