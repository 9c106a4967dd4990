#include "seawall/metrics/spec.hpp"

namespace seawall::metrics {

std::string_view type_name(Type type) {
  switch (type) {
    case Type::Counter:
      return "counter";
    case Type::Gauge:
      return "gauge";
    case Type::Histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace seawall::metrics
