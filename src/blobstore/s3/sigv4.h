// AWS Signature Version 4 for S3 requests, with OpenSSL (HMAC-SHA256, SHA-256).
//
// The signer canonicalises what it is given exactly as S3 does: the path is URI-encoded
// once per segment ('/' kept; S3 does not double-encode), query keys and values are
// encoded and sorted, header names lowercased and values trimmed with inner runs of
// spaces collapsed. Checked against botocore's S3SigV4Auth in sigv4_test.cc.
//
// Example:
//   SigV4Request req{.method = "PUT", .host = "bucket.s3.eu-west-1.amazonaws.com",
//                    .path = "/prefix/blob id", .payload_sha256 = Sha256Hex(body)};
//   for (auto& [name, value] : SignV4(req, creds, "eu-west-1", "s3", now)) ...add header
#ifndef BLOBSTATE_BLOBSTORE_S3_SIGV4_H_
#define BLOBSTATE_BLOBSTORE_S3_SIGV4_H_

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "blobstate/s3.h"
#include "blobstore/http/http_client.h"
#include "blobstore/http/url.h"

namespace blobstate {

struct SigV4Request {
  std::string method;  // "GET", "PUT", ...
  std::string host;    // the Host header: "bucket.s3.amazonaws.com" or "127.0.0.1:4568"
  std::string path;    // not encoded: "/bucket/key with spaces"
  // Not encoded; a key without a value (e.g. "uploads") has an empty value.
  std::vector<std::pair<std::string, std::string>> query;
  HttpHeaders headers;         // extra headers to sign (e.g. "Range"); Host is added
  std::string payload_sha256;  // lowercase hex of the body's SHA-256, or "UNSIGNED-PAYLOAD"
};

// The headers to add to the request: x-amz-date, x-amz-content-sha256,
// x-amz-security-token (with a session token), and Authorization. `now` is the signing time.
HttpHeaders SignV4(const SigV4Request& request, const AwsCredentials& credentials,
                   std::string_view region, std::string_view service,
                   std::chrono::system_clock::time_point now);

// The canonical request of SigV4 (for tests and debugging; never contains the secret).
std::string CanonicalRequest(const SigV4Request& request, const HttpHeaders& signed_headers);

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_S3_SIGV4_H_
