// Blob sources and sinks backed by byte ranges of local files.
#ifndef BLOBSTATE_TRANSFER_FILE_IO_H_
#define BLOBSTATE_TRANSFER_FILE_IO_H_

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "blobstate/blob_store.h"
#include "blobstate/checksum.h"

namespace blobstate {

// The XXH3-128 checksum of a whole range, taken by the source or sink that moved it, so that
// no second pass reads the bytes again. Of several attempts (retries), the last to move the
// whole range sets it.
struct RangeDigest {
  std::mutex mu;
  std::optional<Checksum> checksum;  // GUARDED_BY(mu)
  // A source's file as it was opened, and when (for MetadataForIndex). GUARDED_BY(mu).
  struct stat opened {};
  std::chrono::system_clock::time_point opened_at;

  void Set(const Checksum& sum, const struct stat& st, std::chrono::system_clock::time_point at) {
    std::lock_guard<std::mutex> lock(mu);
    checksum = sum;
    opened = st;
    opened_at = at;
  }
};

// A factory of sources that each yield bytes [offset, offset + length) of `path`. A source
// whose file ends early fails with kFailedPrecondition (the file changed under us).
// If `digest` is given, each source hashes the bytes it yields and sets it once it yielded
// the whole range.
SourceFactory FileRangeSourceFactory(std::string path, uint64_t offset, uint64_t length,
                                     std::shared_ptr<RangeDigest> digest = nullptr);

// A factory of sinks that each write bytes at [offset, offset + length) of the existing
// file `path`. Finish fails with kDataLoss naming `blob_id` unless exactly `length` bytes
// arrived (the caller names the file: `path` may be a temporary name).
// If `digest` is given, each sink hashes the bytes it writes and sets it when it finishes
// the whole range.
SinkFactory FileRangeSinkFactory(std::string path, uint64_t offset, uint64_t length,
                                 std::string blob_id,
                                 std::shared_ptr<RangeDigest> digest = nullptr);

}  // namespace blobstate

#endif  // BLOBSTATE_TRANSFER_FILE_IO_H_
