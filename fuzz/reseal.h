// Shared by the decoder fuzz targets: an input with its envelope checksum made valid, so
// that mutations reach the body parser instead of stopping at the checksum.
#ifndef BLOBSTATE_FUZZ_RESEAL_H_
#define BLOBSTATE_FUZZ_RESEAL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "util/hash.h"

namespace blobstate::fuzz {

// `bytes` (at least 8 long) with the last 8 bytes replaced by XXH3-64 of the others,
// little-endian: the envelope trailer (docs/format.md, "Envelope").
inline std::string Resealed(std::string_view bytes) {
  std::string out(bytes);
  const size_t checked = out.size() - 8;
  const uint64_t sum = Hash64(out.data(), checked);
  for (size_t i = 0; i < 8; ++i) out[checked + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
  return out;
}

}  // namespace blobstate::fuzz

#endif  // BLOBSTATE_FUZZ_RESEAL_H_
