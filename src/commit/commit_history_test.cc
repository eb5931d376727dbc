#include "commit/commit_history.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "blobstate/commit.h"
#include "checkpoint/codec.h"
#include "index/wire.h"
#include "testing/state_fixture.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
using testing::ReadTree;
using testing::Tree;

class CommitHistoryTest : public testing::StateTest {
 protected:
  CommitOptions Keep(int n, std::chrono::seconds within = 0s) {
    CommitOptions o = EngineOptions();
    o.retention = {.keep_last = n, .keep_within = within};
    return o;
  }
  std::unique_ptr<CommitEngine> Open(CommitOptions o) {
    auto engine = OpenEngine(*blobs_, std::move(o));
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(*engine) : nullptr;
  }
  Checkpoint CommitOk(CommitEngine& engine, const std::string& content) {
    Result<Checkpoint> c = CommitContent(engine, content, content);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : Checkpoint{};
  }
  // What a new host restores of checkpoint `id`.
  Tree RestoredAt(const std::string& id) {
    CommitOptions o = EngineOptions(/*claim=*/false);
    o.stores[0].dir = tmp_.Sub("restored/" + id);
    o.checkpoint_id = id;
    auto reader = OpenEngine(*blobs_, o);
    if (!reader.ok()) return {{"error", reader.status().ToString()}};
    Status s = (*reader)->Restore().GetFor(kWait).status();
    if (!s.ok()) return {{"error", s.ToString()}};
    return *ReadTree(o.stores[0].dir);
  }
  // Replaces the latest checkpoint with `c` as a writer from before history would have
  // written it: without history fields.
  void RewriteAsLegacy(Checkpoint c) {
    c.history = false;
    c.retained.clear();
    c.expiring.clear();
    const std::string name = "checkpoints/job/task-0/latest-v2";
    Result<VersionedObject> object = blobs_->GetObject(name).GetFor(kWait);
    ASSERT_TRUE(object.ok());
    ASSERT_TRUE(
        blobs_->PutObject(name, EncodeCheckpoint(c), ObjectCondition::IfVersion(object->version))
            .GetFor(kWait)
            .ok());
  }
  // Pins `id` as `blobstate pin` does (a history object, then the pin).
  void PinCheckpoint(const Checkpoint& c, bool released = false) {
    auto checkpoints = *CheckpointStore::Open(*blobs_, pool_, {}, "job", "task-0");
    ASSERT_TRUE(checkpoints->WriteHistory(c).GetFor(kWait).ok());
    ASSERT_TRUE(checkpoints
                    ->UpdatePins([&](std::vector<Pin> pins) -> Result<std::vector<Pin>> {
                      std::erase_if(pins, [&](const Pin& p) { return p.checkpoint_id == c.id; });
                      pins.push_back({.checkpoint_id = c.id, .released = released});
                      return pins;
                    })
                    .GetFor(kWait)
                    .ok());
  }
};

// H.1: keep the last N (1 and 3): each retained checkpoint restores exactly, and the store
// holds exactly what the latest and retained ones reference.
TEST_F(CommitHistoryTest, KeepsTheLastNCheckpointsRestorable) {
  for (int n : {1, 3}) {
    SCOPED_TRACE("keep_last " + std::to_string(n));
    ASSERT_TRUE(RemoveAll(BlobDir()).ok());
    SetUp();
    auto engine = Open(Keep(n));
    std::vector<Checkpoint> commits;
    for (int i = 0; i < 5; ++i) commits.push_back(CommitOk(*engine, "v" + std::to_string(i)));
    const Checkpoint& last = commits.back();
    ASSERT_EQ(last.retained.size(), static_cast<size_t>(n - 1));
    for (int i = 0; i < n; ++i) {
      const Checkpoint& c = commits[commits.size() - 1 - i];
      if (i > 0) {
        EXPECT_EQ(last.retained[i - 1], c.id);
      }
      EXPECT_EQ(RestoredAt(c.id), (Tree{{"f", "v" + std::to_string(4 - i)}}));
    }
    EXPECT_NE(RestoredAt(commits[0].id).count("error"), 0u);  // not kept
    ExpectExactlyReferenced(last);
  }
}

// H.1: keep those newer than a duration; a shorter policy later lets them go.
TEST_F(CommitHistoryTest, KeepsThoseNewerThanADurationUntilThePolicyShrinks) {
  auto engine = Open(Keep(1, 1h));
  for (int i = 0; i < 4; ++i) CommitOk(*engine, "v" + std::to_string(i));
  EXPECT_EQ((*engine).last()->retained.size(), 3u);
  engine.reset();
  auto shrunk = Open(Keep(1));
  Checkpoint last = CommitOk(*shrunk, "v4");
  EXPECT_TRUE(last.retained.empty());
  ExpectExactlyReferenced(last);
}

// H.2: a pin keeps its checkpoint whatever N says; a released pin lets it go at the next
// commit, which also drops the pin.
TEST_F(CommitHistoryTest, PinsSurviveAnyNAndUnpinReleases) {
  auto engine = Open(Keep(1));
  Checkpoint pinned = CommitOk(*engine, "pinned");
  PinCheckpoint(pinned);
  for (int i = 0; i < 3; ++i) CommitOk(*engine, "v" + std::to_string(i));
  EXPECT_EQ(RestoredAt(pinned.id), (Tree{{"f", "pinned"}}));
  std::set<std::string> kept = Referenced(*engine->last()), pin_blobs = Referenced(pinned);
  kept.insert(pin_blobs.begin(), pin_blobs.end());
  EXPECT_EQ(AllBlobs(), kept);
  PinCheckpoint(pinned, /*released=*/true);
  Checkpoint last = CommitOk(*engine, "after");
  ExpectExactlyReferenced(last);
  auto checkpoints = *CheckpointStore::Open(*blobs_, pool_, {}, "job", "task-0");
  EXPECT_TRUE(checkpoints->ReadPins().GetFor(kWait)->empty());
  EXPECT_EQ(checkpoints->ReadHistory(pinned.id).GetFor(kWait).status().code(),
            StatusCode::kNotFound);
}

// H.4: deletions follow from the difference of the reference sets: one changed file of
// twenty costs two deletes (its old blob and the old index), not twenty.
TEST_F(CommitHistoryTest, DeletionsGrowWithTheChangeNotTheState) {
  Tree tree;
  for (int i = 0; i < 20; ++i) tree["f" + std::to_string(i)] = "content " + std::to_string(i);
  ASSERT_TRUE(testing::WriteTree(Store("a").dir, tree).ok());
  auto engine = Open(Keep(2));
  for (int i = 0; i < 4; ++i) {
    const int deletes = blobs_->calls(Method::kDelete);
    ASSERT_TRUE(testing::WriteTree(Store("a").dir, {{"f0", "change " + std::to_string(i)}}).ok());
    const std::string id = NewCheckpointId();
    ASSERT_TRUE(engine->Commit(id, SnapshotDirs({Store("a")}, id), {}).GetFor(kWait).ok());
    EXPECT_EQ(blobs_->calls(Method::kDelete) - deletes, i < 2 ? 0 : 2) << "commit " << i;
  }
  ExpectExactlyReferenced(*engine->last());
}

// H.4: a crash (here: deletes failing) after the persist leaves the deletion to the next
// open, which finishes it and never deletes what a retained checkpoint names.
TEST_F(CommitHistoryTest, DeletionInterruptedAfterThePersistIsFinishedByTheNextOpen) {
  auto engine = Open(Keep(2));
  for (int i = 0; i < 2; ++i) CommitOk(*engine, "v" + std::to_string(i));
  blobs_->ScriptAll(Method::kDelete, Fault::SyncError(UnavailableError("injected")));
  Result<Checkpoint> failed = CommitContent(*engine, "v2", "2");
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable) << failed.status();
  blobs_->ClearScripts();
  const Checkpoint persisted = *engine->last();
  EXPECT_FALSE(persisted.expiring.empty());
  ExpectReferencedIntact(persisted);
  engine.reset();
  auto reopened = Open(Keep(2));  // finishes the deletion
  ExpectExactlyReferenced(persisted);
  EXPECT_EQ(RestoredAt(persisted.retained.at(0)), (Tree{{"f", "v1"}}));
}

// Rollback: a writer opened at a retained checkpoint builds on it; nothing it needs goes.
TEST_F(CommitHistoryTest, RollbackToARetainedCheckpointBuildsOnIt) {
  auto engine = Open(Keep(3));
  Checkpoint good = CommitOk(*engine, "good");
  CommitOk(*engine, "bad");
  engine.reset();
  CommitOptions back = Keep(3);
  back.checkpoint_id = good.id;
  auto rolled = Open(back);
  ASSERT_TRUE(rolled->Restore().GetFor(kWait).ok());
  EXPECT_EQ(*ReadTree(Store("a").dir), (Tree{{"f", "good"}}));
  Checkpoint next = CommitOk(*rolled, "good 2");
  EXPECT_EQ(RestoredAt(next.id), (Tree{{"f", "good 2"}}));
  EXPECT_EQ(RestoredAt(good.id), (Tree{{"f", "good"}}));
  ExpectExactlyReferenced(next);
}

// H.10 upgrade: a store whose latest checkpoint a writer from before history wrote (no
// history fields) keeps working: the next commit retains it and builds on it.
TEST_F(CommitHistoryTest, StoreFromBeforeHistoryKeepsWorking) {
  auto engine = Open(Keep(1));
  Checkpoint old = CommitOk(*engine, "old");
  engine.reset();
  RewriteAsLegacy(old);
  auto upgraded = Open(Keep(3));
  EXPECT_EQ(upgraded->opened_at()->id, old.id);
  Checkpoint next = CommitOk(*upgraded, "new");
  EXPECT_EQ(next.retained, std::vector<std::string>{old.id});
  EXPECT_EQ(RestoredAt(old.id), (Tree{{"f", "old"}}));
  ExpectExactlyReferenced(next);
}

// H.10: finishing the cleanup of a checkpoint from before history (a store written by an
// older binary after this one: its previous snapshots still present) deletes the unpinned
// ancestors and never a pinned one, nor a blob it shares with them.
TEST_F(CommitHistoryTest, LegacyRecoveryKeepsPinnedAncestors) {
  auto engine = Open(Keep(3));
  // g is one blob in the pinned and the middle snapshot, and not in the last: the middle
  // one's deletion must leave it.
  ASSERT_TRUE(testing::WriteTree(Store("a").dir, {{"g", "shared"}}).ok());
  Checkpoint pinned = CommitOk(*engine, "pinned");
  PinCheckpoint(pinned);
  Checkpoint middle = CommitOk(*engine, "middle");
  ASSERT_TRUE(std::filesystem::remove(JoinPath(Store("a").dir, "g")));
  Checkpoint last = CommitOk(*engine, "last");
  engine.reset();
  RewriteAsLegacy(last);
  auto upgraded = Open(Keep(3));
  const std::string middle_index = middle.state_markers.at(std::string(kBlobStoreBackend)).at("a");
  EXPECT_FALSE(AllBlobs().count(middle_index));
  EXPECT_EQ(RestoredAt(pinned.id), (Tree{{"f", "pinned"}, {"g", "shared"}}));
  EXPECT_EQ(RestoredAt(last.id), (Tree{{"f", "last"}}));
}

// H.10 rollback: the history fields are optional (no must-understand bit), so a reader from
// before history reads a checkpoint with them as the latest, ignoring its history.
TEST_F(CommitHistoryTest, HistoryFieldsAreSkippableByOlderReaders) {
  auto engine = Open(Keep(3));
  CommitOk(*engine, "a");
  Checkpoint c = CommitOk(*engine, "b");
  ASSERT_FALSE(c.retained.empty());
  ASSERT_FALSE(c.expiring.empty() && !c.history);
  const std::string bytes = EncodeCheckpoint(c);
  Result<EnvelopeContents> env = OpenEnvelope(bytes, "BSCK", "checkpoint", 2);
  ASSERT_TRUE(env.ok());
  WireReader r(env->body);
  int history_fields = 0;
  while (!r.done()) {
    Result<WireField> f = r.Next();
    ASSERT_TRUE(f.ok());
    if (f->id >= 6) {
      ++history_fields;
      EXPECT_FALSE(f->must_understand) << "field " << f->id;
    }
  }
  EXPECT_GE(history_fields, 2);
}

}  // namespace
}  // namespace blobstate
