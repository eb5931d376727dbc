#include "blobstore/s3/s3_client.h"

#include <chrono>

#include "blobstore/http/encoding.h"
#include "blobstore/s3/sigv4.h"

namespace blobstate {

std::string S3Client::HostOf() const {
  return config_.path_style ? config_.host : config_.bucket + "." + config_.host;
}

std::string S3Client::PathOf(std::string_view key) const {
  std::string path = config_.base_path;
  if (config_.path_style) path += "/" + config_.bucket;
  if (!key.empty() || !config_.path_style) path += "/" + std::string(key);
  return path;
}

Result<HttpResponse> S3Client::Send(const S3Request& request) const {
  SigV4Request sig{.method = request.method,
                   .host = HostOf(),
                   .path = PathOf(request.key),
                   .query = request.query,
                   .headers = request.headers,
                   .payload_sha256 = request.upload != nullptr || request.unsigned_body
                                         ? "UNSIGNED-PAYLOAD"
                                         : Sha256Hex(request.body)};
  HttpCall call{.method = request.method,
                .url = config_.scheme + "://" + sig.host + UriEncode(sig.path, false),
                .headers = request.headers,
                .upload = request.upload,
                .body = request.body,
                .download = request.download,
                .tls = &config_.tls};
  if (!request.query.empty()) call.url += "?" + CanonicalQuery(request.query);
  ASSIGN_OR_RETURN(const AwsCredentials credentials, config_.credentials->Credentials());
  for (auto& header :
       SignV4(sig, credentials, config_.region, "s3", std::chrono::system_clock::now())) {
    call.headers.push_back(std::move(header));
  }
  return PerformHttp(call);
}

std::string ContentMd5(std::string_view data) { return Base64Encode(Md5(data)); }

}  // namespace blobstate
