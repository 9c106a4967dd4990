#pragma once
// The process's metric families, rendered together for a scrape. The composition root owns one
// Registry, declares every module's table in it at startup (so that `--describe-metrics` and a
// scrape list every metric even before it has a sample), and hands it to the modules, which
// fetch their families and children once:
//
//   registry.declare(kProxyMetrics);
//   metrics::CounterFamily& requests = registry.counter(kRequests);
//   metrics::Counter& get_ok = requests.with({"GET", "ok"});
//
// Asking twice for the same Spec returns the same family; a different Spec with the same name
// is an error.
// Ownership: owns its families; references to families and children stay valid until it is
// destroyed, so it must outlive every user (and every callback must outlive it or the scrapes).
// Thread safety: every member may be called from any thread; see family.hpp for the callbacks.
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "seawall/metrics/family.hpp"
#include "seawall/metrics/spec.hpp"

namespace seawall::metrics {

class Registry {
 public:
  // `shards` per counter and histogram: shard_count_for(number of writer threads).
  explicit Registry(unsigned shards = 1);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The family for `spec`, created on first use. Throws std::invalid_argument when the spec is
  // malformed, has another type, or differs from the one first declared under its name.
  CounterFamily& counter(const Spec& spec);
  GaugeFamily& gauge(const Spec& spec);
  HistogramFamily& histogram(const Spec& spec);
  // Declares every row of a module's table (each by its own type).
  void declare(std::span<const Spec> table);

  // Every family in declaration order, in the Prometheus text format 0.0.4.
  void render(std::string& out) const;
  std::string render() const;
  // The table of every declared metric, one per line: name, type, labels, help.
  std::string describe() const;

  unsigned shards() const { return shards_; }

 private:
  FamilyBase& get_or_create(const Spec& spec);

  unsigned shards_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

}  // namespace seawall::metrics
