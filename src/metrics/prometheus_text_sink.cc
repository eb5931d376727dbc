#include <algorithm>
#include <charconv>
#include <iterator>

#include "blobstate/metrics.h"
#include "util/fs.h"

namespace blobstate {
namespace {

constexpr size_t kBuckets = std::size(kLatencyBuckets);

// The shortest decimal that reads back as `v` ("1", "0.1", "100.503").
std::string FormatValue(double v) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// `value` escaped as the text format requires of label values and help text.
std::string Escaped(std::string_view value, bool quote) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}` with `extra` (name, value) last, or nothing when there are no labels.
std::string LabelText(const MetricLabels& labels, const MetricLabels& extra = {}) {
  std::string out;
  for (const MetricLabels* list : {&labels, &extra}) {
    for (const auto& [name, value] : *list) {
      out += (out.empty() ? "{" : ",") + name + "=\"" + Escaped(value, true) + "\"";
    }
  }
  return out.empty() ? out : out + "}";
}

}  // namespace

void PrometheusTextSink::Apply(std::span<const MetricUpdate> updates) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const MetricUpdate& u : updates) {
    auto [it, added] = families_.try_emplace(u.name);
    Family& family = it->second;
    if (added) {
      family.help = u.help;
      family.type = u.type;
    }
    if (family.type != u.type) continue;  // a name is one type; the first update says which
    MetricLabels labels = u.labels;
    std::sort(labels.begin(), labels.end());
    Series& series = family.series[std::move(labels)];
    if (u.type == MetricType::kCounter) {
      series.value += std::max(0.0, u.value);
      continue;
    }
    series.buckets.resize(kBuckets + 1);
    const size_t bucket =
        std::lower_bound(std::begin(kLatencyBuckets), std::end(kLatencyBuckets), u.value) -
        std::begin(kLatencyBuckets);
    ++series.buckets[bucket];
    series.value += u.value;
  }
}

std::string PrometheusTextSink::Text() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const bool counter = family.type == MetricType::kCounter;
    out += "# HELP " + name + " " + Escaped(family.help, false) + "\n";
    out += "# TYPE " + name + (counter ? " counter\n" : " histogram\n");
    for (const auto& [labels, series] : family.series) {
      if (counter) {
        out += name + LabelText(labels) + " " + FormatValue(series.value) + "\n";
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= kBuckets; ++i) {
        cumulative += series.buckets[i];
        const std::string le = i < kBuckets ? FormatValue(kLatencyBuckets[i]) : "+Inf";
        out += name + "_bucket" + LabelText(labels, {{"le", le}}) + " " +
               std::to_string(cumulative) + "\n";
      }
      out += name + "_sum" + LabelText(labels) + " " + FormatValue(series.value) + "\n";
      out += name + "_count" + LabelText(labels) + " " + std::to_string(cumulative) + "\n";
    }
  }
  return out;
}

Status PrometheusTextSink::WriteFile(const std::string& path) const {
  return WriteFileAtomic(path, Text()).WithContext("writing metrics to " + path);
}

std::map<MetricLabels, double> PrometheusTextSink::Counter(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<MetricLabels, double> out;
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != MetricType::kCounter) return out;
  for (const auto& [labels, series] : it->second.series) out[labels] = series.value;
  return out;
}

}  // namespace blobstate
