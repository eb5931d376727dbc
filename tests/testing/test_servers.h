// The blob servers the test suite speaks to (scripts/test-servers.sh starts them for ctest
// and writes their URLs to a file named by BLOBSTATE_TEST_SERVERS).
#ifndef BLOBSTATE_TESTS_TESTING_TEST_SERVERS_H_
#define BLOBSTATE_TESTS_TESTING_TEST_SERVERS_H_

#include <memory>
#include <optional>
#include <string>

#include "blobstate/blob_store.h"
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

// The blob store URL of `backend` ("file" or "s3") for one test: a new directory under
// `dir` for file, a new key prefix on the test server for s3. For s3, also puts the test
// server's credentials into this process's environment (call it before starting threads),
// where the commands a test runs find them. Why it cannot run, instead, via *skip.
std::string TestBlobStoreUrl(const std::string& backend, const std::string& dir, std::string* skip);

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_TEST_SERVERS_H_
