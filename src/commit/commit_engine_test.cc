#include <gtest/gtest.h>

#include "blobstate/commit.h"
#include "blobstate/gc.h"
#include "testing/state_fixture.h"
#include "testing/temp_dir.h"
#include "util/failpoint.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
using testing::ReadTree;
using testing::Tree;
using testing::WriteTree;

class CommitEngineTest : public testing::StateTest {};

// H.6: a blob TTL below the floor is refused before anything is opened or written.
TEST_F(CommitEngineTest, TtlBelowTheFloorIsRefused) {
  CommitOptions o = EngineOptions();
  o.backup.ttl = 3599s;
  Result<std::unique_ptr<CommitEngine>> engine = OpenEngine(*blobs_, o);
  EXPECT_EQ(engine.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(engine.status().message().find("below the floor of 3600 s"), std::string::npos)
      << engine.status();
  EXPECT_TRUE(AllBlobs().empty());
  o.backup.ttl = kMinBlobTtl;
  EXPECT_TRUE(OpenEngine(*blobs_, o).ok());
}

// W.8: the stores' directories must be apart: from each other, from the directory a
// restore of another stages its tree in, and from a file:// blob store's; an engine
// refuses stores that are not, before it writes anything.
TEST_F(CommitEngineTest, StoreDirectoriesMustBeApart) {
  const std::string root = tmp_.Sub("stores");
  auto two = [&](const std::string& a, const std::string& b) {
    return std::vector<StoreConfig>{{.name = "a", .dir = a}, {.name = "b", .dir = b}};
  };
  EXPECT_TRUE(ValidateStoreDirs(two(root + "/a", root + "/b"), tmp_.Sub("blobs")).ok());
  EXPECT_TRUE(ValidateStoreDirs(two(root + "/a", root + "/a.restored")).ok());
  for (const std::string& b : {root + "/a", root + "/a/", root + "/a/b", root + "/a.restore",
                               root + "/a.restore/b", root + "/x/../a"}) {
    Status s = ValidateStoreDirs(two(root + "/a", b));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << b;
    EXPECT_NE(s.message().find("of its own"), std::string::npos) << s;
  }
  StoreConfig memory{.name = "m", .dir = root + "/a", .persistent = false};  // not backed up
  EXPECT_TRUE(ValidateStoreDirs({{.name = "a", .dir = root + "/a"}, memory}).ok());
  for (const std::string& blobs :
       {root, root + "/a", root + "/a/blobs", root + "/a.restore", root + "/a.restore/bs"}) {
    Status s = ValidateStoreDirs({{.name = "a", .dir = root + "/a"}}, blobs);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << blobs;
    EXPECT_NE(s.message().find("would empty it"), std::string::npos) << s;
  }
  CommitOptions o = EngineOptions();
  o.stores = two(root + "/a", root + "/a.restore");
  EXPECT_EQ(OpenEngine(*blobs_, o).status().code(), StatusCode::kInvalidArgument);
  // The engine knows the directory of its file:// blob store (through its decorators).
  const std::string blob_dir = blobs_->LocalDirectory();
  ASSERT_FALSE(blob_dir.empty());
  for (const std::string& dir : {blob_dir + "/blobs", DirName(blob_dir)}) {
    o.stores = {{.name = "a", .dir = dir}};
    Result<std::unique_ptr<CommitEngine>> refused = OpenEngine(*blobs_, o);
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << dir;
    EXPECT_NE(refused.status().message().find("would empty it"), std::string::npos)
        << refused.status();
  }
  EXPECT_TRUE(AllBlobs().empty());
}

// W.1: an engine exists only once opened; without a claim it cannot commit.
TEST_F(CommitEngineTest, CommitNeedsAClaimAndRestoreNeedsAnOpenEngine) {
  auto reader = OpenEngine(*blobs_, EngineOptions(/*claim=*/false));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_FALSE((*reader)->opened_at().has_value());
  Result<Checkpoint> refused = CommitContent(**reader, "x", "1");
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_TRUE(blobs_->ListObjects("checkpoints/").GetFor(kWait)->empty());  // read nothing
  // A failed open gives no engine to restore with: nothing is emptied.
  ASSERT_TRUE(RemoveAll(Store("a").dir).ok());
  ASSERT_TRUE(WriteTree(Store("a").dir, {{"keep", "me"}}).ok());
  CommitOptions bad = EngineOptions();
  bad.checkpoints.read_versions = {1, 2};
  EXPECT_EQ(OpenEngine(*blobs_, bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*ReadTree(Store("a").dir), (Tree{{"keep", "me"}}));
}

// W.6: a second engine that claims the same task of the same blob store in this process
// fails at once while the first exists; once it is gone, the task can be opened again.
TEST_F(CommitEngineTest, SecondWriterInOneProcessFailsFast) {
  auto first = OpenEngine(*blobs_, EngineOptions());
  ASSERT_TRUE(first.ok()) << first.status();
  Result<std::unique_ptr<CommitEngine>> second = OpenEngine(*blobs_, EngineOptions());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find("already open for writing"), std::string::npos);
  CommitOptions reader = EngineOptions(/*claim=*/false);
  reader.stores.clear();  // a reader of the checkpoints, as verify is
  EXPECT_TRUE(OpenEngine(*blobs_, reader).ok());
  CommitOptions other = EngineOptions();
  other.task = "task-1";
  other.stores = {Store("b")};
  EXPECT_TRUE(OpenEngine(*blobs_, other).ok());
  first->reset();
  EXPECT_TRUE(OpenEngine(*blobs_, EngineOptions()).ok());
}

// W.6: a restore that runs on after its engine is gone (a task's Init that timed out)
// keeps the stores' directories locked, and the task claimed in this process, until it
// ends: nothing else restores into them meanwhile.
TEST_F(CommitEngineTest, ARestoreKeepsTheStoresLockedAfterItsEngineIsGone) {
  {
    auto first = OpenEngine(*blobs_, EngineOptions());
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(CommitContent(**first, "committed", "1").ok());
  }
  ASSERT_TRUE(RemoveAll(Store("a").dir).ok());  // a new host
  testing::FailpointGate swap(tmp_.Sub("swap"));
  ArmFailpointWait("restore.before_swap", swap.path());
  auto engine = OpenEngine(*blobs_, EngineOptions());
  ASSERT_TRUE(engine.ok()) << engine.status();
  Future<std::map<std::string, StoreFigures>> restore = (*engine)->Restore();
  ASSERT_TRUE(testing::WaitFor([&] { return swap.Held(); }, kWait));
  engine->reset();
  EXPECT_EQ(StoreDirLock::Acquire(Store("a").dir).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(OpenEngine(*blobs_, EngineOptions()).status().code(), StatusCode::kFailedPrecondition);
  swap.Release();
  Result<std::map<std::string, StoreFigures>> restored = std::move(restore).GetFor(kWait);
  DisarmAllFailpoints();
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(*ReadTree(Store("a").dir), (Tree{{"f", "committed"}}));
  // Released once the last step is gone, which may be just after its result is set.
  EXPECT_TRUE(testing::WaitFor([&] { return StoreDirLock::Acquire(Store("a").dir).ok(); }, kWait));
}

// W.2, W.3, W.9: two writers of one task on two blob store handles (as two processes
// have): the second's open fences the first, whose commit persists, deletes and untags
// nothing; the latest checkpoint restores exactly the second's state, and offsets never
// go backwards.
TEST_F(CommitEngineTest, SecondWriterFencesTheFirstWhichChangesNothing) {
  auto zombie = OpenEngine(*blobs_, EngineOptions());
  ASSERT_TRUE(zombie.ok()) << zombie.status();
  ASSERT_TRUE(CommitContent(**zombie, "zombie 1", "1").ok());
  auto other = OpenBlobStore("file://" + BlobDir(), {});  // another process's handle
  ASSERT_TRUE(other.ok());
  CommitOptions other_host = EngineOptions();  // with its own disk
  other_host.stores[0].dir = tmp_.Sub("host2/a");
  auto replacement = OpenEngine(**other, other_host);
  ASSERT_TRUE(replacement.ok()) << replacement.status();
  EXPECT_EQ((*replacement)->opened_at()->input_offsets, (InputOffsets{{"in", "1"}}));
  Result<Checkpoint> winner =
      CommitContent(**replacement, "replacement 2", "2", other_host.stores[0].dir);
  ASSERT_TRUE(winner.ok()) << winner.status();

  const std::set<std::string> blobs_before = AllBlobs();
  const int deletes = blobs_->calls(Method::kDelete);
  Result<Checkpoint> fenced = CommitContent(**zombie, "zombie 3", "3");
  EXPECT_EQ(fenced.status().code(), StatusCode::kFenced) << fenced.status();
  EXPECT_EQ(blobs_->calls(Method::kDelete), deletes);
  // Its upload stays behind, named by no checkpoint, for gc; nothing of the winner's changed.
  for (const std::string& id : blobs_before) EXPECT_TRUE(AllBlobs().count(id)) << id;
  // Known to be fenced now: the next commit fails before it uploads anything.
  const int puts = blobs_->calls(Method::kPut);
  EXPECT_EQ(CommitContent(**zombie, "zombie 4", "4").status().code(), StatusCode::kFenced);
  EXPECT_EQ(blobs_->calls(Method::kPut), puts);
  Result<GcReport> gc = CollectGarbage(*blobs_, pool_, {.grace = 0s});
  ASSERT_TRUE(gc.ok()) << gc.status();
  EXPECT_GT(gc->deleted, 0u);
  EXPECT_EQ(AllBlobs(), Referenced(*winner));

  // A new host restores the winner's state, whatever the zombie did.
  replacement->reset();
  zombie->reset();
  ASSERT_TRUE(RemoveAll(Store("a").dir).ok());
  auto fresh = OpenEngine(**other, EngineOptions());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ((*fresh)->opened_at()->id, winner->id);
  EXPECT_EQ((*fresh)->opened_at()->input_offsets, (InputOffsets{{"in", "2"}}));
  ASSERT_TRUE((*fresh)->Restore().GetFor(kWait).ok());
  EXPECT_EQ(*ReadTree(Store("a").dir), (Tree{{"f", "replacement 2"}}));
  ExpectReferencedIntact(*(*fresh)->last());
}

}  // namespace
}  // namespace blobstate

namespace blobstate {
namespace {

// W.1: each snapshot index is fetched and decoded once at open, for recovery and restore.
TEST_F(CommitEngineTest, SnapshotIndexesAreFetchedOnceForRecoveryAndRestore) {
  {
    auto first = OpenEngine(*blobs_, EngineOptions());
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(CommitContent(**first, "x", "1").ok());
  }
  const int before = blobs_->calls(Method::kGet);
  auto engine = OpenEngine(*blobs_, EngineOptions());
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ(blobs_->calls(Method::kGet), before + 1);  // the one store's index
  ASSERT_TRUE((*engine)->Restore().GetFor(kWait).ok());
  EXPECT_EQ(blobs_->calls(Method::kGet), before + 1);  // reused the local checkpoint
  EXPECT_EQ(*ReadTree(Store("a").dir), (Tree{{"f", "x"}}));
}

}  // namespace
}  // namespace blobstate
