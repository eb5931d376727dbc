// R.3: a restore crashed at every get.* failpoint, or killed at random moments, resumes from
// its staging area: it ends with the backed-up tree, and never downloads again a file that
// it had verified. Until it ends, the store directory does not exist (a new host).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <regex>
#include <string>

#include "restore/staging.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"
#include "util/failpoint.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using testing::Outcome;
using testing::Sh;

constexpr int kFiles = 300;

class RestoreCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::Tree tree;
    for (int i = 0; i < kFiles; ++i) {
      tree[(i % 3 ? "" : "sub/") + std::to_string(i) + ".sst"] = testing::RandomBytes(64 << 10, i);
    }
    ASSERT_TRUE(testing::WriteTree(tmp_.Sub("src"), tree).ok());
    Outcome backup = Sh("blobstate backup" + Task() + "--store s=" + tmp_.Sub("src"));
    ASSERT_EQ(backup.exit_code, 0) << backup.out;
  }

  std::string Task() const {
    return " --blob-store file://" + tmp_.Sub("blobs") + " --job j --task t ";
  }
  std::string Restore(const std::string& env = "") const {
    return env + " blobstate restore" + Task() + "--store s=" + Dst() + " --json";
  }
  std::string Dst() const { return tmp_.Sub("dst"); }

  // Files verified into the staging area so far (not counting partial temporary files).
  int Staged() const {
    int n = 0;
    for (const std::string& dir : {StagingDirOf(Dst()), StagingDirOf(Dst()) + "/sub"}) {
      std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
      while (struct dirent* e = d ? ::readdir(d.get()) : nullptr) {
        const std::string name = e->d_name;
        if (e->d_type == DT_REG && !name.starts_with(".blobstate-tmp-")) ++n;
      }
    }
    return n;
  }

  static int Field(const std::string& json, const std::string& name) {
    std::smatch m;
    if (!std::regex_search(json, m, std::regex("\"" + name + "\":([0-9]+)"))) return -1;
    return std::stoi(m[1]);
  }

  void ExpectRestored() {
    EXPECT_TRUE(*testing::ReadTree(Dst()) == *testing::ReadTree(tmp_.Sub("src")))
        << "restored tree differs";
    EXPECT_FALSE(PathExists(StagingDirOf(Dst())));
  }

  testing::TempDir tmp_;
};

class RestoreFailpointTest : public RestoreCrashTest,
                             public ::testing::WithParamInterface<const char*> {};

TEST_P(RestoreFailpointTest, CrashedRestoreResumesWithoutDownloadingVerifiedFilesAgain) {
  Outcome crashed = Sh(Restore(std::string("BLOBSTATE_FAILPOINTS=") + GetParam() + "=crash@40"));
  ASSERT_EQ(crashed.exit_code, kFailpointExitCode) << crashed.out;
  EXPECT_FALSE(PathExists(Dst()));  // nothing that looks like a restored store
  const int staged = Staged();
  Outcome resumed = Sh(Restore());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_EQ(Field(resumed.out, "files_reused"), staged) << resumed.out;
  EXPECT_EQ(Field(resumed.out, "files_downloaded"), kFiles - staged) << resumed.out;
  ExpectRestored();
}

INSTANTIATE_TEST_SUITE_P(EveryGetFailpoint, RestoreFailpointTest,
                         ::testing::Values("get.before_file", "get.after_file"),
                         [](const auto& info) {
                           std::string name = info.param;
                           return name.substr(name.find('.') + 1);
                         });

// Starts `blobstate restore` of the fixture's task into `dst`, output discarded.
pid_t SpawnRestore(const std::string& blobs, const std::string& dst) {
  const std::string bin = std::string(BLOBSTATE_BIN_DIR) + "/blobstate";
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int null = ::open("/dev/null", O_WRONLY);
  ::dup2(null, 1);
  ::dup2(null, 2);
  const std::string url = "file://" + blobs, store = "s=" + dst;
  ::execl(bin.c_str(), "blobstate", "restore", "--blob-store", url.c_str(), "--job", "j", "--task",
          "t", "--store", store.c_str(), nullptr);
  ::_exit(127);
}

// Killed with SIGKILL at random moments and restarted: each run keeps what the runs before
// it verified, and the last one ends with the backed-up tree.
TEST_F(RestoreCrashTest, KillLoopResumesEachTimeAndEndsWithTheBackedUpTree) {
  std::mt19937 random(4242);  // reproducible
  for (int round = 0; round < 6; ++round) {
    pid_t pid = SpawnRestore(tmp_.Sub("blobs"), Dst());
    ASSERT_GE(pid, 0);
    ::usleep(std::uniform_int_distribution<int>(5'000, 60'000)(random));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (PathExists(Dst())) break;  // it finished before the kill
  }
  const int staged = Staged();
  Outcome last = Sh(Restore());
  ASSERT_EQ(last.exit_code, 0) << last.out;
  if (staged > 0) {
    EXPECT_EQ(Field(last.out, "files_reused"), staged) << last.out;
  }
  ExpectRestored();
}

}  // namespace
}  // namespace blobstate
