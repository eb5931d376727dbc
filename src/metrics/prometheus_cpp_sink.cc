#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <iterator>
#include <map>
#include <mutex>
#include <variant>

#include "blobstate/prometheus_cpp.h"

namespace blobstate {
namespace {

using CounterFamily = prometheus::Family<prometheus::Counter>;
using HistogramFamily = prometheus::Family<prometheus::Histogram>;

class PrometheusCppSink final : public MetricsSink {
 public:
  explicit PrometheusCppSink(std::shared_ptr<prometheus::Registry> registry)
      : registry_(std::move(registry)) {}

  void Apply(std::span<const MetricUpdate> updates) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const MetricUpdate& u : updates) {
      const prometheus::Labels labels(u.labels.begin(), u.labels.end());
      auto it = families_.find(u.name);
      if (it == families_.end()) it = families_.emplace(u.name, Register(u)).first;
      if (auto* counter = std::get_if<CounterFamily*>(&it->second)) {
        if (u.type == MetricType::kCounter) (*counter)->Add(labels).Increment(u.value);
      } else if (u.type == MetricType::kHistogram) {
        std::get<HistogramFamily*>(it->second)
            ->Add(labels, prometheus::Histogram::BucketBoundaries(std::begin(kLatencyBuckets),
                                                                  std::end(kLatencyBuckets)))
            .Observe(u.value);
      }
    }
  }

 private:
  using AnyFamily = std::variant<CounterFamily*, HistogramFamily*>;

  AnyFamily Register(const MetricUpdate& u) {
    const std::string help(u.help);
    if (u.type == MetricType::kCounter) {
      return &prometheus::BuildCounter().Name(u.name).Help(help).Register(*registry_);
    }
    return &prometheus::BuildHistogram().Name(u.name).Help(help).Register(*registry_);
  }

  const std::shared_ptr<prometheus::Registry> registry_;
  std::mutex mu_;
  std::map<std::string, AnyFamily> families_;  // GUARDED_BY(mu_)
};

}  // namespace

std::unique_ptr<MetricsSink> NewPrometheusCppSink(std::shared_ptr<prometheus::Registry> registry) {
  return std::make_unique<PrometheusCppSink>(std::move(registry));
}

}  // namespace blobstate
