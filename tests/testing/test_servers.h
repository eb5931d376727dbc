// The blob servers the test suite speaks to (scripts/test-servers.sh starts them for ctest
// and writes their URLs to a file named by BLOBSTATE_TEST_SERVERS).
#ifndef BLOBSTATE_TESTS_TESTING_TEST_SERVERS_H_
#define BLOBSTATE_TESTS_TESTING_TEST_SERVERS_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "blobstate/blob_store.h"
#include "blobstore/azure/azure_config.h"
#include "blobstore/s3/s3_config.h"

namespace blobstate::testing {

// The value of `var` (e.g. "BLOBSTATE_TEST_S3_URL"): the environment's, else the servers
// file's; nullopt if neither has it.
std::optional<std::string> TestServerValue(const std::string& var);

// Why the S3 server cannot be used here ("" if it can). Under ctest the servers file is
// always named, so a server that failed to start fails the tests instead of skipping them.
std::string S3Unavailable();

// The test server's s3:// URL with `prefix` as its key prefix (tests never share keys).
std::string S3TestUrl(const std::string& prefix);

// The environment that gives the test server's credentials to a `blobstate` command:
// "AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... " (to put before the command).
std::string S3TestCommandEnv();

// An S3 config for `url` with the test server's credentials.
Result<S3Config> S3TestConfig(const std::string& url);

// OpenBlobStore's stack (RetryingBlobStore over S3BlobStore) for `url`, with the test
// server's credentials and `options`.
Result<std::unique_ptr<BlobStore>> OpenS3TestStore(const std::string& url,
                                                   const BlobStoreOptions& options);

// Why the Azure server (Azurite) cannot be used here ("" if it can), as S3Unavailable.
std::string AzureUnavailable();

// The test server's azure:// URL with `prefix` as its blob name prefix.
std::string AzureTestUrl(const std::string& prefix);

// An Azure config for `url` with the test server's key (or, if `sas`, an account SAS made
// from it), after creating the test container if it is missing.
Result<AzureConfig> AzureTestConfig(const std::string& url, bool sas = false);

// RetryingBlobStore over the Azure store of `url`, with the test server's key.
Result<std::unique_ptr<BlobStore>> OpenAzureTestStore(const std::string& url,
                                                      const BlobStoreOptions& options);

// The blob store URL of `backend` ("file", "s3" or "azure") for one test: a new directory under
// `dir` for file, a new key prefix on the test server otherwise, whose credentials it also
// puts into this process's environment (call it before starting threads),
// where the commands a test runs find them. Why it cannot run, instead, via *skip.
std::string TestBlobStoreUrl(const std::string& backend, const std::string& dir, std::string* skip);

// The host and port of the endpoint of a cloud test URL ("...?endpoint=http://H:P...").
std::pair<std::string, int> EndpointOf(const std::string& url);

// `url` with its endpoint's host:port replaced by `authority` (to go through a proxy).
std::string ViaProxy(const std::string& url, const std::string& authority);

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_TEST_SERVERS_H_
