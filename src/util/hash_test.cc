#include "util/hash.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "util/fs.h"

#define XXH_INLINE_ALL
#include <xxhash.h>  // the portable build, which the hashes must agree with

namespace blobstate {
namespace {

TEST(HashTest, KnownVectors) {
  // XXH3-128 of the empty input and of "abc", as printed by `xxhsum -H2`.
  EXPECT_EQ(HashBytes("", 0).ToHex(), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(HashBytes("abc", 3).ToHex(), "06b05ab6733a618578af5f94892f3950");
}

// Where the CPU has AVX2 the hashes run its build of XXH3, which must give the values of
// the portable build at every length: short inputs, stripes and blocks of the long-input
// path, and their ends.
TEST(HashTest, EqualsThePortableBuildAtEveryLength) {
  std::string data(1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + (i >> 10));
  for (size_t n : {size_t{0}, size_t{16}, size_t{240}, size_t{241}, size_t{1024}, size_t{1025},
                   size_t{65536}, size_t{65536 + 63}, data.size()}) {
    SCOPED_TRACE(n);
    const XXH128_hash_t h = XXH3_128bits(data.data(), n);
    EXPECT_EQ(HashBytes(data.data(), n), (Checksum{h.high64, h.low64}));
    EXPECT_EQ(Hash64(data.data(), n), XXH3_64bits(data.data(), n));
    Hasher streamed;
    Hasher64 streamed64;
    for (size_t at = 0; at < n; at += 4093) {
      streamed.Update(data.data() + at, std::min<size_t>(4093, n - at));
      streamed64.Update(data.data() + at, std::min<size_t>(4093, n - at));
    }
    EXPECT_EQ(streamed.Finish(), (Checksum{h.high64, h.low64}));
    EXPECT_EQ(streamed64.Finish(), XXH3_64bits(data.data(), n));
  }
}

TEST(HashTest, StreamingEqualsOneShot) {
  std::string data(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 9));
  Hasher h;
  for (size_t pos = 0; pos < data.size(); pos += 4093) {
    h.Update(data.data() + pos, std::min<size_t>(4093, data.size() - pos));
  }
  EXPECT_EQ(h.Finish(), HashBytes(data.data(), data.size()));
}

TEST(HashTest, StreamingHash64EqualsOneShot) {
  std::string data(1024 * 1024 + 5, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + (i >> 11));
  Hasher64 h;
  for (size_t pos = 0; pos < data.size(); pos += 1000) {
    h.Update(data.data() + pos, std::min<size_t>(1000, data.size() - pos));
  }
  EXPECT_EQ(h.Finish(), Hash64(data.data(), data.size()));
  EXPECT_EQ(Hasher64().Finish(), Hash64("", 0));
}

TEST(HashTest, ChunkHasherHashesEachChunkWhateverTheWrites) {
  constexpr size_t kChunk = 4096;
  std::string data(5 * kChunk + 123, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 13 + (i >> 7));
  std::vector<uint64_t> expected;
  for (size_t at = 0; at < data.size(); at += kChunk) {
    expected.push_back(Hash64(data.data() + at, std::min(kChunk, data.size() - at)));
  }
  for (size_t step : {size_t{1000}, kChunk, 3 * kChunk + 1, data.size()}) {
    SCOPED_TRACE(step);
    ChunkHasher h(kChunk);
    for (size_t pos = 0; pos < data.size(); pos += step) {
      h.Update(data.data() + pos, std::min(step, data.size() - pos));
    }
    EXPECT_EQ(h.Finish(), expected);
  }
  EXPECT_TRUE(ChunkHasher(kChunk).Finish().empty());
}

TEST(HashTest, HashFileStreamsWholeFile) {
  char tmpl[] = "/tmp/blobstate-hash-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/f";
  std::string data(kIoChunkSize * 2 + 5, 'x');
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  uint64_t size = 0;
  Result<Checksum> c = HashFile(path, &size);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c, HashBytes(data.data(), data.size()));
  EXPECT_EQ(size, data.size());
  EXPECT_EQ(HashFile(std::string(tmpl) + "/missing").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(RemoveAll(tmpl).ok());
}

}  // namespace
}  // namespace blobstate
