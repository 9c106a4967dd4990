#pragma once
// Per upstream, on the control thread: PINGs Redis on a dedicated connection every
// health_check.interval with its own deadline, recording each outcome in the breaker, so a dead
// upstream is noticed while no traffic flows and the half-open probes happen without clients.
// When the journal holds writes from an outage and the breaker is no longer open, it replays
// them in order (pipelined batches) before any client request may reach Redis again.
//
// Ownership: owned by app::Server; keeps itself alive in its coroutine through shared_from_this.
// Thread safety: runs on one io_context; the UpstreamState it uses is thread-safe.
#include <cstdint>
#include <memory>
#include <vector>

#include "seawall/net.hpp"
#include "seawall/upstream/connection.hpp"
#include "seawall/upstream/upstream_state.hpp"
#include "seawall/util/signal.hpp"

namespace seawall::upstream {

struct HealthCounters {
  metrics::Counter* ok = nullptr;
  metrics::Counter* failed = nullptr;
};

class HealthChecker : public ReplyTarget, public std::enable_shared_from_this<HealthChecker> {
 public:
  HealthChecker(asio::any_io_executor ex, const config::UpstreamConfig& config,
                UpstreamState& state, std::uint32_t max_depth, HealthCounters counters = {});

  void start();
  void stop();

  std::uint64_t checks() const { return checks_; }
  std::uint64_t check_failures() const { return check_failures_; }

  // ReplyTarget
  void on_reply(std::uint64_t token, std::string_view bytes, ReplyStatus status,
                std::chrono::steady_clock::time_point now) override;

 private:
  awaitable<void> run();
  awaitable<bool> replay_batch();
  awaitable<void> wait_for_replies();

  asio::any_io_executor ex_;
  config::UpstreamConfig config_;
  UpstreamState& state_;
  std::shared_ptr<Connection> connection_;
  util::Signal replies_signal_;
  std::size_t outstanding_ = 0;
  std::size_t failed_ = 0;
  bool stopped_ = false;
  std::uint64_t checks_ = 0;
  std::uint64_t check_failures_ = 0;
  HealthCounters counters_;
};

}  // namespace seawall::upstream
