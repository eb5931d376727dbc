// Metrics of the backup and restore flows, exposed in the Prometheus text format.
//
// A flow (one backup or one restore of a task) reports, per store, the figures of
// StoreFigures; Metrics adds them to counters labelled {flow, store} and to the same
// counters labelled {flow, store="_all"} (the total over stores). Durations of each phase
// are counters of seconds, so rates and averages come out of Prometheus directly.
//
// Metric names (all prefixed "blobstate_"):
//   files_total{flow,store,kind}    kind: uploaded, retained, removed, downloaded, reused
//   bytes_total{flow,store,kind}    same kinds
//   phase_seconds_total{flow,store,phase}   phase: diff, upload, index, persist, cleanup,
//                                           download, init
//   runs_total{flow,store,outcome}  outcome: ok, error
//   errors_total{flow,store,phase}  failures, by the phase that failed
//   blob_store_retries_total{method}  retried blob store calls (put, get, delete, ...)
//
// Which series exist: Record creates the kinds of its flow even when 0 (backup: uploaded,
// retained, removed; restore: downloaded, reused), other kinds only when not 0, a phase
// only when it is in `durations`, and runs_total with both outcomes (the other one at 0),
// so that rate() and increase() see a series before its first increment. RecordError
// creates errors_total for its phase and both outcomes of runs_total.
//
// The store "_all" is the total: recording under it directly adds to the total once.
// Counters are doubles: figures are exact up to 2^53.
//
// Thread-safe: any thread may record while another serializes. PrometheusText and
// WriteFile see each Record and RecordError whole or not at all, so a store's series and
// the total always agree; collecting registry() directly gives no such guarantee.
//
// Example:
//   Metrics metrics;
//   metrics.Record(Flow::kBackup, "profile", figures);
//   RETURN_IF_ERROR(metrics.WriteFile("/var/run/blobstate.prom"));
#ifndef BLOBSTATE_METRICS_H_
#define BLOBSTATE_METRICS_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "blobstate/status.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

enum class Flow { kBackup, kRestore };
enum class Phase { kInit, kDiff, kUpload, kIndex, kPersist, kCleanup, kDownload };

// "backup", "restore"; "init", "diff", ...: the label values.
std::string_view FlowName(Flow flow);
std::string_view PhaseName(Phase phase);

// What one flow did to one store (or, summed, to all stores).
struct StoreFigures {
  uint64_t files_uploaded = 0;
  uint64_t bytes_uploaded = 0;
  uint64_t files_retained = 0;  // kept by reference from the previous snapshot
  uint64_t bytes_retained = 0;
  uint64_t files_removed = 0;  // no longer present since the previous snapshot
  uint64_t bytes_removed = 0;
  uint64_t files_downloaded = 0;
  uint64_t bytes_downloaded = 0;
  uint64_t files_reused = 0;  // restored from the local checkpoint, not downloaded
  uint64_t bytes_reused = 0;
  std::map<Phase, std::chrono::nanoseconds> durations;  // phases not run are absent

  // Adds every figure and duration of `other`.
  StoreFigures& operator+=(const StoreFigures& other);
  bool operator==(const StoreFigures&) const = default;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Adds a successful flow's figures for `store` and for the total, and counts one run
  // with outcome "ok". Negative durations are ignored (counters only go up).
  void Record(Flow flow, std::string_view store, const StoreFigures& figures);
  // Adds `duration` to `phase` of `store` (and of the total) without counting a run: for a
  // step that serves every store at once, recorded under "_all" (the checkpoint write).
  void RecordPhase(Flow flow, std::string_view store, Phase phase,
                   std::chrono::nanoseconds duration);
  // Counts a failed flow of `store` (and of the total), failed in `phase`.
  void RecordError(Flow flow, std::string_view store, Phase phase);
  // Counts one retried blob store call of `method` ("put", "get", "delete", ...).
  void RecordRetry(std::string_view method);

  // Everything recorded, in the Prometheus text exposition format (version 0.0.4): per
  // family "# HELP" and "# TYPE ... counter", then one line per series, labels sorted by
  // name and series sorted by labels. Families with no series yet are left out.
  std::string PrometheusText() const;
  // Writes PrometheusText() to `path` atomically (temp file, fsync, rename), for the node
  // exporter's textfile collector. Errors (those of WriteFileAtomic) name the path;
  // on error the previous content of `path`, if any, is left as it was.
  Status WriteFile(const std::string& path) const;

  // The underlying registry, e.g. to serve it with prometheus::Exposer. Callers include
  // <prometheus/registry.h> and link prometheus-cpp::core themselves.
  std::shared_ptr<prometheus::Registry> registry() const;

 private:
  struct Families;  // the counter families and the lock of the whole-record guarantee
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
};

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_METRICS_H_
