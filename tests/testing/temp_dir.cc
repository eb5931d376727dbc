#include "testing/temp_dir.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>

namespace blobstate::testing {

Status WriteTree(const std::string& root, const Tree& tree) {
  for (const auto& [path, content] : tree) {
    std::string full = JoinPath(root, path);
    if (!path.empty() && path.back() == '/') {
      RETURN_IF_ERROR(MakeDirs(full));
      continue;
    }
    RETURN_IF_ERROR(MakeDirs(DirName(full)));
    RETURN_IF_ERROR(WriteFileAtomic(full, content));
  }
  return Status::Ok();
}

namespace {

template <typename Visit>
Status Walk(const std::string& root, const std::string& rel, Visit visit) {
  std::string dir_path = rel.empty() ? root : JoinPath(root, rel);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir_path.c_str()), ::closedir);
  if (!d) return ErrnoError("opendir " + dir_path, errno);
  while (struct dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string child = rel.empty() ? name : rel + "/" + name;
    ASSIGN_OR_RETURN(struct stat st, LStat(JoinPath(root, child)));
    RETURN_IF_ERROR(visit(child, st));
    if (S_ISDIR(st.st_mode)) RETURN_IF_ERROR(Walk(root, child, visit));
  }
  return Status::Ok();
}

}  // namespace

Result<Tree> ReadTree(const std::string& root) {
  Tree tree;
  RETURN_IF_ERROR(Walk(root, "", [&](const std::string& rel, const struct stat& st) -> Status {
    if (S_ISDIR(st.st_mode)) {
      tree[rel + "/"] = "";
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(tree[rel], ReadSmallFile(JoinPath(root, rel)));
    return Status::Ok();
  }));
  return tree;
}

Result<std::map<std::string, std::pair<mode_t, int64_t>>> ReadModes(const std::string& root) {
  std::map<std::string, std::pair<mode_t, int64_t>> out;
  RETURN_IF_ERROR(Walk(root, "", [&](const std::string& rel, const struct stat& st) -> Status {
    if (S_ISREG(st.st_mode)) {
      out[rel] = {st.st_mode & 07777,
                  static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
    }
    return Status::Ok();
  }));
  return out;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(gen());
  return out;
}

std::set<std::string> FileStoreBlobIds(const std::string& store_dir) {
  std::set<std::string> ids;
  for (const char* sub : {"blobs", "pending"}) {
    Result<Tree> tree = ReadTree(JoinPath(store_dir, sub));
    EXPECT_TRUE(tree.ok()) << tree.status();
    if (!tree.ok()) continue;
    for (const auto& [path, content] : *tree) {
      if (path.back() != '/') ids.insert(path.substr(3));  // "<shard>/<id>"
    }
  }
  return ids;
}

}  // namespace blobstate::testing
