// The content checksum of a file: XXH3-128 of its bytes.
#ifndef BLOBSTATE_CHECKSUM_H_
#define BLOBSTATE_CHECKSUM_H_

#include <cstdint>
#include <string>

namespace blobstate {

struct Checksum {
  uint64_t high = 0;
  uint64_t low = 0;
  friend bool operator==(const Checksum&, const Checksum&) = default;
  // 32 lowercase hex digits, high word first (as xxhsum prints XXH128).
  std::string ToHex() const;
};

}  // namespace blobstate

#endif  // BLOBSTATE_CHECKSUM_H_
