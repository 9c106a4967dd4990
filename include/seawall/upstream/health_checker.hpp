#pragma once
// Per upstream, on the control thread: PINGs Redis on a dedicated connection every
// health_check.interval with its own deadline, recording each outcome in the breaker, so a dead
// upstream is noticed while no traffic flows and the half-open probes happen without clients.
//
// While the breaker is open (and not forced open) it keeps probing outside the breaker's
// permits, so that recovery does not wait for an open period that grew with the outage's length:
// a PING paced by a backoff that starts at health_check.interval and doubles up to
// kMaxOpenProbeDelay (1 s), so a long outage still gets a probe at least every second, plus one
// as soon as the health connection reconnects. The health connection reconnects at least every
// kMaxReconnectBackoff (whatever reconnect_backoff_max says), so while Redis refuses connections
// its connection attempts are the probes. The first PING Redis answers ends the open period
// (CircuitBreaker::end_open_period): the breaker half-opens and client requests probe again.
// It waits for the worker threads' shared connections to reconnect first (at most their
// reconnect_backoff_max + connect_timeout): a client probe sent to a connection still in its
// reconnect backoff would fail unsent, and reopen the breaker for a longer period.
//
// When the journal holds writes from an outage and Redis answers again (the breaker is no longer
// open, or a probe was answered and the open period only waits for the shared connections), it
// replays them in order (pipelined batches) before any client request may reach Redis again, and
// logs one line when the journal is empty: how many entries, how long it took. It first waits
// for the client requests that timed out to settle (at most kInDoubtWaitMax): a write of one of
// them that Redis ran after the replay would overwrite a newer journaled value.
//
// Ownership: owned by app::Server; keeps itself alive in its coroutine through shared_from_this.
// Thread safety: runs on one io_context; the UpstreamState it uses is thread-safe.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "seawall/metrics/counter.hpp"
#include "seawall/metrics/gauge.hpp"
#include "seawall/metrics/histogram.hpp"
#include "seawall/net.hpp"
#include "seawall/upstream/connection.hpp"
#include "seawall/upstream/upstream_state.hpp"
#include "seawall/util/signal.hpp"

namespace seawall::upstream {

// Handles resolved once at startup; any may be null (tests).
struct HealthCounters {
  metrics::Counter* ok = nullptr;              // every health check, by result
  metrics::Counter* failed = nullptr;          //   (not connected counts as failed)
  metrics::Histogram* latency = nullptr;       // PING round trip, for each PING Redis answered
  metrics::Counter* open_probes_ok = nullptr;  // the checks made while the breaker was open
  metrics::Counter* open_probes_failed = nullptr;
};

// The worker threads' shared connections to the upstream, seen through their gauge: client
// requests reach Redis only through them. Without a gauge they count as ready (tests).
struct PoolReadiness {
  const metrics::Gauge* connected = nullptr;  // seawall_upstream_connections{upstream}
  double expected = 0;                        // threads x connections
};

class HealthChecker : public ReplyTarget, public std::enable_shared_from_this<HealthChecker> {
 public:
  using Clock = Connection::Clock;

  // The longest wait between two PINGs while the breaker is open.
  static constexpr std::chrono::milliseconds kMaxOpenProbeDelay{1000};
  // The health connection's reconnect backoff is capped here: each attempt is a probe.
  static constexpr std::chrono::milliseconds kMaxReconnectBackoff{500};

  HealthChecker(asio::any_io_executor ex, const UpstreamConfig& config, UpstreamState& state,
                std::uint32_t max_depth, HealthCounters counters = {}, PoolReadiness pool = {});

  void start();
  void stop();

  std::uint64_t checks() const { return checks_; }
  std::uint64_t check_failures() const { return check_failures_; }

  // ReplyTarget
  void on_reply(std::uint64_t token, std::string_view bytes, ReplyStatus status,
                Clock::time_point now) override;

 private:
  awaitable<void> run();
  awaitable<bool> replay_batch();
  // Logs the replay in progress once it is complete.
  void finish_replay(breaker::State breaker_state);
  awaitable<void> wait_for_replies();
  // One PING (a breaker call when `permit` is allowed); true when Redis answered it. Counts it.
  awaitable<bool> ping(Clock::time_point now, breaker::Permit permit,
                       breaker::CircuitBreaker* issuer);
  // While open: probes when one is due; returns how long to wait before the next look.
  awaitable<Clock::duration> probe_while_open(Clock::time_point now);
  // Redis answered at answered_at_: ends the open period once the shared connections are back
  // (or waiting longer is pointless). Returns how long to wait before looking again.
  Clock::duration end_open_period_when_pools_ready(Clock::time_point now);
  void count_check(bool ok, bool while_open);
  // True when no timed-out client request may still run on Redis (UpstreamState::in_doubt), or
  // the wait for them has run out: a replay may start.
  bool in_doubt_settled(Clock::time_point now);

  asio::any_io_executor ex_;
  UpstreamConfig config_;
  UpstreamState& state_;
  std::shared_ptr<Connection> connection_;
  util::Signal replies_signal_;
  std::size_t outstanding_ = 0;
  std::size_t failed_ = 0;
  std::size_t replayed_prefix_ = 0;  // replies of a replay batch, in order, before any failure
  bool stopped_ = false;
  std::uint64_t checks_ = 0;
  std::uint64_t check_failures_ = 0;
  HealthCounters counters_;
  PoolReadiness pool_;
  Clock::duration pool_wait_max_;

  Clock::time_point ping_sent_at_{};
  // Probing while open; reset each time the breaker is seen not open.
  bool in_open_ = false;
  bool was_connected_ = false;  // the health connection's state at the previous look
  Clock::duration open_probe_delay_{};
  Clock::time_point next_open_probe_{};
  std::optional<Clock::time_point> answered_at_;     // Redis answered; waiting for the pools
  std::optional<Clock::time_point> in_doubt_since_;  // a replay waits for timed-out requests

  // The replay in progress (possibly interrupted and resumed): since when, how many so far.
  bool replaying_ = false;
  Clock::time_point replay_started_{};
  std::size_t replayed_ = 0;
};

}  // namespace seawall::upstream
