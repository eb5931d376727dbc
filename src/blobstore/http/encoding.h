// Byte encodings and digests the cloud protocols sign and send: lowercase, hex, base64,
// SHA-256, HMAC-SHA256 and MD5 (OpenSSL).
#ifndef BLOBSTATE_BLOBSTORE_HTTP_ENCODING_H_
#define BLOBSTATE_BLOBSTORE_HTTP_ENCODING_H_

#include <optional>
#include <string>
#include <string_view>

namespace blobstate {

// `s` with ASCII A-Z lowered; other bytes as they are (no locale).
std::string AsciiLower(std::string_view s);

// Lowercase hex of `data`.
std::string HexLower(std::string_view data);

// Standard base64 (RFC 4648, with '=' padding).
std::string Base64Encode(std::string_view data);

// The bytes of padded standard base64 `text`; nullopt if it is empty or not base64.
std::optional<std::string> Base64Decode(std::string_view text);

// Raw digests.
std::string Sha256(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);
std::string Md5(std::string_view data);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_HTTP_ENCODING_H_
