// The S3 blob store, configured in code: S3Options and the AWS credential providers.
// Present when blobstate is built with BLOBSTATE_S3=ON (the default). The `s3://` URL of
// OpenBlobStore is a shorthand of these options (README "Blob stores").
//
// Credentials come from a provider, asked before every request (so it must be quick when it
// has them). The static, environment and shared-file providers hold long-lived keys (the
// shared files are read again when they change). The container, web identity and IMDSv2
// providers fetch temporary credentials over HTTP and fetch new ones before they expire
// (5 minutes before, or half-way through a shorter lifetime); if a renewal fails, the
// current credentials are used until they expire, and a renewal is tried again after 10 s.
// No default ever contacts the EC2 instance metadata service (a link-local address): only
// NewImdsAwsCredentials does, when an application asks for it.
//
// Example:
//   S3Options s3{.bucket = "my-bucket", .prefix = "blobstate", .region = "eu-west-1"};
//   ASSIGN_OR_RETURN(s3.credentials, NewWebIdentityAwsCredentials({}));  // from the env
//   ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, OpenS3BlobStore(s3, {}));
#ifndef BLOBSTATE_S3_H_
#define BLOBSTATE_S3_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "blobstate/blob_store.h"
#include "blobstate/status.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // "" for long-lived keys
  // When temporary credentials stop working; nullopt for long-lived keys.
  std::optional<std::chrono::system_clock::time_point> expiration;
};

class AwsCredentialsProvider {
 public:
  virtual ~AwsCredentialsProvider() = default;
  // Credentials to sign a request with now. Thread-safe. kPermissionDenied if there are
  // none to be had (naming where they were looked for), kUnavailable if a credential
  // service could not be reached (retried with the request). Messages never hold a secret.
  virtual Result<AwsCredentials> Credentials() = 0;
  // Where the credentials come from, for messages ("environment (AWS_ACCESS_KEY_ID)").
  virtual std::string Describe() const = 0;
};

// Always `credentials`. kInvalidArgument if the key id or the secret is empty.
Result<std::shared_ptr<AwsCredentialsProvider>> NewStaticAwsCredentials(AwsCredentials credentials);

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, read now.
// kPermissionDenied if the first two are not both set.
Result<std::shared_ptr<AwsCredentialsProvider>> NewEnvAwsCredentials();

// The keys of a profile in the shared files. Empty fields take AWS_PROFILE (else
// "default"), AWS_SHARED_CREDENTIALS_FILE (else ~/.aws/credentials) and AWS_CONFIG_FILE
// (else ~/.aws/config). The credentials file wins over the config file (section
// "profile NAME" there). The files are read again when they change (a rotated secret).
struct AwsSharedFilesOptions {
  std::string profile;
  std::string credentials_file;
  std::string config_file;
};
// kPermissionDenied naming the files if neither holds the profile's keys now.
Result<std::shared_ptr<AwsCredentialsProvider>> NewSharedFilesAwsCredentials(
    const AwsSharedFilesOptions& options);

// Container credentials (ECS, EKS Pod Identity): a GET of `full_uri` with an
// Authorization header read from `token_file` at each fetch (a rotated token is used
// from the next fetch on), else `token`. Empty fields take AWS_CONTAINER_CREDENTIALS_FULL_URI,
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and AWS_CONTAINER_AUTHORIZATION_TOKEN.
// `full_uri` must be https://, or http:// to a loopback address or to the container agents'
// 169.254.170.2, 169.254.170.23 or [fd00:ec2::23].
struct AwsContainerOptions {
  std::string full_uri;
  std::string token_file;
  std::string token;
  TlsOptions tls;  // empty: AWS_CA_BUNDLE if it names a readable file, else the system's
};
// kInvalidArgument naming the URI if it is missing or not allowed. Nothing is fetched yet.
Result<std::shared_ptr<AwsCredentialsProvider>> NewContainerAwsCredentials(
    const AwsContainerOptions& options);

// Web identity (EKS IRSA, any OIDC issuer): STS AssumeRoleWithWebIdentity with the token
// read from `token_file` at each fetch. Empty fields take AWS_ROLE_ARN,
// AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_SESSION_NAME (else "blobstate-<time>"),
// AWS_ENDPOINT_URL_STS (else https://sts.REGION.amazonaws.com, or https://sts.amazonaws.com
// without a region) and AWS_REGION / AWS_DEFAULT_REGION.
struct AwsWebIdentityOptions {
  std::string role_arn;
  std::string token_file;
  std::string session_name;
  std::string sts_endpoint;  // http(s)://host[:port][/path]
  std::string region;
  TlsOptions tls;  // empty: AWS_CA_BUNDLE if it names a readable file, else the system's
};
// kInvalidArgument naming what is missing (role or token file) or malformed. Nothing is
// fetched yet.
Result<std::shared_ptr<AwsCredentialsProvider>> NewWebIdentityAwsCredentials(
    const AwsWebIdentityOptions& options);

// The EC2 instance metadata service, version 2 (a session token from a PUT, then the
// role's credentials). Only when asked for: never part of a default.
struct AwsImdsOptions {
  // Empty: AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254.
  std::string endpoint;
};
// kInvalidArgument if the endpoint is malformed. Nothing is fetched yet.
Result<std::shared_ptr<AwsCredentialsProvider>> NewImdsAwsCredentials(
    const AwsImdsOptions& options);

// The first of these that the environment configures: AWS_ACCESS_KEY_ID (environment),
// AWS_WEB_IDENTITY_TOKEN_FILE (web identity), AWS_CONTAINER_CREDENTIALS_FULL_URI
// (container), else the shared files. Never IMDS. kPermissionDenied listing where it
// looked if none does.
Result<std::shared_ptr<AwsCredentialsProvider>> NewDefaultAwsCredentials();

struct S3Options {
  std::string bucket;  // S3's rules: 3-63 of a-z 0-9 . -
  std::string prefix;  // "" or /-separated names of [A-Za-z0-9._-]; blobs go under it
  // The service as http(s)://host[:port][/path] (an S3-compatible server). Empty:
  // https://s3.REGION.amazonaws.com.
  std::string endpoint;
  // The signing region. Empty: AWS_REGION, AWS_DEFAULT_REGION, the profile's region in the
  // shared config file, else us-east-1.
  std::string region;
  enum class Addressing {
    kAuto,     // virtual-hosted on AWS unless the bucket name has a dot; path with an endpoint
    kPath,     // http://HOST/BUCKET/KEY
    kVirtual,  // http://BUCKET.HOST/KEY
  };
  Addressing addressing = Addressing::kAuto;
  // Blobs of at least multipart_threshold bytes (at most 5 GiB) go up as multipart uploads
  // of part_size parts (5 MiB to 5 GiB; larger when a blob would need more than 10,000),
  // part_concurrency (1-64) in flight for the whole store.
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;
  int part_concurrency = 4;
  // Empty: AWS_CA_BUNDLE if it names a readable file, else the system's CAs.
  TlsOptions tls;
  // false: conditional writes are sent without their conditions, for servers that
  // ignore them. UNSAFE: nothing then stops two writers of one task (README "Writers").
  bool fencing = true;
  // Null: NewDefaultAwsCredentials().
  std::shared_ptr<AwsCredentialsProvider> credentials;
};

// The S3 blob store of `s3`, metered and retried as OpenBlobStore's stores are. No request
// is made. kInvalidArgument naming the field that is wrong; the errors of
// NewDefaultAwsCredentials when s3.credentials is null.
Result<std::unique_ptr<BlobStore>> OpenS3BlobStore(const S3Options& s3,
                                                   const BlobStoreOptions& options);

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_S3_H_
