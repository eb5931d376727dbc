// Embedding blobstate: a task with one RocksDB store commits its state and input offsets to
// a blob store, loses its disk, and gets both back. The walkthrough of docs/library.md;
// built in the tree and, by the install check (scripts/check-install.sh), against an
// installed libblobstate (CMakeLists.txt here, or pkg-config).
//
// Usage: embed WORK_DIR   (WORK_DIR must not exist; it is created and left behind)
#include <blobstate/blob_store.h>
#include <blobstate/future.h>
#include <blobstate/status.h>
#include <blobstate/store.h>
#include <blobstate/task.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace {

using namespace blobstate;

// The task's options: job "embed", task "0", one RocksDB store in `state_dir`/counts.
TaskOptions Options(const std::string& state_dir) {
  TaskOptions options;
  options.commit.job = "embed";
  options.commit.task = "0";
  options.commit.stores.push_back(
      {.name = "counts", .dir = state_dir + "/counts", .engine = StoreEngine::kRocksDb});
  return options;
}

// A run of the task: Init restores the last checkpoint's store and returns its offsets;
// the task adds `words` to its store and commits at offset `offset`.
Result<InputOffsets> Run(BlobStore& blobs, Executor& pool, const std::string& state_dir, int words,
                         const std::string& offset) {
  ASSIGN_OR_RETURN(auto task, TaskCommitter::Open(blobs, pool, Options(state_dir), nullptr));
  ASSIGN_OR_RETURN(InputOffsets resumed, task->Init());
  {
    ASSIGN_OR_RETURN(auto db,
                     RocksDbStore::Open(state_dir + "/counts", {.create_if_missing = true}));
    for (int i = 0; i < words; ++i) RETURN_IF_ERROR(db->Put("word" + std::to_string(i), "1"));
    RETURN_IF_ERROR(task->AddStore("counts", RocksDbSnapshotter(*db)));
    if (words > 0) RETURN_IF_ERROR(task->Commit({{"input-0", offset}}).status());
    RETURN_IF_ERROR(task->Close());
  }
  return resumed;
}

Status Main(const std::string& work) {
  if (!std::filesystem::create_directory(work)) {
    return InvalidArgumentError("work directory " + work + " exists already");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> blobs,
                   OpenBlobStore("file://" + work + "/blobs", BlobStoreOptions{}));
  ThreadPool pool("commit", 2);

  // First host: 1,000 words, committed at offset 1000.
  RETURN_IF_ERROR(Run(*blobs, pool, work + "/host1", 1000, "1000").status());
  // Second host, empty disk: Init restores the store and returns the committed offsets.
  ASSIGN_OR_RETURN(InputOffsets offsets, Run(*blobs, pool, work + "/host2", 0, ""));
  ASSIGN_OR_RETURN(auto db, RocksDbStore::Open(work + "/host2/counts", {}));
  ASSIGN_OR_RETURN(std::optional<std::string> word, db->Get("word999"));
  if (offsets["input-0"] != "1000" || word != "1") {
    return InternalError("restored offset '" + offsets["input-0"] + "', word999 '" +
                         word.value_or("<missing>") + "'; want '1000' and '1'");
  }
  std::printf("restored on a new host: offset %s, word999=%s\n", offsets["input-0"].c_str(),
              word->c_str());
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: embed WORK_DIR\n");
    return 2;
  }
  Status s = Main(argv[1]);
  if (!s.ok()) {
    std::fprintf(stderr, "embed: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
