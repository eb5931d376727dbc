// Where an S3 blob store is and how to reach it: the `s3://` URL and AWS credentials.
//
// URL: s3://BUCKET[/PREFIX][?param=value&...], parameters:
//   endpoint=URL         the service (an S3-compatible server, say http://127.0.0.1:4568).
//                        Default: https://s3.REGION.amazonaws.com.
//   region=R             the signing region. Default: AWS_REGION, AWS_DEFAULT_REGION, the
//                        profile's `region` in the shared config file, then us-east-1.
//   addressing=path|virtual
//                        path-style (http://HOST/BUCKET/KEY) or virtual-hosted
//                        (http://BUCKET.HOST/KEY). Default: virtual for AWS unless the
//                        bucket name has a dot, path with an endpoint.
//   multipart_threshold=BYTES, part_size=BYTES, part_concurrency=N
//                        blobs of at least multipart_threshold bytes (default 64 MiB) are
//                        put as multipart uploads of part_size parts (default 16 MiB, at
//                        least 5 MiB), part_concurrency of them in flight (default 4).
//                        S3's limits hold: a single PUT takes at most 5 GiB (the
//                        threshold's maximum), an upload at most 10,000 parts (a larger
//                        part size is used for a blob that needs more) and 5 TiB.
//   fencing=on|off       off: conditional writes (If-None-Match, If-Match) are sent
//                        without their conditions, for servers that ignore them; UNSAFE,
//                        as nothing then stops two writers of one task (README, "Writers").
//                        Default: on.
//   credentials=auto|env|profile|container|web-identity|imds
//                        the provider (blobstate/s3.h). Default: auto, the first that the
//                        environment configures of env, web-identity, container, profile;
//                        never imds.
//   ca_file=PATH, ca_dir=PATH
//                        the CAs TLS trusts. Default: AWS_CA_BUNDLE if it names a readable
//                        file, else the system's.
// The URL is a shorthand of S3Options (blobstate/s3.h), which documents the defaults.
#ifndef BLOBSTATE_BLOBSTORE_S3_S3_CONFIG_H_
#define BLOBSTATE_BLOBSTORE_S3_S3_CONFIG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "blobstate/s3.h"
#include "blobstate/status.h"
#include "blobstore/http/credential_io.h"

namespace blobstate {

// S3's limits (AWS documentation, "Amazon S3 multipart upload limits").
inline constexpr uint64_t kS3MaxPutSize = 5ull << 30;
inline constexpr uint64_t kS3MaxPartSize = 5ull << 30;
inline constexpr uint64_t kS3MaxParts = 10'000;
inline constexpr uint64_t kS3MaxObjectSize = 5ull << 40;

struct S3Config {
  std::string bucket;
  std::string prefix;     // "" or "some/prefix/" (with the trailing slash)
  std::string scheme;     // "https" or "http"
  std::string host;       // the endpoint's host[:port]
  std::string base_path;  // the endpoint's path ("" or "/path"), before the bucket
  std::string region;
  bool path_style = false;
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;
  int part_concurrency = 4;
  bool fencing = true;  // false: conditional writes are sent without their conditions
  TlsOptions tls;
  std::shared_ptr<AwsCredentialsProvider> credentials;  // never null

  // "s3://BUCKET/PREFIX at ENDPOINT", for messages; no credentials.
  std::string Describe() const;
};

// The options an s3:// URL gives, its `credentials` provider made (DefaultAwsCredentials
// unless the URL names one). kInvalidArgument naming the URL and what is wrong (unknown
// parameter, malformed value); the provider's errors (kPermissionDenied naming where
// credentials were looked for if there are none).
Result<S3Options> S3OptionsFromUrl(std::string_view url, const EnvLookup& env);

// The config of `options`, their defaults filled in from `env` (S3Options says which).
// kInvalidArgument naming `context` and the field that is wrong.
Result<S3Config> ResolveS3Options(S3Options options, const EnvLookup& env,
                                  std::string_view context);

// Both of the above.
Result<S3Config> ParseS3Url(std::string_view url, const EnvLookup& env);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_S3_S3_CONFIG_H_
