// Where an Azure Blob store is, how to reach it, and how requests are authorised.
//
// URL: azure://ACCOUNT/CONTAINER[/PREFIX][?param=value&...], parameters:
//   endpoint=URL         the Blob service (Azurite: http://127.0.0.1:10000/ACCOUNT).
//                        Default: https://ACCOUNT.blob.core.windows.net.
//   block_threshold=BYTES, block_size=BYTES, block_concurrency=N
//                        blobs of at least block_threshold bytes (default 64 MiB) are put
//                        as blocks of block_size (default 16 MiB) and a block list,
//                        block_concurrency blocks in flight (default 4). Azure's limits
//                        hold: Put Blob takes at most 5000 MiB (the threshold's maximum),
//                        a block list at most 50,000 blocks of at most 4000 MiB (a larger
//                        block size is used for a blob that needs more).
//   fencing=on|off       off: conditional writes (If-None-Match, If-Match) are sent
//                        without their conditions; UNSAFE, as nothing then stops two
//                        writers of one task (README, "Writers"). Default: on.
//   ca_file=PATH, ca_dir=PATH
//                        the CAs TLS trusts. Default: the system's.
// Credentials: NewEnvAzureCredentials's (blobstate/azure.h): AZURE_STORAGE_KEY,
// AZURE_STORAGE_KEY_FILE, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_SAS_TOKEN_FILE. Never
// logged or put in messages. The URL is a shorthand of AzureOptions.
#ifndef BLOBSTATE_BLOBSTORE_AZURE_AZURE_CONFIG_H_
#define BLOBSTATE_BLOBSTORE_AZURE_AZURE_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "blobstate/azure.h"
#include "blobstate/status.h"
#include "blobstore/http/credential_io.h"
#include "blobstore/http/http_client.h"

namespace blobstate {

// The REST API version every request names (x-ms-version): blob index tags need
// 2019-12-12 or later.
inline constexpr char kAzureApiVersion[] = "2021-12-02";

// Azure's limits of block blobs (REST API 2019-12-12 and later).
inline constexpr uint64_t kAzureMaxPutSize = 5000ull << 20;
inline constexpr uint64_t kAzureMaxBlockSize = 4000ull << 20;
inline constexpr uint64_t kAzureMaxBlocks = 50'000;

struct AzureConfig {
  std::string account;
  std::string container;
  std::string prefix;     // "" or "some/prefix/"
  std::string scheme;     // "https" or "http"
  std::string host;       // host[:port]
  std::string base_path;  // "" or "/ACCOUNT" (Azurite), before the container
  uint64_t block_threshold = 64ull << 20;
  uint64_t block_size = 16ull << 20;
  int block_concurrency = 4;
  bool fencing = true;  // false: conditional writes are sent without their conditions
  TlsOptions tls;
  std::shared_ptr<AzureCredentialsProvider> credentials;  // never null

  // "azure://ACCOUNT/CONTAINER/PREFIX at ENDPOINT", for messages; no credentials.
  std::string Describe() const;
};

// The options an azure:// URL gives (no credentials: ResolveAzureOptions finds them).
// kInvalidArgument naming the URL and what is wrong.
Result<AzureOptions> AzureOptionsFromUrl(std::string_view url);

// The config of `options`, credentials from `env` (EnvAzureCredentials) if they have none.
// kInvalidArgument naming `context` and the field that is wrong; kPermissionDenied if there
// are no credentials.
Result<AzureConfig> ResolveAzureOptions(AzureOptions options, const EnvLookup& env,
                                        std::string_view context);

// Both of the above.
Result<AzureConfig> ParseAzureUrl(std::string_view url, const EnvLookup& env);

// The Authorization header value of Shared Key authorisation ("SharedKey ACCOUNT:SIG")
// for a request: `path` as sent (encoded), `query` decoded, `headers` all that are sent
// (standard ones by their usual names, any case; x-ms-* included), and the body's
// `content_length`. kInvalidArgument if `key` is not base64.
Result<std::string> SharedKeyAuthorization(
    std::string_view account, std::string_view key, std::string_view method, std::string_view path,
    const std::vector<std::pair<std::string, std::string>>& query, const HttpHeaders& headers,
    uint64_t content_length);

// An account SAS token (without '?') for the blob service, all resource types, the
// permissions rwdlacupt (tags included), valid until `expiry`: what a test or an operator
// hands to AZURE_STORAGE_SAS_TOKEN.
Result<std::string> MakeAccountSas(std::string_view account, std::string_view key,
                                   std::chrono::system_clock::time_point expiry);

// RFC 1123 time, as x-ms-date wants it: "Tue, 24 Nov 2026 16:47:24 GMT".
std::string HttpDate(std::chrono::system_clock::time_point t);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_AZURE_AZURE_CONFIG_H_
