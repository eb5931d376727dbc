#include "blobstate/gc.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>

#include "blobstate/commit.h"
#include "blobstore/blob_store_testing.h"
#include "testing/state_fixture.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
using testing::ReadTree;
using testing::Tree;

class GcTest : public testing::StateTest {
 protected:
  // A blob of job "job", task "task-0" that no checkpoint names.
  std::string PutStray(const std::string& data, std::chrono::seconds ttl) {
    Result<std::string> id = blobs_
                                 ->Put(StringSourceFactory(data), {.job_name = "job",
                                                                   .task_name = "task-0",
                                                                   .store_name = "a",
                                                                   .file_path = "stray",
                                                                   .ttl = ttl})
                                 .GetFor(kWait);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }
  Result<GcReport> Gc(GcOptions options) { return CollectGarbage(*blobs_, pool_, options); }
  // The writer's first commit after its roll back to `base`, whose pin was released, let
  // it go itself: its pin, its history object, and the blobs that only it named (the store
  // holds exactly what `next` names).
  void ExpectLetGo(const Checkpoint& base, const Checkpoint& next) {
    auto checkpoints = *CheckpointStore::Open(*blobs_, pool_, {}, "job", "task-0");
    EXPECT_TRUE(checkpoints->ReadPins().GetFor(kWait)->empty());
    EXPECT_EQ(checkpoints->ReadHistory(base.id).GetFor(kWait).status().code(),
              StatusCode::kNotFound);
    ExpectExactlyReferenced(next);
  }
  // The only pin of the task: `id`'s, released or not.
  Status PinOnly(const std::string& id, bool released) {
    auto checkpoints = *CheckpointStore::Open(*blobs_, pool_, {}, "job", "task-0");
    return checkpoints
        ->UpdatePins([&](std::vector<Pin>) -> Result<std::vector<Pin>> {
          return std::vector<Pin>{{.checkpoint_id = id, .released = released}};
        })
        .GetFor(kWait)
        .status();
  }
  // With `options`: a commit of "f" = 3000 'p' pinned as `blobstate pin` pins it (its history
  // object, then the pin), then `later` commits of other contents; the engine is closed.
  Result<Checkpoint> CommitPinnedThen(const CommitOptions& options, int later) {
    auto engine = OpenEngine(*blobs_, options);
    if (!engine.ok()) return engine.status();
    Result<Checkpoint> pinned = CommitContent(**engine, std::string(3000, 'p'), "0");
    if (!pinned.ok()) return pinned.status();
    auto checkpoints = *CheckpointStore::Open(*blobs_, pool_, {}, "job", "task-0");
    RETURN_IF_ERROR(checkpoints->WriteHistory(*pinned).GetFor(kWait));
    RETURN_IF_ERROR(PinOnly(pinned->id, /*released=*/false));
    for (int i = 1; i <= later; ++i) {
      RETURN_IF_ERROR(
          CommitContent(**engine, std::string(3000, 'a' + i), std::to_string(i)).status());
    }
    return pinned;
  }
  // Every file under the blob store's directory, with its contents.
  Tree Files() { return *ReadTree(BlobDir()); }
};

// H.7: gc marks the latest, retained and pinned checkpoints, and deletes only what none of
// them names and is either expired or an orphan older than the grace period.
TEST_F(GcTest, SweepsOnlyUnmarkedExpiredBlobsAndOldOrphans) {
  CommitOptions options = EngineOptions();
  options.retention.keep_last = 2;
  auto engine = OpenEngine(*blobs_, options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  std::vector<Checkpoint> commits;
  for (int i = 0; i < 4; ++i) {
    Result<Checkpoint> c = CommitContent(**engine, "v" + std::to_string(i), std::to_string(i));
    ASSERT_TRUE(c.ok()) << c.status();
    commits.push_back(*c);
  }
  const std::string expired = PutStray("expired", 3600s);
  const std::string pending = PutStray("pending", 30 * 24 * 3600s);
  const std::string orphan = PutStray("orphan", 0s);
  const std::set<std::string> kept = Referenced(commits.back());
  GcOptions gc{.now = std::chrono::system_clock::now() + 2h};  // grace: 7 days
  Result<GcReport> young = Gc(gc);
  ASSERT_TRUE(young.ok()) << young.status();
  EXPECT_EQ(young->total.expired, 1u);
  EXPECT_EQ(young->total.orphans, 0u);
  EXPECT_EQ(young->total.young, 1u);
  EXPECT_EQ(young->total.pending, 1u);
  EXPECT_EQ(young->deleted, 1u);
  EXPECT_EQ(young->checkpoints, 2u);  // keep_last 2
  EXPECT_FALSE(AllBlobs().count(expired));
  gc.now = std::chrono::system_clock::now() + 31 * 24h;  // the orphan is old, the TTL over
  gc.grace = 7 * 24h;
  Result<GcReport> old = Gc(gc);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->total.orphans, 1u);
  EXPECT_EQ(old->total.expired, 1u);  // the pending one expired too by then
  std::set<std::string> left = AllBlobs();
  EXPECT_EQ(left, kept);
  EXPECT_FALSE(left.count(orphan) || left.count(pending));
}

// H.8: a dry run changes nothing at all, not even temp files.
TEST_F(GcTest, DryRunChangesNothing) {
  auto engine = OpenEngine(*blobs_, EngineOptions());
  ASSERT_TRUE(engine.ok()) << engine.status();
  ASSERT_TRUE(CommitContent(**engine, "v", "1").ok());
  PutStray("expired", 3600s);
  PutStray("orphan", 0s);
  ASSERT_TRUE(WriteFileAtomic(JoinPath(BlobDir(), "tmp/stale.blob"), "x").ok());
  const Tree before = Files();
  std::vector<std::string> seen;
  Result<GcReport> r = CollectGarbage(
      *blobs_, pool_, {.dry_run = true, .now = std::chrono::system_clock::now() + 30 * 24h},
      [&](const BlobInfo& b, Garbage) { seen.push_back(b.id); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->total.expired + r->total.orphans, 2u);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(r->deleted, 0u);
  EXPECT_EQ(Files(), before);
}

// H.8: a task whose marks cannot be read (a missing index) has nothing swept.
TEST_F(GcTest, TaskWithUnreadableMarksIsNotSwept) {
  auto engine = OpenEngine(*blobs_, EngineOptions());
  ASSERT_TRUE(engine.ok()) << engine.status();
  Result<Checkpoint> c = CommitContent(**engine, "v", "1");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(blobs_->Delete(c->state_markers.at(std::string(kBlobStoreBackend)).at("a"))
                  .GetFor(kWait)
                  .ok());
  const std::string orphan = PutStray("orphan", 0s);
  Result<GcReport> r = Gc({.now = std::chrono::system_clock::now() + 30 * 24h});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_NE(r->skipped[0].find("job/task-0"), std::string::npos) << r->skipped[0];
  EXPECT_TRUE(AllBlobs().count(orphan));
}

// H.8: listing is paged, and the requests grow with the garbage, not with the marks.
TEST_F(GcTest, ListsPageByPageAndReadsTagsOnlyOfUnmarkedBlobs) {
  auto engine = OpenEngine(*blobs_, EngineOptions());
  ASSERT_TRUE(engine.ok()) << engine.status();
  ASSERT_TRUE(CommitContent(**engine, std::string(5000, 'x'), "1").ok());  // 5 parts
  Result<GcReport> r = Gc({});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->requests.at("list-blobs"), 1u);    // one page per non-empty shard, at least
  EXPECT_EQ(r->requests.count("expiry-of"), 0u);  // file:// lists TTLs
  EXPECT_EQ(r->total.marked, r->total.blobs);
  EXPECT_EQ(r->deleted, 0u);
}

// A delete that fails is counted and the sweep goes on; the next run finishes the job.
TEST_F(GcTest, FailedDeletesAreCountedAndTheSweepGoesOn) {
  for (int i = 0; i < 3; ++i) PutStray("orphan " + std::to_string(i), 0s);
  blobs_->Script(Method::kDelete, blobs_->calls(Method::kDelete) + 2,
                 Fault::SyncError(UnavailableError("injected")));
  const GcOptions gc{.now = std::chrono::system_clock::now() + 30 * 24h};
  Result<GcReport> r = Gc(gc);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->failed, 1u);
  EXPECT_NE(r->first_failure.find("injected"), std::string::npos) << r->first_failure;
  EXPECT_EQ(r->deleted, 2u);
  Result<GcReport> again = Gc(gc);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->deleted, 1u);
  EXPECT_TRUE(AllBlobs().empty());
}

// H.7: blob ids carry job names cut to 64 bytes. A gc of one job marks every job whose name
// cuts to the same, so that none of their kept blobs passes for an orphan; and the history
// objects of a task whose marks cannot be read stay, however long its names.
TEST_F(GcTest, JobsWhoseNamesCutToTheSameIdAreMarkedTogether) {
  const std::string job(64, 'j'), longer = job + "-v2";
  std::set<std::string> kept;
  std::vector<std::string> history;
  for (const std::string& name : {job, longer}) {
    CommitOptions options = EngineOptions();
    options.job = name;
    options.retention.keep_last = 2;
    options.stores[0].dir = tmp_.Sub(std::to_string(name.size()) + "/a");
    auto engine = OpenEngine(*blobs_, options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    Checkpoint last;
    for (int i = 0; i < 3; ++i) {
      Result<Checkpoint> c = CommitContent(**engine, name + std::to_string(i), std::to_string(i),
                                           options.stores[0].dir);
      ASSERT_TRUE(c.ok()) << c.status();
      last = *c;
    }
    for (const std::string& id : Referenced(last)) kept.insert(id);
    for (const std::string& id : last.retained) {
      history.push_back("checkpoints/" + name + "/task-0/history/" + id);
    }
  }
  const auto later = std::chrono::system_clock::now() + 1h;
  Result<GcReport> r = Gc({.job = job, .grace = 0s, .now = later});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->checkpoints, 4u);  // both jobs' latest and retained
  std::set<std::string> left = AllBlobs();
  for (const std::string& id : kept) EXPECT_TRUE(left.count(id)) << id;
  // The longer job's pins cannot be read: its task is skipped, its history kept.
  ASSERT_TRUE(blobs_->PutObject("checkpoints/" + longer + "/task-0/pins", "garbage", {})
                  .GetFor(kWait)
                  .ok());
  r = Gc({.grace = 0s, .now = later});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->skipped.size(), 1u);
  for (const std::string& name : history) {
    EXPECT_TRUE(blobs_->GetObject(name).GetFor(kWait).ok()) << name;
  }
  left = AllBlobs();
  for (const std::string& id : kept) EXPECT_TRUE(left.count(id)) << id;
}

// H.7: history objects that nothing retains or pins go once older than the grace period.
TEST_F(GcTest, DeletesHistoryObjectsNothingKeeps) {
  CommitOptions options = EngineOptions();
  options.retention.keep_last = 2;
  auto engine = OpenEngine(*blobs_, options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(CommitContent(**engine, "v", std::to_string(i)).ok());
  auto checkpoints = *CheckpointStore::Open(*blobs_, pool_, {}, "job", "task-0");
  Checkpoint stray{.id = NewCheckpointId(), .history = true};
  ASSERT_TRUE(checkpoints->WriteHistory(stray).GetFor(kWait).ok());
  Result<GcReport> r = Gc({.now = std::chrono::system_clock::now() + 8 * 24h});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->history_deleted, 1u);
  EXPECT_EQ(checkpoints->ReadHistory(stray.id).GetFor(kWait).status().code(),
            StatusCode::kNotFound);
  const std::vector<std::string> retained = (*engine)->last()->retained;
  ASSERT_EQ(retained.size(), 1u);
  for (const std::string& id : retained) {
    EXPECT_TRUE(checkpoints->ReadHistory(id).GetFor(kWait).ok()) << id;
  }
}

// H.8: checkpoints are listed under the job name as given, blobs under its id component. A
// name that is not a job name ("jo/b", whose id component is "jo_b") is refused before any
// request: it would sweep job "jo_b" with nothing of it marked.
TEST_F(GcTest, AnInvalidJobNameIsRefusedAndNothingIsDeleted) {
  CommitOptions options = EngineOptions();
  options.job = "jo_b";
  auto engine = OpenEngine(*blobs_, options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  ASSERT_TRUE(CommitContent(**engine, "v", "1").ok());
  const Tree before = Files();
  for (const std::string& job :
       {std::string("jo/b"), std::string("jo b"), std::string(".."), std::string(201, 'j')}) {
    Result<GcReport> r = Gc({.job = job, .grace = 0s, .now = std::chrono::system_clock::now()});
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << job;
    EXPECT_NE(r.status().message().find("invalid job name"), std::string::npos) << r.status();
  }
  EXPECT_EQ(Files(), before);
}

// H.7: the history objects of a skipped task stay, whatever its name: "history" too (its
// objects are "checkpoints/<job>/history/history/<id>").
TEST_F(GcTest, TheHistoryOfASkippedTaskNamedHistoryStays) {
  CommitOptions options = EngineOptions();
  options.task = "history";
  options.retention.keep_last = 2;
  auto engine = OpenEngine(*blobs_, options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(CommitContent(**engine, "v", std::to_string(i)).ok());
  const std::vector<std::string> retained = (*engine)->last()->retained;
  ASSERT_EQ(retained.size(), 1u);
  ASSERT_TRUE(blobs_->PutObject("checkpoints/job/history/pins", "garbage", {}).GetFor(kWait).ok());
  Result<GcReport> r = Gc({.grace = 0s, .now = std::chrono::system_clock::now() + 1h});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->skipped.size(), 1u);
  EXPECT_EQ(r->history_deleted, 0u);
  auto checkpoints = *CheckpointStore::Open(*blobs_, pool_, {}, "job", "history");
  EXPECT_TRUE(checkpoints->ReadHistory(retained[0]).GetFor(kWait).ok()) << retained[0];
}

// H.7: a writer opened at a pinned checkpoint (a roll back) builds its next commit on that
// checkpoint's blobs. Unpinned before that commit, the checkpoint is still the writer's
// base, which its claim recorded: gc keeps its blobs, and the commit names only blobs that
// exist.
TEST_F(GcTest, TheCheckpointAWriterRolledBackToIsKeptUntilItsNextCommit) {
  CommitOptions options = EngineOptions();
  options.retention.keep_last = 1;  // the pin alone keeps the first checkpoint
  Result<Checkpoint> pinned = CommitPinnedThen(options, 2);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  auto checkpoints = *CheckpointStore::Open(*blobs_, pool_, {}, "job", "task-0");
  options.checkpoint_id = pinned->id;
  auto rolled = OpenEngine(*blobs_, options);
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  ASSERT_TRUE((*rolled)->Restore().GetFor(kWait).ok());
  ASSERT_TRUE(PinOnly(pinned->id, /*released=*/true).ok());
  Result<GcReport> r = Gc({.grace = 0s, .now = std::chrono::system_clock::now() + 1h});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->skipped.empty());
  for (const std::string& id : Referenced(*pinned)) EXPECT_TRUE(AllBlobs().count(id)) << id;
  const std::string id = NewCheckpointId();
  Result<Checkpoint> next =
      (*rolled)->Commit(id, SnapshotDirs({Store("a")}, id), {{"in", "4"}}).GetFor(kWait);
  ASSERT_TRUE(next.ok()) << next.status();
  for (const std::string& blob : Referenced(*next)) EXPECT_TRUE(AllBlobs().count(blob)) << blob;
  EXPECT_EQ(*ReadTree(Store("a").dir), (Tree{{"f", std::string(3000, 'p')}}));
  // Until then: the commit let the released checkpoint go, and gc keeps nothing else.
  EXPECT_EQ(checkpoints->ReadLatest().GetFor(kWait)->value().writer_base, "");
  ExpectLetGo(*pinned, *next);
  ASSERT_TRUE(Gc({.grace = 0s, .now = std::chrono::system_clock::now() + 1h}).ok());
  ExpectExactlyReferenced(*next);
}

// Calls `between` right before the `nth` read of a pins object reaches the store.
class BeforePinsRead final : public testing::ForwardingBlobStore {
 public:
  BeforePinsRead(BlobStore& inner, int nth, std::function<void()> between)
      : ForwardingBlobStore(inner), nth_(nth), between_(std::move(between)) {}
  Future<VersionedObject> GetObject(const std::string& name) override {
    if (name.ends_with("/pins") && ++reads_ == nth_) between_();
    return testing::ForwardingBlobStore::GetObject(name);
  }

 private:
  const int nth_;
  std::function<void()> between_;
  std::atomic<int> reads_{0};
};

// H.7: the checkpoint a writer rolls back to, unpinned while the writer opens (after the
// open found it pinned, before the open's cleanup read the pins), stays whole for the
// restore and the first commit: the writer's own cleanup keeps it too.
TEST_F(GcTest, AWriterKeepsTheCheckpointItRollsBackToThoughItIsUnpinnedWhileItOpens) {
  CommitOptions options = EngineOptions();
  options.retention.keep_last = 1;
  Result<Checkpoint> pinned = CommitPinnedThen(options, 1);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  // The open reads the pins twice: to find the checkpoint kept, then in its cleanup.
  std::atomic<bool> released{false};
  BeforePinsRead store(*blobs_, 2, [&] { released = PinOnly(pinned->id, /*released=*/true).ok(); });
  options.checkpoint_id = pinned->id;
  auto rolled = OpenEngine(store, options);
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  ASSERT_TRUE(released) << "the pin was released while the writer opened";
  for (const std::string& id : Referenced(*pinned)) EXPECT_TRUE(AllBlobs().count(id)) << id;
  ASSERT_TRUE((*rolled)->Restore().GetFor(kWait).ok());
  const std::string id = NewCheckpointId();
  Result<Checkpoint> next =
      (*rolled)->Commit(id, SnapshotDirs({Store("a")}, id), {{"in", "3"}}).GetFor(kWait);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*ReadTree(Store("a").dir), (Tree{{"f", std::string(3000, 'p')}}));
  ExpectLetGo(*pinned, *next);
  ASSERT_TRUE(Gc({.grace = 0s, .now = std::chrono::system_clock::now() + 1h}).ok());
  ExpectExactlyReferenced(*next);
}

}  // namespace
}  // namespace blobstate
