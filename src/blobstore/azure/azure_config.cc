#include "blobstore/azure/azure_config.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>

#include "blobstate/blob_store.h"
#include "blobstore/azure/azure_credentials.h"
#include "blobstore/http/encoding.h"
#include "blobstore/http/url.h"

namespace blobstate {
namespace {

// Azure's container naming rules: 3-63 of [a-z0-9-], no leading, trailing or double '-'.
bool IsValidContainer(std::string_view c) {
  if (c.size() < 3 || c.size() > 63 || c.front() == '-' || c.back() == '-') return false;
  if (c.find("--") != std::string_view::npos) return false;
  return std::all_of(c.begin(), c.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
  });
}

bool IsValidAccount(std::string_view a) {
  return a.size() >= 3 && a.size() <= 24 && std::all_of(a.begin(), a.end(), [](char ch) {
           return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
         });
}

// base64(HMAC-SHA256(base64-decoded `key_b64`, `message`)): Azure's signatures.
Result<std::string> HmacSha256Base64(std::string_view key_b64, std::string_view message) {
  std::optional<std::string> key = Base64Decode(key_b64);
  if (!key) return InvalidArgumentError("the account key is not base64");
  return Base64Encode(HmacSha256(*key, message));
}

std::string IsoTime(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string UrlContext(std::string_view url) { return "blob store URL '" + RedactUrl(url) + "'"; }

}  // namespace

std::string AzureConfig::Describe() const {
  return "azure://" + account + "/" + container +
         (prefix.empty() ? "" : "/" + prefix.substr(0, prefix.size() - 1)) + " at " + scheme +
         "://" + host + base_path;
}

std::string HttpDate(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

Result<AzureOptions> AzureOptionsFromUrl(std::string_view url) {
  ASSIGN_OR_RETURN(Url parsed, ParseUrl(url));
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError(UrlContext(url) + ": " + why);
  };
  if (parsed.scheme != "azure") return bad("not an azure:// URL");
  AzureOptions o{.account = parsed.authority};
  std::string path = parsed.path.empty() ? "" : parsed.path.substr(1);
  size_t slash = path.find('/');
  o.container = path.substr(0, slash);
  if (slash != std::string::npos) o.prefix = path.substr(slash + 1);
  for (const auto& [key, value] : parsed.query) {
    if (key == "endpoint") {
      o.endpoint = value;
    } else if (key == "block_threshold") {
      ASSIGN_OR_RETURN(o.block_threshold, ParseUrlCount(url, key, value, 1, kAzureMaxPutSize));
    } else if (key == "block_size") {
      ASSIGN_OR_RETURN(o.block_size,
                       ParseUrlCount(url, key, value, 1ull << 20, kAzureMaxBlockSize));
    } else if (key == "block_concurrency") {
      ASSIGN_OR_RETURN(uint64_t n, ParseUrlCount(url, key, value, 1, 64));
      o.block_concurrency = static_cast<int>(n);
    } else if (key == "fencing") {
      ASSIGN_OR_RETURN(o.fencing, ParseUrlOnOff(url, key, value));
    } else if (key == "ca_file") {
      o.tls.ca_file = value;
    } else if (key == "ca_dir") {
      o.tls.ca_dir = value;
    } else {
      return bad("unknown parameter '" + key +
                 "' (known: endpoint, block_threshold, block_size, block_concurrency, fencing, "
                 "ca_file, ca_dir)");
    }
  }
  return o;
}

Result<AzureConfig> ResolveAzureOptions(AzureOptions o, const EnvLookup& env,
                                        std::string_view context) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError(std::string(context) + ": " + why);
  };
  AzureConfig c{.account = o.account,
                .container = o.container,
                .block_threshold = o.block_threshold,
                .block_size = o.block_size,
                .block_concurrency = o.block_concurrency,
                .fencing = o.fencing,
                .tls = std::move(o.tls),
                .credentials = std::move(o.credentials)};
  if (!IsValidAccount(c.account)) {
    return bad("'" + c.account + "' is not a valid account name (3-24 of a-z 0-9)");
  }
  if (!IsValidContainer(c.container)) {
    return bad("'" + c.container + "' is not a valid container name (3-63 of a-z 0-9 -)");
  }
  if (!o.prefix.empty()) {
    if (!IsValidBlobId(o.prefix)) {
      return bad("prefix '" + o.prefix + "' must be /-separated names of [A-Za-z0-9._-]");
    }
    c.prefix = o.prefix + "/";
  }
  RETURN_IF_ERROR(CheckSetting(context, "block_threshold", c.block_threshold, 1, kAzureMaxPutSize));
  RETURN_IF_ERROR(
      CheckSetting(context, "block_size", c.block_size, 1ull << 20, kAzureMaxBlockSize));
  RETURN_IF_ERROR(CheckSetting(context, "block_concurrency",
                               static_cast<uint64_t>(std::max(0, c.block_concurrency)), 1, 64));
  if (o.endpoint.empty()) {
    c.scheme = "https";
    c.host = c.account + ".blob.core.windows.net";
  } else {
    ASSIGN_OR_RETURN(Url ep, ParseEndpoint(context, o.endpoint));
    c.scheme = ep.scheme;
    c.host = ep.authority;
    c.base_path = ep.path;
  }
  if (c.credentials == nullptr) {
    Result<AzureProvider> provider = EnvAzureCredentials(env);
    if (!provider.ok()) {
      return Status(provider.status().code(), c.Describe() + ": " + provider.status().message());
    }
    c.credentials = std::move(*provider);
  }
  return c;
}

Result<AzureConfig> ParseAzureUrl(std::string_view url, const EnvLookup& env) {
  ASSIGN_OR_RETURN(AzureOptions options, AzureOptionsFromUrl(url));
  return ResolveAzureOptions(std::move(options), env, UrlContext(url));
}

Result<std::string> SharedKeyAuthorization(
    std::string_view account, std::string_view key, std::string_view method, std::string_view path,
    const std::vector<std::pair<std::string, std::string>>& query, const HttpHeaders& headers,
    uint64_t content_length) {
  std::map<std::string, std::string> lowered;
  for (const auto& [name, value] : headers) lowered[AsciiLower(name)] = value;
  auto header = [&](const char* name) {
    auto it = lowered.find(name);
    return it == lowered.end() ? std::string() : it->second;
  };
  std::string to_sign =
      std::string(method) + "\n" + header("content-encoding") + "\n" + header("content-language") +
      "\n" + (content_length == 0 ? "" : std::to_string(content_length)) + "\n" +
      header("content-md5") + "\n" + header("content-type") + "\n" + header("date") + "\n" +
      header("if-modified-since") + "\n" + header("if-match") + "\n" + header("if-none-match") +
      "\n" + header("if-unmodified-since") + "\n" + header("range") + "\n";
  for (const auto& [name, value] : lowered) {  // std::map: sorted by name
    if (name.starts_with("x-ms-")) to_sign += name + ":" + value + "\n";
  }
  to_sign += "/" + std::string(account) + std::string(path);
  std::map<std::string, std::vector<std::string>> params;
  for (const auto& [name, value] : query) params[AsciiLower(name)].push_back(value);
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    std::string joined;
    for (const std::string& v : values) joined += (joined.empty() ? "" : ",") + v;
    to_sign += "\n" + name + ":" + joined;
  }
  ASSIGN_OR_RETURN(std::string signature, HmacSha256Base64(key, to_sign));
  return "SharedKey " + std::string(account) + ":" + signature;
}

Result<std::string> MakeAccountSas(std::string_view account, std::string_view key,
                                   std::chrono::system_clock::time_point expiry) {
  const std::string version = "2020-02-10", permissions = "rwdlacupt", expires = IsoTime(expiry);
  const std::string to_sign = std::string(account) + "\n" + permissions + "\nb\nsco\n\n" + expires +
                              "\n\nhttps,http\n" + version + "\n";
  ASSIGN_OR_RETURN(std::string signature, HmacSha256Base64(key, to_sign));
  return "sv=" + version + "&ss=b&srt=sco&sp=" + permissions + "&se=" + UriEncode(expires, true) +
         "&spr=https,http&sig=" + UriEncode(signature, true);
}

}  // namespace blobstate
