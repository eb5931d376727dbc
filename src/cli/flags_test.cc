#include "cli/flags.h"

#include <gtest/gtest.h>

namespace blobstate::cli {
namespace {

struct Parsed {
  std::string url = "default";
  bool json = false;
  uint64_t size = 7;
  std::vector<std::string> stores;
};

Status ParseInto(Parsed& p, const std::vector<std::string>& args, size_t positionals,
                 Flags* out_flags = nullptr) {
  Flags flags("cmd", "does things", "DIR");
  flags.String("blob-store", &p.url, "url", true);
  flags.Bool("json", &p.json, "json");
  flags.Uint("part-size", &p.size, "size");
  flags.Repeated("store", &p.stores, "stores");
  Status s = flags.Parse(args, positionals);
  if (out_flags) *out_flags = flags;
  return s;
}

TEST(FlagsTest, ParsesAllForms) {
  Parsed p;
  ASSERT_TRUE(ParseInto(p,
                        {"--blob-store", "file:///x", "--json", "--part-size=42", "--store", "a=/1",
                         "--store=b=/2", "dir"},
                        1)
                  .ok());
  EXPECT_EQ(p.url, "file:///x");
  EXPECT_TRUE(p.json);
  EXPECT_EQ(p.size, 42u);
  EXPECT_EQ(p.stores, (std::vector<std::string>{"a=/1", "b=/2"}));
}

TEST(FlagsTest, ErrorsNameTheFlag) {
  Parsed p;
  Status s = ParseInto(p, {"--blob-store", "u", "--bogus", "d"}, 1);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--bogus"), std::string::npos);
  s = ParseInto(p, {"--blob-store", "u", "--part-size", "12x", "d"}, 1);
  EXPECT_NE(s.message().find("--part-size"), std::string::npos);
  s = ParseInto(p, {"d"}, 1);
  EXPECT_NE(s.message().find("--blob-store is required"), std::string::npos);
  s = ParseInto(p, {"--blob-store"}, 1);
  EXPECT_NE(s.message().find("--blob-store needs a value"), std::string::npos);
  s = ParseInto(p, {"--blob-store", "u"}, 1);
  EXPECT_NE(s.message().find("takes DIR"), std::string::npos);
}

// Durations take a unit and are at most 36500 days: a longer one would overflow the time
// arithmetic of gc's grace and of retention (a grace that wrapped would make every orphan
// old).
TEST(FlagsTest, DurationsTakeAUnitAndAreAtMost36500Days) {
  std::chrono::seconds d{0};
  auto parse = [&](const std::string& value) {
    Flags flags("cmd", "does things");
    flags.Duration("grace", &d, "grace");
    return flags.Parse({"--grace", value}, 0);
  };
  ASSERT_TRUE(parse("90s").ok());
  EXPECT_EQ(d, std::chrono::seconds(90));
  ASSERT_TRUE(parse("36500d").ok());
  EXPECT_EQ(d, std::chrono::hours(24 * 36500));
  for (const char* bad : {"36501d", "1000000d", "18446744073709551615s", "7", "7w", "-1d"}) {
    Status s = parse(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("--grace"), std::string::npos) << s;
  }
}

TEST(FlagsTest, HelpSkipsValidationAndListsFlags) {
  Parsed p;
  Flags flags("cmd", "does things", "DIR");
  flags.String("blob-store", &p.url, "the url", true);
  ASSERT_TRUE(flags.Parse({"--help"}, 1).ok());
  EXPECT_TRUE(flags.help_requested());
  std::string help = flags.Help();
  EXPECT_NE(help.find("usage: blobstate cmd [flags] DIR"), std::string::npos);
  EXPECT_NE(help.find("--blob-store VALUE"), std::string::npos);
  EXPECT_NE(help.find("(required)"), std::string::npos);
}

}  // namespace
}  // namespace blobstate::cli
