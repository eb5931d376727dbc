// Backup and restore with the blobstate tool against each cloud backend's server (s3rver,
// Azurite), through
// the fault-injecting proxy: transient faults are ridden out, persistent ones end in a
// clear error, and a missing index or file blob is reported by name (F9).
#include <gtest/gtest.h>

#include "blobstate/checkpoint.h"
#include "blobstate/snapshot.h"
#include "blobstore/blob_store_testing.h"
#include "testing/fault_proxy.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"
#include "util/fs.h"
#include "util/random.h"

namespace blobstate {
namespace {

using testing::FaultProxy;
using testing::Outcome;
using testing::Sh;
using Fault = FaultProxy::Fault;

class CloudFaultTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    direct_url_ = testing::TestBlobStoreUrl(GetParam(), tmp_.path(), &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    auto [host, port] = testing::EndpointOf(direct_url_);
    proxy_ = std::make_unique<FaultProxy>(host, port);
    proxied_url_ = testing::ViaProxy(direct_url_, proxy_->authority());
    ASSERT_TRUE(testing::WriteTree(tmp_.Sub("src"), {{"small", "hello"},
                                                     {"dir/nested", "nested file"},
                                                     {"dir/empty", ""},
                                                     {"big", testing::RandomBytes(10 << 20, 9)}})
                    .ok());
  }

  std::string Task(const std::string& url) const {
    return " --blob-store '" + url + "' --job j --task t ";
  }
  // A backup that also writes its metrics, which are checked for secrets like its output.
  Outcome Backup() {
    const std::string metrics = tmp_.Sub("metrics.prom");
    Outcome r = Sh("blobstate backup" + Task(proxied_url_) + "--store s=" + Src() +
                   " --metrics-file " + metrics);
    Result<std::string> text = ReadSmallFile(metrics, 1 << 20);
    EXPECT_TRUE(text.ok()) << text.status();
    testing::ExpectNoSecrets(text.value_or(""));
    return r;
  }
  Outcome Restore(const std::string& dir) {
    return Sh("blobstate restore" + Task(proxied_url_) + "--store s=" + dir);
  }
  std::string Src() const { return tmp_.Sub("src"); }

  // The latest snapshot of store s, read directly (not through the proxy).
  StoreSnapshot Latest() {
    Result<std::unique_ptr<BlobStore>> store = OpenBlobStore(direct_url_, {});
    EXPECT_TRUE(store.ok()) << store.status();
    ThreadPool pool("cloud-test", 2);
    auto checkpoints = *CheckpointStore::Open(**store, pool, {}, "j", "t");
    std::optional<Checkpoint> latest = *checkpoints->ReadLatest().GetFor(testing::kWait);
    EXPECT_TRUE(latest.has_value());
    Result<StoreSnapshots> snaps =
        GetStoreSnapshots(**store, pool, latest, {}).GetFor(testing::kWait);
    EXPECT_TRUE(snaps.ok()) << snaps.status();
    return snaps->at("s");
  }

  void DeleteBlob(const std::string& id) {
    Result<std::unique_ptr<BlobStore>> store = OpenBlobStore(direct_url_, {});
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Delete(id).GetFor(testing::kWait).ok()) << id;
  }

  testing::TempDir tmp_;
  std::string direct_url_, proxied_url_;
  std::unique_ptr<FaultProxy> proxy_;
};

INSTANTIATE_TEST_SUITE_P(Backends, CloudFaultTest, ::testing::Values("s3", "azure"),
                         [](const auto& info) { return info.param; });

TEST_P(CloudFaultTest, BackupAndRestoreSucceedThroughTransientFaults) {
  proxy_->Add({.method = "PUT", .fault = Fault::kSlowDown, .times = 3});
  proxy_->Add({.method = "PUT", .fault = Fault::kInternalError, .times = 1});
  proxy_->Add({.method = "PUT", .target = "/blobs/", .fault = Fault::kLoseReply, .times = 1});
  proxy_->Add({.method = "PUT",
               .fault = Fault::kDelay,
               .times = 2,
               .delay = std::chrono::milliseconds(300)});
  Outcome backup = Backup();
  ASSERT_EQ(backup.exit_code, 0) << backup.out;
  proxy_->Add({.method = "GET", .target = "/blobs/", .fault = Fault::kTruncate, .times = 2});
  proxy_->Add({.method = "GET", .fault = Fault::kDrop, .times = 1});
  proxy_->Add({.method = "GET", .fault = Fault::kSlowDown, .times = 2});
  Outcome restore = Restore(tmp_.Sub("restored"));
  ASSERT_EQ(restore.exit_code, 0) << restore.out;
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("restored")), *testing::ReadTree(Src()));
  Outcome verify = Sh("blobstate verify" + Task(proxied_url_));
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_GE(proxy_->Count("GET"), 1);
}

TEST_P(CloudFaultTest, PersistentFaultsFailWithAClearError) {
  proxy_->Add({.method = "PUT", .target = "/blobs/", .times = -1});
  Outcome backup = Backup();
  EXPECT_EQ(backup.exit_code, 1) << backup.out;
  EXPECT_NE(backup.out.find("gave up after 5 attempts"), std::string::npos) << backup.out;
  EXPECT_NE(backup.out.find("InternalError"), std::string::npos) << backup.out;
  proxy_->Clear();
  backup = Backup();
  ASSERT_EQ(backup.exit_code, 0) << backup.out;
  proxy_->Add({.method = "GET", .target = "/blobs/", .fault = Fault::kSlowDown, .times = -1});
  Outcome restore = Restore(tmp_.Sub("restored"));
  EXPECT_EQ(restore.exit_code, 1) << restore.out;
  EXPECT_NE(restore.out.find("SlowDown"), std::string::npos) << restore.out;
  EXPECT_NE(restore.out.find("gave up after 5 attempts"), std::string::npos) << restore.out;
}

TEST_P(CloudFaultTest, MissingIndexBlobIsReportedByName) {
  Outcome backup = Backup();
  ASSERT_EQ(backup.exit_code, 0) << backup.out;
  const std::string index = Latest().index_blob_id;
  DeleteBlob(index);
  Outcome restore = Restore(tmp_.Sub("restored"));
  EXPECT_EQ(restore.exit_code, 1) << restore.out;
  EXPECT_NE(restore.out.find(index), std::string::npos) << restore.out;
  EXPECT_NE(restore.out.find("not found"), std::string::npos) << restore.out;
  EXPECT_NE(restore.out.find("store s"), std::string::npos) << restore.out;
}

TEST_P(CloudFaultTest, MissingFileBlobIsReportedByNameWithItsFile) {
  Outcome backup = Backup();
  ASSERT_EQ(backup.exit_code, 0) << backup.out;
  StoreSnapshot snap = Latest();
  std::string blob;
  for (const FileIndex& f : snap.index.root.files_present) {
    if (f.name == "big") blob = f.blobs.at(1).blob_id;
  }
  ASSERT_FALSE(blob.empty());
  DeleteBlob(blob);
  Outcome restore = Restore(tmp_.Sub("restored"));
  EXPECT_EQ(restore.exit_code, 1) << restore.out;
  EXPECT_NE(restore.out.find(blob), std::string::npos) << restore.out;
  EXPECT_NE(restore.out.find("big"), std::string::npos) << restore.out;
  EXPECT_NE(restore.out.find("not found"), std::string::npos) << restore.out;
}

}  // namespace
}  // namespace blobstate
