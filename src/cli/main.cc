// blobstate: back up and restore state store directories to a blob store.
#include <malloc.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"

namespace blobstate::cli {
namespace {

struct Command {
  const char* name;
  const char* summary;
  Status (*run)(const std::vector<std::string>&, CommandOutput&);
};

constexpr Command kCommands[] = {
    {"backup", "commit a task's stores once: snapshot, upload, checkpoint, clean up",
     BackupCommand},
    {"restore", "restore a task's stores from its latest checkpoint (or any kept one)",
     RestoreCommand},
    {"checkpoints", "list the checkpoints a task keeps (latest, retained, pinned)",
     CheckpointsCommand},
    {"pin", "keep a checkpoint and its blobs until unpinned", PinCommand},
    {"unpin", "release a pinned checkpoint", UnpinCommand},
    {"verify", "download and check every file of a checkpoint", VerifyCommand},
    {"show", "print the trees of a checkpoint's snapshots, or of one snapshot", ShowCommand},
    {"gc", "delete what no kept checkpoint references (mark, then sweep)", GcCommand},
};

std::string Usage() {
  std::string out =
      "usage: blobstate COMMAND [flags]\n\n"
      "Backs up the state stores of stream-processing tasks (RocksDB or any directory) to a\n"
      "blob store at every commit, incrementally, and restores them on any host.\n"
      "Blob store URLs: file:///DIR (a local directory), s3://BUCKET/PREFIX?... (S3 or an\n"
      "S3-compatible store), azure://ACCOUNT/CONTAINER/PREFIX?... (README, \"Blob stores\").\n"
      "\ncommands:\n";
  for (const Command& c : kCommands) {
    std::string name = c.name;
    name.resize(14, ' ');
    out += "  " + name + c.summary + "\n";
  }
  out +=
      "\n'blobstate COMMAND --help' describes a command's flags.\n"
      "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";
  return out;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(Usage().c_str(), args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (args[0] != c.name) continue;
    CommandOutput out;
    Status s = c.run(std::vector<std::string>(args.begin() + 1, args.end()), out);
    if (s.ok()) return 0;
    std::fprintf(stderr, "blobstate %s: %s\n", c.name, s.ToString().c_str());
    if (out.json()) {
      out.Print("{\"error\":{\"code\":" + JsonString(StatusCodeName(s.code())) +
                ",\"message\":" + JsonString(s.message()) + "}}\n");
    }
    return out.usage_error() ? 2 : 1;
  }
  std::fprintf(stderr, "blobstate: unknown command '%s'\n\n%s", args[0].c_str(), Usage().c_str());
  return 2;
}

}  // namespace
}  // namespace blobstate::cli

int main(int argc, char** argv) {
  // glibc gives each thread that allocates an arena of its own; with the many short-lived
  // objects of a store of many files, the arenas held twice the heap in RSS. Two arenas
  // keep the RSS near the heap, at no measured cost in speed (README, "Memory").
  ::mallopt(M_ARENA_MAX, 2);
  return blobstate::cli::Main(argc, argv);
}
