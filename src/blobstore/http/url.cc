#include "blobstore/http/url.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "blobstore/http/encoding.h"

namespace blobstate {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status Malformed(std::string_view url, std::string_view why) {
  return InvalidArgumentError("URL '" + RedactUrl(url) + "': " + std::string(why));
}

constexpr std::string_view kRedacted = "<redacted>";

// The parameters of blob store URLs whose values are settings, never secrets.
bool IsSetting(std::string_view key) {
  for (std::string_view k : {"endpoint", "part_size", "part_concurrency", "block_threshold",
                             "block_size", "block_concurrency", "fencing", "region", "addressing",
                             "multipart_threshold", "credentials", "ca_file", "ca_dir"}) {
    if (key == k) return true;
  }
  return false;
}

// `url` with "userinfo@" of its authority redacted.
std::string RedactUserinfo(std::string_view url) {
  const size_t sep = url.find("://");
  const size_t start = sep == std::string_view::npos ? 0 : sep + 3;
  const size_t end = std::min(url.find_first_of("/?#", start), url.size());
  const size_t at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  return std::string(url.substr(0, start)) + std::string(kRedacted) + std::string(url.substr(at));
}

}  // namespace

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return InvalidArgumentError("bad percent escape in '" + std::string(s.substr(0, 200)) + "'");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string RedactUrl(std::string_view url) {
  const size_t hash = std::min(url.find('#'), url.size());
  const std::string_view fragment = url.substr(hash);
  url = url.substr(0, hash);
  const size_t q = std::min(url.find('?'), url.size());
  std::string out = RedactUserinfo(url.substr(0, q));
  std::string_view query = q < url.size() ? url.substr(q + 1) : std::string_view();
  if (q < url.size()) out += '?';
  for (bool first = true; !query.empty(); first = false) {
    const size_t amp = std::min(query.find('&'), query.size());
    const std::string_view pair = query.substr(0, amp);
    query = amp < query.size() ? query.substr(amp + 1) : std::string_view();
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    if (!first) out += '&';
    out += key;
    if (eq == std::string_view::npos) continue;
    const std::string_view value = pair.substr(eq + 1);
    out += '=';
    out += !IsSetting(key)     ? std::string(kRedacted)
           : key == "endpoint" ? RedactUserinfo(value)
                               : std::string(value);
  }
  if (!fragment.empty()) out += "#" + std::string(kRedacted);
  if (out.size() > 300) out = out.substr(0, 300) + "...";
  return out;
}

Result<Url> ParseUrl(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return Malformed(url, "no scheme://");
  if (url.find('#') != std::string_view::npos) return Malformed(url, "a fragment ('#')");
  Url out;
  out.scheme = AsciiLower(url.substr(0, sep));
  std::string_view rest = url.substr(sep + 3);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  size_t slash = rest.find('/');
  out.authority = std::string(rest.substr(0, slash));
  if (out.authority.empty()) return Malformed(url, "no host or bucket after scheme://");
  if (out.authority.find('@') != std::string::npos) {
    return Malformed(url, "userinfo (\"user:password@\"): credentials belong in the environment");
  }
  if (slash != std::string_view::npos) {
    ASSIGN_OR_RETURN(out.path, PercentDecode(rest.substr(slash)));
    while (out.path.size() > 1 && out.path.back() == '/') out.path.pop_back();
    if (out.path == "/") out.path.clear();
  }
  while (!query.empty()) {
    size_t amp = std::min(query.find('&'), query.size());
    std::string_view pair = query.substr(0, amp);
    query = amp < query.size() ? query.substr(amp + 1) : std::string_view();
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    ASSIGN_OR_RETURN(std::string key, PercentDecode(pair.substr(0, eq)));
    std::string value;
    if (eq != std::string_view::npos) {
      ASSIGN_OR_RETURN(value, PercentDecode(pair.substr(eq + 1)));
    }
    out.query.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

Result<uint64_t> ParseUrlCount(std::string_view url, const std::string& key,
                               const std::string& value, uint64_t min, uint64_t max) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < min || n > max) {
    return InvalidArgumentError("blob store URL '" + RedactUrl(url) + "': " + key + "=" + value +
                                " is not a number from " + std::to_string(min) + " to " +
                                std::to_string(max));
  }
  return n;
}

Result<bool> ParseUrlOnOff(std::string_view url, const std::string& key, const std::string& value) {
  if (value == "on" || value == "off") return value == "on";
  return InvalidArgumentError("blob store URL '" + RedactUrl(url) + "': " + key + "=" + value +
                              " must be on or off");
}

Result<Url> ParseEndpoint(std::string_view context, const std::string& endpoint) {
  Result<Url> ep = ParseUrl(endpoint);
  if (!ep.ok() || (ep->scheme != "http" && ep->scheme != "https") || !ep->query.empty()) {
    return InvalidArgumentError(std::string(context) + ": endpoint '" + RedactUserinfo(endpoint) +
                                "' is not an http:// or https:// URL");
  }
  return ep;
}

Status CheckSetting(std::string_view context, std::string_view name, uint64_t value, uint64_t min,
                    uint64_t max) {
  if (value >= min && value <= max) return Status::Ok();
  return InvalidArgumentError(std::string(context) + ": " + std::string(name) + " is " +
                              std::to_string(value) + ", not a number from " + std::to_string(min) +
                              " to " + std::to_string(max));
}

std::string UriEncode(std::string_view s, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (c == '/' && !encode_slash)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [k, v] : query) encoded.emplace_back(UriEncode(k, true), UriEncode(v, true));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) out += (out.empty() ? "" : "&") + k + "=" + v;
  return out;
}

}  // namespace blobstate
