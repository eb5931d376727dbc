#include <gtest/gtest.h>

#include <thread>

#include "blobstate/task.h"
#include "blobstore/blob_store_testing.h"
#include "blobstore/retrying/retrying_blob_store.h"
#include "testing/gated_blob_store.h"
#include "testing/state_fixture.h"

namespace blobstate {
namespace {

using testing::ReadTree;
using testing::Tree;
using testing::WriteTree;

// A decorator that logs the methods called, in order.
class RecordingBlobStore final : public testing::ForwardingBlobStore {
 public:
  using ForwardingBlobStore::ForwardingBlobStore;
  std::vector<std::string> log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  void ClearLog() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
  }
  Future<std::string> Put(SourceFactory s, const BlobMetadata& m) override {
    Log(m.file_path == "snapshot-index" ? "put-index" : "put");
    return inner_.Put(std::move(s), m);
  }
  Future<void> Delete(const std::string& id) override {
    Log("delete");
    return inner_.Delete(id);
  }
  Future<void> RemoveTtl(const std::string& id) override {
    Log("remove-ttl");
    return inner_.RemoveTtl(id);
  }
  Future<void> Flush() override {
    Log("flush");
    return inner_.Flush();
  }
  Future<std::string> PutObject(const std::string& n, std::string d,
                                const ObjectCondition& c) override {
    Log(n.ends_with("/latest-v2") ? "put-checkpoint" : "put-object");
    return inner_.PutObject(n, std::move(d), c);
  }

 private:
  void Log(const char* what) {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(what);
  }
  std::mutex mu_;
  std::vector<std::string> log_;
};

class TaskCommitterTest : public testing::StateTest {
 protected:
  TaskOptions Options() {
    return {.commit = {.job = "job",
                       .task = "task-0",
                       .stores = {Store("a"), Store("b")},
                       .backup = {.part_size = 1000, .ttl = std::chrono::hours(1)},
                       .restore = {.sync = false}}};
  }

  std::unique_ptr<TaskCommitter> Open(BlobStore& store, TaskOptions options) {
    Result<std::unique_ptr<TaskCommitter>> t =
        TaskCommitter::Open(store, pool_, std::move(options), &metrics_);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? std::move(*t) : nullptr;
  }

  // Init, then plain-directory snapshotters for every store (as SnapshotClosedStore does).
  std::unique_ptr<TaskCommitter> Start(BlobStore& store, TaskOptions options,
                                       InputOffsets* offsets = nullptr) {
    auto task = Open(store, options);
    Result<InputOffsets> o = task->Init();
    EXPECT_TRUE(o.ok()) << o.status();
    if (offsets != nullptr && o.ok()) *offsets = *o;
    for (const StoreConfig& c : options.commit.stores) {
      EXPECT_TRUE(
          task->AddStore(c.name,
                         [c](const std::string& dest) { return SnapshotClosedStore(c, dest); })
              .ok());
    }
    return task;
  }

  // The commit executor is the fixture's pool_: it outlives blobs_, which may still complete
  // requests (that post to it) when a test ends.
};

TEST_F(TaskCommitterTest, CommitPersistsOffsetsAndStateTogether) {
  auto task = Start(*blobs_, Options());  // no checkpoint yet: the stores start empty
  ASSERT_TRUE(WriteTree(Store("a").dir, {{"f", "state at offset 10"}}).ok());
  ASSERT_EQ(*task->Commit({{"in", "10"}}), CommitOutcome::kStarted);
  ASSERT_TRUE(task->Close().ok());
  ExpectExactlyReferenced(*task->last_committed());
  // The checkpoint write is timed once, for all stores together.
  EXPECT_NE(metrics_sink_.Text().find(
                R"(blobstate_phase_seconds_total{flow="backup",phase="persist",store="_all"})"),
            std::string::npos);
  // Written after the checkpoint, then the container dies: the restart sees offset 10 and
  // exactly the state of offset 10.
  ASSERT_TRUE(WriteTree(Store("a").dir, {{"f", "state at offset 12"}, {"g", "new"}}).ok());
  task.reset();
  InputOffsets offsets;
  auto restarted = Start(*blobs_, Options(), &offsets);
  EXPECT_EQ(offsets, (InputOffsets{{"in", "10"}}));
  EXPECT_EQ(*ReadTree(Store("a").dir), (Tree{{"f", "state at offset 10"}}));
  EXPECT_EQ(*ReadTree(Store("b").dir), Tree{});
}

TEST_F(TaskCommitterTest, AsyncStageRunsOffTheCallersThreadInOrder) {
  RecordingBlobStore recording(*blobs_);
  testing::GatedBlobStore gated(recording);
  gated.Open();
  auto task = Start(gated, Options());
  recording.ClearLog();  // the claim's puts
  gated.Close();
  ASSERT_TRUE(WriteTree(Store("a").dir, {{"f", "x"}}).ok());
  ASSERT_TRUE(WriteTree(Store("b").dir, {{"g", "y"}}).ok());
  std::thread::id snapshot_thread;
  ASSERT_TRUE(task->AddStore("a",
                             [&](const std::string& dest) {
                               snapshot_thread = std::this_thread::get_id();
                               return SnapshotClosedStore(Store("a"), dest);
                             })
                  .ok());
  ASSERT_EQ(*task->Commit({{"in", "1"}}), CommitOutcome::kStarted);
  EXPECT_EQ(snapshot_thread, std::this_thread::get_id());  // the sync stage: on the caller
  // Commit has returned; the upload runs on the commit executor and reaches the gate.
  for (auto deadline = std::chrono::steady_clock::now() + kWait;
       gated.held() == 0 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GT(gated.held(), 0u);
  EXPECT_TRUE(recording.log().empty() || recording.log().back() != "put-checkpoint");
  gated.Open();
  ASSERT_TRUE(task->Close().ok());
  // upload (files, then indexes) -> TTLs removed -> flush -> persist the checkpoint; a first
  // commit leaves nothing to delete
  std::vector<std::string> log = recording.log();
  auto first = [&](const std::string& m) {
    return std::find(log.begin(), log.end(), m) - log.begin();
  };
  auto last = [&](const std::string& m) {
    return log.rend() - std::find(log.rbegin(), log.rend(), m) - 1;
  };
  // (Each store removes its TTLs after its own index put; the stores run in parallel.)
  EXPECT_LT(first("put-index"), first("remove-ttl"));
  EXPECT_LT(last("put-index"), first("flush"));
  EXPECT_LT(last("remove-ttl"), first("flush"));
  EXPECT_LT(first("flush"), first("put-checkpoint"));
  EXPECT_EQ(std::count(log.begin(), log.end(), "delete"), 0);
}

TEST_F(TaskCommitterTest, FailureOfAnyAsyncStepFailsTheNextCommitThenClears) {
  const std::pair<Method, const char*> steps[] = {{Method::kPut, "upload"},
                                                  {Method::kFlush, "flush"},
                                                  {Method::kPutObject, "checkpoint write"},
                                                  {Method::kRemoveTtl, "cleanup"}};
  TaskOptions options = Options();
  options.max_commit_delay = std::chrono::milliseconds(0);  // the next commit waits for it
  auto task = Start(*blobs_, options);
  int round = 0;
  for (const auto& [method, step] : steps) {
    SCOPED_TRACE(step);
    ASSERT_TRUE(WriteTree(Store("a").dir, {{"f", "round " + std::to_string(++round)}}).ok());
    blobs_->ScriptAll(method,
                      Fault::AsyncError(PermissionDeniedError(std::string("injected ") + step)));
    ASSERT_EQ(*task->Commit({{"in", std::to_string(round)}}), CommitOutcome::kStarted);
    Result<CommitOutcome> next = task->Commit({{"in", "x"}});
    blobs_->ClearScripts();
    EXPECT_EQ(next.status().code(), StatusCode::kPermissionDenied) << next.status();
    EXPECT_NE(next.status().message().find("previous commit failed"), std::string::npos);
    ASSERT_TRUE(task->Close().ok());  // forgotten once reported
  }
  ASSERT_EQ(*task->Commit({{"in", "final"}}), CommitOutcome::kStarted);
  ASSERT_TRUE(task->Close().ok());
  // What the failed attempts put and no checkpoint references has a TTL; the rest none.
  ExpectReferencedIntact(*task->last_committed());
}

TEST_F(TaskCommitterTest, CommitIsSkippedWithinTheMaxDelayAndBlocksAfterIt) {
  testing::GatedBlobStore gated(*blobs_);
  gated.Open();
  TaskOptions options = Options();
  options.max_commit_delay = std::chrono::hours(1);
  auto task = Start(gated, options);
  gated.Close();
  ASSERT_EQ(*task->Commit({{"in", "1"}}), CommitOutcome::kStarted);
  EXPECT_EQ(*task->Commit({{"in", "2"}}), CommitOutcome::kSkipped);
  gated.Open();
  ASSERT_TRUE(task->Close().ok());
  EXPECT_EQ(*task->Commit({{"in", "3"}}), CommitOutcome::kStarted);  // unblocked
  ASSERT_TRUE(task->Close().ok());

  // Past the max delay (0 here), the next commit waits for the previous one.
  options.max_commit_delay = std::chrono::milliseconds(0);
  task.reset();
  gated.Open();
  task = Start(gated, options);
  gated.Close();
  ASSERT_EQ(*task->Commit({{"in", "4"}}), CommitOutcome::kStarted);
  std::atomic<bool> returned{false};
  Result<CommitOutcome> second = InternalError("not run");
  std::thread committer([&] {
    second = task->Commit({{"in", "5"}});
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(returned.load()) << "the commit must wait for the previous async stage";
  gated.Open();
  committer.join();
  EXPECT_EQ(*second, CommitOutcome::kStarted);
  ASSERT_TRUE(task->Close().ok());
}

TEST_F(TaskCommitterTest, CommitTimesOutWhenThePreviousNeverEnds) {
  testing::GatedBlobStore gated(*blobs_);
  gated.Open();
  TaskOptions options = Options();
  options.max_commit_delay = std::chrono::milliseconds(0);
  options.commit_timeout = std::chrono::milliseconds(50);
  auto task = Start(gated, options);
  gated.Close();
  ASSERT_EQ(*task->Commit({{"in", "1"}}), CommitOutcome::kStarted);
  Result<CommitOutcome> r = task->Commit({{"in", "2"}});
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("did not end within 50 ms"), std::string::npos) << r.status();
  gated.Open();
  // The commit ends once the store answers, which a loaded machine may take longer than the
  // 50 ms that each Close waits.
  Status closed = task->Close();
  for (auto deadline = std::chrono::steady_clock::now() + kWait;
       closed.code() == StatusCode::kDeadlineExceeded &&
       std::chrono::steady_clock::now() < deadline;) {
    closed = task->Close();
  }
  EXPECT_TRUE(closed.ok()) << closed;
}

// W.3, W.6, W.9: a committer whose Close timed out is replaced (as by a new container,
// on its own handle of the blob store); the replacement's claim fences the old commit
// still in flight, which then persists nothing and fails with kFenced.
TEST_F(TaskCommitterTest, ReplacementAfterATimedOutCloseFencesTheOldCommit) {
  testing::GatedBlobStore gated(*blobs_);
  gated.Open();
  TaskOptions options = Options();
  options.commit_timeout = std::chrono::milliseconds(50);
  auto old = Start(gated, options);
  // W.6: in one process, a second committer of the task fails fast while the first is open.
  EXPECT_EQ(Open(gated, Options())->Init().status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(WriteTree(Store("a").dir, {{"f", "old"}}).ok());
  gated.Close();
  ASSERT_EQ(*old->Commit({{"in", "1"}}), CommitOutcome::kStarted);
  EXPECT_EQ(old->Close().code(), StatusCode::kDeadlineExceeded);  // the commit is stuck

  TaskOptions other_host = Options();  // the replacement's own disk
  for (StoreConfig& c : other_host.commit.stores) c.dir = tmp_.Sub("host2/" + c.name);
  InputOffsets offsets;
  auto replacement = Start(*blobs_, other_host, &offsets);
  EXPECT_TRUE(offsets.empty());
  ASSERT_TRUE(WriteTree(other_host.commit.stores[0].dir, {{"f", "new"}}).ok());
  ASSERT_EQ(*replacement->Commit({{"in", "2"}}), CommitOutcome::kStarted);
  ASSERT_TRUE(replacement->Close().ok());
  const Checkpoint winner = *replacement->last_committed();

  gated.Open();  // the old commit goes on, and is fenced at its persist
  Status s = testing::CloseOnceCommitted(*old);
  EXPECT_EQ(s.code(), StatusCode::kFenced) << s;
  auto reader = *CheckpointStore::Open(*blobs_, pool_, {}, "job", "task-0");
  std::optional<Checkpoint> latest = *reader->ReadLatest().GetFor(kWait);
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, winner.id);
  EXPECT_EQ(latest->input_offsets, (InputOffsets{{"in", "2"}}));
  ExpectReferencedIntact(winner);
}

// A fenced committer keeps failing with kFenced: it is never forgotten after one report.
TEST_F(TaskCommitterTest, FencedCommitterKeepsItsError) {
  auto task = Start(*blobs_, Options());
  ASSERT_TRUE(WriteTree(Store("a").dir, {{"f", "x"}}).ok());
  ASSERT_EQ(*task->Commit({{"in", "1"}}), CommitOutcome::kStarted);
  ASSERT_TRUE(task->Close().ok());
  auto other = *CheckpointStore::Open(*blobs_, pool_, {}, "job", "task-0");
  ASSERT_TRUE(other->Claim().GetFor(kWait).ok());  // another writer takes the task
  ASSERT_EQ(*task->Commit({{"in", "2"}}), CommitOutcome::kStarted);
  for (int i = 0; i < 3; ++i) {
    Status s = i == 0 ? task->Close() : task->Commit({{"in", "3"}}).status();
    EXPECT_EQ(s.code(), StatusCode::kFenced) << s;
    EXPECT_NE(s.message().find("another writer took the task"), std::string::npos) << s;
  }
}

TEST_F(TaskCommitterTest, InitTimesOutInsteadOfHanging) {
  testing::GatedBlobStore gated(*blobs_);  // closed: nothing ever answers
  TaskOptions options = Options();
  options.init_timeout = std::chrono::milliseconds(50);
  auto task = Open(gated, options);
  Result<InputOffsets> r = task->Init();
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  gated.FailHeld();  // the open goes on after the timeout: end it before `gated` goes
}

TEST_F(TaskCommitterTest, ConfigurationIsValidatedBeforeAnything) {
  TaskOptions options = Options();
  options.commit.checkpoints.write_versions = {1};
  EXPECT_EQ(TaskCommitter::Open(*blobs_, pool_, options, nullptr).status().code(),
            StatusCode::kInvalidArgument);
  options = Options();
  options.commit.stores.push_back({.name = "nodir"});
  EXPECT_EQ(TaskCommitter::Open(*blobs_, pool_, options, nullptr).status().code(),
            StatusCode::kInvalidArgument);
  auto task = Open(*blobs_, Options());
  EXPECT_EQ(task->Commit({}).status().code(), StatusCode::kFailedPrecondition);  // before Init
  ASSERT_TRUE(task->Init().ok());
  EXPECT_EQ(task->AddStore("unknown", nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(task->Commit({}).status().code(), StatusCode::kFailedPrecondition);  // no snapshotter
}

TEST_F(TaskCommitterTest, UpgradeFromOffsetsOnlyCheckpointResumesItsOffsets) {
  auto old = *CheckpointStore::Open(*blobs_, pool_, {.write_versions = {1}}, "job", "task-0");
  ASSERT_TRUE(old->Claim().GetFor(kWait).ok());
  ASSERT_TRUE(old->Write({.version = 1, .input_offsets = {{"in", "77"}}}).GetFor(kWait).ok());
  InputOffsets offsets;
  auto task = Start(*blobs_, Options(), &offsets);
  EXPECT_EQ(offsets, (InputOffsets{{"in", "77"}}));
  ASSERT_EQ(*task->Commit({{"in", "78"}}), CommitOutcome::kStarted);
  ASSERT_TRUE(task->Close().ok());
}

TEST_F(TaskCommitterTest, RetriableErrorsAreRetriedAndTheCommitSucceeds) {
  RetryingBlobStore retrying(std::unique_ptr<BlobStore>(new RecordingBlobStore(*blobs_)),
                             {.max_attempts = 3, .initial_backoff = std::chrono::milliseconds(1)});
  auto task = Start(retrying, Options());
  ASSERT_TRUE(WriteTree(Store("a").dir, {{"f", "x"}}).ok());
  blobs_->Script(Method::kPut, blobs_->calls(Method::kPut) + 1,
                 Fault::SyncError(UnavailableError("injected")));
  blobs_->Script(Method::kDelete, blobs_->calls(Method::kDelete) + 1, Fault::LostReply());
  ASSERT_EQ(*task->Commit({{"in", "1"}}), CommitOutcome::kStarted);
  ASSERT_TRUE(task->Close().ok());
  ASSERT_TRUE(WriteTree(Store("a").dir, {{"f", "y"}}).ok());
  ASSERT_EQ(*task->Commit({{"in", "2"}}), CommitOutcome::kStarted);
  ASSERT_TRUE(task->Close().ok());
  ExpectExactlyReferenced(*task->last_committed());
}

}  // namespace
}  // namespace blobstate
