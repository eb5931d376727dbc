#include "util/hash.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "util/fs.h"

namespace blobstate {
namespace {

TEST(HashTest, KnownVectors) {
  // XXH3-128 of the empty input and of "abc", as printed by `xxhsum -H2`.
  EXPECT_EQ(HashBytes("", 0).ToHex(), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(HashBytes("abc", 3).ToHex(), "06b05ab6733a618578af5f94892f3950");
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
