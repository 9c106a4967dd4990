#pragma once
// A value that goes up and down, or is set: connections open, breaker state. One atomic double on
// its own cache line; set() is a store, add() a compare-exchange loop. Not sharded, because
// set() needs one place: a gauge updated by many threads at a high rate is better computed by a
// callback at scrape time (Family::with_callback).
// Ownership: created by a Family, stable address until the registry dies.
// Thread safety: every member from any thread.
#include <atomic>

#include "seawall/metrics/shard.hpp"

namespace seawall::metrics {

class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void add(double delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  void sub(double delta) noexcept { value_.fetch_sub(delta, std::memory_order_relaxed); }
  void inc() noexcept { add(1.0); }
  void dec() noexcept { sub(1.0); }

  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  alignas(kCacheLine) std::atomic<double> value_{0.0};
};

}  // namespace seawall::metrics
