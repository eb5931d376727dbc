#include "blobstate/metrics.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "blobstate/prometheus_cpp.h"
#include "testing/temp_dir.h"
#include "util/fs.h"

namespace blobstate {
namespace {

using std::chrono::milliseconds;

// The lines of `text`, for exact-line assertions.
std::set<std::string> Lines(const std::string& text) {
  std::set<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.insert(line);
  return lines;
}

// The samples of `text`: "name{labels}" -> value. Adds a failure for a malformed line.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) {
      ADD_FAILURE() << "malformed sample line: " << line;
      continue;
    }
    char* end = nullptr;
    const std::string value = line.substr(space + 1);
    samples[line.substr(0, space)] = std::strtod(value.c_str(), &end);
    EXPECT_EQ(*end, '\0') << "malformed value in: " << line;
  }
  return samples;
}

// The sum of the samples of `name` whose labels contain `with` but not store="_all".
double SumOverStores(const std::map<std::string, double>& samples, const std::string& name,
                     const std::string& with) {
  double sum = 0;
  for (const auto& [key, value] : samples) {
    if (key.starts_with(name + "{") && key.find(with) != std::string::npos &&
        key.find("store=\"_all\"") == std::string::npos) {
      sum += value;
    }
  }
  return sum;
}

StoreFigures Backup(uint64_t files, uint64_t bytes) {
  StoreFigures f;
  f.files_uploaded = files;
  f.bytes_uploaded = bytes;
  return f;
}

TEST(StoreFiguresTest, AddsFiguresAndDurations) {
  StoreFigures a = Backup(1, 10);
  a.files_retained = 2;
  a.bytes_reused = 5;
  a.durations[Phase::kDiff] = milliseconds(100);
  StoreFigures b = Backup(3, 30);
  b.files_removed = 4;
  b.bytes_removed = 40;
  b.files_downloaded = 6;
  b.bytes_downloaded = 60;
  b.files_reused = 7;
  b.bytes_retained = 20;
  b.durations[Phase::kDiff] = milliseconds(50);
  b.durations[Phase::kUpload] = milliseconds(200);

  a += b;

  StoreFigures want;
  want.files_uploaded = 4;
  want.bytes_uploaded = 40;
  want.files_retained = 2;
  want.bytes_retained = 20;
  want.files_removed = 4;
  want.bytes_removed = 40;
  want.files_downloaded = 6;
  want.bytes_downloaded = 60;
  want.files_reused = 7;
  want.bytes_reused = 5;
  want.durations = {{Phase::kDiff, milliseconds(150)}, {Phase::kUpload, milliseconds(200)}};
  EXPECT_EQ(a, want);
  EXPECT_NE(a, StoreFigures{});
}

TEST(MetricsTest, NamesAreTheLabelValues) {
  EXPECT_EQ(FlowName(Flow::kBackup), "backup");
  EXPECT_EQ(FlowName(Flow::kRestore), "restore");
  const std::map<Phase, std::string_view> want = {
      {Phase::kInit, "init"},        {Phase::kDiff, "diff"},       {Phase::kUpload, "upload"},
      {Phase::kIndex, "index"},      {Phase::kPersist, "persist"}, {Phase::kCleanup, "cleanup"},
      {Phase::kDownload, "download"}};
  for (const auto& [phase, name] : want) EXPECT_EQ(PhaseName(phase), name);
}

TEST(MetricsTest, RecordsPerStoreAndTotal) {
  PrometheusTextSink sink;
  Metrics metrics(sink);
  StoreFigures profile = Backup(2, 100);
  profile.files_retained = 5;
  profile.bytes_retained = 500;
  profile.durations[Phase::kDiff] = milliseconds(1500);
  profile.durations[Phase::kUpload] = milliseconds(250);
  StoreFigures cart = Backup(1, 200);
  cart.durations[Phase::kUpload] = milliseconds(500);
  metrics.Record(Flow::kBackup, "profile", profile);
  metrics.Record(Flow::kBackup, "cart", cart);

  const std::set<std::string> lines = Lines(sink.Text());
  for (const char* want : {
           R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="_all"} 300)",
           R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="profile"} 100)",
           R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="cart"} 200)",
           R"(blobstate_files_total{flow="backup",kind="uploaded",store="_all"} 3)",
           R"(blobstate_files_total{flow="backup",kind="retained",store="_all"} 5)",
           R"(blobstate_bytes_total{flow="backup",kind="retained",store="profile"} 500)",
           R"(blobstate_files_total{flow="backup",kind="retained",store="cart"} 0)",
           R"(blobstate_files_total{flow="backup",kind="removed",store="cart"} 0)",
           R"(blobstate_phase_seconds_total{flow="backup",phase="diff",store="profile"} 1.5)",
           R"(blobstate_phase_seconds_total{flow="backup",phase="diff",store="_all"} 1.5)",
           R"(blobstate_phase_seconds_total{flow="backup",phase="upload",store="_all"} 0.75)",
           R"(blobstate_runs_total{flow="backup",outcome="ok",store="profile"} 1)",
           R"(blobstate_runs_total{flow="backup",outcome="ok",store="_all"} 2)",
           R"(blobstate_runs_total{flow="backup",outcome="error",store="_all"} 0)",
       }) {
    EXPECT_TRUE(lines.contains(want)) << "missing: " << want;
  }
  // Series of the other flow's kinds, of phases not run and of errors are not created.
  const std::string text = sink.Text();
  EXPECT_EQ(text.find("kind=\"downloaded\""), std::string::npos) << text;
  EXPECT_EQ(text.find("phase=\"diff\",store=\"cart\""), std::string::npos) << text;
  EXPECT_EQ(text.find("blobstate_errors_total"), std::string::npos) << text;
}

TEST(MetricsTest, OtherFlowKindsAppearWhenNotZero) {
  PrometheusTextSink sink;
  Metrics metrics(sink);
  StoreFigures restore;
  restore.files_downloaded = 4;
  restore.bytes_downloaded = 40;
  restore.files_uploaded = 1;  // not a restore kind, but not 0 either
  metrics.Record(Flow::kRestore, "profile", restore);
  const std::set<std::string> lines = Lines(sink.Text());
  EXPECT_TRUE(
      lines.contains(R"(blobstate_files_total{flow="restore",kind="downloaded",store="_all"} 4)"));
  EXPECT_TRUE(
      lines.contains(R"(blobstate_bytes_total{flow="restore",kind="reused",store="profile"} 0)"));
  EXPECT_TRUE(
      lines.contains(R"(blobstate_files_total{flow="restore",kind="uploaded",store="profile"} 1)"));
  EXPECT_FALSE(
      lines.contains(R"(blobstate_files_total{flow="restore",kind="retained",store="_all"} 0)"));
}

TEST(MetricsTest, RecordingUnderAllCountsOnce) {
  PrometheusTextSink sink;
  Metrics metrics(sink);
  metrics.Record(Flow::kBackup, "_all", Backup(1, 7));
  const std::map<std::string, double> samples = Samples(sink.Text());
  EXPECT_EQ(samples.at(R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="_all"})"), 7);
  EXPECT_EQ(samples.at(R"(blobstate_runs_total{flow="backup",outcome="ok",store="_all"})"), 1);
}

TEST(MetricsTest, RecordPhaseAddsTimeWithoutCountingARun) {
  PrometheusTextSink sink;
  Metrics metrics(sink);
  metrics.Record(Flow::kBackup, "s", Backup(1, 7));
  metrics.RecordPhase(Flow::kBackup, "_all", Phase::kPersist, milliseconds(250));
  metrics.RecordPhase(Flow::kBackup, "_all", Phase::kPersist, milliseconds(250));
  const std::map<std::string, double> samples = Samples(sink.Text());
  EXPECT_EQ(samples.at(R"(blobstate_runs_total{flow="backup",outcome="ok",store="_all"})"), 1);
  EXPECT_EQ(
      samples.at(R"(blobstate_phase_seconds_total{flow="backup",phase="persist",store="_all"})"),
      0.5);
  EXPECT_FALSE(samples.contains(
      R"(blobstate_phase_seconds_total{flow="backup",phase="persist",store="s"})"));
}

TEST(MetricsTest, PrometheusTextHasHelpTypeAndLabels) {
  PrometheusTextSink sink;
  Metrics metrics(sink);
  EXPECT_EQ(sink.Text(), "");  // no series yet, no families
  metrics.Record(Flow::kBackup, "we\"ird\\store", Backup(1, 1));
  metrics.RecordError(Flow::kBackup, "profile", Phase::kPersist);
  const std::string text = sink.Text();
  const std::set<std::string> lines = Lines(text);

  for (const char* name : {"files_total", "bytes_total", "runs_total", "errors_total"}) {
    const std::string family = std::string("blobstate_") + name;
    EXPECT_TRUE(lines.contains("# TYPE " + family + " counter")) << family << "\n" << text;
    bool has_help = false;
    for (const std::string& line : lines) has_help |= line.starts_with("# HELP " + family + " ");
    EXPECT_TRUE(has_help) << family << "\n" << text;
  }
  // Label values are escaped; labels come sorted by name.
  EXPECT_TRUE(lines.contains(
      R"(blobstate_files_total{flow="backup",kind="uploaded",store="we\"ird\\store"} 1)"))
      << text;
  // Every sample line is "name{labels} value" with a known family name.
  for (const auto& [key, value] : Samples(text)) {
    EXPECT_TRUE(key.starts_with("blobstate_")) << key;
    EXPECT_TRUE(key.ends_with("}")) << key;
  }
  // The text ends with a newline, as the textfile collector requires.
  EXPECT_TRUE(text.ends_with("\n"));
}

TEST(MetricsTest, ErrorsAreCounted) {
  PrometheusTextSink sink;
  Metrics metrics(sink);
  metrics.RecordError(Flow::kRestore, "profile", Phase::kDownload);
  metrics.RecordError(Flow::kRestore, "profile", Phase::kDownload);
  metrics.RecordError(Flow::kRestore, "cart", Phase::kInit);
  metrics.Record(Flow::kRestore, "cart", StoreFigures{});

  const std::set<std::string> lines = Lines(sink.Text());
  for (const char* want : {
           R"(blobstate_errors_total{flow="restore",phase="download",store="profile"} 2)",
           R"(blobstate_errors_total{flow="restore",phase="download",store="_all"} 2)",
           R"(blobstate_errors_total{flow="restore",phase="init",store="cart"} 1)",
           R"(blobstate_errors_total{flow="restore",phase="init",store="_all"} 1)",
           R"(blobstate_runs_total{flow="restore",outcome="error",store="profile"} 2)",
           R"(blobstate_runs_total{flow="restore",outcome="ok",store="profile"} 0)",
           R"(blobstate_runs_total{flow="restore",outcome="error",store="_all"} 3)",
           R"(blobstate_runs_total{flow="restore",outcome="ok",store="_all"} 1)",
       }) {
    EXPECT_TRUE(lines.contains(want)) << "missing: " << want;
  }
}

TEST(MetricsTest, WriteFileIsAtomicAndNamesPathOnError) {
  testing::TempDir dir;
  PrometheusTextSink sink;
  Metrics metrics(sink);
  metrics.Record(Flow::kBackup, "profile", Backup(1, 10));
  const std::string path = dir.Sub("blobstate.prom");
  ASSERT_TRUE(WriteFileAtomic(path, "old content\n").ok());

  ASSERT_TRUE(sink.WriteFile(path).ok());
  EXPECT_EQ(*ReadSmallFile(path), sink.Text());
  // Only the file itself is left: the temp file was renamed over it.
  std::vector<std::string> entries;
  DIR* d = opendir(dir.path().c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") {
      entries.push_back(e->d_name);
    }
  }
  closedir(d);
  EXPECT_EQ(entries, std::vector<std::string>{"blobstate.prom"});

  const std::string bad = dir.Sub("missing-dir/blobstate.prom");
  Status s = sink.WriteFile(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find(bad), std::string::npos) << s;
}

// Writers record while a reader serializes: every serialization has the total equal to the
// sum over stores, and the final figures are exact.
TEST(MetricsTest, ConcurrentRecordingIsConsistent) {
  constexpr int kWriters = 4;
  constexpr int kRecordsPerWriter = 500;
  PrometheusTextSink sink;
  Metrics metrics(sink);
  std::atomic<bool> done = false;
  std::atomic<int> snapshots = 0;
  std::thread reader([&] {
    while (!done.load() || snapshots.load() == 0) {
      const std::map<std::string, double> samples = Samples(sink.Text());
      const std::string all_bytes =
          R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="_all"})";
      const std::string all_runs =
          R"(blobstate_runs_total{flow="backup",outcome="ok",store="_all"})";
      const double bytes = samples.contains(all_bytes) ? samples.at(all_bytes) : 0;
      const double runs = samples.contains(all_runs) ? samples.at(all_runs) : 0;
      EXPECT_EQ(bytes, SumOverStores(samples, "blobstate_bytes_total", "kind=\"uploaded\""));
      EXPECT_EQ(runs, SumOverStores(samples, "blobstate_runs_total", "outcome=\"ok\""));
      EXPECT_EQ(bytes, 3 * runs);
      snapshots.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&metrics] {
      StoreFigures figures = Backup(1, 3);
      figures.durations[Phase::kUpload] = milliseconds(1);
      for (int i = 0; i < kRecordsPerWriter; ++i) {
        metrics.Record(Flow::kBackup, "store" + std::to_string(i % 3), figures);
      }
    });
  }
  for (std::thread& t : writers) t.join();
  done = true;
  reader.join();

  const std::map<std::string, double> samples = Samples(sink.Text());
  constexpr double kRuns = kWriters * kRecordsPerWriter;
  EXPECT_EQ(samples.at(R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="_all"})"),
            3 * kRuns);
  EXPECT_EQ(samples.at(R"(blobstate_files_total{flow="backup",kind="uploaded",store="_all"})"),
            kRuns);
  EXPECT_EQ(samples.at(R"(blobstate_runs_total{flow="backup",outcome="ok",store="_all"})"), kRuns);
  EXPECT_NEAR(
      samples.at(R"(blobstate_phase_seconds_total{flow="backup",phase="upload",store="_all"})"),
      kRuns * 0.001, 1e-9);
  EXPECT_GT(snapshots.load(), 0);
}

TEST(PrometheusTextSinkTest, HistogramHasCumulativeBucketsSumAndCount) {
  PrometheusTextSink sink;
  const MetricUpdate updates[] = {
      {.name = "x_seconds",
       .help = "X.",
       .type = MetricType::kHistogram,
       .labels = {{"method", "get"}},
       .value = 0.003},
      {.name = "x_seconds",
       .help = "X.",
       .type = MetricType::kHistogram,
       .labels = {{"method", "get"}},
       .value = 0.5},
      {.name = "x_seconds",
       .help = "X.",
       .type = MetricType::kHistogram,
       .labels = {{"method", "get"}},
       .value = 100},
      {.name = "x_seconds", .help = "not a counter", .labels = {{"method", "get"}}, .value = 7},
  };
  sink.Apply(updates);
  const std::set<std::string> lines = Lines(sink.Text());
  for (const char* want : {
           "# HELP x_seconds X.",
           "# TYPE x_seconds histogram",
           R"(x_seconds_bucket{method="get",le="0.001"} 0)",
           R"(x_seconds_bucket{method="get",le="0.005"} 1)",
           R"(x_seconds_bucket{method="get",le="0.1"} 1)",
           R"(x_seconds_bucket{method="get",le="0.5"} 2)",
           R"(x_seconds_bucket{method="get",le="60"} 2)",
           R"(x_seconds_bucket{method="get",le="+Inf"} 3)",
           R"(x_seconds_sum{method="get"} 100.503)",
           R"(x_seconds_count{method="get"} 3)",
       }) {
    EXPECT_TRUE(lines.contains(want)) << "missing: " << want << "\n" << sink.Text();
  }
  EXPECT_TRUE(sink.Counter("x_seconds").empty());  // the counter update of it was dropped
}

TEST(PrometheusTextSinkTest, CountersAreSummedPerSortedLabelSet) {
  PrometheusTextSink sink;
  const MetricUpdate updates[] = {
      {.name = "c_total", .help = "C.", .labels = {{"b", "1"}, {"a", "2"}}, .value = 2},
      {.name = "c_total", .help = "C.", .labels = {{"a", "2"}, {"b", "1"}}, .value = 3},
      {.name = "c_total", .help = "C.", .labels = {{"a", "3"}}, .value = -1},  // ignored
  };
  sink.Apply(updates);
  const std::map<MetricLabels, double> series = sink.Counter("c_total");
  EXPECT_EQ(series.at(MetricLabels{{"a", "2"}, {"b", "1"}}), 5);
  EXPECT_EQ(series.at(MetricLabels{{"a", "3"}}), 0);
  EXPECT_TRUE(Lines(sink.Text()).contains(R"(c_total{a="2",b="1"} 5)")) << sink.Text();
}

TEST(PrometheusCppSinkTest, UpdatesReachTheRegistry) {
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MetricsSink> sink = NewPrometheusCppSink(registry);
  Metrics metrics(*sink);
  metrics.Record(Flow::kBackup, "profile", Backup(2, 20));
  const MetricUpdate latency{.name = "blobstate_blob_store_request_seconds",
                             .help = "Latency.",
                             .type = MetricType::kHistogram,
                             .labels = {{"method", "get"}},
                             .value = 0.02};
  sink->Apply({&latency, 1});
  const std::set<std::string> lines =
      Lines(prometheus::TextSerializer().Serialize(registry->Collect()));
  for (const char* want : {
           R"(blobstate_files_total{flow="backup",kind="uploaded",store="_all"} 2)",
           R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="profile"} 20)",
           R"(blobstate_blob_store_request_seconds_count{method="get"} 1)",
           R"(blobstate_blob_store_request_seconds_bucket{method="get",le="0.05"} 1)",
       }) {
    EXPECT_TRUE(lines.contains(want)) << "missing: " << want;
  }
}

}  // namespace
}  // namespace blobstate
