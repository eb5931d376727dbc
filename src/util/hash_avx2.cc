// Built with -mavx2 (src/util/CMakeLists.txt): xxhash.h then picks its AVX2 code.
#include "util/hash_avx2.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace blobstate::hash_internal {

uint64_t Hash64Avx2(const void* data, size_t n) { return XXH3_64bits(data, n); }

void Hash128Avx2(const void* data, size_t n, uint64_t* high, uint64_t* low) {
  const XXH128_hash_t h = XXH3_128bits(data, n);
  *high = h.high64;
  *low = h.low64;
}

void Update64Avx2(void* state, const void* data, size_t n) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state), data, n);
}

void Update128Avx2(void* state, const void* data, size_t n) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state), data, n);
}

}  // namespace blobstate::hash_internal
