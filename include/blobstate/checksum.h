// The content checksum of a file: XXH3-128 of its bytes.
#ifndef BLOBSTATE_CHECKSUM_H_
#define BLOBSTATE_CHECKSUM_H_

#include <cstdint>
#include <string>

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

struct Checksum {
  uint64_t high = 0;
  uint64_t low = 0;
  friend bool operator==(const Checksum&, const Checksum&) = default;
  // 32 lowercase hex digits, high word first (as xxhsum prints XXH128).
  std::string ToHex() const;
};

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_CHECKSUM_H_
