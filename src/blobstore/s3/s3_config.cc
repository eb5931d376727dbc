#include "blobstore/s3/s3_config.h"

#include <cctype>
#include <cstdlib>

#include "blobstate/blob_store.h"
#include "blobstore/http/url.h"
#include "util/fs.h"

namespace blobstate {
namespace {

std::string_view TrimSpace(std::string_view v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  return v;
}

// S3's bucket naming rules: 3-63 of [a-z0-9.-], starting and ending with a letter or digit.
bool IsValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return std::isalnum(static_cast<unsigned char>(b.front())) &&
         std::isalnum(static_cast<unsigned char>(b.back()));
}

std::optional<std::string> ReadIfPresent(const std::string& path) {
  Result<std::string> text = ReadSmallFile(path, 1 << 20);
  if (!text.ok()) return std::nullopt;
  return *text;
}

std::string Home(const EnvLookup& env) { return env("HOME").value_or(""); }

std::string CredentialsFile(const EnvLookup& env) {
  return env("AWS_SHARED_CREDENTIALS_FILE").value_or(Home(env) + "/.aws/credentials");
}

std::string ConfigFile(const EnvLookup& env) {
  return env("AWS_CONFIG_FILE").value_or(Home(env) + "/.aws/config");
}

std::string Profile(const EnvLookup& env) { return env("AWS_PROFILE").value_or("default"); }

// The config file names a profile's section "profile NAME", except "default".
std::string ConfigSection(const std::string& profile) {
  return profile == "default" ? profile : "profile " + profile;
}

std::string DefaultRegion(const EnvLookup& env) {
  for (const char* var : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (std::optional<std::string> r = env(var); r && !r->empty()) return *r;
  }
  if (std::optional<std::string> text = ReadIfPresent(ConfigFile(env))) {
    if (auto r = IniValue(*text, ConfigSection(Profile(env)), "region")) return *r;
  }
  return "us-east-1";
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::optional<std::string> IniValue(std::string_view text, std::string_view section,
                                    std::string_view key) {
  bool in_section = false;
  while (!text.empty()) {
    size_t nl = std::min(text.find('\n'), text.size());
    std::string_view line = TrimSpace(text.substr(0, nl));
    text = nl < text.size() ? text.substr(nl + 1) : std::string_view();
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      in_section = TrimSpace(line.substr(1, line.size() - 2)) == section;
      continue;
    }
    size_t eq = line.find('=');
    if (!in_section || eq == std::string_view::npos) continue;
    if (TrimSpace(line.substr(0, eq)) == key) return std::string(TrimSpace(line.substr(eq + 1)));
  }
  return std::nullopt;
}

Result<SigV4Credentials> LoadAwsCredentials(const EnvLookup& env) {
  std::optional<std::string> id = env("AWS_ACCESS_KEY_ID");
  std::optional<std::string> secret = env("AWS_SECRET_ACCESS_KEY");
  if (id && secret && !id->empty() && !secret->empty()) {
    return SigV4Credentials{*id, *secret, env("AWS_SESSION_TOKEN").value_or("")};
  }
  const std::string profile = Profile(env);
  const std::pair<std::string, std::string> files[] = {{CredentialsFile(env), profile},
                                                       {ConfigFile(env), ConfigSection(profile)}};
  for (const auto& [path, section] : files) {
    std::optional<std::string> text = ReadIfPresent(path);
    if (!text) continue;
    auto file_id = IniValue(*text, section, "aws_access_key_id");
    auto file_secret = IniValue(*text, section, "aws_secret_access_key");
    if (file_id && file_secret) {
      return SigV4Credentials{*file_id, *file_secret,
                              IniValue(*text, section, "aws_session_token").value_or("")};
    }
  }
  return PermissionDeniedError(
      "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile '" +
      profile + "' keys in " + CredentialsFile(env) + " or " + ConfigFile(env));
}

std::string S3Config::Describe() const {
  return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix.substr(0, prefix.size() - 1)) +
         " at " + scheme + "://" + host + base_path;
}

Result<S3Config> ParseS3Url(std::string_view url, const EnvLookup& env) {
  ASSIGN_OR_RETURN(Url parsed, ParseUrl(url));
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("blob store URL '" + RedactUrl(url) + "': " + why);
  };
  if (parsed.scheme != "s3") return bad("not an s3:// URL");
  S3Config c;
  c.bucket = parsed.authority;
  if (!IsValidBucket(c.bucket)) {
    return bad("'" + c.bucket + "' is not a valid bucket name (3-63 of a-z 0-9 . -)");
  }
  if (!parsed.path.empty()) {
    std::string prefix = parsed.path.substr(1);
    if (!IsValidBlobId(prefix)) {
      return bad("prefix '" + prefix + "' must be /-separated names of [A-Za-z0-9._-]");
    }
    c.prefix = prefix + "/";
  }
  std::string endpoint, addressing;
  for (const auto& [key, value] : parsed.query) {
    if (key == "endpoint") {
      endpoint = value;
    } else if (key == "region") {
      c.region = value;
    } else if (key == "addressing") {
      if (value != "path" && value != "virtual") return bad("addressing must be path or virtual");
      addressing = value;
    } else if (key == "multipart_threshold") {
      ASSIGN_OR_RETURN(c.multipart_threshold, ParseUrlCount(url, key, value, 1, kS3MaxPutSize));
    } else if (key == "part_size") {
      ASSIGN_OR_RETURN(c.part_size, ParseUrlCount(url, key, value, 5ull << 20, kS3MaxPartSize));
    } else if (key == "part_concurrency") {
      ASSIGN_OR_RETURN(uint64_t n, ParseUrlCount(url, key, value, 1, 64));
      c.part_concurrency = static_cast<int>(n);
    } else if (key == "fencing") {
      ASSIGN_OR_RETURN(c.fencing, ParseUrlOnOff(url, key, value));
    } else {
      return bad("unknown parameter '" + key +
                 "' (known: endpoint, region, addressing, multipart_threshold, part_size, "
                 "part_concurrency, fencing)");
    }
  }
  if (c.region.empty()) c.region = DefaultRegion(env);
  if (endpoint.empty()) {
    c.scheme = "https";
    c.host = "s3." + c.region + ".amazonaws.com";
    c.path_style = c.bucket.find('.') != std::string::npos;
  } else {
    ASSIGN_OR_RETURN(Url ep, ParseEndpoint(url, endpoint));
    c.scheme = ep.scheme;
    c.host = ep.authority;
    c.base_path = ep.path;
    c.path_style = true;
  }
  if (!addressing.empty()) c.path_style = addressing == "path";
  ASSIGN_OR_RETURN(c.credentials, LoadAwsCredentials(env));
  return c;
}

}  // namespace blobstate
