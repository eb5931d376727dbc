// The Azure credential providers of blobstate/azure.h, with the environment passed in
// (tests give a fake).
#ifndef BLOBSTATE_BLOBSTORE_AZURE_AZURE_CREDENTIALS_H_
#define BLOBSTATE_BLOBSTORE_AZURE_AZURE_CREDENTIALS_H_

#include <memory>

#include "blobstate/azure.h"
#include "blobstore/http/credential_io.h"

namespace blobstate {

using AzureProvider = std::shared_ptr<AzureCredentialsProvider>;

// NewEnvAzureCredentials, reading `env`.
Result<AzureProvider> EnvAzureCredentials(const EnvLookup& env);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_AZURE_AZURE_CREDENTIALS_H_
