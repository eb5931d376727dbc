#include "testing/test_servers.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "blobstore/retrying/retrying_blob_store.h"
#include "blobstore/s3/s3_blob_store.h"
#include "blobstore/s3/s3_config.h"
#include "util/fs.h"

namespace blobstate::testing {
namespace {

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
                   OpenS3BlobStore(std::move(config), options.io_threads));
  return std::unique_ptr<BlobStore>(
      std::make_unique<RetryingBlobStore>(std::move(s3), options.retry));
}

std::string TestBlobStoreUrl(const std::string& backend, const std::string& dir,
                             std::string* skip) {
  static std::atomic<int> counter{0};
  if (backend == "file") return "file://" + JoinPath(dir, "blobs");
  *skip = S3Unavailable();
  if (!skip->empty()) return "";
  ::setenv("AWS_ACCESS_KEY_ID",
           TestServerValue("BLOBSTATE_TEST_S3_ACCESS_KEY").value_or("").c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY",
           TestServerValue("BLOBSTATE_TEST_S3_SECRET_KEY").value_or("").c_str(), 1);
  return S3TestUrl("t" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                   std::to_string(std::chrono::system_clock::now().time_since_epoch().count()));
}

}  // namespace blobstate::testing
