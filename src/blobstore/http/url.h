// Splitting the blob store URLs (s3://, azure://) and their endpoints into parts.
#ifndef BLOBSTATE_BLOBSTORE_HTTP_URL_H_
#define BLOBSTATE_BLOBSTORE_HTTP_URL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "blobstate/status.h"

namespace blobstate {

struct Url {
  std::string scheme;     // lowercased
  std::string authority;  // host[:port], as written
  std::string path;       // "" or starting with '/', percent-decoded
  std::vector<std::pair<std::string, std::string>> query;  // percent-decoded, in order
};

// `url` as a message may show it: userinfo ("user:password@"), any fragment, and the value
// of every query parameter but the blob store URL's own settings (endpoint, with its
// userinfo redacted too, part and block sizes, concurrency, fencing, region, addressing,
// credentials, ca_file, ca_dir)
// replaced by "<redacted>", so that a SAS token or a key pasted into a URL never reaches a
// message. Any string is accepted (a malformed URL is redacted as far as it can be
// parsed); at most 300 bytes of it are kept.
std::string RedactUrl(std::string_view url);

// Parses "scheme://authority[/path][?k=v&k2=v2]". kInvalidArgument naming the URL for a
// missing scheme or authority, userinfo in the authority, a bad percent escape, or a
// fragment.
Result<Url> ParseUrl(std::string_view url);

// "%41" -> "A"; '+' stays '+'. kInvalidArgument for a truncated or non-hex escape.
Result<std::string> PercentDecode(std::string_view s);

// RFC 3986 percent-encoding as SigV4 wants it (and Azure takes): unreserved characters as
// they are, every other byte %XX (uppercase); '/' kept unless `encode_slash`.
std::string UriEncode(std::string_view s, bool encode_slash);

// The query string of `query`, keys and values encoded and pairs sorted: SigV4's canonical
// form, also usable in a request URL.
std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);

// The number `value` of URL parameter `key`, in [min, max]; else kInvalidArgument naming
// the blob store URL `url`, the parameter and the range.
Result<uint64_t> ParseUrlCount(std::string_view url, const std::string& key,
                               const std::string& value, uint64_t min, uint64_t max);

// URL parameter `key` given as on (true) or off (false); else kInvalidArgument naming it.
Result<bool> ParseUrlOnOff(std::string_view url, const std::string& key, const std::string& value);

// `endpoint` as an http:// or https:// URL without a query; else kInvalidArgument
// "<context>: endpoint '...' is not an http:// or https:// URL" (userinfo redacted).
Result<Url> ParseEndpoint(std::string_view context, const std::string& endpoint);

// kInvalidArgument naming `context`, setting `name` and the range unless min <= value <= max.
Status CheckSetting(std::string_view context, std::string_view name, uint64_t value, uint64_t min,
                    uint64_t max);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_HTTP_URL_H_
