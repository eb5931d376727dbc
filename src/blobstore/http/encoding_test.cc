#include "blobstore/http/encoding.h"

#include <gtest/gtest.h>

namespace blobstate {
namespace {

TEST(EncodingTest, Base64MatchesRfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"f", "Zg=="},        {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(Base64Encode(bytes), text);
    EXPECT_EQ(Base64Decode(text), bytes) << text;
  }
  EXPECT_EQ(Base64Encode(""), "");
  const std::string binary("\x00\xff\x10\x80", 4);
  EXPECT_EQ(Base64Decode(Base64Encode(binary)), binary);
}

TEST(EncodingTest, Base64DecodeRejectsWhatIsNotPaddedStandardBase64) {
  for (const char* bad : {"", "Zg", "Zg=", "Zm9v\n", "Zm 9", "Zm9v=Zm9", "Zm-_", "Z===", "****"}) {
    EXPECT_EQ(Base64Decode(bad), std::nullopt) << '"' << bad << '"';
  }
}

TEST(EncodingTest, DigestsMatchPublishedVectors) {
  // FIPS 180-2 and RFC 1321 "abc"; RFC 4231 test case 2.
  EXPECT_EQ(HexLower(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexLower(Md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(HexLower(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(EncodingTest, AsciiLowerTouchesOnlyAsciiLetters) {
  EXPECT_EQ(AsciiLower("Content-MD5: X-Ms-Tags"), "content-md5: x-ms-tags");
  EXPECT_EQ(AsciiLower("\xC3\x84Z"), "\xC3\x84z");
}

}  // namespace
}  // namespace blobstate
