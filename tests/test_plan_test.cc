// Keeps docs/test-plan.md true: every test it names exists in this binary, and every script
// check it names (run by CI, e.g. `scripts/check-install.sh`) exists.
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "util/fs.h"

namespace blobstate {
namespace {

// "Suite.Test" of every registered test, without the instance prefix ("Backends/") and
// the parameter suffix ("/local") of parameterized tests.
std::set<std::string> RegisteredTests() {
  std::set<std::string> names;
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& suite = *unit.GetTestSuite(i);
    std::string suite_name = suite.name();
    suite_name = suite_name.substr(suite_name.find('/') + 1);
    for (int j = 0; j < suite.total_test_count(); ++j) {
      std::string test = suite.GetTestInfo(j)->name();
      names.insert(suite_name + "." + test.substr(0, test.find('/')));
    }
  }
  return names;
}

TEST(TestPlanTest, EveryMappedTestExists) {
  Result<std::string> doc = ReadSmallFile(std::string(BLOBSTATE_SOURCE_DIR) + "/docs/test-plan.md");
  ASSERT_TRUE(doc.ok()) << doc.status();
  const std::set<std::string> registered = RegisteredTests();
  const std::regex line_re(R"(^- ([A-Z][A-Z0-9]*\.[0-9a-z.]+): (.+)$)");
  const std::regex name_re(R"(\b([A-Z][A-Za-z0-9]*Test)\.([A-Za-z0-9_]+)\b)");
  const std::regex script_re(R"(`(scripts/[a-z0-9-]+\.sh)`)");
  std::istringstream lines(*doc);
  std::string line;
  int ids = 0;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, line_re)) continue;
    ++ids;
    const std::string id = m[1];
    const std::string tests = m[2];
    int named = 0;
    for (std::sregex_iterator it(tests.begin(), tests.end(), name_re), end; it != end; ++it) {
      ++named;
      const std::string name = (*it)[1].str() + "." + (*it)[2].str();
      EXPECT_TRUE(registered.count(name)) << id << " names " << name << ", which does not exist";
    }
    // A check that runs outside this binary (CI runs it): the script must exist.
    for (std::sregex_iterator it(tests.begin(), tests.end(), script_re), end; it != end; ++it) {
      ++named;
      const std::string script = std::string(BLOBSTATE_SOURCE_DIR) + "/" + (*it)[1].str();
      EXPECT_EQ(::access(script.c_str(), X_OK), 0)
          << id << " names " << script << ", which is not an executable script";
    }
    EXPECT_GT(named, 0) << id << " names no test";
  }
  EXPECT_GT(ids, 0) << "no '- ID: tests' lines in docs/test-plan.md";
}

}  // namespace
}  // namespace blobstate
