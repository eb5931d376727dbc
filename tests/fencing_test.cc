// Two writers of one task against every backend (file://, S3 through the proxy that
// enforces conditional writes as AWS does, Azure on Azurite): the commit engine's claim
// fences the older writer, and a lost reply to a conditional checkpoint write is no lost
// race (W.3, W.4, W.9).
#include <gtest/gtest.h>

#include "blobstate/commit.h"
#include "blobstate/task.h"
#include "blobstore/blob_store_testing.h"
#include "testing/fault_proxy.h"
#include "testing/gated_blob_store.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using testing::FaultProxy;
using testing::ReadTree;
using testing::Tree;
using testing::WriteTree;

class FencingTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = testing::TestBlobStoreUrl(GetParam(), tmp_.path(), &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
  }
  // A blob store handle of its own, as another process has.
  std::unique_ptr<BlobStore> Handle(const std::string& url) {
    Result<std::unique_ptr<BlobStore>> store =
        OpenBlobStore(url, {.io_threads = 4, .retry = {.initial_backoff = kBackoff}});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  // A writer on host `host`, whose store "s" lives in its own directory.
  Result<std::unique_ptr<CommitEngine>> Writer(BlobStore& store, const std::string& host,
                                               bool claim = true) {
    CommitOptions options{.job = "j",
                          .task = "t",
                          .stores = {{.name = "s", .dir = tmp_.Sub(host + "/s")}},
                          .restore = {.sync = false},
                          .claim = claim};
    return CommitEngine::Open(store, pool_, std::move(options), nullptr).GetFor(testing::kWait);
  }
  // Writes `content` into the writer's store on `host` and commits it with `offset`.
  Result<Checkpoint> CommitContent(CommitEngine& engine, const std::string& host,
                                   const std::string& content, const std::string& offset) {
    const std::string dir = tmp_.Sub(host + "/s");
    EXPECT_TRUE(WriteTree(dir, {{"f", content}}).ok());
    const std::string id = NewCheckpointId();
    StoreConfig config{.name = "s", .dir = dir};
    EXPECT_TRUE(SnapshotClosedStore(config, CheckpointDirOf(dir, id)).ok());
    return engine.Commit(id, {{"s", CheckpointDirOf(dir, id)}}, {{"in", offset}})
        .GetFor(testing::kWait);
  }

  static constexpr std::chrono::milliseconds kBackoff{5};
  testing::TempDir tmp_;
  ThreadPool pool_{"fencing-test", 2};
  std::string url_;
};

// The replacement is another process: a `blobstate backup` of the same task from another
// host's directory, which claims the task as a restarted container does.
TEST_P(FencingTest, SecondWriterFencesTheFirstOnEveryBackend) {
  auto zombie_store = Handle(url_);
  auto zombie = Writer(*zombie_store, "host-a");
  ASSERT_TRUE(zombie.ok()) << zombie.status();
  ASSERT_TRUE(CommitContent(**zombie, "host-a", "zombie 1", "1").ok());
  auto replacement = [&](const std::string& content) {
    EXPECT_TRUE(WriteTree(tmp_.Sub("host-b/s"), {{"f", content}}).ok());
    return testing::Sh("blobstate backup --blob-store '" + url_ +
                       "' --job j --task t --store s=" + tmp_.Sub("host-b/s"));
  };
  testing::Outcome second = replacement("replacement 2");
  ASSERT_EQ(second.exit_code, 0) << second.out;
  Result<Checkpoint> fenced = CommitContent(**zombie, "host-a", "zombie 3", "3");
  EXPECT_EQ(fenced.status().code(), StatusCode::kFenced) << fenced.status();
  EXPECT_NE(fenced.status().message().find("another writer took the task"), std::string::npos);
  EXPECT_EQ(CommitContent(**zombie, "host-a", "zombie 4", "4").status().code(),
            StatusCode::kFenced);
  testing::Outcome third = replacement("replacement 5");
  ASSERT_EQ(third.exit_code, 0) << third.out;

  // A third host restores exactly the replacement's last commit; the zombie's offsets (a
  // backup keeps the last checkpoint's) never went past the last commit persisted.
  auto reader_store = Handle(url_);
  auto reader = Writer(*reader_store, "host-c", /*claim=*/false);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->opened_at()->input_offsets, (InputOffsets{{"in", "1"}}));
  ASSERT_TRUE((*reader)->Restore().GetFor(testing::kWait).ok());
  EXPECT_EQ(*ReadTree(tmp_.Sub("host-c/s")), (Tree{{"f", "replacement 5"}}));
  testing::Outcome verify =
      testing::Sh("blobstate verify --blob-store '" + url_ + "' --job j --task t");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
}

// In one process: a task committer whose last commit hangs (its Close timed out) is given
// up on, and a replacement committer opens the task on a handle of its own; the hung
// commit, let go, is fenced at its persist, and the replacement's state is the latest.
TEST_P(FencingTest, ReplacementOfACommitterWhoseCloseTimedOutFencesIt) {
  auto old_store = Handle(url_), new_store = Handle(url_);
  testing::GatedBlobStore gated(*old_store);
  gated.Open();
  auto options = [&](const std::string& host) {
    TaskOptions o{.commit = {.job = "j",
                             .task = "t",
                             .stores = {{.name = "s", .dir = tmp_.Sub(host + "/s")}},
                             .restore = {.sync = false}},
                  .commit_timeout = std::chrono::milliseconds(50)};
    return o;
  };
  auto start = [&](BlobStore& store, const std::string& host) {
    auto task = TaskCommitter::Open(store, pool_, options(host), nullptr);
    EXPECT_TRUE(task.ok()) << task.status();
    Result<InputOffsets> offsets = (*task)->Init();
    EXPECT_TRUE(offsets.ok()) << offsets.status();
    StoreConfig config{.name = "s", .dir = tmp_.Sub(host + "/s")};
    EXPECT_TRUE((*task)
                    ->AddStore("s",
                               [config](const std::string& dest) {
                                 return SnapshotClosedStore(config, dest);
                               })
                    .ok());
    return std::move(*task);
  };
  auto old_task = start(gated, "host-a");
  ASSERT_TRUE(WriteTree(tmp_.Sub("host-a/s"), {{"f", "old 1"}}).ok());
  ASSERT_EQ(*old_task->Commit({{"in", "1"}}), CommitOutcome::kStarted);
  Status first = testing::CloseOnceCommitted(*old_task);
  ASSERT_TRUE(first.ok()) << first;
  ASSERT_TRUE(WriteTree(tmp_.Sub("host-a/s"), {{"f", "old 2"}}).ok());
  gated.Close();
  ASSERT_EQ(*old_task->Commit({{"in", "2"}}), CommitOutcome::kStarted);
  EXPECT_EQ(old_task->Close().code(), StatusCode::kDeadlineExceeded);  // it hangs

  auto replacement = start(*new_store, "host-b");
  EXPECT_EQ(*ReadTree(tmp_.Sub("host-b/s")), (Tree{{"f", "old 1"}}));
  ASSERT_TRUE(WriteTree(tmp_.Sub("host-b/s"), {{"f", "new 3"}}).ok());
  ASSERT_EQ(*replacement->Commit({{"in", "3"}}), CommitOutcome::kStarted);
  Status closed = testing::CloseOnceCommitted(*replacement);
  ASSERT_TRUE(closed.ok()) << closed;

  gated.Open();  // the hung commit goes on, to be fenced
  Status fenced = testing::CloseOnceCommitted(*old_task);
  EXPECT_EQ(fenced.code(), StatusCode::kFenced) << fenced;

  auto reader_store = Handle(url_);
  auto reader = Writer(*reader_store, "host-c", /*claim=*/false);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->opened_at()->input_offsets, (InputOffsets{{"in", "3"}}));
  ASSERT_TRUE((*reader)->Restore().GetFor(testing::kWait).ok());
  EXPECT_EQ(*ReadTree(tmp_.Sub("host-c/s")), (Tree{{"f", "new 3"}}));
  testing::Outcome verify =
      testing::Sh("blobstate verify --blob-store '" + url_ + "' --job j --task t");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
}

INSTANTIATE_TEST_SUITE_P(Backends, FencingTest, ::testing::Values("file", "s3", "azure"),
                         [](const auto& info) { return info.param; });

class CloudFencingTest : public FencingTest {};

// W.4 on the wire: the reply to the conditional put of the checkpoint is lost; the retry
// fails its condition against that very write, and the commit succeeds.
TEST_P(CloudFencingTest, LostReplyOfTheCheckpointPutIsSuccess) {
  auto [host, port] = testing::EndpointOf(url_);
  FaultProxy proxy(host, port);
  auto store = Handle(testing::ViaProxy(url_, proxy.authority()));
  auto writer = Writer(*store, "host-a");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(CommitContent(**writer, "host-a", "one", "1").ok());
  const int puts = proxy.Count("PUT", "latest-v2");
  proxy.Add({.method = "PUT", .target = "latest-v2", .fault = FaultProxy::Fault::kLoseReply});
  Result<Checkpoint> second = CommitContent(**writer, "host-a", "two", "2");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(proxy.Count("PUT", "latest-v2"), puts + 2);  // the lost one and its retry
  Result<Checkpoint> third = CommitContent(**writer, "host-a", "three", "3");
  ASSERT_TRUE(third.ok()) << third.status();
  auto reader_store = Handle(url_);
  auto reader = Writer(*reader_store, "host-b", /*claim=*/false);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->opened_at()->id, third->id);
}

INSTANTIATE_TEST_SUITE_P(Backends, CloudFencingTest, ::testing::Values("s3", "azure"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace blobstate
