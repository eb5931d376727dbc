// S3BlobStore against s3rver, through the fault-injecting proxy (tests/testing/), for what
// the conformance suite cannot show: multipart uploads and their abort, resumed gets,
// tagging, and retries of S3's transient errors.
#include "blobstore/s3/s3_blob_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "blobstate/metrics.h"
#include "blobstate/s3.h"
#include "blobstore/blob_store_testing.h"
#include "blobstore/retrying/retrying_blob_store.h"
#include "testing/fault_proxy.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"
#include "util/random.h"

namespace blobstate {
namespace {

using std::chrono::system_clock;
using testing::FaultProxy;
using testing::kWait;
using Fault = FaultProxy::Fault;
using namespace std::chrono_literals;

class S3BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = testing::S3Unavailable(); !why.empty()) GTEST_SKIP() << why;
    direct_url_ = testing::S3TestUrl("s3-test-" + RandomHex(8));
    Result<S3Config> config = testing::S3TestConfig(direct_url_);
    ASSERT_TRUE(config.ok()) << config.status();
    auto [host, port] = testing::EndpointOf(direct_url_);
    proxy_ = std::make_unique<FaultProxy>(host, port);
  }

  // The test prefix through the proxy, with `params` ("&k=v...") added.
  std::string ProxiedUrl(const std::string& params = "") const {
    return testing::ViaProxy(direct_url_, proxy_->authority()) + params;
  }

  // An S3BlobStore without retries, through the proxy.
  std::unique_ptr<BlobStore> Bare(const std::string& params = "") {
    Result<S3Config> config = testing::S3TestConfig(ProxiedUrl(params));
    EXPECT_TRUE(config.ok()) << config.status();
    Result<std::unique_ptr<BlobStore>> store = NewS3Backend(*config, 4);
    EXPECT_TRUE(store.ok()) << store.status();
    return std::move(*store);
  }

  std::unique_ptr<BlobStore> Retrying(RetryPolicy policy) {
    return std::make_unique<RetryingBlobStore>(Bare(), std::move(policy));
  }

  static Result<std::string> Read(BlobStore& store, const std::string& id) {
    std::string out;
    RETURN_IF_ERROR(store.Get(id, StringSinkFactory(&out)).GetFor(kWait, "get"));
    return out;
  }

  std::string direct_url_;
  std::unique_ptr<FaultProxy> proxy_;
  BlobMetadata meta_{.job_name = "job", .task_name = "task", .store_name = "store", .ttl = 1h};
};

TEST_F(S3BlobStoreTest, LargeBlobGoesUpAsAMultipartUploadAndRoundTrips) {
  auto store = Bare("&multipart_threshold=6291456&part_size=5242880&part_concurrency=2");
  const std::string data = testing::RandomBytes((12 << 20) + 123, 3);
  Result<std::string> id = store->Put(StringSourceFactory(data), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(proxy_->Count("POST", "?uploads"), 1);
  EXPECT_EQ(proxy_->Count("PUT", "partNumber="), 3);
  EXPECT_EQ(proxy_->Count("POST", "uploadId="), 1);
  Result<std::string> back = Read(*store, *id);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data);
  std::vector<std::string> ttl =
      *blobstate::testing::ExpiringBefore(*store, system_clock::now() + 2h);
  EXPECT_EQ(ttl, std::vector<std::string>{*id}) << "the TTL tags reach multipart blobs too";
}

// No put stores an object over kMaxObjectSize, and a get reads none whole into memory: a
// foreign or hostile one is kDataLoss. (A store one level down puts a blob where the store
// above keeps its objects.)
TEST_F(S3BlobStoreTest, AnObjectOverTheLimitIsNotReadIntoMemory) {
  std::string below = direct_url_;
  below.insert(below.find('?'), "/objects/big");
  Result<S3Config> config = testing::S3TestConfig(below);
  ASSERT_TRUE(config.ok()) << config.status();
  Result<std::unique_ptr<BlobStore>> lower = NewS3Backend(*config, 2);
  ASSERT_TRUE(lower.ok()) << lower.status();
  Result<std::string> id =
      (*lower)->Put(StringSourceFactory(std::string(kMaxObjectSize + 1, 'x')), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  auto store = Bare();
  Result<VersionedObject> big = store->GetObject("big/blobs/" + *id).GetFor(kWait);
  EXPECT_EQ(big.status().code(), StatusCode::kDataLoss) << big.status();
  EXPECT_NE(big.status().message().find("more than any object"), std::string::npos) << big.status();
}

TEST_F(S3BlobStoreTest, FailedPartAbortsTheMultipartUpload) {
  auto store = Bare("&multipart_threshold=6291456&part_size=5242880");
  proxy_->Add({.method = "PUT", .target = "partNumber=2", .times = -1});
  Result<std::string> id =
      store->Put(StringSourceFactory(testing::RandomBytes(11 << 20, 4)), meta_).GetFor(kWait);
  EXPECT_EQ(id.status().code(), StatusCode::kUnavailable) << id.status();
  EXPECT_EQ(proxy_->Count("POST", "uploadId="), 0) << "never completed";
  int aborts = 0;
  for (const FaultProxy::Seen& s : proxy_->seen()) {
    if (s.method == "DELETE" && s.target.find("uploadId=") != std::string::npos) {
      ++aborts;
      // S3 answers 204; s3rver does not implement the abort and answers 405.
      EXPECT_TRUE(s.status == 204 || s.status == 405) << s.status;
    }
  }
  EXPECT_EQ(aborts, 1);
  EXPECT_TRUE(blobstate::testing::ExpiringBefore(*store, system_clock::now() + 2h)->empty());
}

TEST_F(S3BlobStoreTest, GetResumesWithARangeAfterATruncatedReply) {
  auto store = Bare();
  const std::string data = testing::RandomBytes(3 << 20, 5);
  Result<std::string> id = store->Put(StringSourceFactory(data), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  proxy_->Add({.method = "GET", .target = "/blobs/", .fault = Fault::kTruncate});
  Result<std::string> back = Read(*store, *id);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data);
  std::vector<std::string> ranges;
  for (const FaultProxy::Seen& s : proxy_->seen()) {
    if (s.method == "GET" && s.target.find("/blobs/") != std::string::npos &&
        s.target.find("?tagging") == std::string::npos) {
      ranges.push_back(s.range);
    }
  }
  ASSERT_EQ(ranges.size(), 2u) << ::testing::PrintToString(ranges);
  EXPECT_EQ(ranges[0], "");
  EXPECT_TRUE(ranges[1].starts_with("bytes=") && ranges[1] != "bytes=0-") << ranges[1];
}

TEST_F(S3BlobStoreTest, TtlTagsAreCheckedOnceThenTrusted) {
  auto store = Bare();
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    Result<std::string> id = store->Put(StringSourceFactory("x"), meta_).GetFor(kWait);
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  EXPECT_EQ(proxy_->Count("GET", "?tagging"), 1);
  // Either the server keeps x-amz-tagging (no tagging requests) or each put tags after.
  const int tagged_after = proxy_->Count("PUT", "?tagging");
  EXPECT_TRUE(tagged_after == 0 || tagged_after == 4) << tagged_after;
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(*blobstate::testing::ExpiringBefore(*store, system_clock::now() + 2h), ids);
  EXPECT_TRUE(blobstate::testing::ExpiringBefore(*store, system_clock::now())->empty());
}

TEST_F(S3BlobStoreTest, SlowDownAndDroppedConnectionsAreRetried) {
  std::atomic<int> retries{0};
  auto store =
      Retrying({.max_attempts = 5, .initial_backoff = 1ms, .on_retry = [&](std::string_view) {
                  ++retries;
                }});
  proxy_->Add({.method = "PUT", .fault = Fault::kSlowDown, .times = 2});
  Result<std::string> id = store->Put(StringSourceFactory("payload"), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(retries.load(), 2);
  proxy_->Add({.method = "GET", .target = "/blobs/", .fault = Fault::kDrop});
  Result<std::string> back = Read(*store, *id);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "payload");
  EXPECT_EQ(retries.load(), 3);
}

TEST_F(S3BlobStoreTest, PersistentServerErrorsGiveUpAfterTheAttempts) {
  auto store = Retrying({.max_attempts = 3, .initial_backoff = 1ms});
  proxy_->Add({.method = "PUT", .times = -1});
  Result<std::string> id = store->Put(StringSourceFactory("x"), meta_).GetFor(kWait);
  EXPECT_EQ(id.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(id.status().message().find("gave up after 3 attempts"), std::string::npos)
      << id.status();
  EXPECT_NE(id.status().message().find("InternalError"), std::string::npos) << id.status();
  EXPECT_EQ(proxy_->Count("PUT"), 3);
}

// The typed options open the store the URL names: OpenS3BlobStore's store (retried and
// metered) reads what a URL-opened one wrote, with credentials from a provider object.
TEST_F(S3BlobStoreTest, TypedOptionsOpenTheStoreTheUrlNames) {
  Result<S3Config> config = testing::S3TestConfig(ProxiedUrl());
  ASSERT_TRUE(config.ok()) << config.status();
  Result<std::shared_ptr<AwsCredentialsProvider>> keys = NewStaticAwsCredentials(
      {.access_key_id = *testing::TestServerValue("BLOBSTATE_TEST_S3_ACCESS_KEY"),
       .secret_access_key = *testing::TestServerValue("BLOBSTATE_TEST_S3_SECRET_KEY")});
  ASSERT_TRUE(keys.ok()) << keys.status();
  PrometheusTextSink sink;
  Result<std::unique_ptr<BlobStore>> typed =
      OpenS3BlobStore({.bucket = config->bucket,
                       .prefix = config->prefix.substr(0, config->prefix.size() - 1),
                       .endpoint = config->scheme + "://" + config->host + config->base_path,
                       .region = config->region,
                       .part_concurrency = 2,
                       .credentials = *keys},
                      {.io_threads = 2, .retry = {.max_attempts = 2}, .metrics = &sink});
  ASSERT_TRUE(typed.ok()) << typed.status();
  auto by_url = Bare();
  Result<std::string> id = by_url->Put(StringSourceFactory("typed"), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*Read(**typed, *id), "typed");
  EXPECT_EQ((*typed)->Describe(), by_url->Describe());
  const MetricLabels get_ok = {{"code", "OK"}, {"method", "get"}};
  EXPECT_EQ(sink.Counter("blobstate_blob_store_requests_total")[get_ok], 1);
  Status bad = OpenS3BlobStore({.bucket = config->bucket, .part_size = 1}, {}).status();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("S3Options: part_size is 1"), std::string::npos) << bad;
}

}  // namespace
}  // namespace blobstate
