#pragma once
// Key -> upstream index by prefix routes (first match wins), else the default upstream.
// Thread safety: immutable after construction.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/config/config.hpp"

namespace seawall::router {

class Router {
 public:
  explicit Router(const config::Config& config)
      : routes_(config.routes), default_index_(config.default_upstream_index) {}

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
  std::vector<config::RouteConfig> routes_;
  std::size_t default_index_;
};

}  // namespace seawall::router
