#include "util/hash.h"

#include <algorithm>
#include <cstdint>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "util/fs.h"
#include "util/hash_avx2.h"

namespace blobstate {
namespace {

const bool kAvx2 = hash_internal::CpuHasAvx2();

}  // namespace

bool hash_internal::CpuHasAvx2() {
#if defined(BLOBSTATE_HASH_AVX2)
  __builtin_cpu_init();  // this may run before main
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

struct Hasher::State {
  XXH3_state_t xxh;
};

Hasher::Hasher() : state_(std::make_unique<State>()) { XXH3_128bits_reset(&state_->xxh); }
Hasher::~Hasher() = default;

void Hasher::Update(const void* data, size_t n) {
  if (kAvx2) return hash_internal::Update128Avx2(&state_->xxh, data, n);
  XXH3_128bits_update(&state_->xxh, data, n);
}

Checksum Hasher::Finish() const {
  XXH128_hash_t h = XXH3_128bits_digest(&state_->xxh);
  return Checksum{h.high64, h.low64};
}

Checksum HashBytes(const void* data, size_t n) {
  if (kAvx2) {
    Checksum c;
    hash_internal::Hash128Avx2(data, n, &c.high, &c.low);
    return c;
  }
  XXH128_hash_t h = XXH3_128bits(data, n);
  return Checksum{h.high64, h.low64};
}

std::string Checksum::ToHex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = kHex[(high >> (4 * i)) & 15];
    out[31 - i] = kHex[(low >> (4 * i)) & 15];
  }
  return out;
}

uint64_t Hash64(const void* data, size_t n) {
  return kAvx2 ? hash_internal::Hash64Avx2(data, n) : XXH3_64bits(data, n);
}

struct Hasher64::State {
  XXH3_state_t xxh;
};

Hasher64::Hasher64() : state_(std::make_unique<State>()) { XXH3_64bits_reset(&state_->xxh); }
Hasher64::~Hasher64() = default;

void Hasher64::Update(const void* data, size_t n) {
  if (kAvx2) return hash_internal::Update64Avx2(&state_->xxh, data, n);
  XXH3_64bits_update(&state_->xxh, data, n);
}

uint64_t Hasher64::Finish() const { return XXH3_64bits_digest(&state_->xxh); }

void Hasher64::Reset() { XXH3_64bits_reset(&state_->xxh); }

void ChunkHasher::Update(const char* data, size_t n) {
  while (n > 0) {
    if (in_chunk_ == 0 && n >= chunk_) {  // a whole chunk at hand: one call
      sums_.push_back(Hash64(data, chunk_));
      data += chunk_;
      n -= chunk_;
      continue;
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, chunk_ - in_chunk_));
    hasher_.Update(data, take);
    in_chunk_ += take;
    data += take;
    n -= take;
    if (in_chunk_ == chunk_) {
      sums_.push_back(hasher_.Finish());
      hasher_.Reset();
      in_chunk_ = 0;
    }
  }
}

std::vector<uint64_t> ChunkHasher::Finish() const {
  std::vector<uint64_t> sums = sums_;
  if (in_chunk_ > 0) sums.push_back(hasher_.Finish());
  return sums;
}

Result<Checksum> HashFile(const std::string& path, uint64_t* size) {
  ASSIGN_OR_RETURN(File f, File::Open(path, O_RDONLY));
  return HashRest(f, size);
}

Result<Checksum> HashRest(File& f, uint64_t* size) { return HashNext(f, UINT64_MAX, size); }

Result<Checksum> HashNext(File& f, uint64_t limit, uint64_t* size) {
  Hasher hasher;
  IoBuffer buf(kIoChunkSize);
  uint64_t total = 0;
  while (total < limit) {
    ASSIGN_OR_RETURN(
        size_t n,
        f.Read(buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), limit - total))));
    if (n == 0) break;
    hasher.Update(buf.data(), n);
    total += n;
  }
  if (size) *size = total;
  return hasher.Finish();
}

}  // namespace blobstate
