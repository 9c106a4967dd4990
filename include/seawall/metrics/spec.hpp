#pragma once
// One row of a module's metric table: name, type, help text, label names and (for histograms)
// bucket bounds. Each module declares its metrics as constexpr Specs collected in one array, so
// the whole set is visible in one place and `seawall --describe-metrics` can print it:
//
//   inline constexpr metrics::Spec kRequests{"seawall_proxy_requests_total",
//                                            metrics::Type::Counter, "Requests by command.",
//                                            {"command", "outcome"}};
//   inline constexpr std::array kProxyMetrics{kRequests, ...};
//
// The registry copies what it needs, so a Spec may also be built at run time.
// Thread safety: a value type.
#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace seawall::metrics {

enum class Type { Counter, Gauge, Histogram };

// "counter", "gauge", "histogram": the word the text format's TYPE line uses.
std::string_view type_name(Type type);

inline constexpr std::size_t kMaxLabels = 4;

// Latency buckets in seconds, the base unit: 50us to 10s, roughly 1-2.5-5 per decade.
inline constexpr std::array<double, 17> kLatencyBuckets{
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0};

struct Spec {
  // [a-zA-Z_:][a-zA-Z0-9_:]*; by convention seawall_<module>_<what>[_total|_seconds|_bytes].
  std::string_view name;
  Type type = Type::Counter;
  // One sentence; may contain any text (escaped when rendered).
  std::string_view help;
  // Leading non-empty entries are the label names, [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix,
  // not "le" for histograms.
  std::array<std::string_view, kMaxLabels> labels{};
  // Histograms only: finite upper bounds, strictly increasing; +Inf is implicit. Empty means
  // kLatencyBuckets. Must point to storage that outlives the call that declares the Spec.
  std::span<const double> buckets{};

  // The number of leading non-empty entries of `labels`.
  constexpr std::size_t label_count() const {
    std::size_t n = 0;
    while (n < labels.size() && !labels[n].empty()) {
      ++n;
    }
    return n;
  }
};

}  // namespace seawall::metrics
