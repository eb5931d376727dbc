// One signed S3 REST request at a time, and the little XML S3 answers with. Blocking: the
// S3 blob store runs it on its own threads.
#ifndef BLOBSTATE_BLOBSTORE_S3_S3_CLIENT_H_
#define BLOBSTATE_BLOBSTORE_S3_S3_CLIENT_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "blobstore/http/cloud_io.h"
#include "blobstore/http/http_client.h"
#include "blobstore/s3/s3_config.h"

namespace blobstate {

struct S3Request {
  std::string method = "GET";
  std::string key;  // the object key; "" for a request on the bucket
  std::vector<std::pair<std::string, std::string>> query;
  HttpHeaders headers;           // signed and sent
  std::string body;              // the body unless `upload` is set; its SHA-256 is signed
  BlobSource* upload = nullptr;  // streamed, sent as UNSIGNED-PAYLOAD
  BlobSink* download = nullptr;  // receives a 2xx body
  bool unsigned_body = false;    // send `body` as UNSIGNED-PAYLOAD (large part bodies)
};

class S3Client {
 public:
  explicit S3Client(S3Config config) : config_(std::move(config)) {}

  // Signs and sends `request`. Errors as PerformHttp's; any HTTP status is a response.
  Result<HttpResponse> Send(const S3Request& request) const;

  const S3Config& config() const { return config_; }

 private:
  // The request path (not encoded) and Host header for `key`.
  std::string PathOf(std::string_view key) const;
  std::string HostOf() const;

  S3Config config_;
};

// The base64 of the MD5 of `data` (the Content-MD5 header).
std::string ContentMd5(std::string_view data);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_S3_S3_CLIENT_H_
