#pragma once
// The connections of one worker thread to one upstream. A session sticks to one connection so
// that its commands reach Redis in the order it sent them (read-your-writes inside a pipeline).
// Ownership: owned by the worker. Thread safety: that worker's thread only.
#include <memory>
#include <vector>

#include "seawall/upstream/connection.hpp"

namespace seawall::upstream {

class Pool {
 public:
  Pool(asio::any_io_executor ex, const config::UpstreamConfig& cfg, std::uint32_t max_depth,
       const ConnectionMetrics& metrics = {}) {
    for (std::uint32_t i = 0; i < cfg.connections; ++i) {
      connections_.push_back(std::make_shared<Connection>(ex, cfg, max_depth, metrics));
    }
  }

  void start() {
    for (auto& c : connections_) {
      c->start();
    }
  }
  void stop() {
    for (auto& c : connections_) {
      c->stop();
    }
  }
  // A reload replaced this pool: let requests in flight finish, then close.
  void retire() {
    for (auto& c : connections_) {
      c->retire();
    }
  }

  bool any_connected() const {
    for (const auto& c : connections_) {
      if (c->connected()) {
        return true;
      }
    }
    return false;
  }

  Connection& pick(std::uint64_t affinity) { return *connections_[affinity % connections_.size()]; }
  const std::vector<std::shared_ptr<Connection>>& connections() const { return connections_; }

 private:
  std::vector<std::shared_ptr<Connection>> connections_;
};

}  // namespace seawall::upstream
