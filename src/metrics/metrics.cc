#include "blobstate/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "util/fs.h"

namespace blobstate {
namespace {

using CounterFamily = prometheus::Family<prometheus::Counter>;

constexpr std::string_view kAllStores = "_all";

// One value of the label "kind" of files_total and bytes_total, and its StoreFigures fields.
struct Kind {
  std::string_view name;
  uint64_t StoreFigures::*files;
  uint64_t StoreFigures::*bytes;
  Flow flow;  // the flow whose series of this kind exist even at 0
};

constexpr std::array<Kind, 5> kKinds = {{
    {"uploaded", &StoreFigures::files_uploaded, &StoreFigures::bytes_uploaded, Flow::kBackup},
    {"retained", &StoreFigures::files_retained, &StoreFigures::bytes_retained, Flow::kBackup},
    {"removed", &StoreFigures::files_removed, &StoreFigures::bytes_removed, Flow::kBackup},
    {"downloaded", &StoreFigures::files_downloaded, &StoreFigures::bytes_downloaded,
     Flow::kRestore},
    {"reused", &StoreFigures::files_reused, &StoreFigures::bytes_reused, Flow::kRestore},
}};

CounterFamily& Register(prometheus::Registry& registry, const std::string& name,
                        const std::string& help) {
  return prometheus::BuildCounter().Name("blobstate_" + name).Help(help).Register(registry);
}

// The stores a record adds to: `store` and the total, or the total alone when it is `store`.
std::vector<std::string> StoresOf(std::string_view store) {
  if (store == kAllStores) return {std::string(kAllStores)};
  return {std::string(store), std::string(kAllStores)};
}

// Sorts the series of every family by labels: the registry keeps them in hash order, and a
// stable order keeps successive textfiles diffable.
void SortSeries(std::vector<prometheus::MetricFamily>& families) {
  for (prometheus::MetricFamily& family : families) {
    std::sort(family.metric.begin(), family.metric.end(),
              [](const prometheus::ClientMetric& a, const prometheus::ClientMetric& b) {
                return a.label < b.label;
              });
  }
}

}  // namespace

std::string_view FlowName(Flow flow) {
  switch (flow) {
    case Flow::kBackup:
      return "backup";
    case Flow::kRestore:
      return "restore";
  }
  return "unknown";
}

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kInit:
      return "init";
    case Phase::kDiff:
      return "diff";
    case Phase::kUpload:
      return "upload";
    case Phase::kIndex:
      return "index";
    case Phase::kPersist:
      return "persist";
    case Phase::kCleanup:
      return "cleanup";
    case Phase::kDownload:
      return "download";
  }
  return "unknown";
}

StoreFigures& StoreFigures::operator+=(const StoreFigures& other) {
  for (const Kind& kind : kKinds) {
    this->*kind.files += other.*kind.files;
    this->*kind.bytes += other.*kind.bytes;
  }
  for (const auto& [phase, duration] : other.durations) durations[phase] += duration;
  return *this;
}

struct Metrics::Families {
  explicit Families(prometheus::Registry& registry)
      : files(Register(registry, "files_total", "Files handled by a flow, by kind.")),
        bytes(Register(registry, "bytes_total", "Bytes of the files handled, by kind.")),
        phase_seconds(Register(registry, "phase_seconds_total",
                               "Seconds spent in each phase of successful flows.")),
        runs(Register(registry, "runs_total", "Flows run, by outcome.")),
        errors(Register(registry, "errors_total", "Failed flows, by the phase that failed.")),
        retries(Register(registry, "blob_store_retries_total",
                         "Retried blob store calls, by method.")) {}

  // Adds `figures` and one successful run to the series of `store`.
  void AddFigures(Flow flow_enum, const std::string& store, const StoreFigures& figures) {
    const std::string flow(FlowName(flow_enum));
    for (const Kind& kind : kKinds) {
      const uint64_t file_count = figures.*kind.files;
      const uint64_t byte_count = figures.*kind.bytes;
      if (kind.flow != flow_enum && file_count == 0 && byte_count == 0) continue;
      const prometheus::Labels labels{
          {"flow", flow}, {"store", store}, {"kind", std::string(kind.name)}};
      files.Add(labels).Increment(static_cast<double>(file_count));
      bytes.Add(labels).Increment(static_cast<double>(byte_count));
    }
    for (const auto& [phase, duration] : figures.durations) AddPhase(flow, store, phase, duration);
    CountRun(flow, store, "ok");
  }

  void AddPhase(const std::string& flow, const std::string& store, Phase phase,
                std::chrono::nanoseconds duration) {
    phase_seconds.Add({{"flow", flow}, {"store", store}, {"phase", std::string(PhaseName(phase))}})
        .Increment(std::chrono::duration<double>(duration).count());
  }

  // Adds one run with `outcome` and creates the other outcome's series at 0.
  void CountRun(const std::string& flow, const std::string& store, std::string_view outcome) {
    for (std::string_view each : {"ok", "error"}) {
      runs.Add({{"flow", flow}, {"store", store}, {"outcome", std::string(each)}})
          .Increment(each == outcome ? 1.0 : 0.0);
    }
  }

  CounterFamily& files;
  CounterFamily& bytes;
  CounterFamily& phase_seconds;
  CounterFamily& runs;
  CounterFamily& errors;
  CounterFamily& retries;
  // Held shared by Record and RecordError, exclusively by PrometheusText while it collects:
  // a collection sees each record whole. The counters themselves are atomic.
  std::shared_mutex record_mu;
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)) {}

Metrics::~Metrics() = default;

void Metrics::Record(Flow flow, std::string_view store, const StoreFigures& figures) {
  std::shared_lock lock(families_->record_mu);
  for (const std::string& each : StoresOf(store)) families_->AddFigures(flow, each, figures);
}

void Metrics::RecordPhase(Flow flow, std::string_view store, Phase phase,
                          std::chrono::nanoseconds duration) {
  const std::string flow_name(FlowName(flow));
  std::shared_lock lock(families_->record_mu);
  for (const std::string& each : StoresOf(store)) {
    families_->AddPhase(flow_name, each, phase, duration);
  }
}

void Metrics::RecordError(Flow flow, std::string_view store, Phase phase) {
  const std::string flow_name(FlowName(flow));
  const std::string phase_name(PhaseName(phase));
  std::shared_lock lock(families_->record_mu);
  for (const std::string& each : StoresOf(store)) {
    families_->errors.Add({{"flow", flow_name}, {"store", each}, {"phase", phase_name}})
        .Increment();
    families_->CountRun(flow_name, each, "error");
  }
}

void Metrics::RecordRetry(std::string_view method) {
  families_->retries.Add({{"method", std::string(method)}}).Increment();
}

std::string Metrics::PrometheusText() const {
  std::vector<prometheus::MetricFamily> collected;
  {
    std::unique_lock lock(families_->record_mu);
    collected = registry_->Collect();
  }
  SortSeries(collected);
  return prometheus::TextSerializer().Serialize(collected);
}

Status Metrics::WriteFile(const std::string& path) const {
  return WriteFileAtomic(path, PrometheusText()).WithContext("writing metrics to " + path);
}

std::shared_ptr<prometheus::Registry> Metrics::registry() const { return registry_; }

}  // namespace blobstate
