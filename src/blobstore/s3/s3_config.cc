#include "blobstore/s3/s3_config.h"

#include <cctype>

#include "blobstate/blob_store.h"
#include "blobstore/http/url.h"
#include "blobstore/s3/aws_credentials.h"

namespace blobstate {
namespace {

// S3's bucket naming rules: 3-63 of [a-z0-9.-], starting and ending with a letter or digit.
bool IsValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return std::isalnum(static_cast<unsigned char>(b.front())) &&
         std::isalnum(static_cast<unsigned char>(b.back()));
}

std::string UrlContext(std::string_view url) { return "blob store URL '" + RedactUrl(url) + "'"; }

}  // namespace

std::string S3Config::Describe() const {
  return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix.substr(0, prefix.size() - 1)) +
         " at " + scheme + "://" + host + base_path;
}

Result<S3Options> S3OptionsFromUrl(std::string_view url, const EnvLookup& env) {
  ASSIGN_OR_RETURN(Url parsed, ParseUrl(url));
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError(UrlContext(url) + ": " + why);
  };
  if (parsed.scheme != "s3") return bad("not an s3:// URL");
  S3Options o{.bucket = parsed.authority,
              .prefix = parsed.path.empty() ? "" : parsed.path.substr(1)};
  std::string credentials = "auto";
  for (const auto& [key, value] : parsed.query) {
    if (key == "endpoint") {
      o.endpoint = value;
    } else if (key == "region") {
      o.region = value;
    } else if (key == "addressing") {
      if (value != "path" && value != "virtual") return bad("addressing must be path or virtual");
      o.addressing =
          value == "path" ? S3Options::Addressing::kPath : S3Options::Addressing::kVirtual;
    } else if (key == "multipart_threshold") {
      ASSIGN_OR_RETURN(o.multipart_threshold, ParseUrlCount(url, key, value, 1, kS3MaxPutSize));
    } else if (key == "part_size") {
      ASSIGN_OR_RETURN(o.part_size, ParseUrlCount(url, key, value, 5ull << 20, kS3MaxPartSize));
    } else if (key == "part_concurrency") {
      ASSIGN_OR_RETURN(uint64_t n, ParseUrlCount(url, key, value, 1, 64));
      o.part_concurrency = static_cast<int>(n);
    } else if (key == "fencing") {
      ASSIGN_OR_RETURN(o.fencing, ParseUrlOnOff(url, key, value));
    } else if (key == "credentials") {
      credentials = value;
    } else if (key == "ca_file") {
      o.tls.ca_file = value;
    } else if (key == "ca_dir") {
      o.tls.ca_dir = value;
    } else {
      return bad("unknown parameter '" + key +
                 "' (known: endpoint, region, addressing, multipart_threshold, part_size, "
                 "part_concurrency, fencing, credentials, ca_file, ca_dir)");
    }
  }
  Result<AwsProvider> provider = AwsCredentialsNamed(credentials, env);
  if (provider.status().code() == StatusCode::kInvalidArgument) {
    return bad(provider.status().message());
  }
  ASSIGN_OR_RETURN(o.credentials, std::move(provider));
  return o;
}

Result<S3Config> ResolveS3Options(S3Options o, const EnvLookup& env, std::string_view context) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError(std::string(context) + ": " + why);
  };
  S3Config c{.bucket = o.bucket,
             .region = o.region.empty() ? DefaultAwsRegion(env) : o.region,
             .multipart_threshold = o.multipart_threshold,
             .part_size = o.part_size,
             .part_concurrency = o.part_concurrency,
             .fencing = o.fencing,
             .tls = AwsTls(std::move(o.tls), env),
             .credentials = std::move(o.credentials)};
  if (!IsValidBucket(c.bucket)) {
    return bad("'" + c.bucket + "' is not a valid bucket name (3-63 of a-z 0-9 . -)");
  }
  if (!o.prefix.empty()) {
    if (!IsValidBlobId(o.prefix)) {
      return bad("prefix '" + o.prefix + "' must be /-separated names of [A-Za-z0-9._-]");
    }
    c.prefix = o.prefix + "/";
  }
  RETURN_IF_ERROR(
      CheckSetting(context, "multipart_threshold", c.multipart_threshold, 1, kS3MaxPutSize));
  RETURN_IF_ERROR(CheckSetting(context, "part_size", c.part_size, 5ull << 20, kS3MaxPartSize));
  RETURN_IF_ERROR(CheckSetting(context, "part_concurrency",
                               static_cast<uint64_t>(std::max(0, c.part_concurrency)), 1, 64));
  if (o.endpoint.empty()) {
    c.scheme = "https";
    c.host = "s3." + c.region + ".amazonaws.com";
    c.path_style = c.bucket.find('.') != std::string::npos;
  } else {
    ASSIGN_OR_RETURN(Url ep, ParseEndpoint(context, o.endpoint));
    c.scheme = ep.scheme;
    c.host = ep.authority;
    // SigV4 signs the Host header, which libcurl sends without the scheme's default port.
    const std::string default_port = c.scheme == "https" ? ":443" : ":80";
    if (c.host.ends_with(default_port)) c.host.resize(c.host.size() - default_port.size());
    c.base_path = ep.path;
    c.path_style = true;
  }
  if (o.addressing != S3Options::Addressing::kAuto) {
    c.path_style = o.addressing == S3Options::Addressing::kPath;
  }
  if (c.credentials == nullptr) {
    ASSIGN_OR_RETURN(c.credentials, DefaultAwsCredentials(env));
  }
  return c;
}

Result<S3Config> ParseS3Url(std::string_view url, const EnvLookup& env) {
  ASSIGN_OR_RETURN(S3Options options, S3OptionsFromUrl(url, env));
  return ResolveS3Options(std::move(options), env, UrlContext(url));
}

}  // namespace blobstate
