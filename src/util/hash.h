// Content checksums: XXH3-128 over a file's bytes, streamed.
#ifndef BLOBSTATE_UTIL_HASH_H_
#define BLOBSTATE_UTIL_HASH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "blobstate/checksum.h"
#include "blobstate/status.h"
#include "util/fs.h"

namespace blobstate {

// Incremental XXH3-128. Not thread-safe; one per stream.
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void Update(const void* data, size_t n);
  Checksum Finish() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

Checksum HashBytes(const void* data, size_t n);

// Hashes the whole file at `path`, reading it in chunks (never all at once).
// On success also returns the number of bytes read in *size if non-null.
Result<Checksum> HashFile(const std::string& path, uint64_t* size = nullptr);
// Hashes what is left to read of the open file `f`, in kIoChunkSize chunks; sets *size (if
// given) to the bytes read.
Result<Checksum> HashRest(File& f, uint64_t* size = nullptr);
// Hashes the next `limit` bytes of the open file `f` (fewer at its end); sets *size (if
// given) to the bytes read.
Result<Checksum> HashNext(File& f, uint64_t limit, uint64_t* size = nullptr);

// XXH3-64, used as the integrity check of encoded objects.
uint64_t Hash64(const void* data, size_t n);

// Incremental XXH3-64: Finish() of the bytes given to Update is Hash64 of them all.
class Hasher64 {
 public:
  Hasher64();
  ~Hasher64();
  Hasher64(const Hasher64&) = delete;
  Hasher64& operator=(const Hasher64&) = delete;

  void Update(const void* data, size_t n);
  uint64_t Finish() const;
  // Starts over, as if freshly made.
  void Reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// XXH3-64 of each `chunk` bytes of a stream, in order; the last chunk may be shorter.
// Not thread-safe; one per stream.
class ChunkHasher {
 public:
  explicit ChunkHasher(uint64_t chunk) : chunk_(chunk) {}

  void Update(const char* data, size_t n);
  // The sums of every chunk so far, the one under way included (if it has bytes).
  std::vector<uint64_t> Finish() const;

 private:
  const uint64_t chunk_;
  Hasher64 hasher_;        // of the chunk under way
  uint64_t in_chunk_ = 0;  // bytes of it so far
  std::vector<uint64_t> sums_;
};

}  // namespace blobstate

#endif  // BLOBSTATE_UTIL_HASH_H_
