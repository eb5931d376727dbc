// End-to-end: the blobstate tool on real RocksDB stores (made and checked with the
// blobstate-rocksdb example tool), as a user runs them.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cctype>
#include <cstdio>
#include <string>

#include "testing/shell.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"
#include "util/fs.h"

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
  EXPECT_EQ(versions.exit_code, 1) << versions.out;
  EXPECT_NE(versions.out.find("must both include 2"), std::string::npos) << versions.out;
  EXPECT_FALSE(PathExists(tmp_.Sub("blobs/objects/checkpoints"))) << "nothing may be written";
  Outcome bad = Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("s") +
                   " --checkpoint-read-versions 2,3");
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("unknown checkpoint version 3"), std::string::npos) << bad.out;
  for (const char* command : {"backup", "restore", "checkpoints", "verify", "show", "gc"}) {
    Outcome help = Sh(std::string("blobstate ") + command + " --help");
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.out.find("--json"), std::string::npos) << command << help.out;
  }
}

// A first deployment: nothing backed up yet. Restore is not stuck and leaves stores empty.
TEST_P(CliBackendTest, RestoreBeforeAnyBackupLeavesStoresEmpty) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("s"), {{"stale", "x"}}).ok());
  Outcome r = Sh("blobstate restore" + Task() + "--store s=" + tmp_.Sub("s"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("no checkpoint"), std::string::npos) << r.out;
  EXPECT_EQ(*testing::ReadTree(tmp_.Sub("s")), testing::Tree{});
}

TEST_F(CliEndToEndTest, VerifyFailsOnACorruptBlobNamingTheFile) {
  ASSERT_TRUE(testing::WriteTree(tmp_.Sub("s"), {{"payload", "original"}}).ok());
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
}

}  // namespace
}  // namespace blobstate
