#pragma once
// Key -> upstream index by prefix routes (first match wins), else the default upstream.
// Thread safety: immutable after construction.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seawall/router/route_config.hpp"

namespace seawall::router {

class Router {
 public:
  // Keys no route matches go to upstream `default_index`.
  Router(std::vector<RouteConfig> routes, std::size_t default_index)
      : routes_(std::move(routes)), default_index_(default_index) {}

  std::size_t route(std::string_view key) const {
    for (const auto& r : routes_) {
      if (key.starts_with(r.prefix)) {
        return r.upstream_index;
      }
    }
    return default_index_;
  }
  std::size_t default_index() const { return default_index_; }
  bool single_upstream() const { return routes_.empty(); }

 private:
  std::vector<RouteConfig> routes_;
  std::size_t default_index_;
};

}  // namespace seawall::router
