#pragma once
// One prefix route, as the config names it and as the Router matches it.
// Thread safety: a value type; immutable once loaded, share as const freely.
#include <cstddef>
#include <string>

namespace seawall::router {

// Keys starting with `prefix` go to `upstream` (first match wins).
struct RouteConfig {
  std::string prefix;
  std::string upstream;
  std::size_t upstream_index = 0;  // resolved at load

  bool operator==(const RouteConfig&) const = default;
};

}  // namespace seawall::router
