// The secrets that no message, log line, metric or --json output may show, and the sweep
// that checks every error Status the test binary creates for them.
#ifndef BLOBSTATE_TESTS_TESTING_SECRETS_H_
#define BLOBSTATE_TESTS_TESTING_SECRETS_H_

#include <string>
#include <string_view>

namespace blobstate::testing {

// The name of the first secret `text` shows, or "" if none. The secrets: the test servers'
// S3 secret key and Azure account key, the fake credentials that the credential tests'
// services hand out (kFakeSecretMarkers), and a SAS signature (a "sig=" whose value is not
// "<redacted>").
std::string SecretIn(std::string_view text);

// What every fake secret of the tests contains.
inline constexpr std::string_view kFakeSecretMarkers[] = {
    "fake-secret-", "fake-token-", "sts-secret", "sts-token", "leaked-secret"};

}  // namespace blobstate::testing

#endif  // BLOBSTATE_TESTS_TESTING_SECRETS_H_
