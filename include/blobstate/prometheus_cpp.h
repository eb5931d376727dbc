// A MetricsSink (metrics.h) over a prometheus-cpp registry, to serve blobstate's metrics
// with prometheus::Exposer beside an application's own. Present when blobstate is built with
// BLOBSTATE_PROMETHEUS_CPP=ON (the default); callers link prometheus-cpp::core too.
//
// Example:
//   auto registry = std::make_shared<prometheus::Registry>();
//   std::unique_ptr<MetricsSink> sink = NewPrometheusCppSink(registry);
//   Metrics metrics(*sink);
//   exposer.RegisterCollectable(registry);
#ifndef BLOBSTATE_PROMETHEUS_CPP_H_
#define BLOBSTATE_PROMETHEUS_CPP_H_

#include <memory>

#include "blobstate/metrics.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

// A sink that adds each update to a counter or histogram (buckets kLatencyBuckets) family
// of `registry`, created at its first update. A name is one type: an update of another
// type than the family's first is dropped. prometheus-cpp counts atomically per series, so
// a scrape may see an Apply in part.
std::unique_ptr<MetricsSink> NewPrometheusCppSink(std::shared_ptr<prometheus::Registry> registry);

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_PROMETHEUS_CPP_H_
