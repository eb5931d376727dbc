#include "blobstore/s3/sigv4.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <sstream>

namespace blobstate {
namespace {

std::chrono::system_clock::time_point At(const char* yyyymmddThhmmssZ) {
  std::tm tm{};
  strptime(yyyymmddThhmmssZ, "%Y%m%dT%H%M%SZ", &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string HeaderValue(const HttpHeaders& headers, const std::string& name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

// The GET Object example of the AWS S3 SigV4 documentation ("Example: GET Object").
TEST(SigV4Test, MatchesTheAwsDocumentationExample) {
  SigV4Request req{.method = "GET",
                   .host = "examplebucket.s3.amazonaws.com",
                   .path = "/test.txt",
                   .headers = {{"Range", "bytes=0-9"}},
                   .payload_sha256 = Sha256Hex("")};
  HttpHeaders added =
      SignV4(req, {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, "us-east-1",
             "s3", At("20130524T000000Z"));
  EXPECT_EQ(HeaderValue(added, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(HeaderValue(added, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Test, EncodesLikeS3) {
  EXPECT_EQ(UriEncode("a b/c+d=e&f~g_h-i.j", false), "a%20b/c%2Bd%3De%26f~g_h-i.j");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");
  EXPECT_EQ(CanonicalQuery({{"uploadId", "x y"}, {"partNumber", "2"}, {"uploads", ""}}),
            "partNumber=2&uploadId=x%20y&uploads=");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SigV4Test, SessionTokenIsSentAndSigned) {
  SigV4Request req{.method = "GET", .host = "h", .path = "/k", .payload_sha256 = Sha256Hex("")};
  HttpHeaders added = SignV4(req, {"AK", "SK", "TOKEN"}, "us-east-1", "s3", At("20240102T030405Z"));
  EXPECT_EQ(HeaderValue(added, "x-amz-security-token"), "TOKEN");
  EXPECT_NE(HeaderValue(added, "Authorization").find("x-amz-security-token"), std::string::npos);
  EXPECT_EQ(HeaderValue(added, "Authorization").find("SK"), std::string::npos);  // never the secret
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> UnhexPairs(const std::string& field) {
  std::vector<std::pair<std::string, std::string>> out;
  std::stringstream in(field);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t colon = item.find(':');
    out.emplace_back(Unhex(item.substr(0, colon)), Unhex(item.substr(colon + 1)));
  }
  return out;
}

// Every request shape the S3 backend sends (and odd keys and query strings), signed by
// botocore's S3SigV4Auth (scripts/sigv4_vectors.py, Debian's python3-botocore) and by us.
TEST(SigV4Test, MatchesBotocoreOnEveryRequestShape) {
  const std::string script = std::string(BLOBSTATE_SOURCE_DIR) + "/scripts/sigv4_vectors.py";
  const char* python = ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  FILE* p = ::popen((std::string(python) + " " + script + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << "botocore is needed (make deps installs python3-botocore):\n" << out;
  std::stringstream lines(out);
  std::string line;
  int cases = 0;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::stringstream fields(line);
    std::string field;
    while (std::getline(fields, field, '\t')) f.push_back(field);
    f.resize(10);
    SCOPED_TRACE(f[0]);
    SigV4Request req{.method = f[1],
                     .host = Unhex(f[2]),
                     .path = Unhex(f[3]),
                     .query = UnhexPairs(f[4]),
                     .headers = UnhexPairs(f[5]),
                     .payload_sha256 = f[6]};
    HttpHeaders added =
        SignV4(req, {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", Unhex(f[7])},
               "us-east-1", "s3", At(f[8].c_str()));
    EXPECT_EQ(HeaderValue(added, "Authorization"), Unhex(f[9]));
    ++cases;
  }
  EXPECT_GE(cases, 10);
}

}  // namespace
}  // namespace blobstate
