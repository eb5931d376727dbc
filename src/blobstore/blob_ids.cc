#include "blobstore/blob_ids.h"

#include <time.h>

#include <ctime>

#include "util/random.h"

namespace blobstate {
namespace {

bool IsIdNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// "yyyymmddThhmmssZ" in UTC.
std::string CompactUtc(std::chrono::system_clock::time_point now) {
  time_t t = std::chrono::system_clock::to_time_t(now);
  struct tm utc;
  gmtime_r(&t, &utc);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &utc);
  return std::string(buf, n);
}

}  // namespace

std::string SanitizeIdComponent(std::string_view name, size_t max_size) {
  std::string out(name.substr(0, max_size));
  for (char& c : out) {
    if (!IsIdNameChar(c)) c = '_';
  }
  if (out.empty() || out == ".") return "_";
  if (out == "..") return "__";
  return out;
}

std::string NewBlobId(const BlobMetadata& metadata, std::chrono::system_clock::time_point now) {
  std::string id =
      SanitizeIdComponent(metadata.job_name) + "/" + SanitizeIdComponent(metadata.task_name) + "/" +
      SanitizeIdComponent(metadata.store_name) + "/" + CompactUtc(now) + "-" + RandomHex(16);
  std::string_view file = metadata.file_path;
  if (size_t slash = file.find_last_of('/'); slash != std::string_view::npos) {
    file = file.substr(slash + 1);
  }
  if (!file.empty()) id += "-" + SanitizeIdComponent(file);
  return id;
}

}  // namespace blobstate
