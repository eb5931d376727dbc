#include "blobstate/metrics.h"

#include <algorithm>
#include <array>
#include <vector>

namespace blobstate {
namespace {

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

// The stores a record adds to: `store` and the total, or the total alone when it is `store`.
std::vector<std::string> StoresOf(std::string_view store) {
  if (store == kAllStores) return {std::string(kAllStores)};
  return {std::string(store), std::string(kAllStores)};
}

constexpr std::string_view kFilesHelp = "Files handled by a flow, by kind.";
constexpr std::string_view kBytesHelp = "Bytes of the files handled, by kind.";
constexpr std::string_view kPhaseHelp = "Seconds spent in each phase of successful flows.";
constexpr std::string_view kRunsHelp = "Flows run, by outcome.";
constexpr std::string_view kErrorsHelp = "Failed flows, by the phase that failed.";

void AddPhase(std::vector<MetricUpdate>& out, const std::string& flow, const std::string& store,
              Phase phase, std::chrono::nanoseconds duration) {
  out.push_back(
      {.name = "blobstate_phase_seconds_total",
       .help = kPhaseHelp,
       .labels = {{"flow", flow}, {"store", store}, {"phase", std::string(PhaseName(phase))}},
       .value = std::max(0.0, std::chrono::duration<double>(duration).count())});
}

// One run with `outcome`, and the other outcome's series at 0.
void CountRun(std::vector<MetricUpdate>& out, const std::string& flow, const std::string& store,
              std::string_view outcome) {
  for (std::string_view each : {"ok", "error"}) {
    out.push_back({.name = "blobstate_runs_total",
                   .help = kRunsHelp,
                   .labels = {{"flow", flow}, {"store", store}, {"outcome", std::string(each)}},
                   .value = each == outcome ? 1.0 : 0.0});
  }
}

// `figures` and one successful run, for the series of `store`.
void AddFigures(std::vector<MetricUpdate>& out, Flow flow_enum, const std::string& store,
                const StoreFigures& figures) {
  const std::string flow(FlowName(flow_enum));
  for (const Kind& kind : kKinds) {
    const uint64_t file_count = figures.*kind.files;
    const uint64_t byte_count = figures.*kind.bytes;
    if (kind.flow != flow_enum && file_count == 0 && byte_count == 0) continue;
    const MetricLabels labels{{"flow", flow}, {"store", store}, {"kind", std::string(kind.name)}};
    out.push_back({.name = "blobstate_files_total",
                   .help = kFilesHelp,
                   .labels = labels,
                   .value = static_cast<double>(file_count)});
    out.push_back({.name = "blobstate_bytes_total",
                   .help = kBytesHelp,
                   .labels = labels,
                   .value = static_cast<double>(byte_count)});
  }
  for (const auto& [phase, duration] : figures.durations) {
    AddPhase(out, flow, store, phase, duration);
  }
  CountRun(out, flow, store, "ok");
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

void Metrics::Record(Flow flow, std::string_view store, const StoreFigures& figures) {
  std::vector<MetricUpdate> updates;
  for (const std::string& each : StoresOf(store)) AddFigures(updates, flow, each, figures);
  sink_.Apply(updates);
}

void Metrics::RecordPhase(Flow flow, std::string_view store, Phase phase,
                          std::chrono::nanoseconds duration) {
  std::vector<MetricUpdate> updates;
  for (const std::string& each : StoresOf(store)) {
    AddPhase(updates, std::string(FlowName(flow)), each, phase, duration);
  }
  sink_.Apply(updates);
}

void Metrics::RecordError(Flow flow, std::string_view store, Phase phase) {
  const std::string flow_name(FlowName(flow));
  std::vector<MetricUpdate> updates;
  for (const std::string& each : StoresOf(store)) {
    updates.push_back(
        {.name = "blobstate_errors_total",
         .help = kErrorsHelp,
         .labels = {{"flow", flow_name}, {"store", each}, {"phase", std::string(PhaseName(phase))}},
         .value = 1});
    CountRun(updates, flow_name, each, "error");
  }
  sink_.Apply(updates);
}

}  // namespace blobstate
