// The Azure blob store against Azurite (which checks Shared Key and SAS signatures),
// through the fault-injecting proxy, for what the conformance suite cannot show.
#include "blobstore/azure/azure_blob_store.h"

#include <gtest/gtest.h>

#include <map>

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

class AzureBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = testing::AzureUnavailable(); !why.empty()) GTEST_SKIP() << why;
    // Creates the test container directly, so that the proxy sees only the test's calls.
    ASSERT_TRUE(testing::AzureTestConfig(testing::AzureTestUrl("x")).ok());
    auto [host, port] = testing::EndpointOf(testing::AzureTestUrl("x"));
    proxy_ = std::make_unique<FaultProxy>(host, port);
  }

  // A config of a fresh prefix through the proxy, with `params` ("&k=v...") added.
  AzureConfig Config(const std::string& params = "", bool sas = false) {
    std::string url = testing::ViaProxy(testing::AzureTestUrl("azure-test-" + RandomHex(8)),
                                        proxy_->authority()) +
                      params;
    Result<AzureConfig> config = testing::AzureTestConfig(url, sas);
    EXPECT_TRUE(config.ok()) << config.status();
    return *config;
  }

  std::unique_ptr<BlobStore> Open(AzureConfig config, RetryPolicy policy = {.max_attempts = 1}) {
    Result<std::unique_ptr<BlobStore>> store = NewAzureBackend(std::move(config), 4);
    EXPECT_TRUE(store.ok()) << store.status();
    return std::make_unique<RetryingBlobStore>(std::move(*store), std::move(policy));
  }

  static Result<std::string> Read(BlobStore& store, const std::string& id) {
    std::string out;
    RETURN_IF_ERROR(store.Get(id, StringSinkFactory(&out)).GetFor(kWait, "get"));
    return out;
  }

  std::unique_ptr<FaultProxy> proxy_;
  BlobMetadata meta_{.job_name = "job", .task_name = "task", .store_name = "store", .ttl = 1h};
};

TEST_F(AzureBlobStoreTest, WrongKeyFailsFastWithAPermanentErrorAndNoRetries) {
  AzureConfig config = Config();
  const std::string wrong =
      "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXk=";  // base64, not the account's
  config.credentials = *NewStaticAzureCredentials({.account_key = wrong});
  auto store = Open(config, {.max_attempts = 5, .initial_backoff = 1ms});
  Result<std::string> id = store->Put(StringSourceFactory("x"), meta_).GetFor(kWait);
  EXPECT_EQ(id.status().code(), StatusCode::kPermissionDenied) << id.status();
  EXPECT_FALSE(id.status().IsRetriable());
  EXPECT_NE(id.status().message().find("403"), std::string::npos) << id.status();
  EXPECT_EQ(id.status().message().find(wrong), std::string::npos) << "never the key";
  EXPECT_EQ(proxy_->Count("PUT"), 1) << "no retry storm";
}

TEST_F(AzureBlobStoreTest, SasTokenAuthorisesEveryCall) {
  auto store = Open(Config("", /*sas=*/true));
  Result<std::string> id = store->Put(StringSourceFactory("by SAS"), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*Read(*store, *id), "by SAS");
  EXPECT_EQ(*blobstate::testing::ExpiringBefore(*store, system_clock::now() + 2h),
            std::vector<std::string>{*id});
  ASSERT_TRUE(store->RemoveTtl(*id).GetFor(kWait).ok());
  EXPECT_TRUE(blobstate::testing::ExpiringBefore(*store, system_clock::now() + 2h)->empty());
  EXPECT_TRUE(store->Delete(*id).GetFor(kWait).ok());
  for (const FaultProxy::Seen& s : proxy_->seen()) {
    EXPECT_NE(s.target.find("sig="), std::string::npos) << s.method << " " << s.target;
  }
}

TEST_F(AzureBlobStoreTest, LargeBlobGoesUpAsBlocksAndOneBlockList) {
  auto store = Open(Config("&block_threshold=2097152&block_size=1048576&block_concurrency=2"));
  const std::string data = testing::RandomBytes((5 << 20) + 7, 11);
  Result<std::string> id = store->Put(StringSourceFactory(data), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(proxy_->Count("PUT", "blockid="), 6);
  EXPECT_EQ(proxy_->Count("PUT", "comp=blocklist"), 1);
  Result<std::string> back = Read(*store, *id);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data);
  EXPECT_EQ(*blobstate::testing::ExpiringBefore(*store, system_clock::now() + 2h),
            std::vector<std::string>{*id});
}

TEST_F(AzureBlobStoreTest, GetResumesWithARangeAfterATruncatedReply) {
  auto store = Open(Config());
  const std::string data = testing::RandomBytes(3 << 20, 12);
  Result<std::string> id = store->Put(StringSourceFactory(data), meta_).GetFor(kWait);
  ASSERT_TRUE(id.ok()) << id.status();
  proxy_->Add({.method = "GET", .target = "/blobs/", .fault = Fault::kTruncate});
  Result<std::string> back = Read(*store, *id);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data);
  EXPECT_EQ(proxy_->seen().back().range.rfind("bytes=", 0), 0u);
}

TEST(AzureConfigTest, UrlsAreParsedAndBadOnesRejectedNamingTheProblem) {
  auto env = [](const std::string& n) {
    return n == "AZURE_STORAGE_KEY" ? std::optional<std::string>("a2V5") : std::nullopt;
  };
  Result<AzureConfig> c = ParseAzureUrl("azure://acct/state-1/jobs/a?block_size=1048576", env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->account, "acct");
  EXPECT_EQ(c->container, "state-1");
  EXPECT_EQ(c->prefix, "jobs/a/");
  EXPECT_EQ(c->host, "acct.blob.core.windows.net");
  EXPECT_EQ(c->Describe(), "azure://acct/state-1/jobs/a at https://acct.blob.core.windows.net");
  const std::pair<std::string, std::string> bad[] = {
      {"azure://Acct/c-1", "not a valid account name"},
      {"azure://acct/C_1", "not a valid container name"},
      {"azure://acct", "not a valid container name"},
      {"azure://acct/c-1?speed=9", "unknown parameter 'speed'"},
      {"azure://acct/c-1?endpoint=gopher://x", "not an http:// or https:// URL"},
      {"azure://acct/c-1?block_threshold=5242880001", "from 1 to 5242880000"},  // Put Blob
      {"azure://acct/c-1?block_size=4194304001", "from 1048576 to 4194304000"},
  };
  for (const auto& [url, why] : bad) {
    Status s = ParseAzureUrl(url, env).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(s.message().find(why), std::string::npos) << url << ": " << s;
  }
  Status none = ParseAzureUrl("azure://acct/c-1", [](const std::string&) {
                  return std::optional<std::string>();
                }).status();
  EXPECT_EQ(none.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(none.message().find("AZURE_STORAGE_KEY"), std::string::npos) << none;
}

TEST(AzureConfigTest, AccountKeyThatIsNotBase64IsRejectedWithoutQuotingIt) {
  for (std::string key : {"not base64!", "a2V5\n", "a2V"}) {
    Status s = ParseAzureUrl("azure://acct/c-1", [&](const std::string& n) {
                 return n == "AZURE_STORAGE_KEY" ? std::optional<std::string>(key) : std::nullopt;
               }).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << key;
    EXPECT_NE(s.message().find("AZURE_STORAGE_KEY"), std::string::npos) << s;
    EXPECT_NE(s.message().find("not base64"), std::string::npos) << s;
    EXPECT_EQ(s.message().find(key), std::string::npos) << "never the key: " << s;
  }
}

TEST(AzureConfigTest, SasTokenIsTakenWithOrWithoutItsQuestionMark) {
  for (std::string token : {"?sv=1&sig=x", "sv=1&sig=x"}) {
    Result<AzureConfig> c = ParseAzureUrl("azure://acct/c-1", [&](const std::string& n) {
      return n == "AZURE_STORAGE_SAS_TOKEN" ? std::optional<std::string>(token) : std::nullopt;
    });
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->credentials->Credentials()->sas_token, "sv=1&sig=x");
    EXPECT_EQ(c->Describe().find("sig"), std::string::npos);
  }
}

TEST(AzureConfigTest, HttpDateIsRfc1123) {
  EXPECT_EQ(HttpDate(system_clock::time_point(1'700'000'000s)), "Tue, 14 Nov 2023 22:13:20 GMT");
}

}  // namespace
}  // namespace blobstate
