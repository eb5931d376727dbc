// The Azure credential providers, and a rotated key or SAS file taken up by a live store
// against Azurite (which checks every signature).
#include "blobstore/azure/azure_credentials.h"

#include <gtest/gtest.h>

#include <map>

#include "blobstore/azure/azure_blob_store.h"
#include "blobstore/azure/azure_config.h"
#include "blobstore/blob_store_testing.h"
#include "testing/fake_env.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"
#include "util/fs.h"
#include "util/random.h"

namespace blobstate {
namespace {

using testing::FakeEnv;
using testing::kWait;
using testing::TempDir;
using namespace std::chrono_literals;

TEST(AzureCredentialsTest, StaticCredentialsNeedExactlyOneOfKeyAndSas) {
  EXPECT_EQ(NewStaticAzureCredentials({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NewStaticAzureCredentials({.account_key = "a2V5", .sas_token = "sv=1"}).status().code(),
            StatusCode::kInvalidArgument);
  Status bad = NewStaticAzureCredentials({.account_key = "not-base64!"}).status();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message().find("not-base64!"), std::string::npos) << "never quotes the key";
  EXPECT_EQ((*NewStaticAzureCredentials({.sas_token = "?sv=1&sig=x"}))->Credentials()->sas_token,
            "sv=1&sig=x");
}

TEST(AzureCredentialsTest, EnvironmentVariablesAreTakenInOrderAndNamedWhenMissing) {
  TempDir tmp;
  ASSERT_TRUE(WriteFileAtomic(tmp.Sub("key"), "a2V5\n").ok());
  ASSERT_TRUE(WriteFileAtomic(tmp.Sub("sas"), "sv=2&sig=y\n").ok());
  std::map<std::string, std::string> env = {{"AZURE_STORAGE_SAS_TOKEN_FILE", tmp.Sub("sas")}};
  EXPECT_EQ((*EnvAzureCredentials(FakeEnv(env)))->Credentials()->sas_token, "sv=2&sig=y");
  env["AZURE_STORAGE_SAS_TOKEN"] = "sv=1&sig=x";
  EXPECT_EQ((*EnvAzureCredentials(FakeEnv(env)))->Credentials()->sas_token, "sv=1&sig=x");
  env["AZURE_STORAGE_KEY_FILE"] = tmp.Sub("key");
  EXPECT_EQ((*EnvAzureCredentials(FakeEnv(env)))->Credentials()->account_key, "a2V5");
  env["AZURE_STORAGE_KEY"] = "b3RoZXI=";
  EXPECT_EQ((*EnvAzureCredentials(FakeEnv(env)))->Credentials()->account_key, "b3RoZXI=");
  Status none = EnvAzureCredentials(FakeEnv({})).status();
  EXPECT_EQ(none.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(none.message().find("AZURE_STORAGE_SAS_TOKEN_FILE"), std::string::npos) << none;
  Status missing = NewAzureKeyFileCredentials(tmp.Sub("absent")).status();
  EXPECT_EQ(missing.code(), StatusCode::kPermissionDenied) << missing;
  EXPECT_NE(missing.message().find(tmp.Sub("absent")), std::string::npos) << missing;
}

TEST(AzureCredentialsTest, AFileIsReadAgainWhenItChangesAndABadRewriteKeepsTheLastGoodKey) {
  TempDir tmp;
  const std::string path = tmp.Sub("key");
  ASSERT_TRUE(WriteFileAtomic(path, "a2V5").ok());
  Result<AzureProvider> p = NewAzureKeyFileCredentials(path);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->Credentials()->account_key, "a2V5");
  ASSERT_TRUE(WriteFileAtomic(path, "bmV3\n").ok());
  EXPECT_EQ((*p)->Credentials()->account_key, "bmV3");
  ASSERT_TRUE(WriteFileAtomic(path, "").ok());  // a write caught half-way
  EXPECT_EQ((*p)->Credentials()->account_key, "bmV3");
  EXPECT_EQ(NewAzureKeyFileCredentials(path).status().code(), StatusCode::kInvalidArgument)
      << "a file that never held a key";
}

// A Kubernetes secret rotated under a running store: each request uses the file's current
// key or SAS, so a wrong one fails from the next request on and a fixed one works again,
// without reopening the store.
TEST(AzureCredentialsTest, ARotatedSecretFileIsUsedFromTheNextRequestOn) {
  if (std::string why = testing::AzureUnavailable(); !why.empty()) GTEST_SKIP() << why;
  const std::string url = testing::AzureTestUrl("azure-creds-" + RandomHex(8));
  Result<AzureConfig> base = testing::AzureTestConfig(url);
  ASSERT_TRUE(base.ok()) << base.status();
  const std::string key = testing::TestServerValue("BLOBSTATE_TEST_AZURE_KEY").value_or("");
  TempDir tmp;
  for (const bool sas : {false, true}) {
    SCOPED_TRACE(sas ? "SAS file" : "key file");
    const std::string path = tmp.Sub(sas ? "sas" : "key");
    Result<std::string> token =
        MakeAccountSas(base->account, key, std::chrono::system_clock::now() + 1h);
    ASSERT_TRUE(token.ok());
    const std::string good = sas ? *token : key;
    const std::string wrong =
        sas ? "sv=2020-02-10&ss=b&srt=sco&sp=r&se=2099-01-01T00%3A00%3A00Z&sig=AAAA"
            : "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXk=";
    ASSERT_TRUE(WriteFileAtomic(path, good + "\n").ok());
    Result<std::unique_ptr<BlobStore>> store = OpenAzureBlobStore(
        {.account = base->account,
         .container = base->container,
         .prefix = base->prefix.substr(0, base->prefix.size() - 1),
         .endpoint = base->scheme + "://" + base->host + base->base_path,
         .credentials =
             *(sas ? NewAzureSasFileCredentials(path) : NewAzureKeyFileCredentials(path))},
        {.io_threads = 2, .retry = {.max_attempts = 1}});
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->PutObject("o", "1", {}).GetFor(kWait).ok());
    ASSERT_TRUE(WriteFileAtomic(path, wrong).ok());
    Status refused = (*store)->PutObject("o", "2", {}).GetFor(kWait).status();
    EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied) << refused;
    EXPECT_EQ(refused.message().find(wrong), std::string::npos) << refused;
    ASSERT_TRUE(WriteFileAtomic(path, good).ok());
    Result<VersionedObject> back = (*store)->GetObject("o").GetFor(kWait);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->data, "1");
  }
}

}  // namespace
}  // namespace blobstate
