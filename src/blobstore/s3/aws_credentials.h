// The AWS credential providers of blobstate/s3.h, with the environment and the clock
// passed in (tests give fakes). aws_credentials.cc holds the providers of long-lived keys
// and the renewal of temporary ones; aws_remote_credentials.cc those that fetch over HTTP.
#ifndef BLOBSTATE_BLOBSTORE_S3_AWS_CREDENTIALS_H_
#define BLOBSTATE_BLOBSTORE_S3_AWS_CREDENTIALS_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "blobstate/s3.h"
#include "blobstore/http/credential_io.h"

namespace blobstate {

using AwsProvider = std::shared_ptr<AwsCredentialsProvider>;

// Renewal of temporary credentials: expiring ones are fetched again from `kRenewBefore`
// before their expiration (or half-way through a shorter lifetime). One caller fetches
// while the others go on with the current credentials; when a fetch fails, the current
// ones are used until they expire and no fetch is tried for kRetryFetchAfter.
class RenewingAwsCredentials : public AwsCredentialsProvider {
 public:
  static constexpr std::chrono::minutes kRenewBefore{5};
  static constexpr std::chrono::seconds kRetryFetchAfter{10};

  explicit RenewingAwsCredentials(Clock clock) : clock_(std::move(clock)) {}
  Result<AwsCredentials> Credentials() final;

 protected:
  // Fresh credentials from the service. Called by one thread at a time.
  virtual Result<AwsCredentials> Fetch() = 0;

 private:
  using TimePoint = std::chrono::system_clock::time_point;

  const Clock clock_;
  std::mutex mu_;
  std::condition_variable fetched_;
  bool fetching_ = false;
  std::optional<AwsCredentials> current_;
  TimePoint renew_at_;     // when current_ should be replaced
  TimePoint retry_after_;  // no fetch before this, after a failed one
  Status last_error_;
  uint64_t generation_ = 0;  // fetches completed
};

Result<AwsProvider> EnvAwsCredentials(const EnvLookup& env);
Result<AwsProvider> SharedFilesAwsCredentials(AwsSharedFilesOptions options, const EnvLookup& env);
Result<AwsProvider> ContainerAwsCredentials(AwsContainerOptions options, const EnvLookup& env,
                                            Clock clock);
Result<AwsProvider> WebIdentityAwsCredentials(AwsWebIdentityOptions options, const EnvLookup& env,
                                              Clock clock);
Result<AwsProvider> ImdsAwsCredentials(AwsImdsOptions options, const EnvLookup& env, Clock clock);
Result<AwsProvider> DefaultAwsCredentials(const EnvLookup& env);

// The provider that URL parameter `credentials=<name>` names: auto (DefaultAwsCredentials),
// env, profile, container, web-identity or imds. kInvalidArgument for another name.
Result<AwsProvider> AwsCredentialsNamed(const std::string& name, const EnvLookup& env);

// AWS_REGION, AWS_DEFAULT_REGION, the profile's region in the shared config file, else
// us-east-1.
std::string DefaultAwsRegion(const EnvLookup& env);

// `tls`, or if it is empty, AWS_CA_BUNDLE as its ca_file when that names a readable file.
TlsOptions AwsTls(TlsOptions tls, const EnvLookup& env);

// The credentials of a credential service's JSON reply (container, IMDS): AccessKeyId,
// SecretAccessKey, Token and Expiration. kUnavailable naming `what` (never quoting the
// reply) if they are not all there.
Result<AwsCredentials> CredentialsFromJson(std::string_view body, const std::string& what);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_S3_AWS_CREDENTIALS_H_
