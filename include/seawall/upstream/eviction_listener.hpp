#pragma once
// Per upstream, on the control thread: a connection subscribed to Redis's `evicted` keyspace
// events of database 0 (`__keyevent@0__:evicted`), passing each evicted key to a callback (the
// shared cache::EvictedKeys). Redis publishes them only when notify-keyspace-events holds `E`
// and `e` (or `A`); with `configure`, the listener adds those two flags to what the server has
// (CONFIG GET, then CONFIG SET) on each connect, and otherwise leaves the server's configuration
// alone. It reconnects (through connect_upstream: TLS, AUTH, a sentinel's current master) every
// second while Redis is away; events published meanwhile are lost, which only costs misses.
//
// Ownership: owned by app::Server; keeps itself alive in its coroutine through shared_from_this.
// Thread safety: the control thread; the callback must be safe to call from it.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "seawall/net.hpp"
#include "seawall/upstream/stream.hpp"
#include "seawall/upstream/upstream_config.hpp"

namespace seawall::upstream {

inline constexpr std::string_view kEvictedChannel = "__keyevent@0__:evicted";

// The flags notify-keyspace-events needs for the `evicted` events, added to `current` ("" when
// none): `current` itself when it has them already.
std::string with_eviction_events(std::string_view current);

class EvictionListener : public std::enable_shared_from_this<EvictionListener> {
 public:
  using OnEvicted = std::function<void(std::string_view key)>;
  static constexpr std::chrono::seconds kRetry{1};

  EvictionListener(asio::any_io_executor ex, const UpstreamConfig& config, bool configure,
                   OnEvicted on_evicted);

  void start();
  void stop();

 private:
  awaitable<void> run();
  // One connection's life: connect, configure (when asked), subscribe, read until it drops.
  // Returns why it ended.
  awaitable<std::string> listen_once();
  awaitable<std::string> configure_events();

  asio::any_io_executor ex_;
  UpstreamConfig config_;
  bool configure_;
  OnEvicted on_evicted_;
  Stream stream_;
  asio::steady_timer retry_;
  bool stopped_ = false;
  bool subscribed_ = false;  // since the last failure
  std::string received_;
};

}  // namespace seawall::upstream
