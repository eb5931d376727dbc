// One HTTP request over libcurl, for the cloud backends (S3, Azure). Blocking: backends run
// it on their own I/O threads, never on a caller's thread.
//
// Bodies stream: a request body is read from a BlobSource and a 2xx response body is
// written into a BlobSink in libcurl's chunks, so memory does not grow with blob size.
// TLS peers are always verified, against the CAs the call's TlsOptions name.
// Each thread keeps one libcurl handle, so its connections are reused across calls.
//
// Example:
//   HttpCall call{.method = "GET", .url = "http://127.0.0.1:4568/bucket/key"};
//   ASSIGN_OR_RETURN(HttpResponse r, PerformHttp(call));
//   RETURN_IF_ERROR(HttpStatusToStatus(r, "get of blob key"));
#ifndef BLOBSTATE_BLOBSTORE_HTTP_HTTP_CLIENT_H_
#define BLOBSTATE_BLOBSTORE_HTTP_HTTP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "blobstate/blob_store.h"

namespace blobstate {

// Header name/value pairs, in order.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpCall {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;
  // The request body: `upload` (its size() bytes) if set, else `body`.
  BlobSource* upload = nullptr;
  std::string body;
  // Where a 2xx response body goes; if null (or the status is not 2xx) it is kept in
  // HttpResponse::body. A kept 2xx body over kMaxKeptBody bytes fails the call (kDataLoss);
  // other bodies are cut there. A request with a Range header whose reply is a 200 (the
  // server ignored the range) fails with kUnavailable before any byte reaches `download`;
  // a 206 whose Content-Range covers more than the range asked passes only the range to
  // `download` (the rest is not read); one whose Content-Range says the resource ends
  // before the range starts fails with kOutOfRange.
  BlobSink* download = nullptr;
  // A request that moves less than 1 KiB/s for this long (whole seconds) fails with
  // kDeadlineExceeded; a transfer that keeps moving is never cut, however long it takes.
  std::chrono::seconds stall_timeout{60};
  std::chrono::milliseconds connect_timeout{10'000};
  // The CAs to trust; null or empty: the system's.
  const TlsOptions* tls = nullptr;
  // Straight to the host, whatever proxy the environment names (http_proxy, ...): for the
  // host's own credential agents (IMDS, the container agents), which no proxy can reach
  // and whose replies hold secrets.
  bool direct = false;
};

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;  // names lowercased
  std::string body;
};

inline constexpr size_t kMaxKeptBody = 8u << 20;

// Performs `call`. Transport failures are errors: kUnavailable (connection refused or
// reset, DNS, TLS handshake), kDeadlineExceeded (timeout); errors of the upload source or
// download sink come back as they are. Any HTTP status is a response, not an error.
Result<HttpResponse> PerformHttp(const HttpCall& call);

// The Status of an HTTP response, naming `what`: 2xx ok; 404 kNotFound; 410 kGone;
// 400 kInvalidArgument; 401/403 kPermissionDenied; 408 kDeadlineExceeded; 409/412
// kFailedPrecondition; 429 kResourceExhausted; 501 kInternal; other 5xx kUnavailable
// (retriable); others kInternal. The message carries the status and the start of the body.
Status HttpStatusToStatus(const HttpResponse& response, std::string_view what);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_HTTP_HTTP_CLIENT_H_
