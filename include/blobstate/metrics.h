// Metrics: where blobstate's figures go (a MetricsSink), and what it records there.
//
// A MetricsSink takes counters and histograms by name and labels. PrometheusTextSink keeps
// them and renders the Prometheus text format; prometheus_cpp.h adapts a prometheus-cpp
// registry (when built with it); an application may implement its own.
//
// Metrics records the flows: a flow (one backup or one restore of a task) reports, per
// store, the figures of StoreFigures; Metrics adds them to counters labelled {flow, store}
// and to the same counters labelled {flow, store="_all"} (the total over stores).
// Durations of each phase are counters of seconds, so rates and averages come out of
// Prometheus directly. A blob store opened with BlobStoreOptions::metrics records its
// requests (blob_store.h, NewMeteredBlobStore).
//
// Metric names (all prefixed "blobstate_"):
//   files_total{flow,store,kind}    kind: uploaded, retained, removed, downloaded, reused
//   bytes_total{flow,store,kind}    same kinds
//   phase_seconds_total{flow,store,phase}   phase: diff, upload, index, persist, cleanup,
//                                           download, init
//   runs_total{flow,store,outcome}  outcome: ok, error
//   errors_total{flow,store,phase}  failures, by the phase that failed
//   blob_store_requests_total{method,code}  blob store calls (each attempt), by outcome
//   blob_store_request_seconds{method}      their latency (histogram, kLatencyBuckets)
//   blob_store_bytes_total{method}          bytes put and got
//   blob_store_retries_total{method}        retried blob store calls
// Methods: put, get, delete, remove-ttl, expiry-of, list-blobs, delete-expired, flush,
// put-object, get-object, delete-object, list-objects. Codes: StatusCodeName ("OK", ...).
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
// Thread-safe: any thread may record while another reads the sink. Each Record and
// RecordError reaches the sink as one Apply, so a sink that applies atomically (as
// PrometheusTextSink does) shows a store's series and the total in agreement.
//
// Example:
//   PrometheusTextSink sink;
//   Metrics metrics(sink);
//   metrics.Record(Flow::kBackup, "profile", figures);
//   RETURN_IF_ERROR(sink.WriteFile("/var/run/blobstate.prom"));
#ifndef BLOBSTATE_METRICS_H_
#define BLOBSTATE_METRICS_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "blobstate/status.h"

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

// Labels of a series: (name, value) pairs. Sinks sort them by name.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { kCounter, kHistogram };

// One change to a metric: `value` added to a counter (>= 0), or observed by a histogram.
struct MetricUpdate {
  std::string name;  // "blobstate_files_total"
  std::string_view help;
  MetricType type = MetricType::kCounter;
  MetricLabels labels;
  double value = 0;
};

// The upper bounds (seconds) of the buckets of every histogram blobstate records.
inline constexpr double kLatencyBuckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60};

// Where metrics go. Implementations are thread-safe, and Apply is quick: it is called on
// the threads that do the work (blob store requests among them).
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  // Applies `updates` together: what reads the sink sees all of them or none.
  virtual void Apply(std::span<const MetricUpdate> updates) = 0;
};

// A MetricsSink that keeps every series in memory and renders the Prometheus text format.
class PrometheusTextSink final : public MetricsSink {
 public:
  void Apply(std::span<const MetricUpdate> updates) override;

  // Everything applied, in the Prometheus text exposition format (version 0.0.4): per
  // family (by name) "# HELP" and "# TYPE", then one line per series, labels sorted by name
  // and series sorted by labels; a histogram as its cumulative buckets, sum and count.
  // Empty before the first update.
  std::string Text() const;
  // Writes Text() to `path` atomically (temp file, fsync, rename), for the node exporter's
  // textfile collector. Errors name the path; on error the previous content of `path`, if
  // any, is left as it was.
  Status WriteFile(const std::string& path) const;
  // The series of counter `name`: labels (sorted by name) -> value.
  std::map<MetricLabels, double> Counter(std::string_view name) const;

 private:
  struct Series {
    double value = 0;               // a counter's value; a histogram's sum
    std::vector<uint64_t> buckets;  // a histogram's counts per kLatencyBuckets bound, and +Inf
  };
  struct Family {
    std::string help;
    MetricType type = MetricType::kCounter;
    std::map<MetricLabels, Series> series;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;  // GUARDED_BY(mu_)
};

// Records the figures of backup and restore flows into a sink (see above).
class Metrics {
 public:
  // `sink` must outlive this.
  explicit Metrics(MetricsSink& sink) : sink_(sink) {}
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

  MetricsSink& sink() const { return sink_; }

 private:
  MetricsSink& sink_;
};

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_METRICS_H_
