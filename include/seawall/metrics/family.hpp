#pragma once
// A metric family: one Spec (name, type, help, label names) and its children, one per distinct
// tuple of label values. Children are created at startup and then used through plain references:
//
//   metrics::Counter& get_ok = registry.counter(kRequests).with({"GET", "ok"});
//   get_ok.inc();  // hot path: no lock, no allocation, no lookup
//
// A family without labels has a single child, `family.with({})`; it renders as 0 until created.
// Counter and gauge children may instead be computed at scrape time by a callback:
//
//   registry.gauge(kClients).with_callback({}, [&clients] { return double(clients.load()); });
//
// Ownership: owned by a Registry; children live at stable addresses until it is destroyed.
// Thread safety: every member may be called from any thread. with() and with_callback() take the
// family's mutex, as does rendering, so create children at startup, not per request. Callbacks
// run on the scraping thread with that mutex held: they must be thread-safe, quick, and must not
// call back into the registry.
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/metrics/counter.hpp"
#include "seawall/metrics/gauge.hpp"
#include "seawall/metrics/histogram.hpp"
#include "seawall/metrics/spec.hpp"

namespace seawall::metrics {

// What the registry needs from any family: its description and its rendering.
class FamilyBase {
 public:
  // Validates the spec and copies it; throws std::invalid_argument when it is malformed.
  explicit FamilyBase(const Spec& spec);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  Type type() const { return type_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // The bucket bounds of a histogram family; empty for the other types.
  const std::vector<double>& buckets() const { return buckets_; }
  // True when `spec` describes this family exactly (same type, help, labels and buckets).
  bool matches(const Spec& spec) const;

  // Appends the HELP and TYPE lines and every child's samples in text format 0.0.4, children
  // in the order they were created.
  virtual void render(std::string& out) const = 0;

 protected:
  // Throws std::invalid_argument unless there is one value per label name.
  void check_arity(std::size_t values) const;
  // `name{label="value",...,extra_name="extra_value"} ` (the braces only when there are labels).
  void append_series(std::string& out, std::string_view suffix,
                     const std::vector<std::string>& values, std::string_view extra_name = {},
                     std::string_view extra_value = {}) const;
  void append_header(std::string& out) const;

 private:
  std::string name_;
  Type type_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;
};

template <typename T>
class Family final : public FamilyBase {
 public:
  // `shards` applies to counters and histograms; see shard.hpp.
  Family(const Spec& spec, unsigned shards);

  // The child for these label values, created on first use. Throws std::invalid_argument when
  // the number of values is wrong or the child is a callback.
  T& with(std::initializer_list<std::string_view> values) {
    return with(std::span<const std::string_view>(values.begin(), values.size()));
  }
  T& with(std::span<const std::string_view> values);

  // A child whose value is read from `read` at each scrape. Throws std::invalid_argument when
  // the number of values is wrong or a child with these values already exists.
  void with_callback(std::span<const std::string_view> values,
                     std::function<double()> read) requires(!std::same_as<T, Histogram>);
  // A member template, so that explicitly instantiating Family<Histogram> leaves it alone
  // (clang 14 instantiates a constrained non-template member's body regardless).
  template <typename U = T>
  void with_callback(std::initializer_list<std::string_view> values,
                     std::function<double()> read) requires(!std::same_as<U, Histogram>) {
    with_callback(std::span<const std::string_view>(values.begin(), values.size()),
                  std::move(read));
  }

  // FamilyBase
  void render(std::string& out) const override;

 private:
  struct Child {
    std::vector<std::string> values;
    std::unique_ptr<T> metric;     // null for a callback child
    std::function<double()> read;  // set for a callback child
  };

  std::unique_ptr<T> make_metric() const;
  // One child's samples; a null `metric` without `read` renders as zero.
  void render_child(std::string& out, const std::vector<std::string>& values, const T* metric,
                    const std::function<double()>* read) const;

  unsigned shards_;
  mutable std::mutex mutex_;
  std::vector<Child> children_;
  std::map<std::vector<std::string>, std::size_t> index_;  // label values -> children_ index
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

}  // namespace seawall::metrics
