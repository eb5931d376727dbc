#include "checkpoint/snapshot_util.h"

#include <gtest/gtest.h>

#include "blobstate/snapshot.h"
#include "blobstore/faulty/faulty_blob_store.h"
#include "index/index_testing.h"
#include "testing/gated_blob_store.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
using Fault = FaultyBlobStore::Fault;
using Method = FaultyBlobStore::Method;
constexpr auto kWait = 120s;

class SnapshotUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<BlobStore>> s = OpenBlobStore("file://" + tmp_.Sub("bs"), {});
    ASSERT_TRUE(s.ok()) << s.status();
    faulty_ = std::make_unique<FaultyBlobStore>(std::move(*s));
  }

  // Puts a snapshot index of `store` and returns its blob id.
  std::string PutIndex(const std::string& store, const std::string& file) {
    SnapshotIndex index;
    index.metadata = {
        .checkpoint_id = "c", .job_name = "job", .task_name = "t", .store_name = store};
    FileIndex f;
    f.name = file;
    index.root.files_present.push_back(f);
    Result<std::string> id =
        PutSnapshotIndex(*faulty_, index, {.job_name = "job", .store_name = store}).GetFor(kWait);
    EXPECT_TRUE(id.ok()) << id.status();
    indexes_[store] = index;
    return id.ok() ? *id : "";
  }

  Checkpoint WithMarkers(StoreMarkers markers) {
    Checkpoint c{.id = NewCheckpointId()};
    c.state_markers[std::string(kBlobStoreBackend)] = std::move(markers);
    return c;
  }

  testing::TempDir tmp_;
  ThreadPool pool_{"snapshot-test", 2};
  std::unique_ptr<FaultyBlobStore> faulty_;
  std::map<std::string, SnapshotIndex> indexes_;
};

TEST_F(SnapshotUtilTest, FailsForVersion1Checkpoint) {
  Checkpoint v1{.version = 1, .input_offsets = {{"in", "1"}}};
  Result<StoreSnapshots> r = GetStoreSnapshots(*faulty_, pool_, v1, {}).GetFor(kWait);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(SnapshotUtilTest, NoOpForNullOrEmptyCheckpoint) {
  EXPECT_TRUE(GetStoreSnapshots(*faulty_, pool_, std::nullopt, {}).GetFor(kWait)->empty());
  EXPECT_TRUE(GetStoreSnapshots(*faulty_, pool_, Checkpoint{.id = NewCheckpointId()}, {})
                  .GetFor(kWait)
                  ->empty());
  EXPECT_EQ(faulty_->calls(Method::kGet), 0);
}

TEST_F(SnapshotUtilTest, CheckpointWithoutTheBackendsEntryHasNoSnapshots) {
  Checkpoint c{.id = NewCheckpointId()};
  c.state_markers["changelog"] = {{"profile", "123"}};
  EXPECT_TRUE(GetStoreSnapshots(*faulty_, pool_, c, {}).GetFor(kWait)->empty());
}

TEST_F(SnapshotUtilTest, StoreWithoutAnEntryIsAbsentFromTheResult) {
  std::string a = PutIndex("a", "fa");
  Result<StoreSnapshots> r =
      GetStoreSnapshots(*faulty_, pool_, WithMarkers({{"a", a}}), {"a", "b"}).GetFor(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(r->count("b"), 0u);
}

TEST_F(SnapshotUtilTest, ReadsTheRightBlobAndPairsMarkerWithIndex) {
  std::string a = PutIndex("a", "fa"), b = PutIndex("b", "fb"), c = PutIndex("c", "fc");
  Result<StoreSnapshots> r =
      GetStoreSnapshots(*faulty_, pool_, WithMarkers({{"a", a}, {"b", b}, {"c", c}}), {"a", "b"})
          .GetFor(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(r->at("a").index_blob_id, a);
  EXPECT_EQ(r->at("a").index, indexes_["a"]);
  EXPECT_EQ(r->at("b").index_blob_id, b);
  EXPECT_EQ(r->at("b").index, indexes_["b"]);
  EXPECT_EQ(faulty_->calls(Method::kGet), 2);  // c is not configured: not fetched
}

TEST_F(SnapshotUtilTest, AnIndexFileGoesAndComesBackWholeAndLeavesNothing) {
  SnapshotIndex index;
  index.metadata = {.checkpoint_id = "c", .store_name = "a"};
  for (int i = 0; i < 30'000; ++i) {  // a few MiB
    FileIndex f{.name = "f" + std::to_string(i)};
    f.metadata.size = 1;
    f.blobs.push_back({.blob_id = "job/_/a/blob-" + std::to_string(i)});
    index.root.files_present.push_back(std::move(f));
  }
  const std::string dir = tmp_.Sub("files");
  ASSERT_TRUE(MakeDirs(dir).ok());
  Result<std::shared_ptr<const IndexFile>> file = testing::IndexFileOf(EncodeSnapshotIndex(index));
  ASSERT_TRUE(file.ok()) << file.status();
  Result<std::string> id =
      PutIndexFile(*faulty_, *file, {.job_name = "job", .store_name = "a"}).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  Result<SnapshotIndex> back = GetSnapshotIndex(*faulty_, pool_, *id).GetFor(kWait);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == index);
  Result<StoreIndexes> got =
      GetStoreIndexes(*faulty_, pool_, WithMarkers({{"a", *id}}), {{"a", dir}}).GetFor(kWait);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->at("a").index_blob_id, *id);
  EXPECT_TRUE(*got->at("a").index->ReadAll() == index);
  EXPECT_TRUE(*IsEmptyDir(dir));  // the file has no name
}

TEST_F(SnapshotUtilTest, IndexFilesOfAStoreNotAskedForAreNotFetched) {
  std::string a = PutIndex("a", "fa"), b = PutIndex("b", "fb");
  Result<StoreIndexes> r = GetStoreIndexes(*faulty_, pool_, WithMarkers({{"a", a}, {"b", b}}),
                                           {{"a", tmp_.path()}, {"c", tmp_.path()}})
                               .GetFor(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE(*r->at("a").index->ReadAll() == indexes_["a"]);
  EXPECT_EQ(faulty_->calls(Method::kGet), 1);
  Result<StoreIndexes> foreign =
      GetStoreIndexes(*faulty_, pool_, WithMarkers({{"b", a}}), {{"b", tmp_.path()}}).GetFor(kWait);
  EXPECT_EQ(foreign.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(foreign.status().message().find("belongs to store 'a'"), std::string::npos);
}

TEST_F(SnapshotUtilTest, SyncAndAsyncErrorsSurfaceNamingStoreAndBlob) {
  std::string a = PutIndex("a", "fa");
  for (Fault fault : {Fault::SyncError(UnavailableError("sync boom")),
                      Fault::AsyncError(UnavailableError("async boom"))}) {
    faulty_->ClearScripts();
    faulty_->ScriptAll(Method::kGet, fault);
    Result<StoreSnapshots> r =
        GetStoreSnapshots(*faulty_, pool_, WithMarkers({{"a", a}}), {}).GetFor(kWait);
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find("store a"), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find(a), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find("boom"), std::string::npos) << r.status();
  }
}

TEST_F(SnapshotUtilTest, MissingOrForeignIndexIsAnError) {
  std::string a = PutIndex("a", "fa");
  Result<StoreSnapshots> foreign =
      GetStoreSnapshots(*faulty_, pool_, WithMarkers({{"b", a}}), {}).GetFor(kWait);
  EXPECT_EQ(foreign.status().code(), StatusCode::kDataLoss);
  ASSERT_TRUE(faulty_->Delete(a).GetFor(kWait).ok());
  Result<StoreSnapshots> missing =
      GetStoreSnapshots(*faulty_, pool_, WithMarkers({{"a", a}}), {}).GetFor(kWait);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// SU.8: every index is requested before any completes; the caller waits once at the end.
TEST_F(SnapshotUtilTest, FetchesAllIndexesConcurrentlyAndCompletesOnce) {
  StoreMarkers markers;
  for (const char* s : {"a", "b", "c", "d"}) markers[s] = PutIndex(s, "f");
  testing::GatedBlobStore gated(*faulty_);
  Future<StoreSnapshots> all = GetStoreSnapshots(gated, pool_, WithMarkers(markers), {});
  EXPECT_EQ(gated.held(), 4u);  // all four gets issued, none run yet
  EXPECT_FALSE(all.IsReady());
  gated.Open();
  Result<StoreSnapshots> r = std::move(all).GetFor(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size(), 4u);
}

}  // namespace
}  // namespace blobstate
