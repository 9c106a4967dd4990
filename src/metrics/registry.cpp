#include "seawall/metrics/registry.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "seawall/metrics/text_format.hpp"

namespace seawall::metrics {

Registry::Registry(unsigned shards) : shards_(shards) {
  if (shards == 0 || shards > kMaxShards || !std::has_single_bit(shards)) {
    throw std::invalid_argument("metric shard count must be a power of two <= 64");
  }
}

FamilyBase& Registry::get_or_create(const Spec& spec) {
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) {
    if (family->name() == spec.name) {
      if (!family->matches(spec)) {
        throw std::invalid_argument("metric " + family->name() +
                                    ": declared twice with different type, help, labels or "
                                    "buckets");
      }
      return *family;
    }
  }
  switch (spec.type) {
    case Type::Counter:
      families_.push_back(std::make_unique<CounterFamily>(spec, shards_));
      break;
    case Type::Gauge:
      families_.push_back(std::make_unique<GaugeFamily>(spec, shards_));
      break;
    case Type::Histogram:
      families_.push_back(std::make_unique<HistogramFamily>(spec, shards_));
      break;
  }
  return *families_.back();
}

CounterFamily& Registry::counter(const Spec& spec) {
  if (spec.type != Type::Counter) {
    throw std::invalid_argument("metric " + std::string(spec.name) + " is not a counter");
  }
  return static_cast<CounterFamily&>(get_or_create(spec));
}

GaugeFamily& Registry::gauge(const Spec& spec) {
  if (spec.type != Type::Gauge) {
    throw std::invalid_argument("metric " + std::string(spec.name) + " is not a gauge");
  }
  return static_cast<GaugeFamily&>(get_or_create(spec));
}

HistogramFamily& Registry::histogram(const Spec& spec) {
  if (spec.type != Type::Histogram) {
    throw std::invalid_argument("metric " + std::string(spec.name) + " is not a histogram");
  }
  return static_cast<HistogramFamily&>(get_or_create(spec));
}

void Registry::declare(std::span<const Spec> table) {
  for (const Spec& spec : table) {
    get_or_create(spec);
  }
}

void Registry::render(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) {
    family->render(out);
  }
}

std::string Registry::render() const {
  std::string out;
  render(out);
  return out;
}

std::string Registry::describe() const {
  struct Row {
    std::string name;
    std::string type;
    std::string labels;
    std::string help;
  };
  std::vector<Row> rows{{"NAME", "TYPE", "LABELS", "HELP"}};
  {
    std::lock_guard lock(mutex_);
    for (const auto& family : families_) {
      std::string labels;
      for (const std::string& label : family->label_names()) {
        labels += labels.empty() ? "" : ",";
        labels += label;
      }
      std::string help;
      append_escaped_help(help, family->help());
      rows.push_back({family->name(), std::string(type_name(family->type())),
                      labels.empty() ? "-" : labels, std::move(help)});
    }
  }
  std::size_t name_width = 0;
  std::size_t type_width = 0;
  std::size_t labels_width = 0;
  for (const Row& row : rows) {
    name_width = std::max(name_width, row.name.size());
    type_width = std::max(type_width, row.type.size());
    labels_width = std::max(labels_width, row.labels.size());
  }
  std::string out;
  for (const Row& row : rows) {
    out += row.name;
    out.append(name_width - row.name.size() + 2, ' ');
    out += row.type;
    out.append(type_width - row.type.size() + 2, ' ');
    out += row.labels;
    out.append(labels_width - row.labels.size() + 2, ' ');
    out += row.help;
    out += '\n';
  }
  return out;
}

}  // namespace seawall::metrics
