#pragma once
// Near mode's coherence, per worker thread and upstream: a RESP3 connection to Redis with
// CLIENT TRACKING ON BCAST PREFIX <near policies' prefixes>, named seawall-tracking. Redis pushes
// an invalidation for every change of a key under those prefixes (writes through seawall, writes
// of other clients straight to Redis, expiries, evictions, FLUSHALL), and the link passes each
// to its hooks as it reads it.
//
// Why BCAST on a connection of its own rather than default tracking on the connections that
// carry the reads: those are RESP2 (their replies go to RESP2 clients as they are, and RESP2
// cannot carry a push on a data connection) and are shared by many sessions, and default
// tracking remembers every key read per connection in Redis's memory. BCAST costs Redis one
// prefix table and sends one message per change, whoever reads. The price is that an
// invalidation travels on another connection than the reply it invalidates; two things make
// that safe:
//   - fills are ticketed (cache::ReadTicket, taken before the read is sent): an invalidation
//     read after that refuses the fill, one read before it concerned an older value;
//   - the read barrier (barrier()): a near hit is answered only after a PING sent on this link
//     after the read arrived has been answered. Redis ran any write acknowledged before the read
//     arrived before that PING, so its invalidation came before the PONG and was applied.
//
// An entry is trusted only if it was filled after the link's current subscription began
// (epoch(), from the `subscribed` hook): invalidations sent while the link was down are lost, so
// a drop makes everything filled before it unverified (never served as fresh; the fallback chain
// still serves it as stale while the breaker is open and the link is down). The link retries
// every kRetry while Redis is away: short, because until it is subscribed again nothing tells
// seawall that a restarted Redis takes writes from other clients (a refused connect costs
// little).
//
// A PING not answered within kStall marks the link stalled (Redis hung): barrier() then returns
// false at once instead of making every read wait, until the PONG comes.
//
// Ownership: owned by the worker's NearLinks; keeps itself alive in its coroutines through
// shared_from_this. Thread safety: the worker's thread; hooks run on it.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/net.hpp"
#include "seawall/upstream/stream.hpp"
#include "seawall/upstream/upstream_config.hpp"
#include "seawall/util/signal.hpp"

namespace seawall::upstream {

inline constexpr std::string_view kTrackingClientName = "seawall-tracking";

// One invalidation push, decoded: the keys, or all of them (a null list: FLUSHALL, FLUSHDB).
struct Invalidation {
  bool all = false;
  std::vector<std::string_view> keys;  // views into the bytes decoded
};
// A RESP3 push frame `bytes` (one whole frame): true and `out` filled when it is an
// "invalidate" message, false for any other push.
bool decode_invalidation(std::string_view bytes, Invalidation& out);
// CLIENT TRACKING ON BCAST with one PREFIX per entry (none: every key), encoded.
std::string tracking_command(const std::vector<std::string>& prefixes);

class TrackingLink : public std::enable_shared_from_this<TrackingLink> {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kRetry{10};
  static constexpr std::chrono::milliseconds kStall{50};

  struct Hooks {
    std::function<void(std::string_view key)> invalidate;
    std::function<void()> invalidate_all;
    // The subscription began: returns the epoch entries must be filled at or after to be
    // trusted (cache::ReplyCache::mark()).
    std::function<std::uint64_t()> subscribed;
    // Subscribed (true) or lost (false): for the links gauge.
    std::function<void(bool)> state;
  };

  TrackingLink(asio::any_io_executor ex, const UpstreamConfig& config,
               std::vector<std::string> prefixes, Hooks hooks);

  void start();
  void stop();

  // Subscribed, and not stalled.
  bool live() const noexcept { return subscribed_ && !stalled_; }
  // Subscribed, but a PING has been unanswered for kStall: Redis is slow or hung.
  bool stalled() const noexcept { return subscribed_ && stalled_; }
  std::uint64_t epoch() const noexcept { return epoch_; }
  // Waits until a PING queued at or after `arrived` (when the read's bytes had been read) is
  // answered: true; false when the link is not live, drops or stalls meanwhile. At once when one
  // already was (the rest of a pipeline); one PING per turn of the event loop serves every read
  // that arrived before it.
  awaitable<bool> barrier(Clock::time_point arrived);
  // Whether barrier(arrived) would return true at once.
  bool passed(Clock::time_point arrived) const noexcept {
    return live() && answered_at_ >= arrived;
  }

  std::uint64_t pings() const noexcept { return queued_; }

 private:
  awaitable<void> run();
  awaitable<std::string> track_once();
  awaitable<std::string> subscribe();
  awaitable<void> write_loop(std::uint64_t generation);
  awaitable<void> stall_watch(std::uint64_t generation);
  // Applies every complete frame in received_; false when one is not what the link expects.
  bool consume();
  void queue_ping();
  void lost();

  asio::any_io_executor ex_;
  UpstreamConfig config_;
  std::vector<std::string> prefixes_;
  Hooks hooks_;
  Stream stream_;
  asio::steady_timer retry_;
  asio::steady_timer gate_;  // never expires: cancelled to wake every barrier waiter
  util::Signal write_signal_;
  util::Signal stall_signal_;
  std::string received_;
  std::string out_;
  std::vector<Clock::time_point> sent_at_;  // of the PINGs not answered yet, oldest first
  Clock::time_point answered_at_{};         // when the latest PING answered was queued
  std::uint64_t generation_ = 0;            // of the current connection
  std::uint64_t epoch_ = 0;
  std::uint64_t queued_ = 0;  // PINGs queued on this connection
  std::uint64_t done_ = 0;    // PONGs received on it
  std::uint64_t wanted_ = 0;  // the highest PING a waiter needs
  bool ping_posted_ = false;  // a queue_ping is posted for this turn
  bool subscribed_ = false;
  bool stalled_ = false;
  bool stopped_ = false;
  bool logged_ = false;
};

}  // namespace seawall::upstream
