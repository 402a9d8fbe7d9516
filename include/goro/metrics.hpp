// Runtime metrics (Go's runtime/metrics): the scheduler's counts, read by
// name, for a program to export to its monitoring.
//
//   for (const goro::metrics::sample& s : goro::read_metrics())
//     if (s.kind == goro::metrics::value_kind::uint64)
//       std::printf("%s %llu\n", s.name.c_str(), (unsigned long long)s.uint64);
//   std::vector<goro::metrics::sample> all = goro::read_metrics();
//   const goro::metrics::sample* steals = goro::metrics::find(all,
//   "/goro/sched/steals:goroutines");
//
// Names follow Go's form "/path:unit". Where Go has the metric it has Go's
// name and meaning (/sched/goroutines:goroutines, /sched/latencies:seconds,
// ...); goro's own (steals, preemptions, parks by wait reason, ...) live
// under /goro/. spec/metrics.md lists every metric, how it is counted and
// what counting it costs (the counters are always on).
//
// Consistency: as Go's metrics.Read, each value is read on its own without
// stopping anything, so two metrics of one read may disagree by the events
// that happened in between; a cumulative count never decreases, and is exact
// once the events it counts are over.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "goro/detail/export.hpp"

namespace goro::metrics {

// Go's metrics.ValueKind.
enum class value_kind { uint64, float64, float64_histogram };

// Go's metrics.Float64Histogram: counts[i] samples fell in
// [buckets[i], buckets[i+1]); buckets has counts.size() + 1 boundaries,
// strictly increasing, the last one +Inf.
struct float64_histogram {
  std::vector<std::uint64_t> counts;
  std::vector<double> buckets;
};

// One metric's description and value (Go's metrics.Description and
// metrics.Sample in one).
struct sample {
  std::string name;
  std::string description;
  value_kind kind = value_kind::uint64;
  bool cumulative = false;      // a count since the runtime started (never decreases)
  std::uint64_t uint64 = 0;     // kind uint64
  double float64 = 0;           // kind float64
  float64_histogram histogram;  // kind float64_histogram
};

// The sample named `name` in `samples`, or nullptr. The pointer points into
// `samples`, so a temporary vector (find(read_metrics(), ...)) is refused at
// compile time: it would dangle at the end of the statement.
GORO_API const sample* find(const std::vector<sample>& samples, std::string_view name);
const sample* find(std::vector<sample>&& samples, std::string_view name) = delete;

}  // namespace goro::metrics

namespace goro {

// Every metric, in a fixed order, read from the runtime of the calling
// goroutine or, from another thread, the one that runs now. With no runtime
// running the same list comes back with every value zero (so the names can
// be listed, as Go's metrics.All). Costs a walk over the Ps and, for the
// goroutine-state counts, over every goroutine: for a monitoring poll, not
// for a hot loop.
// Called from: anywhere but a signal handler.
GORO_API std::vector<metrics::sample> read_metrics();

}  // namespace goro
