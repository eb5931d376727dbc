#include "blobstore/s3/s3_client.h"

#include <openssl/evp.h>

#include <chrono>
#include <cstdlib>

#include "blobstore/s3/sigv4.h"

namespace blobstate {
namespace {

std::string DecodeEntities(std::string_view s) {
  static constexpr std::pair<std::string_view, char> kNamed[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    bool done = false;
    for (const auto& [name, c] : kNamed) {
      if (s.substr(i, name.size()) == name) {
        out.push_back(c);
        i += name.size();
        done = true;
        break;
      }
    }
    if (done) continue;
    size_t semi = s.find(';', i);
    if (s.substr(i, 2) == "&#" && semi != std::string_view::npos && semi - i <= 8) {
      bool hex = s.substr(i, 3) == "&#x";
      long code = std::strtol(std::string(s.substr(i + (hex ? 3 : 2), semi - i)).c_str(), nullptr,
                              hex ? 16 : 10);
      if (code > 0 && code < 128) {
        out.push_back(static_cast<char>(code));
        i = semi + 1;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

}  // namespace

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
                .download = request.download};
  if (!request.query.empty()) call.url += "?" + CanonicalQuery(request.query);
  for (auto& header :
       SignV4(sig, config_.credentials, config_.region, "s3", std::chrono::system_clock::now())) {
    call.headers.push_back(std::move(header));
  }
  return PerformHttp(call);
}

Status S3Status(const HttpResponse& response, std::string_view what) {
  std::vector<std::string> codes = XmlTexts(response.body, "Code");
  const bool error_body = response.body.find("<Error>") != std::string::npos && !codes.empty();
  if (response.status >= 200 && response.status < 300) {
    if (!error_body) return Status::Ok();
    return UnavailableError(std::string(what) + ": S3 error in a " +
                            std::to_string(response.status) + " reply: " + codes[0]);
  }
  if (!error_body) return HttpStatusToStatus(response, what);
  std::vector<std::string> messages = XmlTexts(response.body, "Message");
  HttpResponse brief = response;
  brief.body = codes[0] + (messages.empty() ? "" : ": " + messages[0]);
  return HttpStatusToStatus(brief, what);
}

std::vector<std::string> XmlTexts(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  for (size_t pos = 0;;) {
    size_t start = xml.find(open, pos);
    if (start == std::string_view::npos) break;
    start += open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(DecodeEntities(xml.substr(start, end - start)));
    pos = end + close.size();
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string ContentMd5(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  unsigned char b64[64];
  int n = EVP_EncodeBlock(b64, md, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(b64), n);
}

std::string HeaderOf(const HttpResponse& response, std::string_view name) {
  for (const auto& [n, v] : response.headers) {
    if (n == name) return v;
  }
  return "";
}

}  // namespace blobstate
