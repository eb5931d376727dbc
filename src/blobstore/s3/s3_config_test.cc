#include "blobstore/s3/s3_config.h"

#include <gtest/gtest.h>

#include <map>

#include "blobstore/azure/azure_config.h"
#include "blobstore/http/cloud_io.h"
#include "blobstore/http/url.h"
#include "blobstore/s3/s3_client.h"
#include "testing/fake_env.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using testing::FakeEnv;
using testing::TempDir;

const std::map<std::string, std::string> kKeys = {
    {"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "SECRET"}, {"HOME", "/nonexistent"}};

TEST(S3ConfigTest, AwsDefaultsAreVirtualHostedHttpsInTheRegion) {
  Result<S3Config> c = ParseS3Url("s3://my-bucket/state/jobs?region=eu-west-1", FakeEnv(kKeys));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->bucket, "my-bucket");
  EXPECT_EQ(c->prefix, "state/jobs/");
  EXPECT_EQ(c->scheme, "https");
  EXPECT_EQ(c->host, "s3.eu-west-1.amazonaws.com");
  EXPECT_FALSE(c->path_style);
  EXPECT_EQ(c->region, "eu-west-1");
  EXPECT_EQ(c->credentials->Credentials()->access_key_id, "AKID");
  EXPECT_EQ(c->Describe(), "s3://my-bucket/state/jobs at https://s3.eu-west-1.amazonaws.com");
}

TEST(S3ConfigTest, EndpointMeansPathStyleUnlessToldOtherwise) {
  auto env = FakeEnv(kKeys);
  Result<S3Config> c = ParseS3Url("s3://b-1?endpoint=http://127.0.0.1:4568&region=r1", env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->scheme, "http");
  EXPECT_EQ(c->host, "127.0.0.1:4568");
  EXPECT_TRUE(c->path_style);
  EXPECT_EQ(c->prefix, "");
  c = ParseS3Url("s3://b-1?endpoint=https://minio.example:9000&addressing=virtual", env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->path_style);
  c = ParseS3Url("s3://dotted.bucket/p", env);  // TLS wildcards do not cover dots
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->path_style);
  // The signed host is the Host header libcurl sends: without its scheme's default port.
  for (const char* endpoint : {"https://s3.example:443", "http://s3.example:80"}) {
    c = ParseS3Url(std::string("s3://b-1?endpoint=") + endpoint, env);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->host, "s3.example") << endpoint;
  }
  c = ParseS3Url("s3://b-1?endpoint=http://s3.example:443", env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->host, "s3.example:443");
}

TEST(S3ConfigTest, MultipartSettingsAreParsedAndBounded) {
  auto env = FakeEnv(kKeys);
  Result<S3Config> c =
      ParseS3Url("s3://bkt?multipart_threshold=1000&part_size=5242880&part_concurrency=8", env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->multipart_threshold, 1000u);
  EXPECT_EQ(c->part_size, 5242880u);
  EXPECT_EQ(c->part_concurrency, 8);
  Status small = ParseS3Url("s3://bkt?part_size=1000", env).status();
  EXPECT_EQ(small.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(small.message().find("part_size=1000"), std::string::npos) << small;
  // A single PUT takes at most 5 GiB: the threshold cannot send more.
  Status big = ParseS3Url("s3://bkt?multipart_threshold=5368709121", env).status();
  EXPECT_EQ(big.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.message().find("from 1 to 5368709120"), std::string::npos) << big;
}

TEST(CloudIoTest, PartSizeGrowsOnlyWhenTheConfiguredOneWouldNeedTooManyParts) {
  constexpr uint64_t kMiB = 1 << 20;
  EXPECT_EQ(*PartSizeFor(100 * kMiB, 16 * kMiB, kS3MaxParts, kS3MaxPartSize, "put"), 16 * kMiB);
  EXPECT_EQ(*PartSizeFor(10'000 * 16 * kMiB, 16 * kMiB, kS3MaxParts, kS3MaxPartSize, "put"),
            16 * kMiB);
  // One byte more than 10,000 parts of 16 MiB hold: the smallest size that keeps to 10,000.
  const uint64_t size = 10'000 * 16 * kMiB + 1;
  Result<uint64_t> grown = PartSizeFor(size, 16 * kMiB, kS3MaxParts, kS3MaxPartSize, "put");
  ASSERT_TRUE(grown.ok()) << grown.status();
  EXPECT_EQ(*grown, 16 * kMiB + 1);
  EXPECT_LE((size + *grown - 1) / *grown, kS3MaxParts);
  Result<uint64_t> azure = PartSizeFor(kAzureMaxBlocks * kAzureMaxBlockSize + 1, 16 * kMiB,
                                       kAzureMaxBlocks, kAzureMaxBlockSize, "block upload of x");
  EXPECT_EQ(azure.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(azure.status().message().find("block upload of x"), std::string::npos);
  EXPECT_NE(azure.status().message().find("50000 parts"), std::string::npos) << azure.status();
}

TEST(S3ConfigTest, BadUrlsAreRejectedNamingTheProblem) {
  auto env = FakeEnv(kKeys);
  const std::pair<std::string, std::string> cases[] = {
      {"s3://Bad_Bucket/x", "not a valid bucket name"},
      {"s3://ok-bucket/../x", "prefix"},
      {"s3://ok-bucket?colour=blue", "unknown parameter 'colour'"},
      {"s3://ok-bucket?endpoint=ftp://x", "not an http:// or https:// URL"},
      {"s3://ok-bucket?addressing=sideways", "addressing must be path or virtual"},
      {"s3://ok-bucket?region=r%zz", "bad percent escape"},
      {"s3://", "no host or bucket"},
  };
  for (const auto& [url, why] : cases) {
    Status s = ParseS3Url(url, env).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(s.message().find(why), std::string::npos) << url << ": " << s;
  }
}

TEST(S3ConfigTest, RegionComesFromEnvThenConfigFileThenDefault) {
  TempDir tmp;
  ASSERT_TRUE(WriteFileAtomic(tmp.Sub("config"), "[profile p]\nregion = ap-south-1\n").ok());
  auto env = kKeys;
  env["AWS_CONFIG_FILE"] = tmp.Sub("config");
  env["AWS_PROFILE"] = "p";
  EXPECT_EQ(ParseS3Url("s3://bkt", FakeEnv(env))->region, "ap-south-1");
  env["AWS_DEFAULT_REGION"] = "us-west-2";
  EXPECT_EQ(ParseS3Url("s3://bkt", FakeEnv(env))->region, "us-west-2");
  env["AWS_REGION"] = "eu-north-1";
  EXPECT_EQ(ParseS3Url("s3://bkt", FakeEnv(env))->region, "eu-north-1");
  EXPECT_EQ(ParseS3Url("s3://bkt", FakeEnv(kKeys))->region, "us-east-1");
}

TEST(S3ConfigTest, CredentialsComeFromEnvThenSharedFilesOfTheProfile) {
  TempDir tmp;
  ASSERT_TRUE(WriteFileAtomic(tmp.Sub("credentials"),
                              "# comment\n[default]\naws_access_key_id = DEF\n"
                              "aws_secret_access_key = DEFSECRET\n\n[work]\n"
                              "aws_access_key_id=WORK\naws_secret_access_key=WORKSECRET\n"
                              "aws_session_token = TOKEN\n")
                  .ok());
  ASSERT_TRUE(WriteFileAtomic(tmp.Sub("config"),
                              "[profile cfg]\naws_access_key_id = CFG\n"
                              "aws_secret_access_key = CFGSECRET\n")
                  .ok());
  std::map<std::string, std::string> env = {{"AWS_SHARED_CREDENTIALS_FILE", tmp.Sub("credentials")},
                                            {"AWS_CONFIG_FILE", tmp.Sub("config")}};
  auto key_id = [&] {
    Result<S3Config> c = ParseS3Url("s3://bkt", FakeEnv(env));
    return c.ok() ? c->credentials->Credentials()->access_key_id : c.status().ToString();
  };
  EXPECT_EQ(key_id(), "DEF");
  env["AWS_PROFILE"] = "work";
  Result<AwsCredentials> work = ParseS3Url("s3://bkt", FakeEnv(env))->credentials->Credentials();
  ASSERT_TRUE(work.ok()) << work.status();
  EXPECT_EQ(work->secret_access_key, "WORKSECRET");
  EXPECT_EQ(work->session_token, "TOKEN");
  env["AWS_PROFILE"] = "cfg";
  EXPECT_EQ(key_id(), "CFG");
  env["AWS_ACCESS_KEY_ID"] = "ENVID";
  env["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
  EXPECT_EQ(key_id(), "ENVID");
  Result<S3Config> profile = ParseS3Url("s3://bkt?credentials=profile", FakeEnv(env));
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_EQ(profile->credentials->Credentials()->access_key_id, "CFG") << "the URL chooses";
  Status unknown = ParseS3Url("s3://bkt?credentials=guess", FakeEnv(env)).status();
  EXPECT_EQ(unknown.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("credentials must be auto, env, profile, container"),
            std::string::npos)
      << unknown;
}

// The typed options are what the URL is a shorthand of: each field checked, naming it.
TEST(S3ConfigTest, TypedOptionsAreCheckedFieldByField) {
  auto env = FakeEnv(kKeys);
  Result<S3Config> c = ResolveS3Options({.bucket = "bkt",
                                         .prefix = "a/b",
                                         .endpoint = "https://minio.example:9000/base",
                                         .addressing = S3Options::Addressing::kVirtual,
                                         .part_concurrency = 2,
                                         .tls = {.ca_file = "/etc/ca.pem"}},
                                        env, "S3Options");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->prefix, "a/b/");
  EXPECT_EQ(c->host, "minio.example:9000");
  EXPECT_EQ(c->base_path, "/base");
  EXPECT_FALSE(c->path_style);
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_EQ(c->tls.ca_file, "/etc/ca.pem");
  EXPECT_EQ(c->part_concurrency, 2);
  const std::pair<S3Options, std::string> bad[] = {
      {{.bucket = "B"}, "S3Options: 'B' is not a valid bucket name"},
      {{.bucket = "bkt", .prefix = "/x"}, "S3Options: prefix '/x'"},
      {{.bucket = "bkt", .endpoint = "s3.example"}, "S3Options: endpoint 's3.example'"},
      {{.bucket = "bkt", .part_size = 1}, "S3Options: part_size is 1, not a number from 5242880"},
      {{.bucket = "bkt", .part_concurrency = 0}, "S3Options: part_concurrency is 0"},
      {{.bucket = "bkt", .multipart_threshold = 0}, "S3Options: multipart_threshold is 0"},
  };
  for (const auto& [options, why] : bad) {
    Status s = ResolveS3Options(options, env, "S3Options").status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << why;
    EXPECT_NE(s.message().find(why), std::string::npos) << s;
  }
  Status no_credentials = ResolveS3Options({.bucket = "bkt"}, FakeEnv({}), "S3Options").status();
  EXPECT_EQ(no_credentials.code(), StatusCode::kPermissionDenied) << no_credentials;
}

TEST(S3ConfigTest, CaBundleComesFromAwsCaBundleOnlyWhenReadable) {
  TempDir tmp;
  ASSERT_TRUE(WriteFileAtomic(tmp.Sub("ca.pem"), "pem").ok());
  auto env = kKeys;
  env["AWS_CA_BUNDLE"] = tmp.Sub("missing.pem");
  EXPECT_EQ(ParseS3Url("s3://bkt", FakeEnv(env))->tls.ca_file, "") << "a bad bundle is ignored";
  env["AWS_CA_BUNDLE"] = tmp.Sub("ca.pem");
  EXPECT_EQ(ParseS3Url("s3://bkt", FakeEnv(env))->tls.ca_file, tmp.Sub("ca.pem"));
  EXPECT_EQ(ParseS3Url("s3://bkt?ca_file=/x.pem", FakeEnv(env))->tls.ca_file, "/x.pem");
}

TEST(S3ConfigTest, MissingCredentialsArePermissionDeniedAndNameWhereTheyWereLookedFor) {
  Status s = ParseS3Url("s3://bkt", FakeEnv({{"HOME", "/home/nobody"}})).status();
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("AWS_ACCESS_KEY_ID"), std::string::npos) << s;
  EXPECT_NE(s.message().find("/home/nobody/.aws/credentials"), std::string::npos) << s;
}

TEST(S3ConfigTest, SecretsNeverAppearInDescriptionsOrErrors) {
  auto env = FakeEnv(kKeys);
  Result<S3Config> c = ParseS3Url("s3://bkt/p?endpoint=http://127.0.0.1:1", env);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->Describe().find("SECRET"), std::string::npos);
  Status bad = ParseS3Url("s3://bkt?nope=1", env).status();
  EXPECT_EQ(bad.message().find("SECRET"), std::string::npos);
}

TEST(UrlTest, RedactionKeepsSettingsAndHidesUserinfoAndEveryOtherValue) {
  EXPECT_EQ(RedactUrl("azure://acct/c/p?block_size=1048576&sv=2022-11-02&sig=S3CRET%3D"),
            "azure://acct/c/p?block_size=1048576&sv=<redacted>&sig=<redacted>");
  EXPECT_EQ(RedactUrl("s3://AKID:S3CRET@bucket/p?endpoint=http://u:pw@127.0.0.1:9000&flag"),
            "s3://<redacted>@bucket/p?endpoint=http://<redacted>@127.0.0.1:9000&flag");
  EXPECT_EQ(RedactUrl("file:///var/blobs"), "file:///var/blobs");
  EXPECT_EQ(RedactUrl("no scheme@here?sig=x"), "<redacted>@here?sig=<redacted>");
  EXPECT_EQ(RedactUrl(std::string(400, 'a')).size(), 303u);
}

TEST(UrlTest, ErrorsAboutAUrlNeverShowItsSecrets) {
  auto env = FakeEnv(kKeys);
  for (const char* url :
       {"s3://AKID:S3CRET@bkt", "s3://bkt?sig=S3CRET", "s3://bkt?x-amz-security-token=S3CRET",
        "s3://bkt?part_size=1&sig=S3CRET", "azure://acct/cont?sv=1&sig=S3CRET",
        "azure://acct/cont?endpoint=ftp://u:S3CRET@h", "s3://b#S3CRET?sig=S3CRET"}) {
    Status s = std::string_view(url).starts_with("s3") ? ParseS3Url(url, env).status()
                                                       : ParseAzureUrl(url, env).status();
    EXPECT_FALSE(s.ok()) << url;
    EXPECT_EQ(s.message().find("S3CRET"), std::string::npos) << s;
  }
}

TEST(UrlTest, SplitsSchemeAuthorityPathAndDecodedQuery) {
  Result<Url> u = ParseUrl("S3://bucket/a%20b/c/?x=1&y=a%26b&flag");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->scheme, "s3");
  EXPECT_EQ(u->authority, "bucket");
  EXPECT_EQ(u->path, "/a b/c");
  ASSERT_EQ(u->query.size(), 3u);
  EXPECT_EQ(u->query[1], (std::pair<std::string, std::string>{"y", "a&b"}));
  EXPECT_EQ(u->query[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_FALSE(ParseUrl("s3://b/x#frag").ok());
  EXPECT_FALSE(ParseUrl("no-scheme").ok());
}

TEST(S3XmlTest, ExtractsTextsAndDecodesEntities) {
  std::string xml =
      "<ListBucketResult><Contents><Key>a&amp;b</Key></Contents><Contents><Key>c&#47;d</Key>"
      "</Contents><IsTruncated>false</IsTruncated></ListBucketResult>";
  EXPECT_EQ(XmlTexts(xml, "Key"), (std::vector<std::string>{"a&b", "c/d"}));
  EXPECT_EQ(XmlTexts(xml, "IsTruncated"), std::vector<std::string>{"false"});
  EXPECT_TRUE(XmlTexts(xml, "Missing").empty());
  EXPECT_EQ(XmlEscape("<a&b>"), "&lt;a&amp;b&gt;");
  EXPECT_EQ(ContentMd5(""), "1B2M2Y8AsgTpgAmY7PhCfg==");  // RFC 1321's MD5("")
}

TEST(S3XmlTest, TagSetsRoundTripWithEscapedTexts) {
  const CloudTags tags = {{"blobstate-ttl", "pending"}, {"a&b", "<c>"}};
  const std::string xml = TagSetXml(tags);
  EXPECT_EQ(xml,
            "<TagSet><Tag><Key>blobstate-ttl</Key><Value>pending</Value></Tag>"
            "<Tag><Key>a&amp;b</Key><Value>&lt;c&gt;</Value></Tag></TagSet>");
  EXPECT_EQ(ParseTagSet("<Tagging>" + xml + "</Tagging>"), tags);
  EXPECT_EQ(TagSetXml({}), "<TagSet></TagSet>");
  EXPECT_TRUE(ParseTagSet("<Tags><TagSet></TagSet></Tags>").empty());
  EXPECT_EQ(TagsQuery(tags), "blobstate-ttl=pending&a%26b=%3Cc%3E");
}

TEST(S3XmlTest, ErrorBodiesBecomeStatusesWithTheirCode) {
  HttpResponse slow{.status = 503,
                    .body =
                        "<Error><Code>SlowDown</Code><Message>Reduce"
                        "</Message></Error>"};
  Status s = CloudStatus(slow, "put of k");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(s.IsRetriable());
  EXPECT_NE(s.message().find("SlowDown: Reduce"), std::string::npos) << s;
  HttpResponse denied{.status = 403, .body = "<Error><Code>AccessDenied</Code></Error>"};
  EXPECT_EQ(CloudStatus(denied, "x").code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(CloudStatus(denied, "x").IsRetriable());
  HttpResponse hidden{.status = 200, .body = "<Error><Code>InternalError</Code></Error>"};
  EXPECT_EQ(CloudStatus(hidden, "complete").code(), StatusCode::kUnavailable);
  EXPECT_TRUE(CloudStatus(HttpResponse{.status = 204}, "x").ok());
  // S3's answer to an upload whose bytes came too slowly: the one 400 worth another try.
  HttpResponse timeout{.status = 400,
                       .body =
                           "<Error><Code>RequestTimeout</Code><Message>Your socket "
                           "connection to the server was not read from</Message></Error>"};
  EXPECT_EQ(CloudStatus(timeout, "put of k").code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(CloudStatus(timeout, "put of k").IsRetriable());
  HttpResponse bad{.status = 400, .body = "<Error><Code>InvalidArgument</Code></Error>"};
  EXPECT_EQ(CloudStatus(bad, "put of k").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace blobstate
