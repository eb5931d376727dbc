// The providers that fetch temporary credentials over HTTP: container, web identity
// (STS) and IMDSv2.
#include <arpa/inet.h>

#include <string_view>

#include "blobstore/http/cloud_io.h"
#include "blobstore/http/http_client.h"
#include "blobstore/http/url.h"
#include "blobstore/s3/aws_credentials.h"

namespace blobstate {
namespace {

// A credential service is small and near: a slow one fails the fetch, not the store.
constexpr std::chrono::seconds kFetchStall{10};
constexpr std::chrono::milliseconds kFetchConnect{2'000};

// `url` up to its query (a presigned or token-bearing query never reaches a message).
std::string WithoutQuery(const std::string& url) { return url.substr(0, url.find('?')); }

// The status of a credential service's reply: a refusal (4xx but 408 and 429) is
// kPermissionDenied; other failures keep HttpStatusToStatus's code (5xx retriable).
Status ServiceStatus(const HttpResponse& r, const std::string& what) {
  Status s = HttpStatusToStatus(r, what);
  if (r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429) {
    return PermissionDeniedError(s.message());
  }
  return s;
}

// `direct`: the host's own agent (container, IMDS), never asked through a proxy.
Result<HttpResponse> FetchFromService(HttpCall call, const TlsOptions* tls, bool direct) {
  call.tls = tls;
  call.direct = direct;
  call.stall_timeout = kFetchStall;
  call.connect_timeout = kFetchConnect;
  return PerformHttp(call);
}

// Whether `url` is the host's own: loopback, or the ECS and EKS Pod Identity agents.
// Container credentials may come from those over plain http, and are asked for directly.
bool IsHostAgent(const Url& url) {
  std::string host = url.authority;
  if (host.starts_with('[')) {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  in_addr v4{};
  const bool loopback_v4 =
      ::inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
  return loopback_v4 || host == "localhost" || host == "[::1]" || host == "169.254.170.2" ||
         host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

class ContainerProvider final : public RenewingAwsCredentials {
 public:
  ContainerProvider(AwsContainerOptions o, Clock clock)
      : RenewingAwsCredentials(std::move(clock)), options_(std::move(o)) {
    if (!options_.token_file.empty()) token_file_.emplace(options_.token_file);
    Result<Url> url = ParseUrl(options_.full_uri);
    direct_ = url.ok() && IsHostAgent(*url);
  }
  std::string Describe() const override {
    return "container credentials from " + WithoutQuery(options_.full_uri);
  }

 private:
  Result<AwsCredentials> Fetch() override {
    HttpCall call{.method = "GET", .url = options_.full_uri};
    std::string token = options_.token;
    if (token_file_) {
      ASSIGN_OR_RETURN(std::string text, token_file_->Read());
      token = TrimSpace(text);
    }
    if (!token.empty()) call.headers.emplace_back("Authorization", token);
    ASSIGN_OR_RETURN(HttpResponse r, FetchFromService(std::move(call), &options_.tls, direct_));
    RETURN_IF_ERROR(ServiceStatus(r, Describe()));
    return CredentialsFromJson(r.body, Describe());
  }

  const AwsContainerOptions options_;
  std::optional<WatchedFile> token_file_;
  bool direct_ = false;  // the host's own agent: never asked through a proxy
};

class WebIdentityProvider final : public RenewingAwsCredentials {
 public:
  WebIdentityProvider(AwsWebIdentityOptions o, Clock clock)
      : RenewingAwsCredentials(std::move(clock)),
        options_(std::move(o)),
        token_file_(options_.token_file) {}
  std::string Describe() const override {
    return "web identity (role " + options_.role_arn + ", token " + options_.token_file +
           ") via STS at " + options_.sts_endpoint;
  }

 private:
  Result<AwsCredentials> Fetch() override {
    ASSIGN_OR_RETURN(std::string token, token_file_.Read());
    const std::vector<std::pair<std::string, std::string>> form = {
        {"Action", "AssumeRoleWithWebIdentity"},
        {"Version", "2011-06-15"},
        {"RoleArn", options_.role_arn},
        {"RoleSessionName", options_.session_name},
        {"WebIdentityToken", std::string(TrimSpace(token))}};
    HttpCall call{.method = "POST",
                  .url = options_.sts_endpoint + "/",
                  .headers = {{"Content-Type", "application/x-www-form-urlencoded"}},
                  .body = CanonicalQuery(form)};
    ASSIGN_OR_RETURN(HttpResponse r, FetchFromService(std::move(call), &options_.tls, false));
    RETURN_IF_ERROR(ServiceStatus(r, Describe()));
    auto text = [&](const char* tag) {
      std::vector<std::string> texts = XmlTexts(r.body, tag);
      return texts.empty() ? std::string() : texts[0];
    };
    AwsCredentials c{text("AccessKeyId"), text("SecretAccessKey"), text("SessionToken"),
                     ParseIsoTime(text("Expiration"))};
    if (c.access_key_id.empty() || c.secret_access_key.empty() || !c.expiration) {
      return UnavailableError(Describe() + ": the reply has no Credentials with an Expiration");
    }
    return c;
  }

  const AwsWebIdentityOptions options_;
  WatchedFile token_file_;
};

class ImdsProvider final : public RenewingAwsCredentials {
 public:
  ImdsProvider(std::string endpoint, Clock clock)
      : RenewingAwsCredentials(std::move(clock)), endpoint_(std::move(endpoint)) {}
  std::string Describe() const override { return "IMDSv2 at " + endpoint_; }

 private:
  Result<AwsCredentials> Fetch() override {
    HttpCall session{.method = "PUT",
                     .url = endpoint_ + "/latest/api/token",
                     .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}}};
    ASSIGN_OR_RETURN(HttpResponse token, FetchFromService(std::move(session), nullptr, true));
    RETURN_IF_ERROR(ServiceStatus(token, Describe() + ": session token"));
    const std::string base = endpoint_ + "/latest/meta-data/iam/security-credentials/";
    const HttpHeaders auth = {{"X-aws-ec2-metadata-token", std::string(TrimSpace(token.body))}};
    ASSIGN_OR_RETURN(
        HttpResponse roles,
        FetchFromService({.method = "GET", .url = base, .headers = auth}, nullptr, true));
    RETURN_IF_ERROR(ServiceStatus(roles, Describe() + ": the instance's role"));
    const std::string role(TrimSpace(roles.body.substr(0, roles.body.find('\n'))));
    if (role.empty()) return PermissionDeniedError(Describe() + ": the instance has no IAM role");
    ASSIGN_OR_RETURN(
        HttpResponse r,
        FetchFromService({.method = "GET", .url = base + UriEncode(role, true), .headers = auth},
                         nullptr, true));
    RETURN_IF_ERROR(ServiceStatus(r, Describe()));
    return CredentialsFromJson(r.body, Describe());
  }

  const std::string endpoint_;
};

// `endpoint` as an http(s) base URL without a trailing '/'; kInvalidArgument naming `what`.
Result<std::string> BaseUrl(const std::string& endpoint, const std::string& what) {
  Result<Url> url = ParseUrl(endpoint);
  if (!url.ok() || (url->scheme != "http" && url->scheme != "https") || !url->query.empty()) {
    return InvalidArgumentError(what + " '" + RedactUrl(endpoint) +
                                "' is not an http:// or https:// URL without a query");
  }
  std::string base = endpoint;
  while (base.ends_with('/')) base.pop_back();
  return base;
}

}  // namespace

Result<AwsProvider> ContainerAwsCredentials(AwsContainerOptions o, const EnvLookup& env,
                                            Clock clock) {
  if (o.full_uri.empty()) o.full_uri = env("AWS_CONTAINER_CREDENTIALS_FULL_URI").value_or("");
  if (o.token_file.empty()) {
    o.token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").value_or("");
  }
  if (o.token.empty()) o.token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN").value_or("");
  o.tls = AwsTls(std::move(o.tls), env);
  if (o.full_uri.empty()) {
    return InvalidArgumentError(
        "container credentials need a URI: AWS_CONTAINER_CREDENTIALS_FULL_URI is not set");
  }
  Result<Url> url = ParseUrl(o.full_uri);
  if (!url.ok() || !(url->scheme == "https" || (url->scheme == "http" && IsHostAgent(*url)))) {
    return InvalidArgumentError("container credentials URI '" + RedactUrl(o.full_uri) +
                                "' must be https://, or http:// to a loopback address or to "
                                "169.254.170.2, 169.254.170.23 or [fd00:ec2::23]");
  }
  return AwsProvider(std::make_shared<ContainerProvider>(std::move(o), std::move(clock)));
}

Result<AwsProvider> WebIdentityAwsCredentials(AwsWebIdentityOptions o, const EnvLookup& env,
                                              Clock clock) {
  if (o.role_arn.empty()) o.role_arn = env("AWS_ROLE_ARN").value_or("");
  if (o.token_file.empty()) o.token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE").value_or("");
  if (o.session_name.empty()) {
    o.session_name = env("AWS_ROLE_SESSION_NAME")
                         .value_or("blobstate-" +
                                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                      clock().time_since_epoch())
                                                      .count()));
  }
  if (o.region.empty()) {
    o.region = env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or(""));
  }
  if (o.sts_endpoint.empty()) {
    o.sts_endpoint = env("AWS_ENDPOINT_URL_STS")
                         .value_or(o.region.empty() ? "https://sts.amazonaws.com"
                                                    : "https://sts." + o.region + ".amazonaws.com");
  }
  o.tls = AwsTls(std::move(o.tls), env);
  if (o.role_arn.empty() || o.token_file.empty()) {
    return InvalidArgumentError(
        "web identity credentials need a role and a token file: set AWS_ROLE_ARN and "
        "AWS_WEB_IDENTITY_TOKEN_FILE");
  }
  ASSIGN_OR_RETURN(o.sts_endpoint, BaseUrl(o.sts_endpoint, "the STS endpoint"));
  return AwsProvider(std::make_shared<WebIdentityProvider>(std::move(o), std::move(clock)));
}

Result<AwsProvider> ImdsAwsCredentials(AwsImdsOptions o, const EnvLookup& env, Clock clock) {
  if (o.endpoint.empty()) {
    o.endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or("http://169.254.169.254");
  }
  ASSIGN_OR_RETURN(std::string base, BaseUrl(o.endpoint, "the IMDS endpoint"));
  return AwsProvider(std::make_shared<ImdsProvider>(std::move(base), std::move(clock)));
}

Result<std::shared_ptr<AwsCredentialsProvider>> NewContainerAwsCredentials(
    const AwsContainerOptions& options) {
  return ContainerAwsCredentials(options, ProcessEnv(), SystemClock());
}

Result<std::shared_ptr<AwsCredentialsProvider>> NewWebIdentityAwsCredentials(
    const AwsWebIdentityOptions& options) {
  return WebIdentityAwsCredentials(options, ProcessEnv(), SystemClock());
}

Result<std::shared_ptr<AwsCredentialsProvider>> NewImdsAwsCredentials(
    const AwsImdsOptions& options) {
  return ImdsAwsCredentials(options, ProcessEnv(), SystemClock());
}

}  // namespace blobstate
