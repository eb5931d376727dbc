// Blob sources and sinks backed by byte ranges of local files.
#ifndef BLOBSTATE_TRANSFER_FILE_IO_H_
#define BLOBSTATE_TRANSFER_FILE_IO_H_

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/checksum.h"
#include "blobstate/index.h"
#include "blobstate/status.h"

namespace blobstate {

// The XXH3-128 checksum of a whole range, taken by the source or sink that moved it, so that
// no second pass reads the bytes again, and (by a source) the XXH3-64 of each kChunkSize of
// it. Of several attempts (retries), the last to move the whole range sets them.
struct RangeDigest {
  std::mutex mu;
  std::optional<Checksum> checksum;  // GUARDED_BY(mu)
  std::vector<uint64_t> chunks;      // GUARDED_BY(mu); a source's only
  // A source's file as it was opened, and when (for MetadataForIndex). GUARDED_BY(mu).
  struct stat opened {};
  std::chrono::system_clock::time_point opened_at;

  void Set(const Checksum& sum, std::vector<uint64_t> chunk_sums, const struct stat& st,
           std::chrono::system_clock::time_point at) {
    std::lock_guard<std::mutex> lock(mu);
    checksum = sum;
    chunks = std::move(chunk_sums);
    opened = st;
    opened_at = at;
  }
};

// A factory of sources that each yield bytes [offset, offset + length) of `path`. A source
// whose file ends early fails with kFailedPrecondition (the file changed under us).
// If `digest` is given, each source hashes the bytes it yields (whole and by chunk) and sets
// it once it yielded the whole range.
SourceFactory FileRangeSourceFactory(std::string path, uint64_t offset, uint64_t length,
                                     std::shared_ptr<RangeDigest> digest = nullptr);

// A factory of sinks that each write bytes at [offset, offset + length) of the existing
// file `path`. Finish fails with kDataLoss naming `blob_id` unless exactly `length` bytes
// arrived (the caller names the file: `path` may be a temporary name).
// If `digest` is given, each sink hashes the bytes it writes and sets it when it finishes
// the whole range. If `chunks` (the XXH3-64 of each kChunkSize of the range) are given, a
// sink writes no byte before the chunk it lies in matched its checksum: a chunk that does
// not fails the write with kDataLoss naming the blob and the chunk.
SinkFactory FileRangeSinkFactory(std::string path, uint64_t offset, uint64_t length,
                                 std::string blob_id, std::shared_ptr<RangeDigest> digest = nullptr,
                                 std::vector<uint64_t> chunks = {});

// kDataLoss naming `blob_id` and the chunk unless each kChunkSize of `bytes` has its
// checksum in `expected`, in order: the checksums of the blob's chunks from chunk `first` on.
Status CheckChunks(std::string_view bytes, std::span<const uint64_t> expected, size_t first,
                   const std::string& blob_id);

// Cuts bytes that arrive in pieces of any size into kChunkSize chunks and passes each on,
// in order, once it matched its checksum (as CheckChunks checks it; `expected` and
// `blob_id` must outlive the checker). A chunk that arrives whole is checked where it lies;
// only one split across pieces is copied. Not thread-safe; one per stream.
class ChunkChecker {
 public:
  ChunkChecker(std::span<const uint64_t> expected, size_t first, const std::string& blob_id)
      : expected_(expected), first_(first), blob_id_(blob_id) {}

  // Checks the chunks that `data` completes and calls emit(std::string_view chunk) on each;
  // stops at the first failure, of a check or of emit.
  template <typename Emit>
  Status Add(const char* data, size_t n, Emit&& emit) {
    while (n > 0) {
      if (pending_.empty() && n >= kChunkSize) {
        RETURN_IF_ERROR(Pass(std::string_view(data, kChunkSize), emit));
        data += kChunkSize;
        n -= kChunkSize;
        continue;
      }
      const size_t take = std::min<size_t>(n, kChunkSize - pending_.size());
      pending_.append(data, take);
      data += take;
      n -= take;
      if (pending_.size() == kChunkSize) RETURN_IF_ERROR(PassPending(emit));
    }
    return Status::Ok();
  }
  // Checks and passes on the last chunk, which may be short.
  template <typename Emit>
  Status Finish(Emit&& emit) {
    return pending_.empty() ? Status::Ok() : PassPending(emit);
  }

 private:
  template <typename Emit>
  Status Pass(std::string_view chunk, Emit& emit) {
    const auto rest = expected_.subspan(std::min(passed_, expected_.size()));
    RETURN_IF_ERROR(CheckChunks(chunk, rest, first_ + passed_, blob_id_));
    ++passed_;
    return emit(chunk);
  }
  template <typename Emit>
  Status PassPending(Emit& emit) {
    RETURN_IF_ERROR(Pass(pending_, emit));
    pending_.clear();
    return Status::Ok();
  }

  const std::span<const uint64_t> expected_;
  const size_t first_;
  const std::string& blob_id_;
  size_t passed_ = 0;    // chunks checked and passed on
  std::string pending_;  // bytes of the chunk under way
};

}  // namespace blobstate

#endif  // BLOBSTATE_TRANSFER_FILE_IO_H_
