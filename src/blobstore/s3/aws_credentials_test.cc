// The AWS credential providers against fake credential services on loopback (container
// endpoint, STS, IMDS), with a fake clock for renewal. No test contacts any other host.
#include "blobstore/s3/aws_credentials.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "blobstore/http/url.h"
#include "blobstore/s3/s3_blob_store.h"
#include "blobstore/s3/s3_config.h"
#include "testing/fake_env.h"
#include "testing/loopback_server.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using std::chrono::system_clock;
using testing::FakeEnv;
using testing::LoopbackServer;
using testing::TempDir;
using namespace std::chrono_literals;

// A clock the test moves; it starts at 2026-11-30T21:00:00Z.
class FakeClock {
 public:
  Clock clock() {
    return [this] { return system_clock::time_point(std::chrono::seconds(now_.load())); };
  }
  system_clock::time_point now() const {
    return system_clock::time_point(std::chrono::seconds(now_.load()));
  }
  void Advance(std::chrono::seconds by) { now_ += by.count(); }

 private:
  std::atomic<int64_t> now_{1796072400};
};

std::string IsoTime(system_clock::time_point t) {
  std::time_t secs = system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A credential service: each fetch hands out key id AKID<n> (n counts fetches from 1),
// valid for an hour of the fake clock, unless told to fail.
class FakeCredentialService {
 public:
  explicit FakeCredentialService(FakeClock& clock) : clock_(clock) {}
  // The JSON of the next credentials (container and IMDS format).
  std::string NextJson() {
    const int n = ++fetches_;
    return R"({"AccessKeyId":"AKID)" + std::to_string(n) + R"(","SecretAccessKey":"fake-secret-)" +
           std::to_string(n) + R"(","Token":"fake-token-)" + std::to_string(n) +
           R"(","Expiration":")" + IsoTime(clock_.now() + 1h) + R"("})";
  }
  int fetches() const { return fetches_; }
  std::atomic<int> fail_with{0};  // an HTTP status to answer with instead, 0: none

 private:
  FakeClock& clock_;
  std::atomic<int> fetches_{0};
};

class AwsCredentialsTest : public ::testing::Test {
 protected:
  // Serves container credentials at /creds, requiring the Authorization header `token_`.
  void ServeContainer() {
    http_.server().Get("/creds", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        authorizations_.push_back(req.get_header_value("Authorization"));
      }
      if (service_.fail_with) {
        res.status = service_.fail_with;
        res.set_content("no", "text/plain");
        return;
      }
      res.set_content(service_.NextJson(), "application/json");
    });
  }
  std::vector<std::string> authorizations() { return Locked(authorizations_); }
  // A copy of `v`, which the server's handlers change under mu_.
  template <typename T>
  T Locked(const T& v) {
    std::lock_guard<std::mutex> lock(mu_);
    return v;
  }

  TempDir tmp_;
  FakeClock clock_;
  FakeCredentialService service_{clock_};
  std::mutex mu_;
  std::vector<std::string> authorizations_;
  LoopbackServer http_;  // stopped first: its handlers use the members above
};

TEST_F(AwsCredentialsTest, EnvironmentAndStaticKeysAreLongLived) {
  Result<AwsProvider> env = EnvAwsCredentials(FakeEnv({{"AWS_ACCESS_KEY_ID", "AKENV"},
                                                       {"AWS_SECRET_ACCESS_KEY", "s"},
                                                       {"AWS_SESSION_TOKEN", "t"}}));
  ASSERT_TRUE(env.ok()) << env.status();
  Result<AwsCredentials> c = (*env)->Credentials();
  EXPECT_EQ(c->access_key_id, "AKENV");
  EXPECT_EQ(c->session_token, "t");
  EXPECT_FALSE(c->expiration);
  EXPECT_EQ(EnvAwsCredentials(FakeEnv({{"AWS_ACCESS_KEY_ID", "AKENV"}})).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(NewStaticAwsCredentials({.access_key_id = "AK"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*NewStaticAwsCredentials({"AK", "S", "", std::nullopt}))->Credentials()->access_key_id,
            "AK");
}

TEST_F(AwsCredentialsTest, SharedFilesAreReadAgainWhenRotated) {
  const std::string file = tmp_.Sub("credentials");
  ASSERT_TRUE(
      WriteFileAtomic(file, "[work]\naws_access_key_id=OLD\naws_secret_access_key=S1\n").ok());
  Result<AwsProvider> p = SharedFilesAwsCredentials(
      {.profile = "work", .credentials_file = file, .config_file = tmp_.Sub("none")}, FakeEnv({}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->Credentials()->access_key_id, "OLD");
  ASSERT_TRUE(WriteFileAtomic(file,
                              "[work]\naws_access_key_id=NEW\naws_secret_access_key=S2\n"
                              "aws_session_token=T2\n")
                  .ok());
  Result<AwsCredentials> c = (*p)->Credentials();
  EXPECT_EQ(c->access_key_id, "NEW");
  EXPECT_EQ(c->session_token, "T2");
  ASSERT_TRUE(WriteFileAtomic(file, "[other]\n").ok());
  EXPECT_EQ((*p)->Credentials().status().code(), StatusCode::kPermissionDenied)
      << "keys removed from the file are not used any more";
}

TEST_F(AwsCredentialsTest, DefaultChainFollowsTheEnvironmentAndNeverAsksImds) {
  std::atomic<int> imds_requests{0};
  http_.server().set_pre_routing_handler([&](const httplib::Request&, httplib::Response&) {
    ++imds_requests;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http_.Start();
  const std::string creds = tmp_.Sub("credentials");
  ASSERT_TRUE(
      WriteFileAtomic(creds, "[default]\naws_access_key_id=FILE\naws_secret_access_key=S\n").ok());
  ASSERT_TRUE(WriteFileAtomic(tmp_.Sub("token"), "jwt").ok());
  std::map<std::string, std::string> env = {{"HOME", tmp_.path()},
                                            {"AWS_EC2_METADATA_SERVICE_ENDPOINT", http_.Url("")}};
  Status none = DefaultAwsCredentials(FakeEnv(env)).status();
  EXPECT_EQ(none.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(none.message().find(tmp_.path() + "/.aws/credentials"), std::string::npos) << none;
  EXPECT_NE(none.message().find("credentials=imds"), std::string::npos) << none;
  env["AWS_SHARED_CREDENTIALS_FILE"] = creds;
  EXPECT_EQ((*DefaultAwsCredentials(FakeEnv(env)))->Describe().find("profile 'default'"), 0u);
  env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = http_.Url("/creds");
  EXPECT_EQ((*DefaultAwsCredentials(FakeEnv(env)))->Describe().find("container"), 0u);
  env["AWS_WEB_IDENTITY_TOKEN_FILE"] = tmp_.Sub("token");
  env["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/r";
  EXPECT_EQ((*DefaultAwsCredentials(FakeEnv(env)))->Describe().find("web identity"), 0u);
  env["AWS_ACCESS_KEY_ID"] = "ENV";
  env["AWS_SECRET_ACCESS_KEY"] = "S";
  EXPECT_EQ((*(*DefaultAwsCredentials(FakeEnv(env)))->Credentials()).access_key_id, "ENV");
  EXPECT_EQ(imds_requests, 0) << "the metadata service is never a default";
}

TEST_F(AwsCredentialsTest, ContainerCredentialsSendTheTokenFileAndRenewBeforeExpiry) {
  ServeContainer();
  http_.Start();
  const std::string token_file = tmp_.Sub("token");
  ASSERT_TRUE(WriteFileAtomic(token_file, "token-1\n").ok());
  Result<AwsProvider> p = ContainerAwsCredentials(
      {},
      FakeEnv({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", http_.Url("/creds")},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-with-a-file"}}),
      clock_.clock());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(service_.fetches(), 0) << "nothing is fetched before it is needed";
  Result<AwsCredentials> c = (*p)->Credentials();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "AKID1");
  EXPECT_EQ(c->session_token, "fake-token-1");
  EXPECT_EQ(c->expiration, clock_.now() + 1h);
  clock_.Advance(54min);
  EXPECT_EQ((*p)->Credentials()->access_key_id, "AKID1") << "still 6 minutes to go";
  ASSERT_TRUE(WriteFileAtomic(token_file, "token-2").ok());  // the agent rotates its token
  clock_.Advance(2min);
  EXPECT_EQ((*p)->Credentials()->access_key_id, "AKID2") << "renewed 4 minutes before expiry";
  EXPECT_EQ(service_.fetches(), 2);
  EXPECT_EQ(authorizations(), (std::vector<std::string>{"token-1", "token-2"}));
}

// The container agent (and IMDS) are the host's own: asked directly, even where the
// environment names a proxy for everything else (here one that refuses connections).
TEST_F(AwsCredentialsTest, TheHostsCredentialAgentIsAskedDirectlyNeverThroughAProxy) {
  ServeContainer();
  http_.Start();
  // Every variable libcurl reads for a proxy, set for the test and restored after.
  struct ProxyEnv {
    std::vector<std::pair<const char*, std::optional<std::string>>> saved;
    ProxyEnv() {
      for (const char* name : {"http_proxy", "ALL_PROXY", "all_proxy", "no_proxy", "NO_PROXY"}) {
        const char* v = std::getenv(name);
        saved.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
        ::unsetenv(name);
      }
      ::setenv("http_proxy", "http://127.0.0.1:1", 1);
    }
    ~ProxyEnv() {
      for (const auto& [name, v] : saved) {
        if (v) ::setenv(name, v->c_str(), 1);
        if (!v) ::unsetenv(name);
      }
    }
  } proxy;
  Result<AwsProvider> p = ContainerAwsCredentials(
      {}, FakeEnv({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", http_.Url("/creds")}}), clock_.clock());
  ASSERT_TRUE(p.ok()) << p.status();
  Result<AwsCredentials> c = (*p)->Credentials();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "AKID1");
}

TEST_F(AwsCredentialsTest, AFailedRenewalKeepsTheCurrentCredentialsUntilTheyExpire) {
  ServeContainer();
  http_.Start();
  Result<AwsProvider> p = ContainerAwsCredentials({.full_uri = http_.Url("/creds"), .token = "t"},
                                                  FakeEnv({}), clock_.clock());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ((*p)->Credentials()->access_key_id, "AKID1");
  service_.fail_with = 503;
  clock_.Advance(57min);
  EXPECT_EQ((*p)->Credentials()->access_key_id, "AKID1") << "renewal failed: the current ones";
  EXPECT_EQ((*p)->Credentials()->access_key_id, "AKID1");
  EXPECT_EQ(authorizations().size(), 2u) << "no new fetch within 10 s of a failed one";
  clock_.Advance(4min);  // past the expiration
  Status expired = (*p)->Credentials().status();
  EXPECT_EQ(expired.code(), StatusCode::kUnavailable) << expired;
  EXPECT_TRUE(expired.IsRetriable());
  EXPECT_NE(expired.message().find("HTTP 503"), std::string::npos) << expired;
  service_.fail_with = 0;
  clock_.Advance(11s);
  EXPECT_EQ((*p)->Credentials()->access_key_id, "AKID2") << "the service is back";
}

TEST_F(AwsCredentialsTest, ContainerUriMustBeHttpsOrLoopbackOrTheContainerAgents) {
  for (const char* ok :
       {"https://creds.example/x", "http://127.0.0.1:9/x", "http://localhost/x",
        "http://169.254.170.2/v2/credentials/id", "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials", "http://[::1]:80/x"}) {
    EXPECT_TRUE(ContainerAwsCredentials({.full_uri = ok}, FakeEnv({}), clock_.clock()).ok()) << ok;
  }
  for (const char* bad : {"", "http://10.0.0.1/x", "http://169.254.169.254/latest", "ftp://x/y",
                          "http://127.0.0.1.evil.example/x"}) {
    Status s = ContainerAwsCredentials({.full_uri = bad}, FakeEnv({}), clock_.clock()).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(AwsCredentialsTest, WebIdentityAssumesTheRoleAtTheConfiguredStsEndpoint) {
  std::vector<std::map<std::string, std::string>> calls;
  http_.server().Post("/", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, std::string> form;
    for (const auto& [k, v] : req.params) form[k] = v;
    form["authorization"] = req.get_header_value("Authorization");
    calls.push_back(form);
    if (form["WebIdentityToken"] == "expired-jwt") {
      res.status = 400;
      res.set_content(
          "<ErrorResponse><Error><Code>ExpiredTokenException</Code></Error>"
          "</ErrorResponse>",
          "text/xml");
      return;
    }
    const int n = static_cast<int>(calls.size());
    res.set_content(
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
        "<AccessKeyId>ASIA" +
            std::to_string(n) +
            "</AccessKeyId><SecretAccessKey>sts-secret"
            "</SecretAccessKey><SessionToken>sts-token</SessionToken><Expiration>" +
            IsoTime(clock_.now() + 1h) +
            "</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
            "</AssumeRoleWithWebIdentityResponse>",
        "text/xml");
  });
  http_.Start();
  const std::string token_file = tmp_.Sub("token");
  ASSERT_TRUE(WriteFileAtomic(token_file, "jwt-1\n").ok());
  Result<AwsProvider> p =
      WebIdentityAwsCredentials({.session_name = "s1"},
                                FakeEnv({{"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/state"},
                                         {"AWS_WEB_IDENTITY_TOKEN_FILE", token_file},
                                         {"AWS_ENDPOINT_URL_STS", http_.Url("")}}),
                                clock_.clock());
  ASSERT_TRUE(p.ok()) << p.status();
  Result<AwsCredentials> c = (*p)->Credentials();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "ASIA1");
  EXPECT_EQ(c->session_token, "sts-token");
  auto first = Locked(calls);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["Action"], "AssumeRoleWithWebIdentity");
  EXPECT_EQ(first[0]["RoleArn"], "arn:aws:iam::123456789012:role/state");
  EXPECT_EQ(first[0]["RoleSessionName"], "s1");
  EXPECT_EQ(first[0]["WebIdentityToken"], "jwt-1");
  EXPECT_EQ(first[0]["authorization"], "") << "AssumeRoleWithWebIdentity is not signed";
  ASSERT_TRUE(WriteFileAtomic(token_file, "jwt-2").ok());  // the kubelet rotates the token
  clock_.Advance(56min);
  EXPECT_EQ((*p)->Credentials()->access_key_id, "ASIA2");
  EXPECT_EQ(Locked(calls).at(1).at("WebIdentityToken"), "jwt-2");
  ASSERT_TRUE(WriteFileAtomic(token_file, "expired-jwt").ok());
  clock_.Advance(2h);
  Status refused = (*p)->Credentials().status();
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied) << refused;
  EXPECT_NE(refused.message().find("ExpiredTokenException"), std::string::npos) << refused;
  EXPECT_EQ(WebIdentityAwsCredentials({.token_file = token_file}, FakeEnv({}), clock_.clock())
                .status()
                .code(),
            StatusCode::kInvalidArgument)
      << "no role";
}

TEST_F(AwsCredentialsTest, ImdsV2TakesASessionTokenThenTheRolesCredentials) {
  std::vector<std::string> seen;
  http_.server().Put("/latest/api/token", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    seen.push_back("PUT token ttl=" + req.get_header_value("X-aws-ec2-metadata-token-ttl-seconds"));
    res.set_content("session-1", "text/plain");
  });
  http_.server().Get("/latest/meta-data/iam/security-credentials/(.*)",
                     [&](const httplib::Request& req, httplib::Response& res) {
                       std::lock_guard<std::mutex> lock(mu_);
                       const std::string token = req.get_header_value("X-aws-ec2-metadata-token");
                       seen.push_back("GET " + req.matches[1].str() + " token=" + token);
                       if (token != "session-1") {
                         res.status = 401;
                         return;
                       }
                       if (req.matches[1].str().empty()) {
                         res.set_content("state-role\n", "text/plain");
                       } else {
                         res.set_content(service_.NextJson(), "application/json");
                       }
                     });
  http_.Start();
  Result<AwsProvider> p = ImdsAwsCredentials(
      {}, FakeEnv({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", http_.Url("")}}), clock_.clock());
  ASSERT_TRUE(p.ok()) << p.status();
  Result<AwsCredentials> c = (*p)->Credentials();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "AKID1");
  EXPECT_EQ(Locked(seen), (std::vector<std::string>{"PUT token ttl=21600", "GET  token=session-1",
                                                    "GET state-role token=session-1"}));
  EXPECT_EQ((*ImdsAwsCredentials({}, FakeEnv({}), clock_.clock()))->Describe(),
            "IMDSv2 at http://169.254.169.254")
      << "the default endpoint, only when chosen (never contacted here)";
}

TEST_F(AwsCredentialsTest, ServiceRepliesThatAreNotCredentialsNeverShowTheirBody) {
  http_.server().Get("/half", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"SecretAccessKey":"leaked-secret-42"})", "application/json");
  });
  http_.Start();
  Result<AwsProvider> p =
      ContainerAwsCredentials({.full_uri = http_.Url("/half")}, FakeEnv({}), clock_.clock());
  ASSERT_TRUE(p.ok());
  Status s = (*p)->Credentials().status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
  EXPECT_EQ(s.message().find("leaked-secret-42"), std::string::npos) << s;
}

// Every S3 request is signed with the provider's current credentials: renewed ones from
// the request after the renewal on, with their session token.
TEST_F(AwsCredentialsTest, S3RequestsAreSignedWithRenewedCredentials) {
  ServeContainer();
  std::vector<std::string> signed_with;
  http_.server().Put("/bucket/(.*)", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string auth = req.get_header_value("Authorization");
    const size_t at = auth.find("Credential=");
    signed_with.push_back(auth.substr(at + 11, auth.find('/', at) - at - 11) + " " +
                          req.get_header_value("x-amz-security-token"));
    res.set_header("ETag", "\"e\"");
  });
  http_.Start();
  Result<AwsProvider> p =
      ContainerAwsCredentials({.full_uri = http_.Url("/creds")}, FakeEnv({}), clock_.clock());
  ASSERT_TRUE(p.ok());
  Result<S3Config> config = ResolveS3Options(
      {.bucket = "bucket", .endpoint = http_.Url(""), .region = "r1", .credentials = *p},
      FakeEnv({}), "test");
  ASSERT_TRUE(config.ok()) << config.status();
  Result<std::unique_ptr<BlobStore>> store = NewS3Backend(std::move(*config), 1);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->PutObject("a", "1", {}).GetFor(60s).ok());
  clock_.Advance(58min);
  ASSERT_TRUE((*store)->PutObject("a", "2", {}).GetFor(60s).ok());
  EXPECT_EQ(Locked(signed_with),
            (std::vector<std::string>{"AKID1 fake-token-1", "AKID2 fake-token-2"}));
}

}  // namespace
}  // namespace blobstate
