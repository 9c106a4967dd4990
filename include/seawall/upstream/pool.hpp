#pragma once
// The connections of one worker thread to one upstream. A session sticks to one connection so
// that its commands reach Redis in the order it sent them (read-your-writes inside a pipeline).
// RESP2 clients use the RESP2 connections; RESP3 clients (HELLO 3 without other connection
// state) use RESP3 connections, made on first use, so a RESP2-only application opens no more
// connections than before. The RESP2 connections send no HELLO (one round trip less before a
// connection is usable); the RESP3 ones learn the server's version from theirs.
// Ownership: owned by the worker. Thread safety: that worker's thread only.
#include <memory>
#include <string>
#include <vector>

#include "seawall/upstream/connection.hpp"

namespace seawall::upstream {

class Pool {
 public:
  Pool(asio::any_io_executor ex, const UpstreamConfig& cfg, std::uint32_t max_depth,
       const ConnectionMetrics& metrics = {})
      : ex_(ex), config_(cfg), max_depth_(max_depth), metrics_(metrics) {
    for (std::uint32_t i = 0; i < cfg.connections; ++i) {
      connections_.push_back(
          std::make_shared<Connection>(ex, cfg, max_depth, metrics, Protocol::None));
    }
  }

  void start() {
    started_ = true;
    for (auto& c : connections_) {
      c->start();
    }
    for (auto& c : resp3_) {
      c->start();
    }
  }
  void stop() {
    for (auto& c : connections_) {
      c->stop();
    }
    for (auto& c : resp3_) {
      c->stop();
    }
  }
  // A reload replaced this pool: let requests in flight finish, then close.
  void retire() {
    retired_ = true;
    for (auto& c : connections_) {
      c->retire();
    }
    for (auto& c : resp3_) {
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

  // Whether connection `affinity` would pick for `protocol` is up (made on first ask).
  bool connected(std::uint64_t affinity, Protocol protocol) {
    return pick(affinity, protocol).connected();
  }

  Connection& pick(std::uint64_t affinity) { return *connections_[affinity % connections_.size()]; }
  Connection& pick(std::uint64_t affinity, Protocol protocol) {
    if (protocol != Protocol::Resp3) {
      return pick(affinity);
    }
    if (resp3_.empty()) {
      for (std::size_t i = 0; i < connections_.size(); ++i) {
        resp3_.push_back(
            std::make_shared<Connection>(ex_, config_, max_depth_, metrics_, Protocol::Resp3));
        if (started_ && !retired_) {
          resp3_.back()->start();
        }
      }
    }
    return *resp3_[affinity % resp3_.size()];
  }
  // The server's version as the last HELLO reported it, "" when no connection learned it yet.
  const std::string& server_version() const {
    for (const auto& group : {&connections_, &resp3_}) {
      for (const auto& c : *group) {
        if (!c->server_version().empty()) {
          return c->server_version();
        }
      }
    }
    static const std::string unknown;
    return unknown;
  }
  const std::vector<std::shared_ptr<Connection>>& connections() const { return connections_; }
  // The connections clients of `protocol` use (the RESP3 ones: empty until first picked).
  const std::vector<std::shared_ptr<Connection>>& group(Protocol protocol) const {
    return protocol == Protocol::Resp3 ? resp3_ : connections_;
  }

 private:
  asio::any_io_executor ex_;
  UpstreamConfig config_;
  std::uint32_t max_depth_;
  ConnectionMetrics metrics_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<std::shared_ptr<Connection>> resp3_;
  bool started_ = false;
  bool retired_ = false;
};

}  // namespace seawall::upstream
