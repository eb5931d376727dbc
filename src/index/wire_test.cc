#include "index/wire.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace blobstate {
namespace {

// One field read back from `bytes`, which must hold exactly one.
Result<WireField> ReadOne(std::string_view bytes) {
  WireReader r(bytes);
  ASSIGN_OR_RETURN(WireField f, r.Next());
  if (!r.done()) return InternalError("more than one field");
  return f;
}

TEST(IndexWireTest, VarintsRoundTripAtEveryWidth) {
  for (int bits = 0; bits <= 64; ++bits) {
    const uint64_t v = bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1;
    SCOPED_TRACE(v);
    WireWriter w;
    w.VarintField(1, v);
    WireCounter c;
    c.VarintField(1, v);
    EXPECT_EQ(c.size(), w.data().size());
    Result<WireField> f = ReadOne(w.data());
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->id, 1u);
    EXPECT_EQ(f->type, WireType::kVarint);
    EXPECT_EQ(f->number, v);
  }
}

TEST(IndexWireTest, ZigZagRoundTripsExtremes) {
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(ZigZagDecode(ZigZagEncode(v)), v);
  }
  EXPECT_EQ(ZigZagEncode(-1), 1u);
  EXPECT_EQ(ZigZagEncode(1), 2u);
}

TEST(IndexWireTest, KeyCarriesIdWireTypeAndMustUnderstandBit) {
  WireWriter w;
  w.Key(kMaxFieldId, WireType::kLen, /*must_understand=*/true);
  w.Varint(0);
  Result<WireField> f = ReadOne(w.data());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->id, kMaxFieldId);
  EXPECT_EQ(f->type, WireType::kLen);
  EXPECT_TRUE(f->must_understand);
  EXPECT_EQ(std::string(1, '\x0a'), [] {
    WireWriter one;
    one.Key(1, WireType::kLen);
    return one.data();
  }());
}

TEST(IndexWireTest, ReadsI64LittleEndian) {
  WireWriter w;
  w.Key(3, WireType::kI64);
  w.Fixed64(0x0807060504030201);
  EXPECT_EQ(w.data(), std::string("\x19\x01\x02\x03\x04\x05\x06\x07\x08", 9));
  Result<WireField> f = ReadOne(w.data());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->number, 0x0807060504030201u);
}

TEST(IndexWireTest, RejectsMalformedFields) {
  const struct {
    const char* what;
    std::string bytes;
    const char* error;
  } kCases[] = {
      {"11-byte varint", std::string("\x08") + std::string(10, '\x80') + "\x01",
       "longer than 10 bytes"},
      {"10th byte above 1", std::string("\x08") + std::string(9, '\xff') + "\x02",
       "overflows 64 bits"},
      {"varint cut short", "\x08\x80", "runs past the end"},
      {"key cut short", "\x80", "runs past the end"},
      {"key above 32 bits", std::string("\x80\x80\x80\x80\x10", 5), "key above 2^32-1"},
      {"field id 0", std::string("\x00\x00", 2), "field id 0"},
      {"wire type 3", "\x0b", "reserved wire type 3"},
      {"I64 cut short", "\x09\x01\x02", "I64 runs past the end"},
      {"length past the end",
       "\x0a\x05"
       "abc",
       "length 5 runs past the end (3 bytes left)"},
      {"huge length", std::string("\x0a") + std::string(9, '\xff') + "\x01", "runs past the end"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.what);
    WireReader r(c.bytes);
    Result<WireField> f = r.Next();
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(c.error), std::string::npos) << f.status();
  }
}

TEST(IndexWireTest, AcceptsNonMinimalVarints) {
  Result<WireField> f = ReadOne(std::string("\x88\x00\x81\x80\x00", 5));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->id, 1u);
  EXPECT_EQ(f->number, 1u);
}

TEST(IndexWireTest, EnvelopeRoundTrips) {
  const std::string sealed = SealEnvelope("TEST", 3, "body");
  ASSERT_EQ(sealed.size(), 8 + 4 + 8u);
  EXPECT_EQ(sealed.substr(0, 8), std::string("TEST\x03\x00\x00\x00", 8));
  Result<EnvelopeContents> c = OpenEnvelope(sealed, "TEST", "test object", 3);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version, 3u);
  EXPECT_EQ(c->body, "body");
}

TEST(IndexWireTest, EnvelopeChecksInOrderMagicVersionLengthChecksum) {
  const std::string sealed = SealEnvelope("TEST", 2, "body");
  auto open = [](std::string_view b) { return OpenEnvelope(b, "TEST", "test object", 2); };
  EXPECT_EQ(open("TE").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(open("").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(open("XEST").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(open("TESTtruncated-body-with-a-wrong-version").status().message(),
            "unsupported test object format version 1853190772 (this build reads up to 2)");
  EXPECT_EQ(open(sealed.substr(0, 10)).status().code(), StatusCode::kDataLoss);
  std::string flipped = sealed;
  flipped[9] ^= 1;
  Result<EnvelopeContents> bad = open(flipped);
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("checksum mismatch"), std::string::npos);
}

}  // namespace
}  // namespace blobstate
