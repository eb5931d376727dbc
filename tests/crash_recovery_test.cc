// Crash recovery, end to end: the wordcount example job is crashed at every failpoint (and
// killed at random moments), restarted on the same host or a new one, and must finish with
// the digest of an uninterrupted run; after a last gc, the blob store holds exactly what its
// latest and retained checkpoints reference, and nothing with a TTL.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "blobstate/checkpoint.h"
#include "blobstate/gc.h"
#include "blobstate/snapshot.h"
#include "blobstore/blob_store_testing.h"
#include "checkpoint/codec.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"
#include "util/failpoint.h"

namespace blobstate {
namespace {

using namespace std::chrono_literals;
constexpr auto kWait = 120s;
constexpr int kEvents = 3000;
constexpr int kCommitEvery = 250;

using testing::Outcome;
using testing::Sh;

// The 32 hex digits after "wordcount: digest " in `out`; "" if there are none.
std::string DigestOf(const std::string& out) {
  const std::string label = "wordcount: digest ";
  const size_t at = out.find(label);
  if (at == std::string::npos) return "";
  const std::string digest = out.substr(at + label.size(), 32);
  const bool hex =
      digest.size() == 32 && digest.find_first_not_of("0123456789abcdef") == std::string::npos;
  return hex ? digest : "";
}

class CrashRecoveryTest : public ::testing::Test {
 protected:
  std::string Job(const std::string& state_dir, int events = kEvents, const std::string& env = "") {
    const std::string url = url_.empty() ? "file://" + tmp_.Sub("blobs") : url_;
    return env + " wordcount --blob-store '" + url + "'" + " --job wc --task t0 --state-dir " +
           state_dir + " --events " + std::to_string(events) + " --commit-every " +
           std::to_string(kCommitEvery) + " --seed 7 --max-commit-delay-ms 0";
  }

  // The digest of an uninterrupted run (in its own blob store), computed once.
  static const std::string& Expected() {
    static const std::string digest = [] {
      testing::TempDir dir;
      Outcome r = Sh("wordcount --blob-store file://" + dir.Sub("blobs") +
                     " --job wc --task t0 --state-dir " + dir.Sub("state") + " --events " +
                     std::to_string(kEvents) + " --commit-every " + std::to_string(kCommitEvery) +
                     " --seed 7");
      EXPECT_EQ(r.exit_code, 0) << r.out;
      return DigestOf(r.out);
    }();
    return digest;
  }

  // The blobs the latest checkpoint of wc/t0 and those it retains reference.
  static std::set<std::string> Referenced(BlobStore& store, ThreadPool& pool) {
    auto checkpoints = *CheckpointStore::Open(store, pool, {}, "wc", "t0");
    std::optional<Checkpoint> latest = *checkpoints->ReadLatest().GetFor(kWait);
    EXPECT_TRUE(latest.has_value());
    if (!latest) return {};
    std::vector<std::optional<Checkpoint>> kept = {latest};
    for (const std::string& id : latest->retained) {
      Result<Checkpoint> c = checkpoints->ReadHistory(id).GetFor(kWait);
      EXPECT_TRUE(c.ok()) << c.status();
      if (c.ok()) kept.push_back(*c);
    }
    std::set<std::string> referenced;
    for (const std::optional<Checkpoint>& c : kept) {
      Result<StoreSnapshots> snaps = GetStoreSnapshots(store, pool, c, {}).GetFor(kWait);
      EXPECT_TRUE(snaps.ok()) << snaps.status();
      if (!snaps.ok()) continue;
      for (const auto& [name, snap] : *snaps) {
        referenced.insert(snap.index_blob_id);
        for (const std::string& id : BlobIdsOf(snap.index.root)) referenced.insert(id);
      }
    }
    return referenced;
  }

  // After a last gc (the job stopped, so with no grace period): the store holds exactly
  // what the latest and retained checkpoints reference, none of it with a TTL, and
  // otherwise only blobs whose TTL has not expired (none: every upload was persisted or
  // collected).
  void ExpectNothingLostNothingLeaked() {
    Outcome gc = Sh("blobstate gc --grace 0s --blob-store file://" + tmp_.Sub("blobs"));
    ASSERT_EQ(gc.exit_code, 0) << gc.out;
    Result<std::unique_ptr<BlobStore>> store = OpenBlobStore("file://" + tmp_.Sub("blobs"), {});
    ASSERT_TRUE(store.ok());
    ThreadPool pool("crash-test", 2);
    const std::set<std::string> referenced = Referenced(**store, pool);
    auto far = std::chrono::system_clock::now() + 3650 * 24h;
    std::vector<std::string> ttl = *testing::ExpiringBefore(**store, far);
    std::set<std::string> with_ttl(ttl.begin(), ttl.end());
    std::set<std::string> all = testing::FileStoreBlobIds(tmp_.Sub("blobs"));
    for (const std::string& id : referenced) {
      EXPECT_TRUE(all.count(id)) << "lost: " << id;
      EXPECT_FALSE(with_ttl.count(id)) << "referenced with a TTL: " << id;
    }
    for (const std::string& id : all) {
      EXPECT_TRUE(referenced.count(id) || with_ttl.count(id)) << "leaked: " << id;
    }
  }

  // Runs the job to its end on `state`: the uninterrupted digest; the latest checkpoint
  // verifies; a last gc leaves nothing but what the kept checkpoints reference.
  void FinishVerifyAndCollect(const std::string& state) {
    Outcome final = Sh(Job(state));
    ASSERT_EQ(final.exit_code, 0) << final.out;
    EXPECT_EQ(DigestOf(final.out), Expected()) << final.out;
    Outcome verify =
        Sh("blobstate verify --blob-store file://" + tmp_.Sub("blobs") + " --job wc --task t0");
    EXPECT_EQ(verify.exit_code, 0) << verify.out;
    ExpectNothingLostNothingLeaked();
  }

  testing::TempDir tmp_;
  std::string url_;  // the blob store; empty: file:// under tmp_
};

// The example job on the cloud backends: a crash after a checkpoint was persisted, then a
// restart on a new host that restores from the cloud, ends with the uninterrupted digest,
// and leaves no blob with a TTL that a checkpoint references.
class CloudJobTest : public CrashRecoveryTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = testing::TestBlobStoreUrl(GetParam(), tmp_.path(), &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
  }
};

TEST_P(CloudJobTest, CrashedJobRestartsOnANewHostWithTheUninterruptedDigest) {
  Outcome crashed =
      Sh(Job(tmp_.Sub("host-a"), kEvents, "BLOBSTATE_FAILPOINTS=persist.after_checkpoint=crash@3"));
  EXPECT_EQ(crashed.exit_code, kFailpointExitCode) << crashed.out;
  Outcome restarted = Sh(Job(tmp_.Sub("host-b")));
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out;
  EXPECT_EQ(DigestOf(restarted.out), Expected()) << restarted.out;
  Outcome gc = Sh("blobstate gc --blob-store '" + url_ + "'");
  ASSERT_EQ(gc.exit_code, 0) << gc.out;
  Result<std::unique_ptr<BlobStore>> store = OpenBlobStore(url_, {});
  ASSERT_TRUE(store.ok()) << store.status();
  ThreadPool pool("cloud-job-test", 2);
  auto checkpoints = *CheckpointStore::Open(**store, pool, {}, "wc", "t0");
  std::optional<Checkpoint> latest = *checkpoints->ReadLatest().GetFor(kWait);
  ASSERT_TRUE(latest.has_value());
  Result<StoreSnapshots> snaps = GetStoreSnapshots(**store, pool, latest, {}).GetFor(kWait);
  ASSERT_TRUE(snaps.ok()) << snaps.status();
  auto far = std::chrono::system_clock::now() + 3650 * 24h;
  std::vector<std::string> ttl = *testing::ExpiringBefore(**store, far);
  for (const auto& [name, snap] : *snaps) {
    std::vector<std::string> ids = BlobIdsOf(snap.index.root);
    ids.push_back(snap.index_blob_id);
    for (const std::string& id : ids) {
      EXPECT_EQ(std::count(ttl.begin(), ttl.end(), id), 0) << "referenced with a TTL: " << id;
      std::string bytes;
      EXPECT_TRUE((*store)->Get(id, StringSinkFactory(&bytes)).GetFor(kWait).ok())
          << "lost: " << id;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CloudJobTest, ::testing::Values("s3", "azure"),
                         [](const auto& info) { return info.param; });

// W.9: two processes of the example job for one task, each on a host of its own: a zombie
// held before its second checkpoint write (as after a network partition) until its
// replacement, started once the zombie has persisted its first, has run to the end. The
// zombie is then fenced and fails; the replacement's digest is the uninterrupted one, and the
// latest checkpoint verifies. On every backend.
class TwoJobsTest : public CrashRecoveryTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = testing::TestBlobStoreUrl(GetParam(), tmp_.path(), &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
  }
  // The task's version 2 checkpoint object as it is (a claim record included); nullopt if
  // there is none yet.
  std::optional<Checkpoint> Latest() {
    Result<std::unique_ptr<BlobStore>> store = OpenBlobStore(url_, {});
    if (!store.ok()) return std::nullopt;
    Result<VersionedObject> object =
        (*store)->GetObject("checkpoints/wc/t0/latest-v2").GetFor(kWait);
    Result<Checkpoint> c = object.ok() ? DecodeCheckpoint(object->data) : object.status();
    return c.ok() ? std::optional<Checkpoint>(*c) : std::nullopt;
  }
};

TEST_P(TwoJobsTest, ZombieIsFencedAndTheReplacementFinishesWithTheUninterruptedDigest) {
  const std::string zombie_out = tmp_.Sub("zombie.out");
  // Holds the zombie at its second persist until the replacement has run: meanwhile it
  // writes no checkpoint object (s3rver may serve one it is writing as empty).
  testing::FailpointGate persist(tmp_.Sub("persist"));
  const std::string zombie =
      Job(tmp_.Sub("host-a"), kEvents,
          "BLOBSTATE_FAILPOINTS=persist.before_checkpoint=" + persist.Action() + "@2");
  ASSERT_TRUE(testing::StartInBackground(zombie, zombie_out));
  // Started once the zombie has persisted a checkpoint (it is held at its second).
  std::optional<Checkpoint> seen = Latest();
  for (auto deadline = std::chrono::steady_clock::now() + kWait;
       (!seen || seen->id.empty()) && std::chrono::steady_clock::now() < deadline;
       seen = Latest()) {
    ::usleep(10'000);
  }
  ASSERT_TRUE(seen && !seen->id.empty()) << "the zombie committed";
  ASSERT_EQ(seen->writer_epoch, 1u);
  Outcome replacement = Sh(Job(tmp_.Sub("host-b")));
  persist.Release();
  ASSERT_EQ(replacement.exit_code, 0) << replacement.out;
  EXPECT_EQ(DigestOf(replacement.out), Expected()) << replacement.out;
  Result<std::string> out = testing::WaitForBackground(zombie_out, kWait);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->find("FENCED"), std::string::npos) << *out;
  EXPECT_EQ(out->find("exit=0"), std::string::npos) << *out;
  Outcome verify = Sh("blobstate verify --blob-store '" + url_ + "' --job wc --task t0");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  // The replacement, restarted, finds everything processed: nothing went backwards.
  Outcome again = Sh(Job(tmp_.Sub("host-b")));
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(DigestOf(again.out), Expected()) << again.out;
}

INSTANTIATE_TEST_SUITE_P(Backends, TwoJobsTest, ::testing::Values("file", "s3", "azure"),
                         [](const auto& info) { return info.param; });

struct Case {
  const char* failpoint;
  bool during_restore;  // hit only while a restart restores (downloads)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.failpoint; }

const Case kFailpoints[] = {
    {"put.before_blob", false},
    {"put.after_blob", false},
    {"upload.before_index", false},
    {"upload.after_index", false},
    {"persist.before_checkpoint", false},
    {"persist.after_checkpoint", false},
    {"ttl.before_remove", false},
    {"ttl.after_remove", false},
    {"delete.before_blob", false},
    {"delete.after_blob", false},
    {"get.before_file", true},
    {"get.after_file", true},
};

class FailpointCrashTest : public CrashRecoveryTest,
                           public ::testing::WithParamInterface<std::tuple<Case, bool>> {};

TEST_P(FailpointCrashTest, RestartFinishesWithTheUninterruptedDigest) {
  const auto& [c, new_host] = GetParam();
  const std::string crashed_state = tmp_.Sub("host-a");
  if (c.during_restore) {
    // Commit half of the input first, so that the crashing run has something to restore.
    Outcome half = Sh(Job(crashed_state, kEvents / 2));
    ASSERT_EQ(half.exit_code, 0) << half.out;
    ASSERT_TRUE(RemoveAll(crashed_state).ok());  // restore downloads on this host
  }
  // The 3rd hit: past the first commit, so that there is state to lose.
  Outcome crashed = Sh(
      Job(crashed_state, kEvents, std::string("BLOBSTATE_FAILPOINTS=") + c.failpoint + "=crash@3"));
  EXPECT_EQ(crashed.exit_code, kFailpointExitCode) << crashed.out;
  const std::string restart_state = new_host ? tmp_.Sub("host-b") : crashed_state;
  Outcome restarted = Sh(Job(restart_state));
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out;
  EXPECT_EQ(DigestOf(restarted.out), Expected()) << restarted.out;
  ExpectNothingLostNothingLeaked();
}

INSTANTIATE_TEST_SUITE_P(EveryFailpoint, FailpointCrashTest,
                         ::testing::Combine(::testing::ValuesIn(kFailpoints), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<Case, bool>>& info) {
                           std::string name = std::get<0>(info.param).failpoint;
                           for (char& ch : name) {
                             if (ch == '.') ch = '_';
                           }
                           return name + (std::get<1>(info.param) ? "_new_host" : "_same_host");
                         });

// Starts the job on `state` in a child process, its output discarded.
pid_t SpawnJob(const std::string& blobs, const std::string& state) {
  const std::string bin = std::string(BLOBSTATE_BIN_DIR) + "/wordcount";
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int null = ::open("/dev/null", O_WRONLY);
  ::dup2(null, 1);
  ::dup2(null, 2);
  const std::string url = "file://" + blobs, events = std::to_string(kEvents),
                    every = std::to_string(kCommitEvery);
  ::execl(bin.c_str(), "wordcount", "--blob-store", url.c_str(), "--job", "wc", "--task", "t0",
          "--state-dir", state.c_str(), "--events", events.c_str(), "--commit-every", every.c_str(),
          "--seed", "7", "--max-commit-delay-ms", "0", nullptr);
  ::_exit(127);
}

// Killed with SIGKILL at random moments and restarted, again and again: the final digest is
// the uninterrupted one.
// Z.1, Z.3: a restart on a new host with a lazy restore opens its stores before their
// table files are local, runs to the uninterrupted digest (commits during warm-up
// included), and leaves a checkpoint that verifies.
TEST_F(CrashRecoveryTest, LazyRestoreOnANewHostEndsWithTheUninterruptedDigest) {
  Outcome crashed =
      Sh(Job(tmp_.Sub("host-a"), kEvents, "BLOBSTATE_FAILPOINTS=persist.after_checkpoint=crash@3"));
  EXPECT_EQ(crashed.exit_code, kFailpointExitCode) << crashed.out;
  Outcome lazy = Sh(Job(tmp_.Sub("host-b")) + " --lazy-restore");
  ASSERT_EQ(lazy.exit_code, 0) << lazy.out;
  EXPECT_EQ(DigestOf(lazy.out), Expected()) << lazy.out;
  FinishVerifyAndCollect(tmp_.Sub("host-b"));
}

// Z.5: killed at each failpoint of a lazy restore's download (on a new host, while its
// stores warm up), then restarted lazily on that host: the restart keeps the files that
// were local, ends with the uninterrupted digest, and leaves a checkpoint that verifies.
class LazyFetchCrashTest : public CrashRecoveryTest,
                           public ::testing::WithParamInterface<const char*> {};

TEST_P(LazyFetchCrashTest, RestartOnTheSameHostEndsWithTheUninterruptedDigest) {
  Outcome crashed =
      Sh(Job(tmp_.Sub("host-a"), kEvents, "BLOBSTATE_FAILPOINTS=persist.after_checkpoint=crash@3"));
  EXPECT_EQ(crashed.exit_code, kFailpointExitCode) << crashed.out;
  Outcome warming = Sh(Job(tmp_.Sub("host-b"), kEvents,
                           std::string("BLOBSTATE_FAILPOINTS=") + GetParam() + "=crash") +
                       " --lazy-restore");
  EXPECT_EQ(warming.exit_code, kFailpointExitCode) << warming.out;
  Outcome restarted = Sh(Job(tmp_.Sub("host-b")) + " --lazy-restore");
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out;
  EXPECT_EQ(DigestOf(restarted.out), Expected()) << restarted.out;
  FinishVerifyAndCollect(tmp_.Sub("host-b"));
}

INSTANTIATE_TEST_SUITE_P(EveryLazyFailpoint, LazyFetchCrashTest,
                         ::testing::Values("lazy.before_part", "lazy.after_part",
                                           "lazy.before_finish", "lazy.after_finish"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

TEST_F(CrashRecoveryTest, KillLoopEndsWithTheUninterruptedDigest) {
  std::mt19937 random(12345);  // reproducible
  const std::string state = tmp_.Sub("state");
  for (int round = 0; round < 12; ++round) {
    pid_t pid = SpawnJob(tmp_.Sub("blobs"), state);
    ASSERT_GE(pid, 0);
    ::usleep(std::uniform_int_distribution<int>(5'000, 150'000)(random));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  Outcome final = Sh(Job(state));
  ASSERT_EQ(final.exit_code, 0) << final.out;
  EXPECT_EQ(DigestOf(final.out), Expected()) << final.out;
  ExpectNothingLostNothingLeaked();
}

// H.7, H.8: gc run again and again beside the kill loop (with its default grace period, as
// in production) never takes what a running commit or a kept checkpoint needs; a last gc
// once the job stopped leaves exactly what the kept checkpoints reference.
TEST_F(CrashRecoveryTest, GcLoopBesideTheKillLoopLosesNothing) {
  std::atomic<bool> stop{false};
  std::atomic<int> runs{0}, failures{0};
  std::thread gc([&] {
    do {  // at least once, however late this thread starts
      Outcome r = Sh("blobstate gc --blob-store file://" + tmp_.Sub("blobs") + " 2>&1");
      ++(r.exit_code == 0 || r.out.find("no blob store") != std::string::npos ? runs : failures);
    } while (!stop);
  });
  std::mt19937 random(777);  // reproducible
  const std::string state = tmp_.Sub("state");
  for (int round = 0; round < 10; ++round) {
    pid_t pid = SpawnJob(tmp_.Sub("blobs"), state);
    ASSERT_GE(pid, 0);
    ::usleep(std::uniform_int_distribution<int>(5'000, 150'000)(random));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  stop = true;
  gc.join();
  EXPECT_GT(runs.load(), 0);
  EXPECT_EQ(failures.load(), 0);
  FinishVerifyAndCollect(state);
}

// H.5: killed right after persisting a checkpoint, then left stopped for 8 days: neither a
// lifecycle rule (deleting every blob whose TTL expired) nor gc takes anything a kept
// checkpoint needs; the checkpoint verifies and the task restarts on a new host.
TEST_F(CrashRecoveryTest, CommittedCheckpointOutlivesTheTtlAndGc) {
  Outcome crashed =
      Sh(Job(tmp_.Sub("host-a"), kEvents, "BLOBSTATE_FAILPOINTS=persist.after_checkpoint=crash@3"));
  EXPECT_EQ(crashed.exit_code, kFailpointExitCode) << crashed.out;
  Result<std::unique_ptr<BlobStore>> store = OpenBlobStore("file://" + tmp_.Sub("blobs"), {});
  ASSERT_TRUE(store.ok());
  ThreadPool pool("crash-test", 2);
  const std::set<std::string> referenced = Referenced(**store, pool);
  const auto later = std::chrono::system_clock::now() + 8 * 24h;
  const std::vector<std::string> with_ttl = *testing::ExpiringBefore(**store, later);
  for (const std::string& id : with_ttl) {
    EXPECT_FALSE(referenced.count(id)) << "a committed blob with a TTL: " << id;
    ASSERT_TRUE((*store)->Delete(id).GetFor(kWait).ok());  // the lifecycle rule
  }
  Result<GcReport> gc = CollectGarbage(**store, pool, {.now = later});
  ASSERT_TRUE(gc.ok()) << gc.status();
  Outcome verify =
      Sh("blobstate verify --blob-store file://" + tmp_.Sub("blobs") + " --job wc --task t0");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  Outcome restarted = Sh(Job(tmp_.Sub("host-b")));
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out;
  EXPECT_EQ(DigestOf(restarted.out), Expected()) << restarted.out;
}

// H.5, H.7: a commit killed before its persist leaves blobs that no checkpoint names (their
// TTLs already removed): garbage that gc finds and deletes once the grace period passed.
TEST_F(CrashRecoveryTest, CommitKilledBeforeItsPersistLeavesGarbageThatGcCollects) {
  Outcome crashed = Sh(
      Job(tmp_.Sub("host-a"), kEvents, "BLOBSTATE_FAILPOINTS=persist.before_checkpoint=crash@3"));
  EXPECT_EQ(crashed.exit_code, kFailpointExitCode) << crashed.out;
  Result<std::unique_ptr<BlobStore>> store = OpenBlobStore("file://" + tmp_.Sub("blobs"), {});
  ASSERT_TRUE(store.ok());
  ThreadPool pool("crash-test", 2);
  const std::set<std::string> referenced = Referenced(**store, pool);
  const std::set<std::string> before = testing::FileStoreBlobIds(tmp_.Sub("blobs"));
  const size_t garbage = before.size() - referenced.size();
  EXPECT_GT(garbage, 0u);
  Result<GcReport> young = CollectGarbage(**store, pool, {});
  ASSERT_TRUE(young.ok()) << young.status();
  EXPECT_EQ(young->deleted, 0u);  // within the grace period
  Result<GcReport> gc =
      CollectGarbage(**store, pool, {.now = std::chrono::system_clock::now() + 8 * 24h});
  ASSERT_TRUE(gc.ok()) << gc.status();
  EXPECT_EQ(gc->deleted, garbage);
  EXPECT_EQ(testing::FileStoreBlobIds(tmp_.Sub("blobs")), referenced);
  Outcome restarted = Sh(Job(tmp_.Sub("host-b")));
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out;
  EXPECT_EQ(DigestOf(restarted.out), Expected()) << restarted.out;
}

// W.9: the kill loop with two workers of one task (a zombie and its replacement, each on a
// host of its own), started at random moments: whichever is fenced, the final run's digest
// is the uninterrupted one and the latest checkpoint verifies.
TEST_F(CrashRecoveryTest, KillLoopWithTwoWorkersOfOneTaskEndsWithTheUninterruptedDigest) {
  std::mt19937 random(4242);  // reproducible
  auto pause = [&] { ::usleep(std::uniform_int_distribution<int>(5'000, 120'000)(random)); };
  for (int round = 0; round < 8; ++round) {
    pid_t first = SpawnJob(tmp_.Sub("blobs"), tmp_.Sub("host-a"));
    pause();
    pid_t second = SpawnJob(tmp_.Sub("blobs"), tmp_.Sub("host-b"));
    ASSERT_GE(first, 0);
    ASSERT_GE(second, 0);
    pause();
    ::kill(first, SIGKILL);
    pause();
    ::kill(second, SIGKILL);
    ::waitpid(first, nullptr, 0);
    ::waitpid(second, nullptr, 0);
  }
  FinishVerifyAndCollect(tmp_.Sub("host-c"));
}

// Several tasks in one process, each with its own stores and commits: crashed midway (a
// failpoint hit by whichever task gets there first), restarted, same digest.
TEST_F(CrashRecoveryTest, SeveralTasksInOneProcessRecoverTogether) {
  const std::string tasks = " --tasks 3";
  testing::TempDir clean;
  Outcome uninterrupted =
      Sh("wordcount --blob-store file://" + clean.Sub("blobs") + " --job wc --task t --state-dir " +
         clean.Sub("state") + " --events 2000 --commit-every 250 --seed 3" + tasks);
  ASSERT_EQ(uninterrupted.exit_code, 0) << uninterrupted.out;
  const std::string job = "wordcount --blob-store file://" + tmp_.Sub("blobs") +
                          " --job wc --task t --state-dir " + tmp_.Sub("state") +
                          " --events 2000 --commit-every 250 --seed 3 --max-commit-delay-ms 0" +
                          tasks;
  Outcome crashed = Sh("BLOBSTATE_FAILPOINTS=persist.after_checkpoint=crash@7 " + job);
  EXPECT_EQ(crashed.exit_code, kFailpointExitCode) << crashed.out;
  Outcome restarted = Sh(job);
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out;
  EXPECT_EQ(DigestOf(restarted.out), DigestOf(uninterrupted.out));
  EXPECT_NE(DigestOf(restarted.out), "");
}

}  // namespace
}  // namespace blobstate
