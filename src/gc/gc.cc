#include "blobstate/gc.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <set>
#include <unordered_set>

#include "blobstate/checkpoint.h"
#include "blobstate/history.h"
#include "blobstate/index.h"
#include "blobstate/snapshot.h"
#include "blobstore/blob_ids.h"
#include "checkpoint/snapshot_util.h"

namespace blobstate {
namespace {

using Clock = std::chrono::system_clock;

// What the mark phase found.
struct Marks {
  std::unordered_set<std::string> blobs;  // marked snapshot indexes and their blobs
  std::set<std::string> skipped;          // "<job>/<task>/" of ids, whose blobs are not swept
  std::set<std::string> skipped_tasks;    // "<job>/<task>/" as named, whose history stays
  std::set<std::string> kept_history;     // history object names to keep
  std::vector<std::string> history;       // every history object name seen
};

// The gc run: options, counts and requests in flight.
class Run {
 public:
  Run(BlobStore& store, Executor& executor, const GcOptions& options,
      const GarbageCallback& on_garbage)
      : store_(store), executor_(executor), options_(options), on_garbage_(on_garbage) {}

  Status Mark();
  Status Sweep();
  Status SweepHistory();
  GcReport Report() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [job, counts] : report_.jobs) report_.total += counts;
    return report_;
  }

 private:
  void Count(const char* request, uint64_t n = 1) {
    std::lock_guard<std::mutex> lock(mu_);
    report_.requests[request] += n;
  }
  // The marks of one task; an error skips the task's blobs.
  Status MarkTask(const std::string& job, const std::string& task);
  // The task's kept checkpoints (latest, retained, pinned, its writer's base), whose
  // history objects are marked kept.
  Result<std::vector<Checkpoint>> KeptCheckpoints(const std::string& job, const std::string& task);
  // Decides about the unmarked `blob` whose TTL expires at `expires` (nullopt: none).
  Future<void> Decide(BlobInfo blob, std::optional<Clock::time_point> expires);
  // Adds `f` to the requests in flight, first waiting for the oldest if there are enough.
  // A request that fails is counted (Settle), and the sweep goes on.
  void Start(Future<void> f);
  void Drain();
  void Settle(const Result<void>& r);

  BlobStore& store_;
  Executor& executor_;
  const GcOptions& options_;
  const GarbageCallback& on_garbage_;
  Marks marks_;
  std::deque<Future<void>> in_flight_;
  std::mutex mu_;
  GcReport report_;  // GUARDED_BY(mu_)
};

std::string JobOf(const std::string& id) { return id.substr(0, id.find('/')); }

// "<job>/<task>/" of a blob id, or of an object name under "checkpoints/".
std::string TaskPrefixOf(const std::string& id) {
  size_t first = id.find('/');
  size_t second = first == std::string::npos ? first : id.find('/', first + 1);
  return second == std::string::npos ? "" : id.substr(0, second + 1);
}

Status Run::Mark() {
  const std::string base = "checkpoints/";
  // Blob ids carry job names cut to kMaxIdComponentSize bytes: the jobs whose names cut to
  // the collected job's share its blobs' prefix, and are marked with it (only a name of
  // that size or longer can share it).
  const std::string id_job = options_.job.empty() ? "" : SanitizeIdComponent(options_.job);
  const bool shared = id_job.size() == kMaxIdComponentSize;
  Result<std::vector<std::string>> names =
      store_.ListObjects(base + (options_.job.empty() || shared ? "" : options_.job + "/")).Get();
  Count("list-objects");
  if (!names.ok()) return names.status().WithContext("gc: listing of checkpoints");
  std::set<std::pair<std::string, std::string>> tasks;
  for (const std::string& name : *names) {
    std::string rest = name.substr(base.size());
    size_t a = rest.find('/'), b = a == std::string::npos ? a : rest.find('/', a + 1);
    if (b == std::string::npos) continue;  // not a task's object
    const std::string job = rest.substr(0, a);
    if (!options_.job.empty() && SanitizeIdComponent(job) != id_job) continue;
    tasks.emplace(job, rest.substr(a + 1, b - a - 1));
    const bool collected = options_.job.empty() || job == options_.job;
    if (collected && rest.compare(b + 1, 8, "history/") == 0) marks_.history.push_back(name);
  }
  // Tasks are marked in parallel, each on a thread of its own that waits for its reads
  // (their continuations run on executor_, never on these threads).
  ThreadPool markers("gc-mark", std::clamp<size_t>(options_.concurrency / 4, 1, 8));
  std::vector<Future<void>> marked;
  for (const auto& [job, task] : tasks) {
    marked.push_back(Async(markers, [this, job = job, task = task]() -> Status {
      Status s = MarkTask(job, task);
      std::lock_guard<std::mutex> lock(mu_);
      ++report_.tasks;
      if (!s.ok()) {
        marks_.skipped.insert(SanitizeIdComponent(job) + "/" + SanitizeIdComponent(task) + "/");
        marks_.skipped_tasks.insert(job + "/" + task + "/");
        report_.skipped.push_back(job + "/" + task + ": " + s.message());
      }
      return Status::Ok();
    }));
  }
  return AllOf(std::move(marked)).Get().status();
}

Result<std::vector<Checkpoint>> Run::KeptCheckpoints(const std::string& job,
                                                     const std::string& task) {
  ASSIGN_OR_RETURN(std::unique_ptr<CheckpointStore> checkpoints,
                   CheckpointStore::Open(store_, executor_, {}, job, task));
  // The pins before and after the latest checkpoint: a claim that rolls back to a pinned
  // checkpoint and an unpin after the first read leave it in the latest one's writer base;
  // a pin and a commit that lets its checkpoint go, after the first read, in the second.
  ASSIGN_OR_RETURN(std::vector<Pin> pins, checkpoints->ReadPins().Get());
  ASSIGN_OR_RETURN(std::optional<Checkpoint> latest, checkpoints->ReadLatest().Get());
  ASSIGN_OR_RETURN(std::vector<Pin> pins_after, checkpoints->ReadPins().Get());
  Count("get-object", 4);
  pins.insert(pins.end(), pins_after.begin(), pins_after.end());
  std::vector<Checkpoint> kept;
  std::vector<std::string> ids;
  if (latest) {
    ids = latest->retained;
    kept.push_back(*latest);
  }
  for (const Pin& p : pins) {
    if (!p.released && std::find(ids.begin(), ids.end(), p.checkpoint_id) == ids.end()) {
      ids.push_back(p.checkpoint_id);
    }
  }
  const std::string history = "checkpoints/" + job + "/" + task + "/history/";
  // A writer that rolled back builds its next commit on its base, if that is still kept
  // (a history object gone: a roll back that failed, or whose base its next commit let go),
  // and read here unless it is retained or pinned.
  std::string base = latest ? latest->writer_base : "";
  if (std::find(ids.begin(), ids.end(), base) != ids.end()) base.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (latest && !latest->id.empty()) marks_.kept_history.insert(history + latest->id);
    for (const std::string& id : ids) marks_.kept_history.insert(history + id);
    if (!base.empty()) marks_.kept_history.insert(history + base);
  }
  std::vector<Future<Checkpoint>> reads;
  for (const std::string& id : ids) reads.push_back(checkpoints->ReadHistory(id));
  Count("get-object", reads.size());
  ASSIGN_OR_RETURN(std::vector<Checkpoint> read, AllOf(std::move(reads)).Get());
  kept.insert(kept.end(), read.begin(), read.end());
  if (!base.empty()) {
    Count("get-object");
    Result<Checkpoint> based = checkpoints->ReadHistory(base).Get();
    if (based.ok()) kept.push_back(std::move(*based));
    if (!based.ok() && based.status().code() != StatusCode::kNotFound) return based.status();
  }
  return kept;
}

Status Run::MarkTask(const std::string& job, const std::string& task) {
  ASSIGN_OR_RETURN(std::vector<Checkpoint> kept, KeptCheckpoints(job, task));
  std::set<std::string> indexes;
  for (const Checkpoint& c : kept) {
    if (c.version < 2) continue;
    for (std::string_view key : {kBlobStoreBackend, kRemovedStoresKey}) {
      ASSIGN_OR_RETURN(StoreMarkers markers, BlobStoreMarkers(c, key));
      for (const auto& [store, id] : markers) indexes.insert(id);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    report_.checkpoints += kept.size();
    report_.snapshots += indexes.size();
    marks_.blobs.insert(indexes.begin(), indexes.end());
  }
  // One index at a time, a directory at a time: memory is the marked set, not the indexes.
  Count("get", indexes.size());
  for (const std::string& id : indexes) {
    FileVisitor mark = [this](const FileIndex& f, bool removed) {
      if (removed) return;
      std::lock_guard<std::mutex> lock(mu_);
      for (const FileBlob& b : f.blobs) marks_.blobs.insert(b.blob_id);
    };
    RETURN_IF_ERROR(VisitSnapshotFiles(store_, executor_, id, std::move(mark)).Get().status());
  }
  return Status::Ok();
}

void Run::Settle(const Result<void>& r) {
  if (r.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (report_.failed++ == 0) report_.first_failure = r.status().ToString();
}

void Run::Start(Future<void> f) {
  in_flight_.push_back(std::move(f));
  if (in_flight_.size() < std::max<size_t>(1, options_.concurrency)) return;
  Settle(std::move(in_flight_.front()).Get());
  in_flight_.pop_front();
}

void Run::Drain() {
  while (!in_flight_.empty()) {
    Settle(std::move(in_flight_.front()).Get());
    in_flight_.pop_front();
  }
}

Future<void> Run::Decide(BlobInfo blob, std::optional<Clock::time_point> expires) {
  const bool expired = expires && *expires < options_.now;
  const bool orphan = !expires && blob.modified < options_.now - options_.grace;
  {
    std::lock_guard<std::mutex> lock(mu_);
    GcCounts& c = report_.jobs[JobOf(blob.id)];
    if (expired) {
      ++c.expired;
      c.expired_bytes += blob.size;
    } else if (orphan) {
      ++c.orphans;
      c.orphan_bytes += blob.size;
    } else {
      ++(expires ? c.pending : c.young);
    }
    if ((expired || orphan) && on_garbage_)
      on_garbage_(blob, expired ? Garbage::kExpired : Garbage::kOrphan);
  }
  if ((!expired && !orphan) || options_.dry_run) return MakeReadyFuture();
  Count(expired ? "delete-expired" : "delete");
  Future<void> deleted =
      expired ? store_.DeleteExpired(blob.id, options_.now) : store_.Delete(blob.id);
  return std::move(deleted).Then(executor_, [this](Result<void> r) -> Result<void> {
    // Gone meanwhile, or its TTL removed meanwhile (kAborted): kept, no error.
    if (r.status().code() == StatusCode::kGone || r.status().code() == StatusCode::kAborted) {
      return {};
    }
    if (r.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++report_.deleted;
    }
    return r;
  });
}

Status Run::Sweep() {
  const std::string prefix = options_.job.empty() ? "" : SanitizeIdComponent(options_.job) + "/";
  std::string token;
  do {
    Result<BlobPage> page = store_.ListBlobs(prefix, token).Get();
    Count("list-blobs");
    if (!page.ok()) {
      Drain();
      return page.status().WithContext("gc: listing of blobs");
    }
    for (BlobInfo& blob : page->blobs) {
      const bool marked = marks_.blobs.contains(blob.id);
      {
        std::lock_guard<std::mutex> lock(mu_);
        GcCounts& c = report_.jobs[JobOf(blob.id)];
        ++c.blobs;
        c.bytes += blob.size;
        if (marked) ++c.marked;
        if (marked && blob.ttl_listed && blob.expires) ++c.ttl_debt;
      }
      if (marks_.skipped.contains(TaskPrefixOf(blob.id))) continue;
      if (marked && !(options_.ttl_debt && !blob.ttl_listed)) continue;
      Future<void> next;
      if (blob.ttl_listed) {
        const std::optional<Clock::time_point> expires = blob.expires;
        next = Decide(std::move(blob), expires);
      } else {
        Count("expiry-of");
        next = store_.ExpiryOf(blob.id).Then(
            executor_,
            [this, blob, marked](Result<std::optional<Clock::time_point>> expiry) -> Future<void> {
              if (expiry.status().code() == StatusCode::kNotFound) return MakeReadyFuture();
              if (!expiry.ok()) return MakeReadyFuture<void>(expiry.status());
              if (marked) {
                std::lock_guard<std::mutex> lock(mu_);
                if (expiry->has_value()) ++report_.jobs[JobOf(blob.id)].ttl_debt;
                return MakeReadyFuture();
              }
              return Decide(blob, *expiry);
            });
      }
      Start(std::move(next));
    }
    token = std::move(page->next);
  } while (!token.empty());
  Drain();
  return Status::Ok();
}

Status Run::SweepHistory() {
  for (const std::string& name : marks_.history) {
    if (marks_.kept_history.contains(name)) continue;
    std::string rest = name.substr(std::string("checkpoints/").size());
    if (marks_.skipped_tasks.contains(TaskPrefixOf(rest))) continue;  // "<job>/<task>/"
    std::optional<Clock::time_point> t = CheckpointTime(name.substr(name.rfind('/') + 1));
    if (!t || *t >= options_.now - options_.grace) continue;
    Result<void> r;
    if (!options_.dry_run) {
      Count("delete-object");
      r = store_.DeleteObject(name).Get();
    }
    if (r.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++report_.history_deleted;
    } else if (r.status().code() != StatusCode::kGone) {
      Settle(r);
    }
  }
  return Status::Ok();
}

}  // namespace

GcCounts& GcCounts::operator+=(const GcCounts& o) {
  blobs += o.blobs;
  bytes += o.bytes;
  marked += o.marked;
  expired += o.expired;
  expired_bytes += o.expired_bytes;
  orphans += o.orphans;
  orphan_bytes += o.orphan_bytes;
  young += o.young;
  pending += o.pending;
  ttl_debt += o.ttl_debt;
  return *this;
}

Result<GcReport> CollectGarbage(BlobStore& store, Executor& executor, const GcOptions& options,
                                const GarbageCallback& on_garbage) {
  // Checkpoints are listed under the name as given, blobs under its id component: a name
  // that the id sanitizes (say "a/b" for "a_b") would sweep another job with nothing marked.
  if (!options.job.empty())
    RETURN_IF_ERROR(CheckJobOrTaskName("job", options.job).WithContext("gc"));
  if (options.grace.count() < 0 || options.grace > kMaxPolicyPeriod) {
    return InvalidArgumentError("gc: the grace period must be 0 to 36500 days, not " +
                                std::to_string(options.grace.count()) + " s");
  }
  Run run(store, executor, options, on_garbage);
  RETURN_IF_ERROR(run.Mark());
  RETURN_IF_ERROR(run.Sweep());
  RETURN_IF_ERROR(run.SweepHistory());
  // Deletions are durable once flushed (file://, which also drops crashed puts' temp files).
  if (!options.dry_run) RETURN_IF_ERROR(store.Flush().Get().status().WithContext("gc: flush"));
  return run.Report();
}

}  // namespace blobstate
