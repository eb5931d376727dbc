#include "blobstate/metrics.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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
  Metrics metrics;
  StoreFigures profile = Backup(2, 100);
  profile.files_retained = 5;
  profile.bytes_retained = 500;
  profile.durations[Phase::kDiff] = milliseconds(1500);
  profile.durations[Phase::kUpload] = milliseconds(250);
  StoreFigures cart = Backup(1, 200);
  cart.durations[Phase::kUpload] = milliseconds(500);
  metrics.Record(Flow::kBackup, "profile", profile);
  metrics.Record(Flow::kBackup, "cart", cart);

  const std::set<std::string> lines = Lines(metrics.PrometheusText());
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
  const std::string text = metrics.PrometheusText();
  EXPECT_EQ(text.find("kind=\"downloaded\""), std::string::npos) << text;
  EXPECT_EQ(text.find("phase=\"diff\",store=\"cart\""), std::string::npos) << text;
  EXPECT_EQ(text.find("blobstate_errors_total"), std::string::npos) << text;
}

TEST(MetricsTest, OtherFlowKindsAppearWhenNotZero) {
  Metrics metrics;
  StoreFigures restore;
  restore.files_downloaded = 4;
  restore.bytes_downloaded = 40;
  restore.files_uploaded = 1;  // not a restore kind, but not 0 either
  metrics.Record(Flow::kRestore, "profile", restore);
  const std::set<std::string> lines = Lines(metrics.PrometheusText());
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
  Metrics metrics;
  metrics.Record(Flow::kBackup, "_all", Backup(1, 7));
  const std::map<std::string, double> samples = Samples(metrics.PrometheusText());
  EXPECT_EQ(samples.at(R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="_all"})"), 7);
  EXPECT_EQ(samples.at(R"(blobstate_runs_total{flow="backup",outcome="ok",store="_all"})"), 1);
}

TEST(MetricsTest, RecordPhaseAddsTimeWithoutCountingARun) {
  Metrics metrics;
  metrics.Record(Flow::kBackup, "s", Backup(1, 7));
  metrics.RecordPhase(Flow::kBackup, "_all", Phase::kPersist, milliseconds(250));
  metrics.RecordPhase(Flow::kBackup, "_all", Phase::kPersist, milliseconds(250));
  const std::map<std::string, double> samples = Samples(metrics.PrometheusText());
  EXPECT_EQ(samples.at(R"(blobstate_runs_total{flow="backup",outcome="ok",store="_all"})"), 1);
  EXPECT_EQ(
      samples.at(R"(blobstate_phase_seconds_total{flow="backup",phase="persist",store="_all"})"),
      0.5);
  EXPECT_FALSE(samples.contains(
      R"(blobstate_phase_seconds_total{flow="backup",phase="persist",store="s"})"));
}

TEST(MetricsTest, PrometheusTextHasHelpTypeAndLabels) {
  Metrics metrics;
  EXPECT_EQ(metrics.PrometheusText(), "");  // no series yet, no families
  metrics.Record(Flow::kBackup, "we\"ird\\store", Backup(1, 1));
  metrics.RecordError(Flow::kBackup, "profile", Phase::kPersist);
  metrics.RecordRetry("put");
  const std::string text = metrics.PrometheusText();
  const std::set<std::string> lines = Lines(text);

  for (const char* name :
       {"files_total", "bytes_total", "runs_total", "errors_total", "blob_store_retries_total"}) {
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

TEST(MetricsTest, ErrorsAndRetriesAreCounted) {
  Metrics metrics;
  metrics.RecordError(Flow::kRestore, "profile", Phase::kDownload);
  metrics.RecordError(Flow::kRestore, "profile", Phase::kDownload);
  metrics.RecordError(Flow::kRestore, "cart", Phase::kInit);
  metrics.Record(Flow::kRestore, "cart", StoreFigures{});
  for (int i = 0; i < 3; ++i) metrics.RecordRetry("put");
  metrics.RecordRetry("get");

  const std::set<std::string> lines = Lines(metrics.PrometheusText());
  for (const char* want : {
           R"(blobstate_errors_total{flow="restore",phase="download",store="profile"} 2)",
           R"(blobstate_errors_total{flow="restore",phase="download",store="_all"} 2)",
           R"(blobstate_errors_total{flow="restore",phase="init",store="cart"} 1)",
           R"(blobstate_errors_total{flow="restore",phase="init",store="_all"} 1)",
           R"(blobstate_runs_total{flow="restore",outcome="error",store="profile"} 2)",
           R"(blobstate_runs_total{flow="restore",outcome="ok",store="profile"} 0)",
           R"(blobstate_runs_total{flow="restore",outcome="error",store="_all"} 3)",
           R"(blobstate_runs_total{flow="restore",outcome="ok",store="_all"} 1)",
           R"(blobstate_blob_store_retries_total{method="put"} 3)",
           R"(blobstate_blob_store_retries_total{method="get"} 1)",
       }) {
    EXPECT_TRUE(lines.contains(want)) << "missing: " << want;
  }
}

TEST(MetricsTest, WriteFileIsAtomicAndNamesPathOnError) {
  testing::TempDir dir;
  Metrics metrics;
  metrics.Record(Flow::kBackup, "profile", Backup(1, 10));
  const std::string path = dir.Sub("blobstate.prom");
  ASSERT_TRUE(WriteFileAtomic(path, "old content\n").ok());

  ASSERT_TRUE(metrics.WriteFile(path).ok());
  EXPECT_EQ(*ReadSmallFile(path), metrics.PrometheusText());
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
  Status s = metrics.WriteFile(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find(bad), std::string::npos) << s;
}

// Writers record while a reader serializes: every serialization has the total equal to the
// sum over stores, and the final figures are exact.
TEST(MetricsTest, ConcurrentRecordingIsConsistent) {
  constexpr int kWriters = 4;
  constexpr int kRecordsPerWriter = 500;
  Metrics metrics;
  std::atomic<bool> done = false;
  std::atomic<int> snapshots = 0;
  std::thread reader([&] {
    while (!done.load() || snapshots.load() == 0) {
      const std::map<std::string, double> samples = Samples(metrics.PrometheusText());
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
    writers.emplace_back([&metrics, w] {
      StoreFigures figures = Backup(1, 3);
      figures.durations[Phase::kUpload] = milliseconds(1);
      for (int i = 0; i < kRecordsPerWriter; ++i) {
        metrics.Record(Flow::kBackup, "store" + std::to_string(i % 3), figures);
        metrics.RecordRetry(w % 2 == 0 ? "put" : "get");
      }
    });
  }
  for (std::thread& t : writers) t.join();
  done = true;
  reader.join();

  const std::map<std::string, double> samples = Samples(metrics.PrometheusText());
  constexpr double kRuns = kWriters * kRecordsPerWriter;
  EXPECT_EQ(samples.at(R"(blobstate_bytes_total{flow="backup",kind="uploaded",store="_all"})"),
            3 * kRuns);
  EXPECT_EQ(samples.at(R"(blobstate_files_total{flow="backup",kind="uploaded",store="_all"})"),
            kRuns);
  EXPECT_EQ(samples.at(R"(blobstate_runs_total{flow="backup",outcome="ok",store="_all"})"), kRuns);
  EXPECT_NEAR(
      samples.at(R"(blobstate_phase_seconds_total{flow="backup",phase="upload",store="_all"})"),
      kRuns * 0.001, 1e-9);
  EXPECT_EQ(samples.at(R"(blobstate_blob_store_retries_total{method="put"})") +
                samples.at(R"(blobstate_blob_store_retries_total{method="get"})"),
            kRuns);
  EXPECT_GT(snapshots.load(), 0);
}

}  // namespace
}  // namespace blobstate
