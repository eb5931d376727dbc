// The Azure blob store, configured in code: AzureOptions and the Azure credential
// providers. Present when blobstate is built with BLOBSTATE_AZURE=ON (the default). The
// `azure://` URL of OpenBlobStore is a shorthand of these options (README "Blob stores").
//
// A provider is asked before every request. The file providers stat their file each time
// and read it again when it changed (a Kubernetes secret, rotated by the kubelet's
// symlink swap, is used from the next request on); a file that cannot be read keeps the
// last value it gave.
//
// Example:
//   AzureOptions azure{.account = "myaccount", .container = "state", .prefix = "blobstate"};
//   ASSIGN_OR_RETURN(azure.credentials, NewAzureSasFileCredentials("/secrets/azure/sas"));
//   ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, OpenAzureBlobStore(azure, {}));
#ifndef BLOBSTATE_AZURE_H_
#define BLOBSTATE_AZURE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "blobstate/blob_store.h"
#include "blobstate/status.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

// Exactly one of the two is set.
struct AzureCredentials {
  std::string account_key;  // base64, as the portal shows it: Shared Key authorisation
  std::string sas_token;    // a SAS query ("sv=...&sig=..."), without the '?'
};

class AzureCredentialsProvider {
 public:
  virtual ~AzureCredentialsProvider() = default;
  // The credentials to authorise a request with now. Thread-safe. Messages never hold a
  // secret.
  virtual Result<AzureCredentials> Credentials() = 0;
  // Where the credentials come from, for messages.
  virtual std::string Describe() const = 0;
};

// Always `credentials`. kInvalidArgument if not exactly one is set, or the key is not
// base64 (the message never quotes it). A leading '?' of the SAS is dropped.
Result<std::shared_ptr<AzureCredentialsProvider>> NewStaticAzureCredentials(
    AzureCredentials credentials);

// The account key in file `path` (surrounding white space ignored), read again whenever
// the file changes. kPermissionDenied naming the file if it cannot be read now;
// kInvalidArgument if it does not hold base64.
Result<std::shared_ptr<AzureCredentialsProvider>> NewAzureKeyFileCredentials(
    const std::string& path);

// The SAS token in file `path`, likewise.
Result<std::shared_ptr<AzureCredentialsProvider>> NewAzureSasFileCredentials(
    const std::string& path);

// The first that is set of AZURE_STORAGE_KEY, AZURE_STORAGE_KEY_FILE,
// AZURE_STORAGE_SAS_TOKEN and AZURE_STORAGE_SAS_TOKEN_FILE (the files as above).
// kPermissionDenied naming them if none is.
Result<std::shared_ptr<AzureCredentialsProvider>> NewEnvAzureCredentials();

struct AzureOptions {
  std::string account;    // 3-24 of a-z 0-9
  std::string container;  // 3-63 of a-z 0-9 -, no leading, trailing or double '-'
  std::string prefix;     // "" or /-separated names of [A-Za-z0-9._-]; blobs go under it
  // The Blob service as http(s)://host[:port][/path] (Azurite:
  // http://127.0.0.1:10000/devstoreaccount1). Empty: https://ACCOUNT.blob.core.windows.net.
  std::string endpoint;
  // Blobs of at least block_threshold bytes (at most 5000 MiB) go up as blocks of
  // block_size (1 MiB to 4000 MiB; larger when a blob would need more than 50,000),
  // block_concurrency (1-64) in flight for the whole store, and one block list.
  uint64_t block_threshold = 64ull << 20;
  uint64_t block_size = 16ull << 20;
  int block_concurrency = 4;
  TlsOptions tls;  // empty: the system's CAs
  // false: conditional writes are sent without their conditions. UNSAFE: nothing then
  // stops two writers of one task (README "Writers").
  bool fencing = true;
  // Null: NewEnvAzureCredentials().
  std::shared_ptr<AzureCredentialsProvider> credentials;
};

// The Azure blob store of `azure`, metered and retried as OpenBlobStore's stores are. No
// request is made. kInvalidArgument naming the field that is wrong; the errors of
// NewEnvAzureCredentials when azure.credentials is null.
Result<std::unique_ptr<BlobStore>> OpenAzureBlobStore(const AzureOptions& azure,
                                                      const BlobStoreOptions& options);

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_AZURE_H_
