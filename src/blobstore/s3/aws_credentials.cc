#include "blobstore/s3/aws_credentials.h"

#include <unistd.h>

#include <algorithm>

#include "util/fs.h"

namespace blobstate {
namespace {

using std::chrono::system_clock;

class StaticProvider final : public AwsCredentialsProvider {
 public:
  StaticProvider(AwsCredentials credentials, std::string what)
      : credentials_(std::move(credentials)), what_(std::move(what)) {}
  Result<AwsCredentials> Credentials() override { return credentials_; }
  std::string Describe() const override { return what_; }

 private:
  const AwsCredentials credentials_;
  const std::string what_;
};

std::string Home(const EnvLookup& env) { return env("HOME").value_or(""); }

// The config file names a profile's section "profile NAME", except "default".
std::string ConfigSection(const std::string& profile) {
  return profile == "default" ? profile : "profile " + profile;
}

AwsSharedFilesOptions WithFileDefaults(AwsSharedFilesOptions o, const EnvLookup& env) {
  if (o.profile.empty()) o.profile = env("AWS_PROFILE").value_or("default");
  if (o.credentials_file.empty()) {
    o.credentials_file =
        env("AWS_SHARED_CREDENTIALS_FILE").value_or(Home(env) + "/.aws/credentials");
  }
  if (o.config_file.empty()) {
    o.config_file = env("AWS_CONFIG_FILE").value_or(Home(env) + "/.aws/config");
  }
  return o;
}

// The keys of a profile in the shared files, read again when either file changes.
class SharedFilesProvider final : public AwsCredentialsProvider {
 public:
  explicit SharedFilesProvider(const AwsSharedFilesOptions& o)
      : profile_(o.profile), credentials_file_(o.credentials_file), config_file_(o.config_file) {}

  Result<AwsCredentials> Credentials() override {
    bool changed_credentials = false, changed_config = false;
    Result<std::string> credentials = credentials_file_.Read(&changed_credentials);
    Result<std::string> config = config_file_.Read(&changed_config);
    std::lock_guard<std::mutex> lock(mu_);
    if (current_ && !changed_credentials && !changed_config) return *current_;
    current_.reset();
    const std::pair<const Result<std::string>*, std::string> files[] = {
        {&credentials, profile_}, {&config, ConfigSection(profile_)}};
    for (const auto& [text, section] : files) {
      if (!text->ok()) continue;
      auto id = IniValue(**text, section, "aws_access_key_id");
      auto secret = IniValue(**text, section, "aws_secret_access_key");
      if (id && secret && !id->empty() && !secret->empty()) {
        current_ = AwsCredentials{*id, *secret,
                                  IniValue(**text, section, "aws_session_token").value_or("")};
        return *current_;
      }
    }
    return PermissionDeniedError("no AWS keys for profile '" + profile_ + "' in " +
                                 credentials_file_.path() + " or " + config_file_.path());
  }
  std::string Describe() const override {
    return "profile '" + profile_ + "' of " + credentials_file_.path() + " and " +
           config_file_.path();
  }

 private:
  const std::string profile_;
  WatchedFile credentials_file_;
  WatchedFile config_file_;
  std::mutex mu_;
  std::optional<AwsCredentials> current_;
};

}  // namespace

Result<AwsCredentials> RenewingAwsCredentials::Credentials() {
  std::unique_lock<std::mutex> lock(mu_);
  auto usable = [this](TimePoint now) {
    return current_ && (!current_->expiration || now < *current_->expiration);
  };
  for (const uint64_t generation = generation_;;) {
    const TimePoint now = clock_();
    if (usable(now) && (now < renew_at_ || fetching_ || now < retry_after_)) return *current_;
    // A fetch that failed while this caller waited for it: its error, not another fetch.
    if (generation != generation_ && !usable(now)) return last_error_;
    if (!fetching_) break;
    fetched_.wait(lock);
  }
  fetching_ = true;
  lock.unlock();
  Result<AwsCredentials> got = Fetch();
  lock.lock();
  fetching_ = false;
  ++generation_;
  fetched_.notify_all();
  const TimePoint now = clock_();
  if (got.ok() && got->expiration && *got->expiration <= now) {
    got = UnavailableError(Describe() + ": the credentials sent had expired already");
  }
  if (got.ok()) {
    current_ = *got;
    renew_at_ = TimePoint::max();
    if (got->expiration) {
      const auto lifetime = *got->expiration - now;
      renew_at_ = *got->expiration - std::min<system_clock::duration>(kRenewBefore, lifetime / 2);
    }
    return *got;
  }
  last_error_ = got.status();
  retry_after_ = now + kRetryFetchAfter;
  if (usable(now)) return *current_;
  return got.status();
}

Result<AwsProvider> EnvAwsCredentials(const EnvLookup& env) {
  std::optional<std::string> id = env("AWS_ACCESS_KEY_ID");
  std::optional<std::string> secret = env("AWS_SECRET_ACCESS_KEY");
  if (!id || !secret) {
    return PermissionDeniedError(
        "no AWS credentials in the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
        "must both be set");
  }
  return AwsProvider(std::make_shared<StaticProvider>(
      AwsCredentials{*id, *secret, env("AWS_SESSION_TOKEN").value_or("")},
      "the environment (AWS_ACCESS_KEY_ID)"));
}

Result<AwsProvider> SharedFilesAwsCredentials(AwsSharedFilesOptions options, const EnvLookup& env) {
  auto provider = std::make_shared<SharedFilesProvider>(WithFileDefaults(std::move(options), env));
  RETURN_IF_ERROR(provider->Credentials().status());
  return AwsProvider(std::move(provider));
}

Result<AwsProvider> DefaultAwsCredentials(const EnvLookup& env) {
  if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) return EnvAwsCredentials(env);
  if (env("AWS_WEB_IDENTITY_TOKEN_FILE")) return WebIdentityAwsCredentials({}, env, SystemClock());
  if (env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    return ContainerAwsCredentials({}, env, SystemClock());
  }
  Result<AwsProvider> files = SharedFilesAwsCredentials({}, env);
  if (files.ok()) return files;
  const AwsSharedFilesOptions f = WithFileDefaults({}, env);
  return PermissionDeniedError(
      "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
      "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or AWS_CONTAINER_CREDENTIALS_FULL_URI, or "
      "give profile '" +
      f.profile + "' keys in " + f.credentials_file + " or " + f.config_file +
      " (the EC2 instance metadata service is asked only when chosen: credentials=imds)");
}

Result<AwsProvider> AwsCredentialsNamed(const std::string& name, const EnvLookup& env) {
  if (name == "auto") return DefaultAwsCredentials(env);
  if (name == "env") return EnvAwsCredentials(env);
  if (name == "profile") return SharedFilesAwsCredentials({}, env);
  if (name == "container") return ContainerAwsCredentials({}, env, SystemClock());
  if (name == "web-identity") return WebIdentityAwsCredentials({}, env, SystemClock());
  if (name == "imds") return ImdsAwsCredentials({}, env, SystemClock());
  return InvalidArgumentError(
      "credentials must be auto, env, profile, container, web-identity "
      "or imds, not '" +
      name + "'");
}

std::string DefaultAwsRegion(const EnvLookup& env) {
  for (const char* var : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (std::optional<std::string> r = env(var)) return *r;
  }
  const AwsSharedFilesOptions f = WithFileDefaults({}, env);
  if (Result<std::string> text = ReadSmallFile(f.config_file, 1 << 20); text.ok()) {
    if (auto r = IniValue(*text, ConfigSection(f.profile), "region")) return *r;
  }
  return "us-east-1";
}

TlsOptions AwsTls(TlsOptions tls, const EnvLookup& env) {
  if (!tls.ca_file.empty() || !tls.ca_dir.empty()) return tls;
  if (std::optional<std::string> bundle = env("AWS_CA_BUNDLE");
      bundle && ::access(bundle->c_str(), R_OK) == 0) {
    tls.ca_file = *bundle;
  }
  return tls;
}

Result<AwsCredentials> CredentialsFromJson(std::string_view body, const std::string& what) {
  Result<std::map<std::string, std::string>> json = ParseFlatJson(body);
  if (!json.ok()) return UnavailableError(what + ": the reply is not a JSON object");
  auto field = [&](const char* name) {
    auto it = json->find(name);
    return it == json->end() ? std::string() : it->second;
  };
  if (const std::string code = field("Code"); !code.empty() && code != "Success") {
    return UnavailableError(what + ": the reply's Code is '" + code + "'");
  }
  AwsCredentials c{field("AccessKeyId"), field("SecretAccessKey"), field("Token"), std::nullopt};
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return UnavailableError(what + ": the reply has no AccessKeyId and SecretAccessKey");
  }
  if (const std::string expiration = field("Expiration"); !expiration.empty()) {
    c.expiration = ParseIsoTime(expiration);
    if (!c.expiration) return UnavailableError(what + ": the reply's Expiration is not a time");
  }
  return c;
}

Result<std::shared_ptr<AwsCredentialsProvider>> NewStaticAwsCredentials(AwsCredentials c) {
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return InvalidArgumentError("static AWS credentials need a key id and a secret");
  }
  return AwsProvider(std::make_shared<StaticProvider>(std::move(c), "static credentials"));
}

Result<std::shared_ptr<AwsCredentialsProvider>> NewEnvAwsCredentials() {
  return EnvAwsCredentials(ProcessEnv());
}

Result<std::shared_ptr<AwsCredentialsProvider>> NewSharedFilesAwsCredentials(
    const AwsSharedFilesOptions& options) {
  return SharedFilesAwsCredentials(options, ProcessEnv());
}

Result<std::shared_ptr<AwsCredentialsProvider>> NewDefaultAwsCredentials() {
  return DefaultAwsCredentials(ProcessEnv());
}

}  // namespace blobstate
