#include "blobstore/faulty/faulty_blob_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "blobstore/blob_store_testing.h"
#include "blobstore/local/local_blob_store.h"
#include "testing/temp_dir.h"

namespace blobstate {
namespace {

using std::chrono::system_clock;
using testing::kWait;
using testing::SinkLog;
using testing::SourceLog;
using testing::TempDir;
using Fault = FaultyBlobStore::Fault;
using Method = FaultyBlobStore::Method;
using namespace std::chrono_literals;

class FaultyBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<LocalBlobStore>> local = LocalBlobStore::Open(tmp_.Sub("store"), 2);
    ASSERT_TRUE(local.ok()) << local.status();
    faulty_ = std::make_unique<FaultyBlobStore>(std::move(*local));
  }

  std::string PutOk(std::string data) {
    Result<std::string> id =
        faulty_->inner().Put(StringSourceFactory(std::move(data)), meta_).GetFor(kWait);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  size_t StoredBlobs() {
    Result<std::vector<std::string>> ids =
        blobstate::testing::ExpiringBefore(faulty_->inner(), system_clock::now() + 1000h);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? ids->size() : 0;
  }

  TempDir tmp_;
  BlobMetadata meta_{.job_name = "j", .task_name = "t", .store_name = "s", .ttl = 1h};
  std::unique_ptr<FaultyBlobStore> faulty_;
};

TEST_F(FaultyBlobStoreTest, SyncErrorFailsBeforeReachingTheInnerStore) {
  faulty_->Script(Method::kPut, 1, Fault::SyncError(UnavailableError("injected")));
  auto log = std::make_shared<SourceLog>();
  Future<std::string> put = faulty_->Put(testing::ScriptedSourceFactory("data", log), meta_);
  EXPECT_TRUE(put.IsReady()) << "a sync error is there when the call returns";
  EXPECT_EQ(std::move(put).GetFor(kWait).status(), UnavailableError("injected"));
  EXPECT_EQ(log->opened.load(), 0);
  EXPECT_EQ(StoredBlobs(), 0u);
  EXPECT_EQ(faulty_->calls(Method::kPut), 1);
}

TEST_F(FaultyBlobStoreTest, AsyncErrorReplacesTheResultAfterTheInnerCallRan) {
  std::string id = PutOk("x");
  faulty_->Script(Method::kDelete, 1, Fault::AsyncError(DeadlineExceededError("late")));
  EXPECT_EQ(faulty_->Delete(id).GetFor(kWait).status(), DeadlineExceededError("late"));
  std::string back;
  EXPECT_EQ(faulty_->Get(id, StringSinkFactory(&back)).GetFor(kWait).status().code(),
            StatusCode::kNotFound)
      << "the delete itself happened";
}

TEST_F(FaultyBlobStoreTest, LostReplyOnPutLeavesTheBlobStored) {
  faulty_->Script(Method::kPut, 1, Fault::LostReply());
  EXPECT_EQ(faulty_->Put(StringSourceFactory("x"), meta_).GetFor(kWait).status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(StoredBlobs(), 1u) << "an orphan with a TTL, as after a real lost reply";
}

TEST_F(FaultyBlobStoreTest, DelayForwardsAfterSleepingOnItsOwnPool) {
  faulty_->Script(Method::kPut, 1, Fault::Delay(50ms));
  auto start = std::chrono::steady_clock::now();
  Future<std::string> put = faulty_->Put(StringSourceFactory("x"), meta_);
  Result<std::string> id = std::move(put).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  std::string back;
  ASSERT_TRUE(faulty_->Get(*id, StringSinkFactory(&back)).GetFor(kWait).ok());
  EXPECT_EQ(back, "x");
}

TEST_F(FaultyBlobStoreTest, PartialPutReadsOnlyAPrefixAndLeavesNothing) {
  auto log = std::make_shared<SourceLog>();
  std::string data(3 * kIoChunkSize, 'p');
  faulty_->Script(Method::kPut, 1, Fault::PartialTransfer(kIoChunkSize + 7));
  Result<std::string> id =
      faulty_->Put(testing::ScriptedSourceFactory(data, log), meta_).GetFor(kWait);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(log->bytes.load(), kIoChunkSize + 7);
  EXPECT_EQ(StoredBlobs(), 0u);
}

TEST_F(FaultyBlobStoreTest, PartialPutFailsEvenWhenTheBlobFitsInThePrefix) {
  faulty_->Script(Method::kPut, 1, Fault::PartialTransfer(100, DataLossError("cut")));
  EXPECT_EQ(faulty_->Put(StringSourceFactory("short"), meta_).GetFor(kWait).status(),
            DataLossError("cut"));
  EXPECT_EQ(StoredBlobs(), 0u);
}

TEST_F(FaultyBlobStoreTest, PartialGetDeliversAPrefixAndNeverFinishes) {
  std::string data = std::string(kIoChunkSize, 'a') + std::string(kIoChunkSize, 'b');
  std::string id = PutOk(data);
  for (uint64_t cut : {uint64_t{0}, kIoChunkSize + 3, uint64_t{data.size()}}) {
    faulty_->Script(Method::kGet, faulty_->calls(Method::kGet) + 1, Fault::PartialTransfer(cut));
    auto log = std::make_shared<SinkLog>();
    EXPECT_EQ(faulty_->Get(id, testing::RecordingSinkFactory(log)).GetFor(kWait).status().code(),
              StatusCode::kUnavailable);
    ASSERT_EQ(log->data.size(), 1u);
    EXPECT_EQ(log->data[0], data.substr(0, cut)) << cut;
    EXPECT_FALSE(log->finished[0]) << cut;
  }
}

TEST_F(FaultyBlobStoreTest, FaultsApplyToTheScriptedCallOnly) {
  faulty_->Script(Method::kRemoveTtl, 2, Fault::SyncError(PermissionDeniedError("no")));
  std::string id = PutOk("x");
  EXPECT_TRUE(faulty_->RemoveTtl(id).GetFor(kWait).ok());
  EXPECT_EQ(faulty_->RemoveTtl(id).GetFor(kWait).status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(faulty_->RemoveTtl(id).GetFor(kWait).ok());
  EXPECT_EQ(faulty_->calls(Method::kRemoveTtl), 3);
  EXPECT_EQ(faulty_->calls(Method::kGet), 0);
}

TEST_F(FaultyBlobStoreTest, ScriptAllAppliesToEveryCallWithoutItsOwnFault) {
  faulty_->ScriptAll(Method::kListBlobs, Fault::AsyncError(UnavailableError("all")));
  faulty_->Script(Method::kListBlobs, 2, Fault::Delay(1ms));
  EXPECT_EQ(faulty_->ListBlobs("", "").GetFor(kWait).status(), UnavailableError("all"));
  EXPECT_TRUE(faulty_->ListBlobs("", "").GetFor(kWait).ok());
  EXPECT_EQ(faulty_->ListBlobs("", "").GetFor(kWait).status(), UnavailableError("all"));
  faulty_->ClearScripts();
  EXPECT_TRUE(faulty_->ListBlobs("", "").GetFor(kWait).ok());
}

TEST_F(FaultyBlobStoreTest, CountsCallsFromManyThreads) {
  faulty_->ScriptAll(Method::kDelete, Fault::AsyncError(UnavailableError("x")));
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<Future<void>> deletes;
      for (int i = 0; i < kPerThread; ++i) deletes.push_back(faulty_->Delete("j/t/s/none"));
      for (auto& f : deletes) EXPECT_FALSE(std::move(f).GetFor(kWait).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(faulty_->calls(Method::kDelete), kThreads * kPerThread);
}

TEST_F(FaultyBlobStoreTest, DestructionWaitsForDelayedCalls) {
  faulty_->ScriptAll(Method::kPut, Fault::Delay(20ms));
  std::vector<Future<std::string>> puts;
  for (int i = 0; i < 6; ++i) puts.push_back(faulty_->Put(StringSourceFactory("x"), meta_));
  faulty_.reset();
  for (auto& f : puts) EXPECT_TRUE(std::move(f).GetFor(kWait).ok());
}

}  // namespace
}  // namespace blobstate
