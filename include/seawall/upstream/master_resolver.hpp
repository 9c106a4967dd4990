#pragma once
// Where a sentinel-managed upstream's master is (`upstreams[].sentinel`): one per upstream,
// shared by every connection of every thread, so that the pipelined connections, the pinned
// links and the health checker all learn the address in one place (connect_upstream asks it on
// each connect, then checks the node with ROLE before any request reaches it).
//
// resolve() asks the sentinels in order with SENTINEL get-master-addr-by-name; the first that
// names an address wins and moves to the front of the list, as Redis's own clients do. An answer
// younger than kAnswerReuse is reused without asking again, so that the connections of every
// thread reconnecting together after a switch cost the sentinels one question, not dozens.
//
// In the background (start(), on the control thread) it subscribes on every sentinel to the
// failover events (sentinel_replies.hpp): only the sentinel that leads a failover publishes its
// steps, and any sentinel could be the leader.
//   +selected-slave  the leader chose the replica to promote, a tick before it promotes it. From
//                    then on the old master may accept writes the new one will never have, so
//                    the upstream is held: resolve() fails until the switch (or the abort, or
//                    kFailoverHoldMax), requests take the fallback chain and writes follow
//                    writes_when_open (journaled writes replay to the new master).
//   +switch-master   the new address; the old one is not used again for kDemotedFor unless a
//                    later switch names it (a sentinel that has not heard of the switch yet still
//                    answers with it, and the demoted node may say "master" a while longer).
//   -failover-abort-slave-timeout  the hold ends; the old master stays.
// Each change (hold, switch, abort, a sentinel naming another master, or the master in use
// answering -READONLY / -MASTERDOWN) calls the change handler on the control thread with
// Change::Reconnect; app::Server then closes every connection of the upstream so that each
// reconnects through resolve(). A ROLE check that fails at connect only makes the next resolve()
// ask the sentinels again: that node was never used.
//
// Ownership: shared_ptr, held by UpstreamState and by the config snapshots (UpstreamConfig::
// resolver); the subscriber coroutines keep it alive until stop().
// Thread safety: resolve(), not_master(), connect_failed() and the readers may be called from any
// thread (one mutex, taken on connects and failovers only, never per request); start(), stop()
// and reconfigure() from any thread (their work is posted to the control executor).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/net.hpp"
#include "seawall/upstream/sentinel_replies.hpp"
#include "seawall/upstream/upstream_config.hpp"

namespace seawall::upstream {

class MasterResolver : public std::enable_shared_from_this<MasterResolver> {
 public:
  using Clock = std::chrono::steady_clock;

  static constexpr std::chrono::milliseconds kAnswerReuse{100};
  static constexpr std::chrono::milliseconds kFailoverHoldMax{10000};
  static constexpr std::chrono::milliseconds kDemotedFor{30000};
  static constexpr std::chrono::milliseconds kSubscribeRetry{500};

  // `timeout`: each question to a sentinel (connect, AUTH, reply) gets this long.
  MasterResolver(std::string upstream, SentinelConfig config, std::chrono::milliseconds timeout);

  // A reload changed the sentinels, the master name or their AUTH: forgets the address, and
  // subscribes anew on the new sentinels (when started).
  void reconfigure(SentinelConfig config, std::chrono::milliseconds timeout);

  struct Candidate {
    std::optional<HostPort> master;  // where to connect; nullopt: `error` says why not
    std::string error;
  };
  // The master to connect to now, on the caller's executor.
  awaitable<Candidate> resolve(asio::any_io_executor ex);
  // `at` is not the master (ROLE said otherwise, or it answered -READONLY / -MASTERDOWN): the
  // next resolve() asks the sentinels, and when `at` was the address in use, the change handler
  // runs (every connection of the upstream reconnects).
  void not_master(const HostPort& at, std::string_view why);
  // A connect to `at` failed: the next resolve() asks the sentinels again.
  void connect_failed(const HostPort& at);

  enum class Change : std::uint8_t {
    Learned,    // a master address was learned where none was known (no connection to close)
    Reconnect,  // every connection of the upstream should reconnect (see the header comment)
  };
  // Subscribes to the failover events on every sentinel, on `control`; `on_change` runs there
  // after each change.
  void start(asio::any_io_executor control, std::function<void(Change)> on_change);
  void stop();
  // After the control executor's thread has ended (it may have stopped before stop()'s posted
  // work ran): closes and lets go of the subscriber sockets on the caller's thread, so that none
  // outlives the io_context whose service it belongs to (the resolver itself lives on in config
  // snapshots until the server is destroyed).
  void release_after_stop();

  // For /status and /metrics.
  std::optional<HostPort> current() const;
  bool failover_in_progress() const;
  std::uint64_t switches() const;
  std::uint64_t resolve_failures() const;
  std::string master_name() const;

  // Handles one published message (channel, payload) as the subscriber does; public for the
  // component of the logic that needs no sentinel (unit tests). Returns whether anything changed.
  bool on_message(std::string_view channel, std::string_view payload, Clock::time_point now);

 private:
  struct Sentinels {
    std::vector<SentinelAddress> addresses;
    std::string master;
    UpstreamAuthConfig auth;
    std::chrono::milliseconds timeout{250};
  };
  awaitable<MasterAddrReply> ask(asio::any_io_executor ex, const SentinelAddress& sentinel,
                                 const Sentinels& how, std::string& error);
  awaitable<void> subscribe_loop(std::uint64_t generation, SentinelAddress sentinel);
  void start_subscribers();                // control thread
  void close_subscribers();                // control thread
  void changed(Change change);             // runs the change handler on the control executor
  bool held(Clock::time_point now) const;  // under mutex_
  bool demoted(const HostPort& at, Clock::time_point now) const;  // under mutex_

  const std::string upstream_;

  mutable std::mutex mutex_;
  Sentinels sentinels_;
  std::optional<HostPort> current_;
  Clock::time_point answered_at_{};
  std::optional<Clock::time_point> hold_until_;
  std::map<std::string, Clock::time_point> demoted_;  // HostPort::to_string() -> until
  std::uint64_t switches_ = 0;
  std::uint64_t resolve_failures_ = 0;

  // The subscribers: control thread only.
  std::optional<asio::any_io_executor> control_;
  std::function<void(Change)> on_change_;
  std::uint64_t generation_ = 0;  // bumped by stop() and reconfigure(): older loops end
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  bool stopped_ = true;
};

}  // namespace seawall::upstream
