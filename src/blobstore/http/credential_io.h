// What credential providers read: the environment, files that may be rotated under them,
// and the small JSON, INI and time formats of credential services and shared files.
#ifndef BLOBSTATE_BLOBSTORE_HTTP_CREDENTIAL_IO_H_
#define BLOBSTATE_BLOBSTORE_HTTP_CREDENTIAL_IO_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "blobstate/status.h"

namespace blobstate {

// Reads an environment variable (std::getenv in production, a map in tests). An empty
// value counts as unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup ProcessEnv();

// The current time (system_clock::now in production, a fake in tests).
using Clock = std::function<std::chrono::system_clock::time_point()>;
Clock SystemClock();

// `v` without leading and trailing ASCII white space.
std::string_view TrimSpace(std::string_view v);

// A small file (a secret, a token, a shared credentials file) that may be replaced while
// it is used: read again when its identity (device, inode, size, modification time)
// changes, which a write, a rename over it and a swap of a symlink on its path all do.
// Thread-safe.
class WatchedFile {
 public:
  explicit WatchedFile(std::string path) : path_(std::move(path)) {}

  // The contents; `changed` (if given) tells whether they were read by this call. If the
  // file cannot be read now, the last contents read, or the error (naming the file) if
  // there are none.
  Result<std::string> Read(bool* changed = nullptr);
  const std::string& path() const { return path_; }

 private:
  struct Identity {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const Identity&) const = default;
  };

  const std::string path_;
  std::mutex mu_;
  std::optional<Identity> identity_;
  std::optional<std::string> contents_;
};

// The value of `key` in section `section` of INI text `text` (AWS shared files), if any.
std::optional<std::string> IniValue(std::string_view text, std::string_view section,
                                    std::string_view key);

// The members of a flat JSON object: strings decoded, numbers, true, false and null as
// written. kInvalidArgument (without quoting the text, which may hold secrets) for
// anything else, nested objects and arrays included.
Result<std::map<std::string, std::string>> ParseFlatJson(std::string_view text);

// An ISO 8601 UTC time as credential services send it: "2026-11-30T21:00:00Z", with
// optional fractional seconds, "Z" or "+00:00". nullopt if malformed.
std::optional<std::chrono::system_clock::time_point> ParseIsoTime(std::string_view text);

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_HTTP_CREDENTIAL_IO_H_
