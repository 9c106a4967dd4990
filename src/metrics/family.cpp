#include "seawall/metrics/family.hpp"

#include <algorithm>
#include <stdexcept>

#include "seawall/metrics/text_format.hpp"

namespace seawall::metrics {
namespace {

std::vector<double> buckets_of(const Spec& spec) {
  if (spec.type != Type::Histogram) {
    return {};
  }
  const std::span<const double> bounds =
      spec.buckets.empty() ? std::span<const double>(kLatencyBuckets) : spec.buckets;
  return {bounds.begin(), bounds.end()};
}

[[noreturn]] void invalid(std::string_view name, std::string_view what) {
  throw std::invalid_argument("metric " + std::string(name) + ": " + std::string(what));
}

}  // namespace

FamilyBase::FamilyBase(const Spec& spec)
    : name_(spec.name), type_(spec.type), help_(spec.help), buckets_(buckets_of(spec)) {
  if (!is_valid_metric_name(spec.name)) {
    invalid(spec.name, "invalid metric name");
  }
  if (spec.help.empty()) {
    invalid(spec.name, "help text is required");
  }
  const std::size_t count = spec.label_count();
  for (std::size_t i = count; i < spec.labels.size(); ++i) {
    if (!spec.labels[i].empty()) {
      invalid(spec.name, "label names must not leave gaps");
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    const std::string_view label = spec.labels[i];
    if (!is_valid_label_name(label)) {
      invalid(spec.name, "invalid label name \"" + std::string(label) + "\"");
    }
    if (type_ == Type::Histogram && label == "le") {
      invalid(spec.name, "a histogram may not have a label named le");
    }
    if (std::find(label_names_.begin(), label_names_.end(), label) != label_names_.end()) {
      invalid(spec.name, "duplicate label name \"" + std::string(label) + "\"");
    }
    label_names_.emplace_back(label);
  }
  if (type_ == Type::Histogram) {
    Histogram::check_bounds(buckets_);
  } else if (!spec.buckets.empty()) {
    invalid(spec.name, "only histograms have buckets");
  }
}

bool FamilyBase::matches(const Spec& spec) const {
  if (spec.name != name_ || spec.type != type_ || spec.help != help_ ||
      spec.label_count() != label_names_.size() || buckets_of(spec) != buckets_) {
    return false;
  }
  for (std::size_t i = 0; i < label_names_.size(); ++i) {
    if (spec.labels[i] != label_names_[i]) {
      return false;
    }
  }
  return true;
}

void FamilyBase::check_arity(std::size_t values) const {
  if (values != label_names_.size()) {
    invalid(name_, "expected " + std::to_string(label_names_.size()) + " label values, got " +
                       std::to_string(values));
  }
}

void FamilyBase::append_header(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  append_escaped_help(out, help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type_name(type_);
  out += '\n';
}

void FamilyBase::append_series(std::string& out, std::string_view suffix,
                               const std::vector<std::string>& values, std::string_view extra_name,
                               std::string_view extra_value) const {
  out += name_;
  out += suffix;
  if (!label_names_.empty() || !extra_name.empty()) {
    out += '{';
    bool first = true;
    const auto label = [&](std::string_view key, std::string_view value) {
      if (!first) {
        out += ',';
      }
      first = false;
      out += key;
      out += "=\"";
      append_escaped_label_value(out, value);
      out += '"';
    };
    for (std::size_t i = 0; i < label_names_.size(); ++i) {
      label(label_names_[i], values[i]);
    }
    if (!extra_name.empty()) {
      label(extra_name, extra_value);
    }
    out += '}';
  }
  out += ' ';
}

template <typename T>
Family<T>::Family(const Spec& spec, unsigned shards) : FamilyBase(spec), shards_(shards) {}

template <typename T>
std::unique_ptr<T> Family<T>::make_metric() const {
  if constexpr (std::same_as<T, Counter>) {
    return std::make_unique<Counter>(shards_);
  } else if constexpr (std::same_as<T, Histogram>) {
    return std::make_unique<Histogram>(buckets(), shards_);
  } else {
    return std::make_unique<T>();
  }
}

template <typename T>
T& Family<T>::with(std::span<const std::string_view> values) {
  check_arity(values.size());
  std::vector<std::string> key(values.begin(), values.end());
  std::lock_guard lock(mutex_);
  if (const auto it = index_.find(key); it != index_.end()) {
    Child& child = children_[it->second];
    if (!child.metric) {
      throw std::invalid_argument("metric " + name() + ": child is a callback");
    }
    return *child.metric;
  }
  auto metric = make_metric();
  T& result = *metric;
  index_.emplace(key, children_.size());
  children_.push_back(Child{std::move(key), std::move(metric), {}});
  return result;
}

template <typename T>
void Family<T>::with_callback(std::span<const std::string_view> values,
                              std::function<double()> read) requires(!std::same_as<T, Histogram>) {
  check_arity(values.size());
  std::vector<std::string> key(values.begin(), values.end());
  std::lock_guard lock(mutex_);
  if (index_.contains(key)) {
    throw std::invalid_argument("metric " + name() + ": child already exists");
  }
  index_.emplace(key, children_.size());
  children_.push_back(Child{std::move(key), nullptr, std::move(read)});
}

template <typename T>
void Family<T>::render_child(std::string& out, const std::vector<std::string>& values,
                             const T* metric, const std::function<double()>* read) const {
  if constexpr (std::same_as<T, Histogram>) {
    static_cast<void>(read);
    const std::vector<double>& bounds = buckets();
    Histogram::Snapshot snapshot;
    if (metric != nullptr) {
      snapshot = metric->snapshot();
    } else {
      snapshot.cumulative.assign(bounds.size() + 1, 0);
    }
    std::string le;
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      le.clear();
      if (i < bounds.size()) {
        append_value(le, bounds[i]);
      } else {
        le = "+Inf";
      }
      append_series(out, "_bucket", values, "le", le);
      append_value(out, snapshot.cumulative[i]);
      out += '\n';
    }
    append_series(out, "_sum", values);
    append_value(out, snapshot.sum);
    out += '\n';
    append_series(out, "_count", values);
    append_value(out, snapshot.count);
    out += '\n';
  } else {
    append_series(out, "", values);
    if (read != nullptr && *read) {
      append_value(out, (*read)());
    } else if (metric != nullptr) {
      append_value(out, metric->value());
    } else {
      out += '0';
    }
    out += '\n';
  }
}

template <typename T>
void Family<T>::render(std::string& out) const {
  append_header(out);
  std::lock_guard lock(mutex_);
  if (children_.empty() && label_names().empty()) {
    // An unlabelled metric nobody has touched yet is zero, and says so.
    render_child(out, {}, nullptr, nullptr);
  }
  for (const Child& child : children_) {
    render_child(out, child.values, child.metric.get(), &child.read);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

}  // namespace seawall::metrics
