#pragma once
// Everything about one upstream that all worker threads share: its circuit breaker, its journal
// of writes accepted while it was unavailable, and the error lines naming it.
// Thread safety: shareable; the breaker and journal are thread-safe, the rest is atomics or
// immutable.
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/fault/fault_config.hpp"
#include "seawall/upstream/journal.hpp"
#include "seawall/upstream/journal_config.hpp"
#include "seawall/upstream/master_resolver.hpp"
#include "seawall/upstream/script_registry.hpp"
#include "seawall/upstream/upstream_config.hpp"

namespace seawall::upstream {

class UpstreamState {
 public:
  using Clock = std::chrono::steady_clock;

  UpstreamState(const UpstreamConfig& config, const JournalConfig& journal, std::uint64_t seed);

  const std::string& name() const { return name_; }
  // The current breaker. A reload with new thresholds installs a new one; callers take a
  // reference once per request and record into the one that issued the permit.
  breaker::CircuitBreaker& breaker() { return *breaker_.load(std::memory_order_acquire); }
  // Installs a breaker with `config` if it differs from the current one's, in the state the
  // current one is in at `now` (CircuitBreaker::adopt_state_of): a reload neither closes an open
  // breaker nor drops an operator's override. Returns whether it did; thread-safe.
  bool reconfigure_breaker(const breaker::BreakerConfig& config, Clock::time_point now);
  // The admin API's overrides, applied to the current breaker under the same lock a reload
  // takes, so an override racing with a reload lands on the breaker that stays.
  void force_breaker_open();
  void force_breaker_closed();
  void reset_breaker();
  // The counters of every breaker this upstream has had, summed, so the totals keep growing
  // across reloads (a new breaker's own counters start at zero). For scrapes; takes a lock.
  breaker::BreakerCounters breaker_counters() const;

  // The latest state change of this upstream's breakers (a reload's replacement reports none,
  // so this stays the last real one), with its wall-clock time, for GET /status.
  struct Transition {
    breaker::State from = breaker::State::Closed;
    breaker::State to = breaker::State::Closed;
    std::chrono::system_clock::time_point at;
  };
  // nullopt before the first transition. Lock-free: one atomic word.
  std::optional<Transition> last_transition() const;
  Journal& journal() { return journal_; }
  // Where the master is, for a sentinel-managed upstream (config.sentinel set); idle otherwise.
  // The same one for the process's life: a reload reconfigures it (MasterResolver::reconfigure).
  const std::shared_ptr<MasterResolver>& resolver() const { return resolver_; }
  // The scripts clients sent to this upstream, loaded on each of its new connections.
  ScriptRegistry& scripts() { return scripts_; }

  // False while a journal waits for replay: nothing may reach Redis before it.
  bool ready() const { return journal_.empty(); }
  // Whether Redis may be asked now: no journal waits and the breaker is not open.
  bool available(Clock::time_point now) {
    return ready() && breaker().state(now) != breaker::State::Open;
  }

  // Requests that timed out on the shared connections and may still run on Redis (their late
  // reply has not come, their connection has not ended). A replay waits for them: one running
  // after it would take its key back to an older value than the journal's.
  std::atomic<std::int64_t>& in_doubt() { return in_doubt_; }
  std::int64_t in_doubt_requests() const { return in_doubt_.load(std::memory_order_acquire); }

  // When the latest CLIENT PAUSE a client sent through seawall ends (steady_clock ticks since
  // its epoch; 0: none). Every connection to this upstream lets its requests wait until then
  // rather than time out (ConnectionMetrics::paused_until): Redis holding them is asked for,
  // not an outage, and the breaker must not count it as one.
  std::atomic<std::int64_t>& paused_until() { return paused_until_; }
  void note_pause(Clock::time_point until) {
    paused_until_.store(until.time_since_epoch().count(), std::memory_order_relaxed);
  }

  // Successful connects of every connection to this upstream (ConnectionMetrics::connects): the
  // ones in their reconnect backoff try again at once when another connects.
  std::atomic<std::uint64_t>& connects() { return connects_; }

  // The round trip of the latest health-check PING that Redis answered (set by the health
  // checker), or nullopt before the first one.
  void record_health_check_latency(Clock::duration latency) {
    health_latency_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count(),
                             std::memory_order_relaxed);
  }
  std::optional<std::chrono::nanoseconds> last_health_check_latency() const {
    const auto ns = health_latency_ns_.load(std::memory_order_relaxed);
    return ns < 0 ? std::nullopt : std::optional(std::chrono::nanoseconds(ns));
  }

  // Commands of this upstream a configured fault was applied to, by type (faults).
  void count_injected_fault(fault::FaultType type) {
    injected_faults_[static_cast<std::size_t>(type)].fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t injected_faults(fault::FaultType type) const {
    return injected_faults_[static_cast<std::size_t>(type)].load(std::memory_order_relaxed);
  }

  // Full error lines naming this upstream (see resp/replies.hpp).
  const std::string& no_fallback_error() const { return no_fallback_; }
  const std::string& write_rejected_error() const { return write_rejected_; }
  const std::string& cannot_acknowledge_error() const { return cannot_ack_; }
  const std::string& journal_full_error() const { return journal_full_; }
  const std::string& write_unknown_error() const { return write_unknown_; }

 private:
  void on_transition(breaker::State from, breaker::State to);

  std::string name_;
  std::atomic<std::chrono::nanoseconds::rep> health_latency_ns_{-1};  // -1 = none yet
  std::atomic<std::int64_t> in_doubt_{0};
  std::array<std::atomic<std::uint64_t>, 2> injected_faults_{};  // by fault::FaultType
  std::atomic<std::int64_t> paused_until_{0};
  std::atomic<std::uint64_t> connects_{0};
  // The last transition packed as ms since the Unix epoch << 8 | from << 4 | to; 0 = none. Two
  // transitions racing on two threads may reach the listener out of order: the later time wins.
  std::atomic<std::uint64_t> last_transition_{0};
  Journal journal_;
  std::shared_ptr<MasterResolver> resolver_;
  ScriptRegistry scripts_;
  std::uint64_t seed_;
  mutable std::mutex breakers_mutex_;
  // Every breaker ever installed: retired ones stay alive for permits still in flight.
  std::vector<std::unique_ptr<breaker::CircuitBreaker>> breakers_;
  std::atomic<breaker::CircuitBreaker*> breaker_{nullptr};
  std::string no_fallback_;
  std::string write_rejected_;
  std::string cannot_ack_;
  std::string journal_full_;
  std::string write_unknown_;
};

// Hands one client command to every upstream's ScriptRegistry (where it goes is not known yet,
// and a script loaded on an upstream that never runs it costs that Redis a few bytes).
void note_scripts(std::span<const std::unique_ptr<UpstreamState>> upstreams,
                  const command::CommandInfo* info, std::span<const std::string_view> args);

}  // namespace seawall::upstream
