// The library as a user meets it: the embedding walkthrough runs as written (examples/embed,
// docs/library.md) and is what the documentation shows, and each module compiles against the
// headers it may use and no others (README "Layout"). `make test-install` checks the installed
// library itself.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include "blobstore/http/http_client.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using testing::Sh;

// Every tool run through testing::Sh (the end-to-end, cloud fault, crash and fencing
// suites) has its output checked for the test servers' secrets; the check catches one.
TEST(SecretSweepTest, AToolOutputShowingATestServerSecretFails) {
  for (const char* name : {"BLOBSTATE_TEST_S3_SECRET_KEY", "BLOBSTATE_TEST_AZURE_KEY"}) {
    const std::optional<std::string> secret = testing::TestServerValue(name);
    ASSERT_TRUE(secret.has_value()) << name << " unknown: run under ctest";
    EXPECT_NONFATAL_FAILURE(testing::ExpectNoSecrets("error: 403 for key " + *secret), name);
  }
  testing::ExpectNoSecrets("error: 403 for key <redacted>");
}

// Every error Status the test binary creates (the library's, in every fault and auth test)
// is checked for secrets as it is made; the check catches one.
TEST(SecretSweepTest, AnErrorStatusShowingASecretFails) {
  EXPECT_NONFATAL_FAILURE(UnavailableError("reply with fake-secret-1"), "Status shows a fake");
  EXPECT_NONFATAL_FAILURE(PermissionDeniedError("GET /c/b?sv=1&sig=abc%3D"), "a SAS signature");
  UnavailableError("GET /c/b?sv=1&sig=<redacted>").IgnoreError();
}

TEST(EmbedExampleTest, CommitsAndRestoresOnANewHost) {
  testing::TempDir dir;
  testing::Outcome run = Sh("embed '" + dir.path() + "/work'");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(run.out, "restored on a new host: offset 1000, word999=1\n");
}

// The example job, given --metrics-port, serves its metrics over HTTP while it runs: blob
// store requests and flow figures. Its first persist is held (a failpoint) until the test
// has scraped, so that it surely runs meanwhile.
TEST(ExampleJobTest, ServesItsMetricsWhileItRuns) {
  testing::TempDir dir;
  testing::FailpointGate persist(dir.Sub("persist"));
  const std::string command = "BLOBSTATE_FAILPOINTS=persist.before_checkpoint=" + persist.Action() +
                              "@1 PATH='" + std::string(BLOBSTATE_BIN_DIR) +
                              "':\"$PATH\" wordcount --blob-store file://" + dir.Sub("bs") +
                              " --job j --task t --state-dir " + dir.Sub("state") +
                              " --events 2000 --commit-every 1000 --metrics-port 0 2>&1";
  FILE* job = ::popen(command.c_str(), "r");
  ASSERT_NE(job, nullptr);
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof line, job), nullptr);
  const std::string first = line;
  const size_t at = first.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << first;
  const std::string url = first.substr(at, first.find_last_not_of("\n") + 1 - at);

  // Scrapes until the job's uploads show (before its first persist), then once more elsewhere.
  std::string body;
  for (int i = 0; i < 2400 && body.find("method=\"put\"") == std::string::npos; ++i) {
    Result<HttpResponse> got = PerformHttp({.url = url});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->status, 200);
    body = got->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(body.find("blobstate_blob_store_requests_total{code=\"OK\",method=\"put\"}"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("# TYPE blobstate_blob_store_request_seconds histogram"), std::string::npos);
  Result<HttpResponse> other = PerformHttp({.url = url.substr(0, url.rfind('/')) + "/other"});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->status, 404);
  persist.Release();

  std::string rest;
  while (std::fgets(line, sizeof line, job) != nullptr) rest += line;
  const int status = ::pclose(job);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << rest;
  EXPECT_NE(rest.find("wordcount: digest"), std::string::npos) << rest;
}

// The code blocks of docs/library.md's walkthrough are lines of the example that runs above.
TEST(LibraryDocTest, WalkthroughIsTheExampleThatRuns) {
  const std::string root = BLOBSTATE_SOURCE_DIR;
  Result<std::string> doc = ReadSmallFile(root + "/docs/library.md");
  Result<std::string> example = ReadSmallFile(root + "/examples/embed/embed.cc");
  ASSERT_TRUE(doc.ok() && example.ok()) << doc.status() << example.status();
  const size_t begin = doc->find("\n## Walkthrough");
  const size_t end = doc->find("\n## ", begin + 1);
  ASSERT_NE(begin, std::string::npos);
  const std::string walkthrough = doc->substr(begin, end - begin);
  int blocks = 0;
  for (size_t at = walkthrough.find("```cpp\n"); at != std::string::npos;
       at = walkthrough.find("```cpp\n", at + 1)) {
    const size_t code = at + 7;
    const std::string block = walkthrough.substr(code, walkthrough.find("```", code) - code);
    EXPECT_NE(example->find(block), std::string::npos) << "not in embed.cc:\n" << block;
    ++blocks;
  }
  EXPECT_GE(blocks, 5);
}

// Collapses every run of whitespace into one space.
std::string Squeezed(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      out += c;
    } else if (!out.empty() && out.back() != ' ') {
      out += ' ';
    }
  }
  return out;
}

TEST(LibraryDocTest, EveryPublicHeaderIsDocumentedAndTheModuleOrderIsTheBuilds) {
  const std::string root = BLOBSTATE_SOURCE_DIR;
  Result<std::string> readme = ReadSmallFile(root + "/README.md");
  Result<std::string> doc = ReadSmallFile(root + "/docs/library.md");
  Result<std::string> cmake = ReadSmallFile(root + "/src/CMakeLists.txt");
  ASSERT_TRUE(readme.ok() && doc.ok() && cmake.ok());
  int headers = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root + "/include/blobstate")) {
    const std::string name = entry.path().filename().string();
    EXPECT_NE(readme->find("`" + name + "`"), std::string::npos) << "README omits " << name;
    EXPECT_NE(doc->find("**`" + name + "`"), std::string::npos) << "library.md omits " << name;
    ++headers;
  }
  EXPECT_GT(headers, 10);
  // README "Layout" lists the modules in the order src/CMakeLists.txt builds them.
  const size_t list = cmake->find("set(BLOBSTATE_ALL_MODULES");
  ASSERT_NE(list, std::string::npos);
  std::istringstream words(cmake->substr(list + 25, cmake->find(')', list) - list - 25));
  std::string order, module;
  while (words >> module) order += (order.empty() ? "" : ", ") + module;
  EXPECT_NE(Squeezed(*readme).find(": " + order + "."), std::string::npos) << order;
}

// Whether `#include "header"` compiles as the sources of `module` are compiled: with its
// include view (build/module-include/<module>: links to the folders of src/ it may use) and
// include/. The compiler's message if not.
testing::Outcome CompileInclude(const std::string& module, const std::string& header) {
  return Sh("echo '#include \"" + header + "\"' | '" + BLOBSTATE_CXX +
            "' -std=c++20 -fsyntax-only -I'" + BLOBSTATE_BINARY_DIR + "/module-include/" + module +
            "' -I'" + BLOBSTATE_SOURCE_DIR + "/include' -x c++ -");
}

TEST(ModuleBoundaryTest, AModuleSeesItsOwnAndItsDependenciesHeadersOnly) {
  struct Case {
    std::string module, header;
    bool visible;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"diff", "index/fields.h", true},        // a dependency's
           {"index", "index/wire.h", true},         // its own
           {"diff", "restore/staging.h", false},    // a module later in the order
           {"backup", "transfer/file_io.h", true},  // a dependency's
           {"blobstore", "transfer/file_io.h", false},
           {"gc", "store/lazy_files.h", false},  // not a dependency, though earlier
       }) {
    testing::Outcome compiled = CompileInclude(c.module, c.header);
    if (c.visible) {
      EXPECT_EQ(compiled.exit_code, 0)
          << c.module << " cannot include " << c.header << ": " << compiled.out;
    } else {
      EXPECT_NE(compiled.out.find(c.header + ": No such file"), std::string::npos)
          << c.module << " can include " << c.header << ": " << compiled.out;
    }
  }
}

TEST(ModuleBoundaryTest, TheToolSeesThePublicApiOnly) {
  EXPECT_EQ(CompileInclude("cli", "blobstate/commit.h").exit_code, 0);
  EXPECT_EQ(CompileInclude("cli", "cli/flags.h").exit_code, 0);
  for (const char* private_header : {"util/fs.h", "blobstore/http/http_client.h"}) {
    testing::Outcome compiled = CompileInclude("cli", private_header);
    EXPECT_NE(compiled.out.find("No such file"), std::string::npos) << compiled.out;
  }
}

}  // namespace
}  // namespace blobstate
