// Unpredictable identifiers from the operating system's CSPRNG.
#ifndef BLOBSTATE_UTIL_RANDOM_H_
#define BLOBSTATE_UTIL_RANDOM_H_

#include <cstddef>
#include <string>

namespace blobstate {

// `bytes` random bytes as 2*`bytes` lowercase hex digits. Thread-safe.
std::string RandomHex(size_t bytes);

}  // namespace blobstate

#endif  // BLOBSTATE_UTIL_RANDOM_H_
