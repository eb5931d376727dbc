#include "blobstore/s3/sigv4.h"

#include <algorithm>
#include <ctime>

#include "blobstore/http/encoding.h"

namespace blobstate {
namespace {

// Leading and trailing spaces removed, inner runs of spaces collapsed to one.
std::string TrimValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Lowercased names, trimmed values, sorted by name (values of one name joined by ',').
HttpHeaders CanonicalHeaders(const HttpHeaders& headers) {
  HttpHeaders out;
  for (const auto& [name, value] : headers) out.emplace_back(AsciiLower(name), TrimValue(value));
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  HttpHeaders merged;
  for (auto& h : out) {
    if (!merged.empty() && merged.back().first == h.first) {
      merged.back().second += "," + h.second;
    } else {
      merged.push_back(std::move(h));
    }
  }
  return merged;
}

std::string SignedHeaderNames(const HttpHeaders& canonical) {
  std::string out;
  for (const auto& [name, value] : canonical) out += (out.empty() ? "" : ";") + name;
  return out;
}

}  // namespace

std::string Sha256Hex(std::string_view data) { return HexLower(Sha256(data)); }

std::string CanonicalRequest(const SigV4Request& request, const HttpHeaders& signed_headers) {
  const HttpHeaders canonical = CanonicalHeaders(signed_headers);
  std::string headers;
  for (const auto& [name, value] : canonical) headers += name + ":" + value + "\n";
  return request.method + "\n" + UriEncode(request.path.empty() ? "/" : request.path, false) +
         "\n" + CanonicalQuery(request.query) + "\n" + headers + "\n" +
         SignedHeaderNames(canonical) + "\n" + request.payload_sha256;
}

HttpHeaders SignV4(const SigV4Request& request, const AwsCredentials& credentials,
                   std::string_view region, std::string_view service,
                   std::chrono::system_clock::time_point now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char amz_date[17], date[9];
  std::strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
  std::strftime(date, sizeof date, "%Y%m%d", &tm);

  HttpHeaders added = {{"x-amz-date", amz_date}, {"x-amz-content-sha256", request.payload_sha256}};
  if (!credentials.session_token.empty()) {
    added.emplace_back("x-amz-security-token", credentials.session_token);
  }
  HttpHeaders to_sign = request.headers;
  to_sign.emplace_back("host", request.host);
  to_sign.insert(to_sign.end(), added.begin(), added.end());

  const std::string scope =
      std::string(date) + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  const std::string string_to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope +
                                     "\n" + Sha256Hex(CanonicalRequest(request, to_sign));
  std::string key = HmacSha256("AWS4" + credentials.secret_access_key, date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  key = HmacSha256(key, "aws4_request");
  const std::string signature = HexLower(HmacSha256(key, string_to_sign));
  added.emplace_back("Authorization",
                     "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
                         ", SignedHeaders=" + SignedHeaderNames(CanonicalHeaders(to_sign)) +
                         ", Signature=" + signature);
  return added;
}

}  // namespace blobstate
