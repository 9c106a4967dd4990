#pragma once
// One pipelined RESP connection to a Redis server, multiplexing the requests of many sessions.
//
// The socket, the timers and the coroutines are here; the requests themselves (waiting, written,
// done; replies matched in order; deadlines; CLIENT PAUSE; what a dropped connection does to the
// requests in flight) are the Multiplexer's, which this drives (see multiplexer.hpp): a request
// that misses its deadline is answered with Timeout and its late reply is discarded in order,
// never given to the wrong client. When the connection drops, every pending request is answered
// Unavailable (it may or may not have executed); the connection reconnects with exponential
// backoff and jitter, cut short when another connection to the same upstream connects (Redis
// is back). A connection counts as connected once TCP, the TLS handshake and AUTH (when
// configured) all succeeded (connect_upstream); a failure in any of them is a connect failure.
// On a sentinel-managed upstream, a -READONLY or -MASTERDOWN reply fails its request (the
// breaker counts it) and closes the connection, after telling the MasterResolver that the node
// is not the master: the reconnect asks the sentinels.
//
// Ownership: shared_ptr, kept alive by its run coroutine. Thread safety: one worker thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/metrics/counter.hpp"
#include "seawall/metrics/gauge.hpp"
#include "seawall/metrics/histogram.hpp"
#include "seawall/net.hpp"
#include "seawall/upstream/connect.hpp"
#include "seawall/upstream/multiplexer.hpp"
#include "seawall/upstream/reply_target.hpp"
#include "seawall/upstream/script_registry.hpp"
#include "seawall/upstream/stream.hpp"
#include "seawall/upstream/upstream_config.hpp"
#include "seawall/util/signal.hpp"

namespace seawall::upstream {

// Handles resolved once at startup; any may be null (tests, health connections).
struct ConnectionMetrics {
  metrics::Gauge* connected = nullptr;
  metrics::Counter* connects_ok = nullptr;
  metrics::Counter* connects_failed = nullptr;
  metrics::Histogram* latency = nullptr;
  metrics::Counter* timeouts = nullptr;
  // Requests of this upstream that timed out and whose late reply has not come yet (nor the
  // connection ended): Redis may still run them. Shared by every connection of the upstream
  // (UpstreamState::in_doubt), so a journal replay waits for them.
  std::atomic<std::int64_t>* in_doubt = nullptr;
  // When the pause a client asked Redis for ends (steady_clock ticks; UpstreamState::
  // paused_until): requests wait it out instead of timing out (RequestFifo::hold_until).
  std::atomic<std::int64_t>* paused_until = nullptr;
  // The upstream's scripts (UpstreamState::scripts), loaded on each new connection before its
  // first request.
  const ScriptRegistry* scripts = nullptr;
  // Successful connects of every connection to this upstream (UpstreamState::connects). A
  // connection in its reconnect backoff tries again at once when it moved since its own last
  // failure: Redis answers again, and a request must not fail unsent (nor a client read be
  // answered by the fallback chain) for up to reconnect_backoff_max after it came back.
  std::atomic<std::uint64_t>* connects = nullptr;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Clock = std::chrono::steady_clock;

  Connection(asio::any_io_executor ex, const UpstreamConfig& cfg, std::uint32_t max_depth,
             const ConnectionMetrics& metrics = {}, Protocol protocol = Protocol::None);

  // Starts connecting (and reconnecting) in the background.
  void start();
  // Closes the socket and stops reconnecting; pending requests get Unavailable.
  void stop();

  bool connected() const { return connected_; }
  std::size_t pending() const { return mux_.size(); }
  const ConnectionStats& stats() const { return mux_.stats(); }
  const std::string& name() const { return config_.name; }
  // The server's version from the last successful HELLO ("" before one, or with Protocol::None).
  const std::string& server_version() const { return server_version_; }

  // Queues one raw RESP command; its deadline is now + request_timeout. The target is answered
  // exactly once, possibly before submit returns (when the connection is down or full), and
  // must stay alive until then (sessions keep themselves alive while requests are in flight).
  // With a permit, its outcome (and latency) is recorded into `issuer`, the breaker that gave it.
  // A non-zero `injected_delay` (faults) holds the reply that long after it arrives, as if Redis
  // had been that much slower: the breaker records the longer latency, and a reply held past
  // the request's deadline is a Timeout (its late reply is dropped, as a real one would be).
  void submit(std::string_view raw_command, ReplyTarget* target, std::uint64_t token,
              Clock::time_point now, breaker::Permit permit = {},
              breaker::CircuitBreaker* issuer = nullptr,
              std::chrono::milliseconds injected_delay = std::chrono::milliseconds{0});
  // Finishes the requests in flight, then closes for good (a reload replaced this connection).
  void retire();

 private:
  awaitable<void> run();
  awaitable<bool> connect_once();
  awaitable<void> read_loop();
  awaitable<void> write_loop();
  // Writes the waiting requests from the caller, when the write loop is idle: true when all of
  // them went out.
  bool write_now();
  awaitable<void> deadline_loop();
  void hold_reply(Multiplexer::HeldReply held);
  awaitable<void> held_reply(Multiplexer::HeldReply held);
  void link_down();
  std::chrono::milliseconds next_backoff();
  awaitable<void> back_off();
  // Whether another connection to the upstream connected since this one's last failure.
  bool peer_connected_since_failure() const;

  asio::any_io_executor ex_;
  UpstreamConfig config_;  // a copy: its run coroutine may outlive the caller's
  std::chrono::milliseconds backoff_min_;
  std::chrono::milliseconds backoff_max_;

  Stream stream_;
  Multiplexer mux_;
  util::Signal write_signal_;
  bool connected_ = false;
  // Until the next connect attempt ends, requests wait for it instead of failing unsent: the
  // first one (a client that connects to seawall as it starts is not answered by the fallback
  // chain, nor counted against the breaker, only because seawall's own connections were not up
  // yet), and one that a peer's connect cut the backoff short for (Redis answers again).
  bool awaiting_attempt_ = true;
  std::uint64_t connects_at_failure_ = 0;
  bool link_down_ = true;
  asio::steady_timer* deadline_timer_ = nullptr;  // live only inside deadline_loop
  asio::steady_timer* backoff_timer_ = nullptr;   // live only during a backoff wait
  bool stopped_ = false;
  std::uint32_t failures_in_a_row_ = 0;
  // The last connect found a spare cluster shard with no master (ConnectResult::dormant).
  bool dormant_ = false;
  static constexpr std::chrono::milliseconds kDormantPoll{500};
  std::minstd_rand rng_;
  ConnectionMetrics metrics_;
  bool retiring_ = false;
  Protocol protocol_;
  std::string server_version_;
  HostPort address_;  // where the last connect went (a sentinel-managed upstream's master)
};

}  // namespace seawall::upstream
