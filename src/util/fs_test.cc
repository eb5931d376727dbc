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

TEST(PathTest, DirNameBaseNameAndJoin) {
  EXPECT_EQ(DirName("/a/b/c"), "/a/b");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(DirName("/c"), "/");
  EXPECT_EQ(BaseName("/a/b/c"), "c");
  EXPECT_EQ(BaseName("c"), "c");
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
  EXPECT_EQ(JoinPath("/a/", "b"), "/a/b");
}

TEST(RandomTest, HexIsUniqueAndWellFormed) {
  std::string a = RandomHex(16), b = RandomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST_F(FsTest, LinkTreeLinksEveryFileAndMakesEveryDirectory) {
  ASSERT_TRUE(MakeDirs(dir_ + "/src/sub/empty").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/src/000001.sst", "immutable").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/src/sub/MANIFEST", "mutable").ok());
  ASSERT_EQ(chmod((dir_ + "/src/sub").c_str(), 0750), 0);
  ASSERT_TRUE(LinkTree(dir_ + "/src", dir_ + "/dst").ok());
  for (const char* file : {"/000001.sst", "/sub/MANIFEST"}) {
    struct stat a, b;
    ASSERT_EQ(stat((dir_ + "/src" + file).c_str(), &a), 0);
    ASSERT_EQ(stat((dir_ + "/dst" + file).c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino) << file;
  }
  EXPECT_EQ(LStat(dir_ + "/dst/sub")->st_mode & 07777, 0750u);
  EXPECT_TRUE(PathExists(dir_ + "/dst/sub/empty"));
}

// What LinkTree falls back to across file systems: the copy has the source's bytes, mode
// (whatever the umask) and mtime.
TEST_F(FsTest, CopyFileKeepsModeAndMtimeWhateverTheUmask) {
  const std::string src = dir_ + "/src", dest = dir_ + "/dest";
  ASSERT_TRUE(WriteFileAtomic(src, "bytes").ok());
  ASSERT_EQ(chmod(src.c_str(), 0664), 0);
  const mode_t umask_before = ::umask(022);
  Status copied = CopyFile(src, dest);
  ::umask(umask_before);
  ASSERT_TRUE(copied.ok()) << copied;
  EXPECT_EQ(*ReadSmallFile(dest), "bytes");
  EXPECT_EQ(LStat(dest)->st_mode & 07777, 0664u);
  EXPECT_EQ(LStat(dest)->st_mtim.tv_sec, LStat(src)->st_mtim.tv_sec);
  EXPECT_EQ(LStat(dest)->st_mtim.tv_nsec, LStat(src)->st_mtim.tv_nsec);
  EXPECT_EQ(CopyFile(src, dest).code(), StatusCode::kAlreadyExists);  // O_EXCL
}

TEST_F(FsTest, LinkTreeIntoAnOlderCopyChangesOnlyWhatDiffers) {
  ASSERT_TRUE(MakeDirs(dir_ + "/src/kept").ok());
  ASSERT_TRUE(MakeDirs(dir_ + "/src/was_file").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/src/same", "same").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/src/kept/replaced", "old").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/src/gone", "gone").ok());
  ASSERT_TRUE(MakeDirs(dir_ + "/src/gone_dir/deep").ok());
  ASSERT_TRUE(LinkTree(dir_ + "/src", dir_ + "/dst").ok());
  const ino_t same = LStat(dir_ + "/dst/same")->st_ino;
  // The store changes: a file replaced, one removed, a directory removed, a file and a
  // directory trading places, a new file.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/src/kept/replaced", "new").ok());
  ASSERT_EQ(unlink((dir_ + "/src/gone").c_str()), 0);
  ASSERT_TRUE(RemoveAll(dir_ + "/src/gone_dir").ok());
  ASSERT_TRUE(RemoveAll(dir_ + "/src/was_file").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/src/was_file", "now a file").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/src/added", "added").ok());
  ASSERT_EQ(chmod((dir_ + "/src").c_str(), 0700), 0);
  ASSERT_TRUE(LinkTree(dir_ + "/src", dir_ + "/dst").ok());

  EXPECT_EQ(LStat(dir_ + "/dst/same")->st_ino, same);
  EXPECT_EQ(*ReadSmallFile(dir_ + "/dst/kept/replaced"), "new");
  EXPECT_EQ(*ReadSmallFile(dir_ + "/dst/was_file"), "now a file");
  EXPECT_EQ(*ReadSmallFile(dir_ + "/dst/added"), "added");
  EXPECT_FALSE(PathExists(dir_ + "/dst/gone"));
  EXPECT_FALSE(PathExists(dir_ + "/dst/gone_dir"));
  EXPECT_EQ(LStat(dir_ + "/dst")->st_mode & 07777, 0700u);
  for (const char* file : {"/same", "/kept/replaced", "/was_file", "/added"}) {
    EXPECT_EQ(LStat(dir_ + "/src" + file)->st_ino, LStat(dir_ + "/dst" + file)->st_ino) << file;
  }
}

TEST_F(FsTest, LinkTreeRejectsSymlinksNamingThem) {
  ASSERT_TRUE(MakeDirs(dir_ + "/src").ok());
  ASSERT_EQ(symlink("/etc", (dir_ + "/src/link").c_str()), 0);
  Status s = LinkTree(dir_ + "/src", dir_ + "/dst");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("/src/link"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/file", "").ok());
  EXPECT_EQ(LinkTree(dir_ + "/src", dir_ + "/file").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace blobstate
