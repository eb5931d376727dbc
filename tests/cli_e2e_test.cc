// End-to-end: the blobstate tool on real RocksDB stores (made and checked with the
// blobstate-rocksdb example tool), as a user runs them.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cctype>
#include <cstdio>
#include <string>

#include "blobstate/checkpoint.h"
#include "blobstate/store.h"
#include "blobstore/local/local_ops.h"
#include "checkpoint/codec.h"
#include "index/codec.h"
#include "index/index_testing.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"
#include "util/fs.h"
#include "util/random.h"

namespace blobstate {
namespace {

using testing::Outcome;
using testing::Sh;

// The number `key` of the "_all" object in `json`; UINT64_MAX if there is none.
uint64_t JsonNumber(const std::string& json, const std::string& key) {
  const size_t all = json.find("\"_all\":{");
  if (all == std::string::npos) return UINT64_MAX;
  const size_t end = json.find('}', all);
  const std::string field = "\"" + key + "\":";
  const size_t at = json.find(field, all);
  if (at == std::string::npos || at > end ||
      !std::isdigit(static_cast<unsigned char>(json[at + field.size()]))) {
    return UINT64_MAX;
  }
  return std::stoull(json.substr(at + field.size()));
}

class CliEndToEndTest : public ::testing::Test {
 protected:
  std::string Task() const {
    return " --blob-store file://" + tmp_.Sub("blobs") + " --job j --task t-0 ";
  }
  testing::TempDir tmp_;
};

// The same commands against every backend: file://, S3 (s3rver) and Azure (Azurite).
class CliBackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = testing::TestBlobStoreUrl(GetParam(), tmp_.path(), &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
  }
  std::string Task() const { return " --blob-store '" + url_ + "' --job j --task t-0 "; }
  testing::TempDir tmp_;
  std::string url_;
};

INSTANTIATE_TEST_SUITE_P(Backends, CliBackendTest, ::testing::Values("file", "s3", "azure"),
                         [](const auto& info) { return info.param; });

TEST_P(CliBackendTest, BacksUpIncrementallyAndRestoresRocksDbOnANewHost) {
  const std::string a = tmp_.Sub("hostA/db"), b = tmp_.Sub("hostB/db");
  ASSERT_EQ(Sh("blobstate-rocksdb fill --db " + a + " --keys 20000 --value-size 200").exit_code, 0);
  Outcome first = Sh("blobstate backup" + Task() + "--store db=" + a + " --json");
  ASSERT_EQ(first.exit_code, 0) << first.out;
  EXPECT_EQ(JsonNumber(first.out, "files_retained"), 0u) << first.out;

  ASSERT_EQ(Sh("blobstate-rocksdb fill --db " + a + " --start 20000 --keys 1000 --value-size 200")
                .exit_code,
            0);
  Outcome second = Sh("blobstate backup" + Task() + "--store db=" + a + " --json");
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_GT(JsonNumber(second.out, "files_retained"), 0u) << second.out;  // old SSTs reused
  EXPECT_LT(JsonNumber(second.out, "bytes_uploaded"), JsonNumber(first.out, "bytes_uploaded") / 2)
      << second.out;

  Outcome restore = Sh("blobstate restore" + Task() + "--store db=" + b + " --json");
  ASSERT_EQ(restore.exit_code, 0) << restore.out;
  Outcome verify =
      Sh("blobstate-rocksdb verify --db " + b + " --keys 21000 --value-size 200 --total 21000");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;

  Outcome check = Sh("blobstate verify" + Task());
  EXPECT_EQ(check.exit_code, 0) << check.out;
  Outcome list = Sh("blobstate checkpoints" + Task());
  EXPECT_EQ(list.exit_code, 0) << list.out;
  EXPECT_NE(list.out.find("  db  "), std::string::npos) << list.out;
}

// The checkpoint ids in `json` (of `checkpoints --json`), in order: newest first.
std::vector<std::string> CheckpointIds(const std::string& json) {
  std::vector<std::string> ids;
  const std::string key = "\"checkpoint_id\":\"";
  for (size_t at = json.find(key); at != std::string::npos; at = json.find(key, at + 1)) {
    ids.push_back(json.substr(at + key.size(), json.find('"', at + key.size()) - at - key.size()));
  }
  return ids;
}

// H.1-H.3, H.8, H.9: retained checkpoints and pins, listed, restored, verified and shown by
// id; unpinning releases; a backup of an emptied store leaves the one before restorable.
// R.1: a host whose store is one commit behind (the task ran elsewhere since) downloads
// only the files it lacks, within 1% + 64 KiB.
TEST_P(CliBackendTest, SameHostOneCommitBehindDownloadsOnlyWhatItLacks) {
  const std::string a = tmp_.Sub("hostA/db"), b = tmp_.Sub("hostB/db");
  ASSERT_EQ(Sh("blobstate-rocksdb fill --db " + a + " --keys 20000 --value-size 200").exit_code, 0);
  ASSERT_EQ(Sh("blobstate backup" + Task() + "--store db=" + a).exit_code, 0);
  ASSERT_EQ(Sh("blobstate restore" + Task() + "--store db=" + b).exit_code, 0);
  ASSERT_EQ(Sh("blobstate-rocksdb fill --db " + b + " --start 20000 --keys 1000 --value-size 200")
                .exit_code,
            0);
  ASSERT_EQ(Sh("blobstate backup" + Task() + "--store db=" + b).exit_code, 0);
  Result<testing::Tree> before = testing::ReadTree(a);
  ASSERT_TRUE(before.ok());
  Outcome restore = Sh("blobstate restore" + Task() + "--store db=" + a + " --json");
  ASSERT_EQ(restore.exit_code, 0) << restore.out;
  Result<testing::Tree> after = testing::ReadTree(a);
  ASSERT_TRUE(after.ok());
  uint64_t lacked = 0;
  for (const auto& [path, content] : *after) {
    auto old = before->find(path);
    if (old == before->end() || old->second != content) lacked += content.size();
  }
  const uint64_t downloaded = JsonNumber(restore.out, "bytes_downloaded");
  EXPECT_GE(downloaded, lacked) << restore.out;
  EXPECT_LE(downloaded, lacked + lacked / 100 + (64 << 10)) << restore.out;
  EXPECT_GT(JsonNumber(restore.out, "files_reused"), 0u) << restore.out;
  Outcome verify =
      Sh("blobstate-rocksdb verify --db " + a + " --keys 21000 --value-size 200 --total 21000");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
}

TEST_P(CliBackendTest, KeepsHistoryAndPinsAndRestoresAnyKeptCheckpoint) {
  const std::string dir = tmp_.Sub("s"), store = " --store s=" + dir;
  auto backup = [&](const std::string& content, const std::string& flags = "") {
    if (content.empty()) {
      EXPECT_TRUE(RemoveAll(JoinPath(dir, "f")).ok());
    } else {
      EXPECT_TRUE(testing::WriteTree(dir, {{"f", content}}).ok());
    }
    Outcome r = Sh("blobstate backup" + Task() + store + flags);
    EXPECT_EQ(r.exit_code, 0) << r.out;
  };
  auto list = [&] {
    Outcome r = Sh("blobstate checkpoints" + Task() + "--json");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    // Each kept checkpoint holds one file of 2 bytes ("vN").
    EXPECT_NE(r.out.find("\"files\":1,\"bytes\":2}"), std::string::npos) << r.out;
    return CheckpointIds(r.out);
  };
  auto restored = [&](const std::string& id) {
    const std::string to = tmp_.Sub("restored-" + id);
    Outcome r = Sh("blobstate restore" + Task() + "--store s=" + to + " --checkpoint " + id);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    return testing::ReadTree(to).value_or(testing::Tree{{"error", r.out}});
  };
  for (const char* v : {"v1", "v2", "v3", "v4"}) backup(v, " --keep-last 3");
  std::vector<std::string> ids = list();
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(restored(ids[2]), (testing::Tree{{"f", "v2"}}));
  const std::string pinned = ids[2];
  Outcome pin = Sh("blobstate pin" + Task() + "--checkpoint " + pinned + " --name before-v5");
  ASSERT_EQ(pin.exit_code, 0) << pin.out;
  for (const char* v : {"v5", "v6", "v7"}) backup(v);
  ids = list();
  ASSERT_EQ(ids.size(), 4u);  // the latest, two retained, and the pinned one
  EXPECT_EQ(ids.back(), pinned);
  EXPECT_EQ(restored(pinned), (testing::Tree{{"f", "v2"}}));
  Outcome show = Sh("blobstate show" + Task() + "--checkpoint " + pinned + " --json");
  EXPECT_EQ(show.exit_code, 0) << show.out;
  EXPECT_NE(show.out.find("\"checkpoint_id\":\"" + pinned), std::string::npos) << show.out;
  Outcome verify = Sh("blobstate verify" + Task() + "--checkpoint " + pinned + " --orphans --json");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_NE(verify.out.find("\"ttl_debt\":0"), std::string::npos) << verify.out;
  Outcome gone = Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("x") +
                    " --checkpoint 1700000000000-0000000000000000");
  EXPECT_EQ(gone.exit_code, 1) << gone.out;
  EXPECT_NE(gone.out.find("is not kept"), std::string::npos) << gone.out;
  // Pinned only (no longer retained), it is pinned again under a new name.
  pin = Sh("blobstate pin" + Task() + "--checkpoint " + pinned + " --name renamed");
  ASSERT_EQ(pin.exit_code, 0) << pin.out;
  Outcome listed = Sh("blobstate checkpoints" + Task() + "--json");
  EXPECT_NE(listed.out.find("\"pin_name\":\"renamed\""), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("before-v5"), std::string::npos) << listed.out;

  ASSERT_EQ(Sh("blobstate unpin" + Task() + "--checkpoint " + pinned).exit_code, 0);
  backup("");  // an emptied store: the checkpoint before it stays restorable
  // Unpinned and dropped, it cannot be pinned again.
  pin = Sh("blobstate pin" + Task() + "--checkpoint " + pinned);
  EXPECT_EQ(pin.exit_code, 1) << pin.out;
  EXPECT_NE(pin.out.find("is neither the latest, retained nor pinned"), std::string::npos)
      << pin.out;
  ids = list();
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(restored(ids[1]), (testing::Tree{{"f", "v7"}}));
  Outcome gc = Sh("blobstate gc --blob-store '" + url_ + "' --dry-run --json");
  ASSERT_EQ(gc.exit_code, 0) << gc.out;
  EXPECT_NE(gc.out.find("\"expired\":0,"), std::string::npos) << gc.out;
  EXPECT_NE(gc.out.find("\"orphans\":0,"), std::string::npos) << gc.out;
  EXPECT_NE(gc.out.find("\"deleted\":0,"), std::string::npos) << gc.out;
}

TEST_P(CliBackendTest, JsonAndMetricsFileCarryTheSameFigures) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("s"), {{"f", "12345"}, {"d/g", "123"}}).ok());
  Outcome r = Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("s") +
                 " --json --metrics-file " + tmp_.Sub("m.prom"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(JsonNumber(r.out, "bytes_uploaded"), 8u) << r.out;
  Result<std::string> prom = ReadSmallFile(tmp_.Sub("m.prom"));
  ASSERT_TRUE(prom.ok());
  EXPECT_NE(prom->find(R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="_all"} 8)"),
            std::string::npos)
      << *prom;
  // One backup of one store is one run, in the store's series and in the total; the
  // checkpoint write counts in the total's phases, in both outputs.
  EXPECT_NE(prom->find(R"(blobstate_runs_total{flow="backup",outcome="ok",store="_all"} 1)"),
            std::string::npos)
      << *prom;
  EXPECT_NE(
      prom->find(R"(blobstate_phase_seconds_total{flow="backup",phase="persist",store="_all"})"),
      std::string::npos)
      << *prom;
  EXPECT_NE(r.out.find(R"("persist":)"), std::string::npos) << r.out;
}

// H.9: verify reports TTL debt (a blob of the checkpoint that could still expire) as a
// failure, and with --orphans the job's garbage.
// Z.1, Z.4: restore --lazy leaves the tables in the blob store; a backup of that store
// (with the background download held back) keeps their blobs instead of uploading them,
// and a restore of it on a new host is whole.
TEST_F(CliEndToEndTest, ABackupOfALazilyRestoredStoreKeepsTheBlobsOfItsRemoteTables) {
  const std::string a = tmp_.Sub("hostA/db"), b = tmp_.Sub("hostB/db"), c = tmp_.Sub("hostC/db");
  for (int start : {0, 7000, 14000}) {  // three tables, one more than the open reads
    ASSERT_EQ(Sh("blobstate-rocksdb fill --db " + a + " --start " + std::to_string(start) +
                 " --keys 7000 --value-size 200")
                  .exit_code,
              0);
  }
  Outcome first = Sh("blobstate backup" + Task() + "--store db=" + a + " --json");
  ASSERT_EQ(first.exit_code, 0) << first.out;
  Outcome lazy = Sh("blobstate restore" + Task() + "--store db=" + b + " --lazy");
  ASSERT_EQ(lazy.exit_code, 0) << lazy.out;
  ASSERT_TRUE(PathExists(b + ".remote")) << lazy.out;

  Outcome second = Sh("BLOBSTATE_FAILPOINTS=lazy.before_part=error blobstate backup" + Task() +
                      "--store db=" + b + " --json");
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_EQ(JsonNumber(second.out, "files_retained"), 3u) << second.out;
  EXPECT_LT(JsonNumber(second.out, "bytes_uploaded"), JsonNumber(first.out, "bytes_uploaded") / 10)
      << second.out;
  Result<std::vector<std::string>> checkpoints = ListCheckpointDirs(b);
  ASSERT_TRUE(checkpoints.ok() && checkpoints->size() == 1u);
  EXPECT_TRUE(PathExists(RemoteManifestOf(checkpoints->front())));  // what it lacks

  Outcome restore = Sh("blobstate restore" + Task() + "--store db=" + c);
  ASSERT_EQ(restore.exit_code, 0) << restore.out;
  Outcome verify =
      Sh("blobstate-rocksdb verify --db " + c + " --keys 21000 --value-size 200 --total 21000");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
}

TEST_F(CliEndToEndTest, VerifyReportsTtlDebtAndOrphans) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("s"), {{"f", "content"}}).ok());
  ASSERT_EQ(Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("s")).exit_code, 0);
  Outcome clean = Sh("blobstate verify" + Task() + "--orphans --grace 0s --json");
  ASSERT_EQ(clean.exit_code, 0) << clean.out;
  EXPECT_NE(clean.out.find("\"ttl_debt\":0"), std::string::npos) << clean.out;
  EXPECT_NE(clean.out.find("\"orphans\":0,"), std::string::npos) << clean.out;
  // A blob of the checkpoint given back its TTL (file://: moved to pending/), as a crash of a
  // writer from before history could leave it; and an orphan.
  Result<std::unique_ptr<BlobStore>> store = OpenBlobStore("file://" + tmp_.Sub("blobs"), {});
  ASSERT_TRUE(store.ok());
  ThreadPool pool("cli-test", 1);
  auto checkpoints = *CheckpointStore::Open(**store, pool, {}, "j", "t-0");
  std::optional<Checkpoint> latest = *checkpoints->ReadLatest().GetFor(std::chrono::seconds(60));
  const std::string index = latest->state_markers.at(std::string(kBlobStoreBackend)).at("s");
  const std::string shard = local_internal::ShardOf(index);
  const std::string from = tmp_.Sub("blobs/blobs/" + shard + "/" + index);
  const std::string to = tmp_.Sub("blobs/pending/" + shard + "/" + index);
  ASSERT_TRUE(MakeDirs(to.substr(0, to.rfind('/'))).ok());
  ASSERT_EQ(::rename(from.c_str(), to.c_str()), 0);
  ASSERT_TRUE((*store)
                  ->Put(StringSourceFactory("orphan"), {.job_name = "j", .task_name = "t-0"})
                  .GetFor(std::chrono::seconds(60))
                  .ok());
  Outcome debt = Sh("blobstate verify" + Task() + "--orphans --grace 0s");
  EXPECT_EQ(debt.exit_code, 1) << debt.out;
  EXPECT_NE(debt.out.find("1 blob(s) of checkpoint " + latest->id + " still have a TTL"),
            std::string::npos)
      << debt.out;
  EXPECT_NE(debt.out.find("1 orphan(s) older than the grace period"), std::string::npos)
      << debt.out;
}

TEST_F(CliEndToEndTest, ErrorsNameTheProblemAndSetTheExitCode) {
  Outcome usage = Sh("blobstate backup --job j --task t");
  EXPECT_EQ(usage.exit_code, 2) << usage.out;
  EXPECT_NE(usage.out.find("--blob-store"), std::string::npos) << usage.out;
  Outcome missing = Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("nope"));
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find(tmp_.Sub("nope")), std::string::npos) << missing.out;
  EXPECT_NE(missing.out.find("store s"), std::string::npos) << missing.out;
  Outcome versions = Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("s") +
                        " --checkpoint-write-versions 1");
  EXPECT_EQ(versions.exit_code, 2) << versions.out;
  EXPECT_NE(versions.out.find("must both include 2"), std::string::npos) << versions.out;
  EXPECT_FALSE(PathExists(tmp_.Sub("blobs/objects/checkpoints"))) << "nothing may be written";
  Outcome bad = Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("s") +
                   " --checkpoint-read-versions 2,3");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("unknown checkpoint version 3"), std::string::npos) << bad.out;
  // Bad flag values are usage errors (exit 2), caught before anything is touched.
  const std::pair<std::string, std::string> usage_errors[] = {
      {"--store s=" + tmp_.Sub("s") + " --store t=" + tmp_.Sub("s") + "/", "of its own"},
      {"--store s=" + tmp_.Sub("s") + " --store t=" + tmp_.Sub("s/in"), "of its own"},
      {"--store s=" + tmp_.Sub("s") + " --store t=" + tmp_.Sub("s.restore"), "of its own"},
      {"--store s=" + DirName(tmp_.Sub("blobs")), "would empty it"},  // holds the blob store
      {"--store s=" + tmp_.Sub("blobs/s"), "would empty it"},
      {"--store s=" + tmp_.Sub("s") + " --part-size 1", "--part-size 1"},
      {"--store s=" + tmp_.Sub("s") + " --io-threads 0", "--io-threads"},
      {"--store s", "expected NAME=DIR"},
  };
  for (const auto& [flags, why] : usage_errors) {
    Outcome r = Sh("blobstate backup" + Task() + flags);
    EXPECT_EQ(r.exit_code, 2) << flags << ": " << r.out;
    EXPECT_NE(r.out.find(why), std::string::npos) << flags << ": " << r.out;
  }
  EXPECT_FALSE(PathExists(tmp_.Sub("blobs/objects/checkpoints"))) << "nothing may be written";
  for (const char* command : {"backup", "restore", "checkpoints", "verify", "show", "gc"}) {
    Outcome help = Sh(std::string("blobstate ") + command + " --help");
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.out.find("--json"), std::string::npos) << command << help.out;
  }
}

// A mistyped bucket or container is named as missing, not taken for a task without
// checkpoints (or a blob that is gone), and nothing is changed. (A mistyped file:// store:
// ReadOnlyCommandsNeverCreateABlobStore.)
TEST_F(CliEndToEndTest, AMissingBucketOrContainerIsNamedAsSuch) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("s"), {{"a", "precious"}}).ok());
  for (const char* backend : {"s3", "azure"}) {
    std::string skip;
    std::string url = testing::TestBlobStoreUrl(backend, tmp_.path(), &skip);
    ASSERT_TRUE(skip.empty()) << skip;
    const size_t bucket = url.find("blobstate-test");
    ASSERT_NE(bucket, std::string::npos) << url;
    const std::string task =
        " --blob-store '" + url.replace(bucket, 14, "no-such-bucket") + "' --job j --task t-0";
    for (const std::string& command :
         {"restore" + task + " --store s=" + tmp_.Sub("s"), "checkpoints" + task, "verify" + task,
          "backup" + task + " --store s=" + tmp_.Sub("s")}) {
      Outcome r = Sh("blobstate " + command);
      EXPECT_EQ(r.exit_code, 1) << command << ": " << r.out;
      EXPECT_NE(r.out.find("the bucket or container does not exist"), std::string::npos)
          << command << ": " << r.out;
    }
  }
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("s")), (testing::Tree{{"a", "precious"}}));
}

// A first deployment: nothing backed up yet. Restore fails and changes nothing (a mistyped
// job or task must not empty a directory); with --allow-empty it leaves the stores empty,
// as a task's first start does.
TEST_P(CliBackendTest, RestoreBeforeAnyBackupLeavesStoresEmpty) {
  // The blob store exists (another task backed up), this task has no checkpoint yet.
  ASSERT_TRUE(MakeDirs(tmp_.Sub("x")).ok());
  ASSERT_EQ(Sh("blobstate backup --blob-store '" + url_ +
               "' --job j --task other --store x=" + tmp_.Sub("x"))
                .exit_code,
            0);
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("s"), {{"stale", "x"}}).ok());
  Outcome refused = Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("s"));
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("task t-0 has no checkpoint"), std::string::npos) << refused.out;
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("s")), (testing::Tree{{"stale", "x"}}));
  EXPECT_FALSE(PathExists(tmp_.Sub("s") + ".lock")) << "refused before the lock is taken";
  Outcome nowhere = Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("new/parent/s"));
  EXPECT_EQ(nowhere.exit_code, 1) << nowhere.out;
  EXPECT_FALSE(PathExists(tmp_.Sub("new"))) << "no parent directory is created";
  // W.8: nothing shows that the stale directory is the store's: --force is needed too.
  Outcome unknown =
      Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("s") + " --allow-empty");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.out;
  EXPECT_NE(unknown.out.find("--force"), std::string::npos) << unknown.out;
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("s")), (testing::Tree{{"stale", "x"}}));
  Outcome r =
      Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("s") + " --allow-empty --force");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("no checkpoint"), std::string::npos) << r.out;
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("s")), testing::Tree{});
}

TEST_F(CliEndToEndTest, RestoreChangesNothingWhenAStoreHasNoSnapshotOrIsNotADirectory) {
  const testing::Tree precious = {{"p", "precious"}};
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("s"), {{"f", "backed up"}}).ok());
  ASSERT_EQ(Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("s")).exit_code, 0);
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("a"), precious).ok());
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("b"), precious).ok());
  Outcome typo = Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("a") +
                    " --store S=" + tmp_.Sub("b"));
  EXPECT_EQ(typo.exit_code, 1) << typo.out;
  EXPECT_NE(typo.out.find("no snapshot of store S"), std::string::npos) << typo.out;
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("a")), precious) << "checked before any store is touched";
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("b")), precious);
  EXPECT_FALSE(PathExists(tmp_.Sub("a") + ".lock")) << "nor locked";
  EXPECT_FALSE(PathExists(tmp_.Sub("b") + ".lock"));
  ASSERT_TRUE(WriteFileAtomic(tmp_.Sub("file"), "a file").ok());
  Outcome file = Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("file"));
  EXPECT_EQ(file.exit_code, 1) << file.out;
  EXPECT_NE(file.out.find("is not a directory"), std::string::npos) << file.out;
  EXPECT_EQ(*ReadSmallFile(tmp_.Sub("file")), "a file");
}

// Only backup creates a file:// blob store: a mistyped URL is an error, not an empty store.
TEST_F(CliEndToEndTest, ReadOnlyCommandsNeverCreateABlobStore) {
  const std::string typo = " --blob-store file://" + tmp_.Sub("typo");
  const std::string task = typo + " --job j --task t";
  for (const std::string& args :
       {"restore" + task + " --store s=" + tmp_.Sub("s"), "checkpoints" + task, "verify" + task,
        "gc" + typo, "show --index x" + typo}) {
    Outcome r = Sh("blobstate " + args);
    EXPECT_EQ(r.exit_code, 1) << args << ": " << r.out;
    EXPECT_NE(r.out.find("no blob store at file://" + tmp_.Sub("typo")), std::string::npos)
        << args << ": " << r.out;
    EXPECT_FALSE(PathExists(tmp_.Sub("typo"))) << args;
  }
}

// gc lists a job's checkpoints under its name and its blobs under the name's id component:
// a --job that is no job name ("j/x", whose component is "j_x") is a usage error, and job
// "j_x" loses nothing.
TEST_F(CliEndToEndTest, GcRefusesAJobNameThatIsNotOne) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("s"), {{"a", "precious"}}).ok());
  const std::string blobs = " --blob-store file://" + tmp_.Sub("blobs");
  ASSERT_EQ(
      Sh("blobstate backup" + blobs + " --job j_x --task t --store s=" + tmp_.Sub("s")).exit_code,
      0);
  const testing::Tree before = *testing::ReadTree(tmp_.Sub("blobs"));
  Outcome gc = Sh("blobstate gc --grace 0s --job j/x" + blobs);
  EXPECT_EQ(gc.exit_code, 2) << gc.out;
  EXPECT_NE(gc.out.find("--job: invalid job name 'j/x'"), std::string::npos) << gc.out;
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("blobs")), before);
}

// An index whose chunk checksums disagree with a blob (its part checksums agree): a full
// restore, which checks parts, passes; verify checks what lazy reads use as well.
TEST_F(CliEndToEndTest, VerifyFailsOnAChunkChecksumThatDisagreesWithItsBlob) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("s"),
                                 {{"payload", testing::RandomBytes(100 << 10, 1)}, {"a", "fine"}})
                  .ok());
  ASSERT_EQ(Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("s")).exit_code, 0);
  Result<testing::Tree> blobs = testing::ReadTree(tmp_.Sub("blobs/blobs"));
  ASSERT_TRUE(blobs.ok());
  int tampered = 0;
  for (const auto& [rel, content] : *blobs) {
    Result<std::shared_ptr<const IndexFile>> index = testing::IndexFileOf(content);
    if (!index.ok()) continue;  // not the snapshot index
    Result<SnapshotIndex> whole = (*index)->ReadAll();
    ASSERT_TRUE(whole.ok()) << whole.status();
    for (FileIndex& f : whole->root.files_present) {
      if (f.name != "payload") continue;
      ASSERT_EQ(f.blobs.at(0).chunk_checksums.size(), 2u);
      f.blobs[0].chunk_checksums[1] ^= 1;
      ++tampered;
    }
    ASSERT_TRUE(WriteFileAtomic(tmp_.Sub("blobs/blobs/" + rel), EncodeSnapshotIndex(*whole)).ok());
  }
  ASSERT_EQ(tampered, 1);
  Outcome restore = Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("r"));
  EXPECT_EQ(restore.exit_code, 0) << restore.out;
  Outcome r = Sh("blobstate verify" + Task());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  for (const char* part : {"store s", "file payload", ", chunk 1 (bytes 65536-102399)"}) {
    EXPECT_NE(r.out.find(part), std::string::npos) << r.out;
  }
}

TEST_F(CliEndToEndTest, VerifyFailsOnACorruptBlobNamingTheFile) {
  ASSERT_TRUE(
      testing::WriteTree(tmp_.Sub("s"), {{"payload", "original"}, {"a", "fine"}, {"d/b", "fine"}})
          .ok());
  ASSERT_EQ(Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("s")).exit_code, 0);
  Result<testing::Tree> blobs = testing::ReadTree(tmp_.Sub("blobs/blobs"));
  ASSERT_TRUE(blobs.ok());
  for (const auto& [rel, content] : *blobs) {
    if (content == "original") {
      ASSERT_TRUE(WriteFileAtomic(tmp_.Sub("blobs/blobs/" + rel), "ORIGINAL").ok());
    }
  }
  Outcome r = Sh("blobstate verify" + Task());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("checksum mismatch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("payload"), std::string::npos) << r.out;
  // With --json the failure is also a JSON object, on stdout.
  Outcome json = Sh("blobstate verify" + Task() + "--json");
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_NE(json.out.find("\n{\"error\":{\"code\":\"DATA_LOSS\",\"message\":\"store s "),
            std::string::npos)
      << json.out;
  // A restore of it fails too, naming store, file and blob, and leaves the store as it
  // was rather than half restored.
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("r"), {{"old", "x"}}).ok());
  Outcome restore = Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("r") +
                       " --force --metrics-file " + tmp_.Sub("m.prom"));
  EXPECT_EQ(restore.exit_code, 1) << restore.out;
  for (const char* part : {"store s", "file payload (blob ", "checksum mismatch"}) {
    EXPECT_NE(restore.out.find(part), std::string::npos) << restore.out;
  }
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("r")), (testing::Tree{{"old", "x"}}));
  Result<std::string> prom = ReadSmallFile(tmp_.Sub("m.prom"));
  ASSERT_TRUE(prom.ok()) << "metrics are written when the command fails too";
  EXPECT_NE(prom->find(R"(blobstate_runs_total{flow="restore",outcome="error",store="s"} 1)"),
            std::string::npos)
      << *prom;
}

TEST_F(CliEndToEndTest, ShowAndCheckpointsPrintTheirWholeResultAsJson) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("s"), {{"f", "12345"}, {"d/g", "123"}}).ok());
  ASSERT_EQ(Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("s")).exit_code, 0);
  Outcome list = Sh("blobstate checkpoints" + Task() + "--json");
  ASSERT_EQ(list.exit_code, 0) << list.out;
  const std::string marker = "\"stores\":{\"s\":\"";
  const size_t at = list.out.find(marker);
  ASSERT_NE(at, std::string::npos) << list.out;
  EXPECT_NE(list.out.find("{\"checkpoint_id\":\""), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\"removed_stores\":{}"), std::string::npos) << list.out;
  const std::string index = list.out.substr(
      at + marker.size(), list.out.find('"', at + marker.size()) - at - marker.size());
  Outcome show = Sh("blobstate show --blob-store file://" + tmp_.Sub("blobs") + " --index " +
                    index + " --json");
  ASSERT_EQ(show.exit_code, 0) << show.out;
  EXPECT_NE(
      show.out.find(R"("tree":{"name":"","files":[{"name":"f","size":5,"blobs":1,"xxh128":")"),
      std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find(R"("dirs":[{"name":"d","files":[{"name":"g","size":3,)"),
            std::string::npos)
      << show.out;
}

}  // namespace
}  // namespace blobstate

namespace blobstate {
namespace {

// W.10: a backup never deletes a store it was not given: leaving one out is a usage error
// naming it, until --remove-store says so.
TEST_F(CliEndToEndTest, BackupDropsAStoreOnlyWhenToldTo) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("a"), {{"f", "a"}}).ok());
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("b"), {{"f", "b"}}).ok());
  ASSERT_EQ(
      Sh("blobstate backup" + Task() + "--store a=" + tmp_.Sub("a") + " --store b=" + tmp_.Sub("b"))
          .exit_code,
      0);
  Outcome left_out = Sh("blobstate backup" + Task() + "--store a=" + tmp_.Sub("a"));
  EXPECT_EQ(left_out.exit_code, 2) << left_out.out;
  EXPECT_NE(left_out.out.find("store b"), std::string::npos) << left_out.out;
  EXPECT_NE(left_out.out.find("--remove-store b"), std::string::npos) << left_out.out;
  Outcome kept = Sh("blobstate checkpoints" + Task() + "--json");
  EXPECT_NE(kept.out.find("\"b\":"), std::string::npos) << kept.out;
  Outcome both =
      Sh("blobstate backup" + Task() + "--store a=" + tmp_.Sub("a") + " --remove-store a");
  EXPECT_EQ(both.exit_code, 2) << both.out;
  Outcome removed =
      Sh("blobstate backup" + Task() + "--store a=" + tmp_.Sub("a") + " --remove-store b");
  EXPECT_EQ(removed.exit_code, 0) << removed.out;
  Outcome after = Sh("blobstate checkpoints" + Task() + "--json");
  const size_t stores = after.out.find("\"stores\":{");
  ASSERT_NE(stores, std::string::npos) << after.out;
  const std::string live = after.out.substr(stores, after.out.find('}', stores) - stores);
  EXPECT_EQ(live.find("\"b\":"), std::string::npos) << after.out;
  EXPECT_EQ(Sh("blobstate verify" + Task()).exit_code, 0);
}

// W.2, W.9: each CLI backup claims the task; the checkpoint names its writer and the
// writer epoch grows with every claim.
TEST_F(CliEndToEndTest, EveryBackupClaimsTheTask) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("a"), {{"f", "a"}}).ok());
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(Sh("blobstate backup" + Task() + "--store a=" + tmp_.Sub("a")).exit_code, 0);
  }
  Result<std::string> bytes = ReadSmallFile(tmp_.Sub("blobs/objects/checkpoints/j/t-0/latest-v2"));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  Result<Checkpoint> c = DecodeCheckpoint(*bytes);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->writer_epoch, 2u);
  EXPECT_TRUE(IsValidWriterId(c->writer_id)) << c->writer_id;
  // A restore without --claim leaves the claim as it is; with --claim it takes the task.
  ASSERT_EQ(Sh("blobstate restore" + Task() + "--store a=" + tmp_.Sub("copy")).exit_code, 0);
  EXPECT_EQ(DecodeCheckpoint(*ReadSmallFile(tmp_.Sub("blobs/objects/checkpoints/j/t-0/latest-v2")))
                ->writer_epoch,
            2u);
  ASSERT_EQ(Sh("blobstate restore" + Task() + "--claim --store a=" + tmp_.Sub("copy")).exit_code,
            0);
  EXPECT_EQ(DecodeCheckpoint(*ReadSmallFile(tmp_.Sub("blobs/objects/checkpoints/j/t-0/latest-v2")))
                ->writer_epoch,
            3u);
}

// W.5: an S3 server that ignores conditional writes (s3rver itself, without the test
// proxy) is refused before anything is written, naming fencing=off, which lets it work.
TEST(CliS3FencingTest, ServerIgnoringConditionsIsRefusedUnlessFencingIsOff) {
  std::string skip = testing::S3Unavailable();
  if (!skip.empty()) GTEST_SKIP() << skip;
  std::string direct = testing::TestServerValue("BLOBSTATE_TEST_S3_DIRECT_URL").value_or("");
  ASSERT_FALSE(direct.empty());
  testing::TempDir tmp;
  ASSERT_TRUE(testing::WriteTree(tmp.Sub("a"), {{"f", "a"}}).ok());
  const std::string prefix = "fencing-" + RandomHex(6);
  const std::string url =
      direct.substr(0, direct.find('?')) + "/" + prefix + direct.substr(direct.find('?'));
  const std::string cmd = testing::S3TestCommandEnv() + "blobstate backup --job j --task t " +
                          "--store a=" + tmp.Sub("a") + " --blob-store '";
  Outcome refused = Sh(cmd + url + "'");
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("does not enforce conditional writes"), std::string::npos)
      << refused.out;
  EXPECT_NE(refused.out.find("fencing=off"), std::string::npos) << refused.out;
  Outcome unfenced = Sh(cmd + url + "&fencing=off'");
  EXPECT_EQ(unfenced.exit_code, 0) << unfenced.out;
}

}  // namespace
}  // namespace blobstate

namespace blobstate {
namespace {

// W.7: while another process holds a store directory's lock (this test's process), a
// backup or restore of it fails at once, naming the directory, and writes nothing.
TEST_F(CliEndToEndTest, LockedStoreDirectoryFailsAtOnceNamingIt) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("a"), {{"f", "a"}}).ok());
  ASSERT_EQ(Sh("blobstate backup" + Task() + "--store a=" + tmp_.Sub("a")).exit_code, 0);
  Result<StoreDirLock> held = StoreDirLock::Acquire(tmp_.Sub("a"));
  ASSERT_TRUE(held.ok()) << held.status();
  const Result<std::string> before =
      ReadSmallFile(tmp_.Sub("blobs/objects/checkpoints/j/t-0/latest-v2"));
  for (const char* command : {"backup", "restore --force"}) {
    Outcome r = Sh(std::string("blobstate ") + command + Task() + "--store a=" + tmp_.Sub("a"));
    EXPECT_EQ(r.exit_code, 1) << command << ": " << r.out;
    EXPECT_NE(r.out.find("store directory " + tmp_.Sub("a") + " is in use"), std::string::npos)
        << r.out;
  }
  EXPECT_EQ(*ReadSmallFile(tmp_.Sub("blobs/objects/checkpoints/j/t-0/latest-v2")), *before);
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("a")), (testing::Tree{{"f", "a"}}));
}

// W.8: emptying a store never crosses into a file system mounted inside it. Mounts need
// root: the tmpfs lives in a mount namespace of its own (unshare), gone with the command.
TEST_F(CliEndToEndTest, RestoreNeverEmptiesAMountedFileSystem) {
  ASSERT_TRUE(MakeDirs(tmp_.Sub("probe")).ok());
  if (::geteuid() != 0 ||
      Sh("unshare -m mount -t tmpfs none " + tmp_.Sub("probe")).exit_code != 0) {
    GTEST_SKIP() << "needs root and unshare(1) to mount a file system";
  }
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("a"), {{"f", "a"}}).ok());
  ASSERT_EQ(Sh("blobstate backup" + Task() + "--store a=" + tmp_.Sub("a")).exit_code, 0);
  const std::string mnt = tmp_.Sub("a/mnt");
  ASSERT_TRUE(MakeDirs(mnt).ok());
  Outcome r = Sh("unshare -m sh -c 'mount -t tmpfs none " + mnt + " && echo kept > " + mnt +
                 "/data && PATH=\"" + BLOBSTATE_BIN_DIR + ":$PATH\" blobstate restore" + Task() +
                 "--store a=" + tmp_.Sub("a") + "; echo exit=$?; cat " + mnt + "/data'");
  EXPECT_NE(r.out.find(mnt + " is a mount point"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exit=1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nkept"), std::string::npos) << "the mounted file survived: " << r.out;
  EXPECT_TRUE(PathExists(tmp_.Sub("a/f"))) << "checked before anything is emptied";
}

}  // namespace
}  // namespace blobstate

namespace blobstate {
namespace {

// The writer epoch of task t-0's latest checkpoint object, read as `blobstate checkpoints`
// cannot show it: through a blob store handle of this process.
uint64_t WriterEpoch(const std::string& url) {
  Result<std::unique_ptr<BlobStore>> store = OpenBlobStore(url, {});
  if (!store.ok()) return 0;
  Result<VersionedObject> object =
      (*store)->GetObject("checkpoints/j/t-0/latest-v2").GetFor(std::chrono::seconds(60));
  if (!object.ok()) return 0;
  Result<Checkpoint> c = DecodeCheckpoint(object->data);
  return c.ok() ? c->writer_epoch : 0;
}

// W.9: two overlapping backups of one task (a cron job and a manual run): the first stalls
// before its checkpoint write while the second claims the task and commits. The first is
// fenced (exit 1, FENCED) and persists nothing; the latest checkpoint is the second's and
// restores and verifies.
TEST_P(CliBackendTest, OverlappingBackupsFenceTheEarlierOne) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("a/s"), {{"f", "first"}}).ok());
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("b/s"), {{"f", "second"}}).ok());
  ASSERT_EQ(Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("b/s")).exit_code, 0);
  const uint64_t epoch = WriterEpoch(url_);
  ASSERT_GT(epoch, 0u);
  const std::string first_out = tmp_.Sub("first.out");
  testing::FailpointGate persist(tmp_.Sub("persist"));  // holds the first before its write
  ASSERT_TRUE(testing::StartInBackground(
      "BLOBSTATE_FAILPOINTS=persist.before_checkpoint=" + persist.Action() + " blobstate backup" +
          Task() + "--store s=" + tmp_.Sub("a/s"),
      first_out));
  testing::WaitFor([&] { return WriterEpoch(url_) != epoch; }, std::chrono::seconds(60));
  ASSERT_EQ(WriterEpoch(url_), epoch + 1) << "the first backup claimed the task";
  Outcome second = Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("b/s") + " --json");
  persist.Release();
  ASSERT_EQ(second.exit_code, 0) << second.out;
  Result<std::string> first = testing::WaitForBackground(first_out, std::chrono::seconds(120));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_NE(first->find("exit=1"), std::string::npos) << *first;
  EXPECT_NE(first->find("FENCED"), std::string::npos) << *first;
  Outcome checkpoints = Sh("blobstate checkpoints" + Task() + "--json");
  EXPECT_NE(checkpoints.out.find(second.out.substr(0, second.out.find(",\"stores\""))
                                     .substr(std::string("{\"checkpoint_id\":").size())),
            std::string::npos)
      << checkpoints.out << second.out;
  EXPECT_EQ(Sh("blobstate verify" + Task()).exit_code, 0);
  ASSERT_EQ(Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("c/s")).exit_code, 0);
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("c/s")), (testing::Tree{{"f", "second"}}));
}

// H.2: a checkpoint that leaves the task's history while `pin` is pinning it (a commit that
// read the pins before the new one was written drops it, and its blobs) is not left
// pinned: the pin is released again and the command fails, naming the checkpoint.
TEST_P(CliBackendTest, APinRacingTheCommitThatDropsItsCheckpointIsReleased) {
  const std::string dir = tmp_.Sub("s");
  auto backup = [&](const std::string& content, int keep_last) {
    ASSERT_TRUE(testing::WriteTree(dir, {{"f", content}}).ok());
    Outcome r = Sh("blobstate backup" + Task() + "--store s=" + dir + " --keep-last " +
                   std::to_string(keep_last));
    ASSERT_EQ(r.exit_code, 0) << r.out;
  };
  backup("v1", 2);
  backup("v2", 2);
  std::vector<std::string> ids = CheckpointIds(Sh("blobstate checkpoints" + Task() + "--json").out);
  ASSERT_EQ(ids.size(), 2u);
  const std::string retained = ids[1], pin_out = tmp_.Sub("pin.out");
  testing::FailpointGate update(tmp_.Sub("update"));  // holds the pin after its read
  ASSERT_TRUE(
      testing::StartInBackground("BLOBSTATE_FAILPOINTS=pins.before_update=" + update.Action() +
                                     " blobstate pin" + Task() + "--checkpoint " + retained,
                                 pin_out));
  ASSERT_TRUE(testing::WaitFor([&] { return update.Held(); }, std::chrono::seconds(60)))
      << "pin reached its update";
  backup("v3", 1);  // drops the retained checkpoint: no pin names it yet
  update.Release();
  Result<std::string> pin = testing::WaitForBackground(pin_out, std::chrono::seconds(120));
  ASSERT_TRUE(pin.ok()) << pin.status();
  EXPECT_EQ(pin->find("exit=0"), std::string::npos) << *pin;
  EXPECT_NE(pin->find("checkpoint " + retained + " left the task's history"), std::string::npos)
      << *pin;
  Outcome list = Sh("blobstate checkpoints" + Task() + "--json");
  EXPECT_EQ(CheckpointIds(list.out).size(), 1u) << list.out;
  EXPECT_EQ(list.out.find(retained), std::string::npos) << list.out;
  Outcome again = Sh("blobstate pin" + Task() + "--checkpoint " + retained);
  EXPECT_NE(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("neither the latest, retained nor pinned"), std::string::npos)
      << again.out;
  EXPECT_EQ(Sh("blobstate verify" + Task()).exit_code, 0);
}

}  // namespace
}  // namespace blobstate
