#include "blobstore/http/credential_io.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using testing::TempDir;

TEST(WatchedFileTest, ReadsAgainOnlyWhenTheFileIsReplacedAndKeepsTheLastWhenItVanishes) {
  TempDir tmp;
  const std::string path = tmp.Sub("secret");
  WatchedFile file(path);
  EXPECT_EQ(file.Read().status().code(), StatusCode::kNotFound) << "nothing read yet";
  ASSERT_TRUE(WriteFileAtomic(path, "one").ok());
  bool changed = false;
  EXPECT_EQ(*file.Read(&changed), "one");
  EXPECT_TRUE(changed);
  EXPECT_EQ(*file.Read(&changed), "one");
  EXPECT_FALSE(changed) << "an unchanged file is not read again";
  // A Kubernetes secret rotation: a new file renamed over the path (a new inode).
  ASSERT_TRUE(WriteFileAtomic(path, "two").ok());
  EXPECT_EQ(*file.Read(&changed), "two");
  EXPECT_TRUE(changed);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  EXPECT_EQ(*file.Read(&changed), "two") << "the last contents while the file is gone";
  EXPECT_FALSE(changed);
}

TEST(CredentialFormatsTest, FlatJsonMembersAreDecodedAndAnythingElseIsRefused) {
  Result<std::map<std::string, std::string>> json = ParseFlatJson(
      R"({"Code" : "Success", "AccessKeyId":"AK\"ID","Token":"a\/b\u00e9","Ttl":3600,"X":null})");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->at("Code"), "Success");
  EXPECT_EQ(json->at("AccessKeyId"), "AK\"ID");
  EXPECT_EQ(json->at("Token"), "a/b\xc3\xa9");
  EXPECT_EQ(json->at("Ttl"), "3600");
  EXPECT_EQ(json->at("X"), "null");
  EXPECT_TRUE(ParseFlatJson("{}")->empty());
  for (const char* bad : {"", "[]", R"({"a":{"b":1}})", R"({"a":"unterminated)", R"({"a":1} x)",
                          R"({"SecretAccessKey":"s3cr3t",})"}) {
    Status s = ParseFlatJson(bad).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message().find("s3cr3t"), std::string::npos) << "never quotes the text";
  }
}

TEST(CredentialFormatsTest, IsoTimesOfCredentialServicesParse) {
  using std::chrono::system_clock;
  const system_clock::time_point t = system_clock::from_time_t(1796072400);  // 2026-11-30T21:00Z
  EXPECT_EQ(ParseIsoTime("2026-11-30T21:00:00Z"), t);
  EXPECT_EQ(ParseIsoTime("2026-11-30T21:00:00.123Z"), t);
  EXPECT_EQ(ParseIsoTime("2026-11-30T21:00:00+00:00"), t);
  for (const char* bad : {"", "2026-11-30", "2026-11-30T21:00:00", "2026-13-30T21:00:00Z",
                          "2026-11-30T21:00:00+02:00", "tomorrow"}) {
    EXPECT_FALSE(ParseIsoTime(bad)) << bad;
  }
}

TEST(CredentialFormatsTest, IniValuesComeFromTheirSection) {
  const std::string text = "# c\n[a]\nk = 1\n[profile b]\n k=2 \n; x\n";
  EXPECT_EQ(IniValue(text, "a", "k"), "1");
  EXPECT_EQ(IniValue(text, "profile b", "k"), "2");
  EXPECT_FALSE(IniValue(text, "c", "k"));
}

}  // namespace
}  // namespace blobstate
