#include "util/fs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/random.h"

namespace blobstate {
namespace {

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/blobstate-fs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  std::string dir_;
};

TEST_F(FsTest, WriteFileAtomicReplacesWholeFileAndLeavesNoTemp) {
  std::string path = dir_ + "/a";
  ASSERT_TRUE(WriteFileAtomic(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "second").ok());
  EXPECT_EQ(*ReadSmallFile(path), "second");
  int entries = 0;
  for (const char* name : {"a"}) entries += PathExists(dir_ + "/" + name);
  EXPECT_EQ(entries, 1);
  EXPECT_EQ(RemoveAll(dir_ + "/a").code(), StatusCode::kOk);
  EXPECT_FALSE(PathExists(path));
}

TEST_F(FsTest, MakeDirsAndRemoveAllNested) {
  ASSERT_TRUE(MakeDirs(dir_ + "/x/y/z").ok());
  ASSERT_TRUE(MakeDirs(dir_ + "/x/y/z").ok());  // existing is fine
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/x/y/z/f", "data").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/x/g", "").ok());
  ASSERT_TRUE(RemoveAll(dir_ + "/x").ok());
  EXPECT_FALSE(PathExists(dir_ + "/x"));
  EXPECT_TRUE(RemoveAll(dir_ + "/never-existed").ok());
}

TEST_F(FsTest, RemoveAllDoesNotFollowSymlinks) {
  ASSERT_TRUE(MakeDirs(dir_ + "/outside").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/outside/keep", "precious").ok());
  ASSERT_TRUE(MakeDirs(dir_ + "/tree").ok());
  ASSERT_EQ(symlink((dir_ + "/outside").c_str(), (dir_ + "/tree/link").c_str()), 0);
  ASSERT_TRUE(RemoveAll(dir_ + "/tree").ok());
  EXPECT_FALSE(PathExists(dir_ + "/tree"));
  EXPECT_EQ(*ReadSmallFile(dir_ + "/outside/keep"), "precious");
}

TEST_F(FsTest, ErrorsNameThePath) {
  Result<File> f = File::Open(dir_ + "/nope", O_RDONLY);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
  EXPECT_NE(f.status().message().find(dir_ + "/nope"), std::string::npos);
}

TEST_F(FsTest, ReadAtReadsAcrossShortReadsAndStopsAtEnd) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/f", "0123456789").ok());
  Result<File> f = File::Open(dir_ + "/f", O_RDONLY);
  ASSERT_TRUE(f.ok());
  char buf[16];
  EXPECT_EQ(*f->ReadAt(buf, 4, 3), 4u);
  EXPECT_EQ(std::string(buf, 4), "3456");
  EXPECT_EQ(*f->ReadAt(buf, 16, 8), 2u);
}

TEST(PathTest, DirNameAndJoin) {
  EXPECT_EQ(DirName("/a/b/c"), "/a/b");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(DirName("/c"), "/");
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
  EXPECT_EQ(JoinPath("/a/", "b"), "/a/b");
}

TEST(RandomTest, HexIsUniqueAndWellFormed) {
  std::string a = RandomHex(16), b = RandomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST_F(FsTest, CloneTreeLinksWhatItMayAndCopiesTheRest) {
  ASSERT_TRUE(MakeDirs(dir_ + "/src/sub/empty").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/src/000001.sst", "immutable").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/src/sub/MANIFEST", "mutable").ok());
  ASSERT_EQ(chmod((dir_ + "/src/sub/MANIFEST").c_str(), 0600), 0);
  ASSERT_TRUE(CloneTree(dir_ + "/src", dir_ + "/dst", [](std::string_view name) {
                return name.ends_with(".sst");
              }).ok());
  struct stat a, b;
  ASSERT_EQ(stat((dir_ + "/src/000001.sst").c_str(), &a), 0);
  ASSERT_EQ(stat((dir_ + "/dst/000001.sst").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);  // linked
  ASSERT_EQ(stat((dir_ + "/src/sub/MANIFEST").c_str(), &a), 0);
  ASSERT_EQ(stat((dir_ + "/dst/sub/MANIFEST").c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);  // copied
  EXPECT_EQ(b.st_mode & 07777, 0600u);
  EXPECT_EQ(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
  EXPECT_EQ(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
  EXPECT_EQ(*ReadSmallFile(dir_ + "/dst/sub/MANIFEST"), "mutable");
  EXPECT_TRUE(PathExists(dir_ + "/dst/sub/empty"));
}

TEST_F(FsTest, CloneTreeRejectsSymlinksNamingThem) {
  ASSERT_TRUE(MakeDirs(dir_ + "/src").ok());
  ASSERT_EQ(symlink("/etc", (dir_ + "/src/link").c_str()), 0);
  Status s = CloneTree(dir_ + "/src", dir_ + "/dst", [](std::string_view) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("/src/link"), std::string::npos);
  EXPECT_EQ(CloneTree(dir_ + "/src", dir_ + "/dst", [](std::string_view) { return true; }).code(),
            StatusCode::kAlreadyExists);  // dest exists now
}

}  // namespace
}  // namespace blobstate
