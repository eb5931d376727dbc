#include "blobstore/azure/azure_credentials.h"

#include "blobstore/http/encoding.h"

namespace blobstate {
namespace {

// `c` with a SAS's leading '?' dropped; kInvalidArgument (naming `source`, never quoting
// the secret) unless exactly one is set and a key is base64.
Result<AzureCredentials> Checked(AzureCredentials c, const std::string& source) {
  if (!c.sas_token.empty() && c.sas_token.front() == '?') c.sas_token.erase(0, 1);
  if (c.account_key.empty() == c.sas_token.empty()) {
    return InvalidArgumentError(source + ": give exactly one of an account key and a SAS token");
  }
  if (!c.account_key.empty() && !Base64Decode(c.account_key)) {
    return InvalidArgumentError(source +
                                " is not base64: give the account key as the portal shows it");
  }
  return c;
}

class StaticProvider final : public AzureCredentialsProvider {
 public:
  StaticProvider(AzureCredentials c, std::string what)
      : credentials_(std::move(c)), what_(std::move(what)) {}
  Result<AzureCredentials> Credentials() override { return credentials_; }
  std::string Describe() const override { return what_; }

 private:
  const AzureCredentials credentials_;
  const std::string what_;
};

// A key or SAS token in a file, read again when the file changes. A change that does not
// check keeps the last good value (a half-written file is not taken).
class FileProvider final : public AzureCredentialsProvider {
 public:
  FileProvider(std::string path, bool is_key) : file_(std::move(path)), is_key_(is_key) {}

  Result<AzureCredentials> Credentials() override {
    bool changed = false;
    ASSIGN_OR_RETURN(std::string text, file_.Read(&changed));
    std::lock_guard<std::mutex> lock(mu_);
    if (current_ && !changed) return *current_;
    const std::string value(TrimSpace(text));
    Result<AzureCredentials> c = Checked(
        is_key_ ? AzureCredentials{.account_key = value} : AzureCredentials{.sas_token = value},
        Describe());
    if (c.ok()) current_ = *c;
    if (current_) return *current_;
    return c.status();
  }
  std::string Describe() const override {
    return std::string(is_key_ ? "the account key" : "the SAS token") + " in " + file_.path();
  }

 private:
  WatchedFile file_;
  const bool is_key_;
  std::mutex mu_;
  std::optional<AzureCredentials> current_;
};

Result<AzureProvider> FileCredentials(const std::string& path, bool is_key) {
  auto provider = std::make_shared<FileProvider>(path, is_key);
  Result<AzureCredentials> first = provider->Credentials();
  if (first.status().code() == StatusCode::kNotFound) {
    return PermissionDeniedError(provider->Describe() + ": " + first.status().message());
  }
  RETURN_IF_ERROR(first.status());
  return AzureProvider(std::move(provider));
}

}  // namespace

Result<AzureProvider> EnvAzureCredentials(const EnvLookup& env) {
  if (auto key = env("AZURE_STORAGE_KEY")) {
    ASSIGN_OR_RETURN(AzureCredentials c, Checked({.account_key = *key}, "AZURE_STORAGE_KEY"));
    return AzureProvider(std::make_shared<StaticProvider>(std::move(c), "AZURE_STORAGE_KEY"));
  }
  if (auto file = env("AZURE_STORAGE_KEY_FILE")) return FileCredentials(*file, true);
  if (auto sas = env("AZURE_STORAGE_SAS_TOKEN")) {
    ASSIGN_OR_RETURN(AzureCredentials c, Checked({.sas_token = *sas}, "AZURE_STORAGE_SAS_TOKEN"));
    return AzureProvider(std::make_shared<StaticProvider>(std::move(c), "AZURE_STORAGE_SAS_TOKEN"));
  }
  if (auto file = env("AZURE_STORAGE_SAS_TOKEN_FILE")) return FileCredentials(*file, false);
  return PermissionDeniedError(
      "no Azure credentials: set AZURE_STORAGE_KEY, AZURE_STORAGE_KEY_FILE, "
      "AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_SAS_TOKEN_FILE");
}

Result<std::shared_ptr<AzureCredentialsProvider>> NewStaticAzureCredentials(
    AzureCredentials credentials) {
  ASSIGN_OR_RETURN(AzureCredentials c, Checked(std::move(credentials), "static Azure credentials"));
  return AzureProvider(std::make_shared<StaticProvider>(std::move(c), "static credentials"));
}

Result<std::shared_ptr<AzureCredentialsProvider>> NewAzureKeyFileCredentials(
    const std::string& path) {
  return FileCredentials(path, true);
}

Result<std::shared_ptr<AzureCredentialsProvider>> NewAzureSasFileCredentials(
    const std::string& path) {
  return FileCredentials(path, false);
}

Result<std::shared_ptr<AzureCredentialsProvider>> NewEnvAzureCredentials() {
  return EnvAzureCredentials(ProcessEnv());
}

}  // namespace blobstate
