// The library as a user meets it: the embedding walkthrough runs as written (examples/embed,
// docs/library.md), and each module compiles against the headers it may use and no others
// (README "Layout"). `make test-install` checks the installed library itself.
#include <gtest/gtest.h>

#include <string>

#include "testing/shell.h"
#include "testing/temp_dir.h"

namespace blobstate {
namespace {

using testing::Sh;

TEST(EmbedExampleTest, CommitsAndRestoresOnANewHost) {
  testing::TempDir dir;
  testing::Outcome run = Sh("embed '" + dir.path() + "/work'");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(run.out, "restored on a new host: offset 1000, word999=1\n");
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
           {"store", "blobstore/http/url.h", false},  // not a dependency, though earlier
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
