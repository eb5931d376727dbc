#include "testing/test_servers.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>

#include "blobstore/azure/azure_blob_store.h"
#include "blobstore/azure/azure_ops.h"
#include "blobstore/http/cloud_io.h"
#include "blobstore/retrying/retrying_blob_store.h"
#include "blobstore/s3/s3_blob_store.h"
#include "blobstore/s3/s3_config.h"
#include "util/fs.h"

namespace blobstate::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kServersFileVar[] = "BLOBSTATE_TEST_SERVERS";

EnvLookup TestEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (name == "AWS_ACCESS_KEY_ID") return TestServerValue("BLOBSTATE_TEST_S3_ACCESS_KEY");
    if (name == "AWS_SECRET_ACCESS_KEY") return TestServerValue("BLOBSTATE_TEST_S3_SECRET_KEY");
    if (name == "AWS_SESSION_TOKEN" || name == "AWS_PROFILE") return std::nullopt;
    return ProcessEnv()(name);
  };
}

}  // namespace

std::optional<std::string> TestServerValue(const std::string& var) {
  if (const char* v = std::getenv(var.c_str()); v != nullptr && *v != '\0') return v;
  const char* file = std::getenv(kServersFileVar);
  if (file == nullptr) return std::nullopt;
  Result<std::string> text = ReadSmallFile(file, 1 << 16);
  if (!text.ok()) return std::nullopt;
  return IniValue("[servers]\n" + *text, "servers", var);
}

std::string S3Unavailable() {
  if (TestServerValue("BLOBSTATE_TEST_S3_URL")) return "";
  if (std::getenv(kServersFileVar) != nullptr) return "";  // under ctest: fail, never skip
  return "no S3 test server: run the tests with ctest, or set BLOBSTATE_TEST_SERVERS";
}

std::string S3TestUrl(const std::string& prefix) {
  std::string url = TestServerValue("BLOBSTATE_TEST_S3_URL").value_or("s3://no-test-server");
  size_t query = url.find('?');
  if (query == std::string::npos) return url + "/" + prefix;
  return url.substr(0, query) + "/" + prefix + url.substr(query);
}

std::string S3TestCommandEnv() {
  return "AWS_ACCESS_KEY_ID=" + TestServerValue("BLOBSTATE_TEST_S3_ACCESS_KEY").value_or("") +
         " AWS_SECRET_ACCESS_KEY=" + TestServerValue("BLOBSTATE_TEST_S3_SECRET_KEY").value_or("") +
         " ";
}

Result<S3Config> S3TestConfig(const std::string& url) { return ParseS3Url(url, TestEnv()); }

Result<std::unique_ptr<BlobStore>> OpenS3TestStore(const std::string& url,
                                                   const BlobStoreOptions& options) {
  ASSIGN_OR_RETURN(S3Config config, S3TestConfig(url));
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> s3,
                   NewS3Backend(std::move(config), options.io_threads));
  return std::unique_ptr<BlobStore>(
      std::make_unique<RetryingBlobStore>(std::move(s3), options.retry));
}

std::string AzureUnavailable() {
  if (TestServerValue("BLOBSTATE_TEST_AZURE_URL")) return "";
  if (std::getenv(kServersFileVar) != nullptr) return "";  // under ctest: fail, never skip
  return "no Azure test server: run the tests with ctest, or set BLOBSTATE_TEST_SERVERS";
}

std::string AzureTestUrl(const std::string& prefix) {
  std::string url = TestServerValue("BLOBSTATE_TEST_AZURE_URL").value_or("azure://none/none");
  size_t query = url.find('?');
  if (query == std::string::npos) return url + "/" + prefix;
  return url.substr(0, query) + "/" + prefix + url.substr(query);
}

Result<AzureConfig> AzureTestConfig(const std::string& url, bool sas) {
  const std::string key = TestServerValue("BLOBSTATE_TEST_AZURE_KEY").value_or("");
  ASSIGN_OR_RETURN(AzureConfig config, ParseAzureUrl(url, [&](const std::string& name) {
                     return name == "AZURE_STORAGE_KEY" ? std::optional<std::string>(key)
                                                        : std::nullopt;
                   }));
  static std::once_flag created;
  static Status create_status;
  std::call_once(created, [&] {
    ThreadPool pool("azure-setup", 1);
    azure_internal::AzureOps ops(config, pool);
    Result<HttpResponse> r = ops.Send({.method = "PUT", .query = {{"restype", "container"}}});
    create_status = !r.ok()            ? r.status()
                    : r->status == 409 ? Status::Ok()
                                       : CloudStatus(*r, "creation of the test container");
  });
  RETURN_IF_ERROR(create_status);
  if (sas) {
    ASSIGN_OR_RETURN(std::string token,
                     MakeAccountSas(config.account, key, std::chrono::system_clock::now() + 1h));
    ASSIGN_OR_RETURN(config.credentials, NewStaticAzureCredentials({.sas_token = token}));
  }
  return config;
}

Result<std::unique_ptr<BlobStore>> OpenAzureTestStore(const std::string& url,
                                                      const BlobStoreOptions& options) {
  ASSIGN_OR_RETURN(AzureConfig config, AzureTestConfig(url));
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> azure,
                   NewAzureBackend(std::move(config), options.io_threads));
  return std::unique_ptr<BlobStore>(
      std::make_unique<RetryingBlobStore>(std::move(azure), options.retry));
}

std::string TestBlobStoreUrl(const std::string& backend, const std::string& dir,
                             std::string* skip) {
  static std::atomic<int> counter{0};
  if (backend == "file") return "file://" + JoinPath(dir, "blobs");
  const std::string prefix =
      "t" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  auto set = [](const char* var, const char* from) {
    ::setenv(var, TestServerValue(from).value_or("").c_str(), 1);
  };
  if (backend == "azure") {
    *skip = AzureUnavailable();
    if (!skip->empty()) return "";
    set("AZURE_STORAGE_KEY", "BLOBSTATE_TEST_AZURE_KEY");
    std::string url = AzureTestUrl(prefix);
    Status created = AzureTestConfig(url).status();
    return created.ok() ? url : "azure://test-setup-failed: " + created.ToString();
  }
  *skip = S3Unavailable();
  if (!skip->empty()) return "";
  set("AWS_ACCESS_KEY_ID", "BLOBSTATE_TEST_S3_ACCESS_KEY");
  set("AWS_SECRET_ACCESS_KEY", "BLOBSTATE_TEST_S3_SECRET_KEY");
  return S3TestUrl(prefix);
}

std::pair<std::string, int> EndpointOf(const std::string& url) {
  size_t start = url.find("endpoint=http://");
  if (start == std::string::npos) return {"", 0};
  start += 16;
  size_t end = url.find_first_of("/&", start);
  std::string authority = url.substr(start, end == std::string::npos ? end : end - start);
  size_t colon = authority.find(':');
  return {authority.substr(0, colon), std::atoi(authority.substr(colon + 1).c_str())};
}

std::string ViaProxy(const std::string& url, const std::string& authority) {
  size_t start = url.find("endpoint=http://");
  if (start == std::string::npos) return url;
  start += 16;
  size_t end = std::min(url.find_first_of("/&", start), url.size());
  return url.substr(0, start) + authority + url.substr(end);
}

}  // namespace blobstate::testing
