#include "cli/task_flags.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "blobstate/commit.h"
#include "blobstate/index.h"
#include "cli/output.h"

namespace blobstate::cli {
namespace {

Result<std::vector<uint32_t>> ParseVersions(const std::string& text, const char* flag) {
  std::vector<uint32_t> versions;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos ||
        item.size() > 3) {
      return InvalidArgumentError(std::string("--") + flag + ": '" + text +
                                  "' is not a comma-separated list of versions");
    }
    versions.push_back(static_cast<uint32_t>(std::stoul(item)));
  }
  return versions;
}

bool IsRocksDb(const std::string& dir) {
  struct stat st;
  return ::stat((dir + "/CURRENT").c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The directory of a file:// blob store URL (relative to the working directory as given);
// "" for another scheme.
std::string FileBlobStoreDir(const std::string& url) {
  const size_t sep = url.find("://");
  if (sep == std::string::npos) return "";
  std::string scheme = url.substr(0, sep);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return scheme == "file" ? url.substr(sep + 3) : "";
}

std::string Secs(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

void TaskFlags::Register(Flags& flags, TaskFlagSet set) {
  flags.String("blob-store", &url, kBlobStoreUrlHelp, true);
  flags.String("job", &job, "job name", true);
  flags.String("task", &task, "task name", true);
  if (set.stores) flags.Repeated("store", &stores, "NAME=DIR: a store and its directory", true);
  if (set.checkpoint) {
    flags.String("checkpoint", &checkpoint_id,
                 "checkpoint id: the latest, or one retained or pinned (`blobstate checkpoints` "
                 "lists them; default: the latest)");
  }
  if (set.writes) {
    flags.String("checkpoint-write-versions", &write_versions,
                 "checkpoint versions written, e.g. 2 or 2,1 (default: 2)");
  }
  flags.String("checkpoint-read-versions", &read_versions,
               "checkpoint versions read, in order of preference (default: 2,1)");
  flags.Uint("io-threads", &io_threads, "parallel blob store requests (default: 16)");
  if (set.metrics) {
    flags.String("metrics-file", &metrics_file,
                 "write metrics in Prometheus text format here (also when the command fails)");
  }
  flags.Bool("json", &json, "print the result as JSON (a failure as {\"error\":...})");
}

Result<std::vector<StoreConfig>> TaskFlags::StoreConfigs() const {
  std::vector<StoreConfig> out;
  std::set<std::string> names;
  for (const std::string& s : stores) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size()) {
      return InvalidArgumentError("--store " + s + ": expected NAME=DIR");
    }
    StoreConfig c{.name = s.substr(0, eq), .dir = s.substr(eq + 1)};
    if (!IsValidName(c.name)) return InvalidArgumentError("--store " + s + ": invalid name");
    if (!names.insert(c.name).second) {
      return InvalidArgumentError("--store " + s + ": store " + c.name + " given twice");
    }
    while (c.dir.size() > 1 && c.dir.back() == '/') c.dir.pop_back();
    c.engine = IsRocksDb(c.dir) ? StoreEngine::kRocksDb : StoreEngine::kDirectory;
    out.push_back(std::move(c));
  }
  RETURN_IF_ERROR(ValidateStoreDirs(out, FileBlobStoreDir(url)));
  return out;
}

Result<CheckpointConfig> TaskFlags::Config() const {
  CheckpointConfig config;
  ASSIGN_OR_RETURN(config.write_versions,
                   ParseVersions(write_versions, "checkpoint-write-versions"));
  ASSIGN_OR_RETURN(config.read_versions, ParseVersions(read_versions, "checkpoint-read-versions"));
  RETURN_IF_ERROR(ValidateCheckpointConfig(config));
  return config;
}

Result<std::unique_ptr<TaskContext>> OpenTask(const TaskFlags& flags, bool backend, bool create) {
  ASSIGN_OR_RETURN(CheckpointConfig config, flags.Config());
  if (backend) RETURN_IF_ERROR(ValidateForBlobStoreBackend(config));
  if (flags.io_threads == 0 || flags.io_threads > 1024) {
    return InvalidArgumentError("--io-threads must be 1..1024");
  }
  auto task = std::make_unique<TaskContext>();
  task->pool =
      std::make_unique<ThreadPool>("cli", std::max(2u, std::thread::hardware_concurrency()));
  BlobStoreOptions options{
      .io_threads = flags.io_threads, .must_exist = !create, .metrics = &task->sink};
  ASSIGN_OR_RETURN(task->store, OpenBlobStore(flags.url, options));
  ASSIGN_OR_RETURN(task->checkpoints,
                   CheckpointStore::Open(*task->store, *task->pool, config, flags.job, flags.task));
  task->config = std::move(config);
  return task;
}

std::string FiguresTable(const std::map<std::string, StoreFigures>& figures, bool backup) {
  char line[256];
  std::string out;
  std::snprintf(line, sizeof line, "  %-16s %8s %12s %8s %12s %8s %9s\n", "store",
                backup ? "uploaded" : "download", "bytes", backup ? "kept" : "reused", "bytes",
                backup ? "removed" : "", "seconds");
  out += line;
  StoreFigures total;
  auto row = [&](const std::string& name, const StoreFigures& f) {
    std::chrono::nanoseconds spent{0};
    for (const auto& [phase, d] : f.durations) spent += d;
    std::snprintf(line, sizeof line, "  %-16s %8llu %12s %8llu %12s %8s %9s\n", name.c_str(),
                  static_cast<unsigned long long>(backup ? f.files_uploaded : f.files_downloaded),
                  HumanBytes(backup ? f.bytes_uploaded : f.bytes_downloaded).c_str(),
                  static_cast<unsigned long long>(backup ? f.files_retained : f.files_reused),
                  HumanBytes(backup ? f.bytes_retained : f.bytes_reused).c_str(),
                  backup ? std::to_string(f.files_removed).c_str() : "", Secs(spent).c_str());
    out += line;
  };
  for (const auto& [name, f] : figures) {
    row(name, f);
    total += f;
  }
  if (figures.size() > 1) row("(total)", total);
  return out;
}

std::string FiguresJson(const std::map<std::string, StoreFigures>& figures,
                        const StoreFigures& shared) {
  std::string out = "{";
  StoreFigures total = shared;
  auto one = [](const StoreFigures& f) {
    std::string s = "{";
    auto add = [&](const char* k, uint64_t v) {
      s += "\"" + std::string(k) + "\":" + std::to_string(v) + ",";
    };
    add("files_uploaded", f.files_uploaded);
    add("bytes_uploaded", f.bytes_uploaded);
    add("files_retained", f.files_retained);
    add("bytes_retained", f.bytes_retained);
    add("files_removed", f.files_removed);
    add("bytes_removed", f.bytes_removed);
    add("files_downloaded", f.files_downloaded);
    add("bytes_downloaded", f.bytes_downloaded);
    add("files_reused", f.files_reused);
    add("bytes_reused", f.bytes_reused);
    s += "\"seconds\":{";
    bool first = true;
    for (const auto& [phase, d] : f.durations) {
      s += (first ? "" : ",") + JsonString(PhaseName(phase)) + ":" + Secs(d);
      first = false;
    }
    return s + "}}";
  };
  for (const auto& [name, f] : figures) {
    out += JsonString(name) + ":" + one(f) + ",";
    total += f;
  }
  return out + "\"_all\":" + one(total) + "}";
}

Status WriteMetrics(const TaskContext& task, const TaskFlags& flags) {
  if (flags.metrics_file.empty()) return Status::Ok();
  return task.sink.WriteFile(flags.metrics_file);
}

std::string BlobRequestsJson(const TaskContext& task) {
  std::map<std::string, uint64_t> by_method;
  for (const auto& [labels, n] : task.sink.Counter("blobstate_blob_store_requests_total")) {
    for (const auto& [name, value] : labels) {
      if (name == "method") by_method[value] += static_cast<uint64_t>(n);
    }
  }
  std::string json;
  for (const auto& [method, n] : by_method) {
    json += (json.empty() ? "" : ",") + JsonString(method) + ":" + std::to_string(n);
  }
  return "{" + json + "}";
}

std::string ProcessIoJson() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0, read = 0, written = 0;
  while (io >> key >> value) {
    if (key == "rchar:") read = value;
    if (key == "wchar:") written = value;
  }
  return "{\"read_bytes\":" + std::to_string(read) +
         ",\"written_bytes\":" + std::to_string(written) + "}";
}

}  // namespace blobstate::cli
