#pragma once
// CircuitBreaker: one per upstream, shared by every worker thread. Sans I/O: it never reads a
// clock, sleeps or logs; callers pass `now` (a steady_clock time point) and report outcomes.
//
//   Closed --(consecutive failures | failure rate | slow-call rate, after minimum_calls)--> Open
//   Open --(open period elapsed, noticed by the next try_acquire/state call)--> HalfOpen
//   Open --(end_open_period: a health check saw the upstream answer)--> HalfOpen
//   HalfOpen --(half_open_successes_to_close successful probes)--> Closed
//   HalfOpen --(one failed or slow probe)--> Open, for backoff_multiplier times longer (capped)
//
// Use per call: `auto permit = breaker.try_acquire(now); if (!permit.allowed()) { fallback }`,
// then exactly one `breaker.record(permit, outcome, latency, now)` for every allowed permit
// (Outcome::Ignored when the call was abandoned, so a half-open probe slot is always released).
//
// force_open() / force_close() pin the state for the admin endpoint until reset().
// adopt_state_of() lets a breaker built from new thresholds (a reload) continue where the one it
// replaces left off.
//
// Thread safety: every member function may be called concurrently from any thread. In Closed,
// try_acquire and record take no lock: a few relaxed atomic operations on the state word, the
// sliding window and the counters. Half-open probe slots are claimed with a CAS. Only state
// transitions (rare) take a mutex. The transition listener runs on the thread that made the
// transition, after that mutex is released; transitions racing on two threads may reach the
// listener concurrently or out of order, so it must be thread-safe and must not throw.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>

#include "seawall/breaker/breaker_config.hpp"
#include "seawall/breaker/sliding_window.hpp"

namespace seawall::breaker {

enum class State : std::uint8_t { Closed, Open, HalfOpen };

// A manual override from the admin endpoint, in force until reset().
enum class Override : std::uint8_t {
  None,
  ForcedOpen,    // rejects every call, never half-opens
  ForcedClosed,  // allows every call, never trips (outcomes are still counted)
};

// How a call ended, as far as the breaker is concerned.
enum class Outcome : std::uint8_t {
  Success,  // a reply arrived, including command errors such as -WRONGTYPE or -ERR
  Failure,  // I/O error, connection lost, or an error reply classify_error_reply() flags
  Timeout,  // the request deadline passed; counts as a failure and as a slow call
  Ignored,  // not judged (cancelled, dropped locally): counts nowhere, frees a probe slot
};

std::string_view to_string(State state) noexcept;
std::string_view to_string(Override mode) noexcept;
std::string_view to_string(Outcome outcome) noexcept;

// True when a raw RESP error reply means the server cannot serve right now, which counts as a
// breaker failure: -LOADING, -BUSY, -MASTERDOWN, -TRYAGAIN. Command errors (-WRONGTYPE, -ERR,
// -BUSYGROUP, -NOSCRIPT ...) and non-error replies are false. Accepts "-CODE msg\r\n", a RESP3
// blob error ("!<len>\r\nCODE msg\r\n") or the bare message "CODE msg".
bool classify_error_reply(std::string_view reply_bytes) noexcept;
// True for the error replies of a node that is no longer (or not yet) a usable master:
// -READONLY (a replica refusing a write) and -MASTERDOWN (a replica whose link to its master is
// down). A sentinel-managed upstream counts both as breaker failures and asks the sentinels again
// (upstream/master_resolver.hpp); for a fixed address, -READONLY is relayed like any command error.
bool classify_not_master_reply(std::string_view reply_bytes) noexcept;
// True for the error replies with which Redis refuses a whole command before running any of it:
// the server's state (-LOADING, -BUSY, -OOM, -MISCONF, -NOREPLICAS, -READONLY, -MASTERDOWN), a
// cluster's (-CLUSTERDOWN, -TRYAGAIN, -MOVED, -ASK, -CROSSSLOT) or the client's rights (-NOAUTH,
// -NOPERM). Not for scripts: one can fail with such an error after it wrote.
bool refused_unrun(std::string_view reply_bytes) noexcept;

// The answer of try_acquire(): whether the call may go to the upstream, and whether it is a
// half-open probe. Tagged with the breaker's state epoch, so an outcome recorded after the state
// changed does not count towards the new state. A default-constructed permit is a rejection.
class Permit {
 public:
  Permit() = default;

  bool allowed() const noexcept { return kind_ != Kind::Rejected; }
  bool is_probe() const noexcept { return kind_ == Kind::Probe; }

 private:
  friend class CircuitBreaker;
  enum class Kind : std::uint8_t { Rejected, Call, Probe };
  Permit(Kind kind, std::uint32_t epoch) noexcept : kind_(kind), epoch_(epoch) {}

  Kind kind_ = Kind::Rejected;
  std::uint32_t epoch_ = 0;
};

// Monotonic totals since construction (reset() does not clear them), for metrics and tests.
struct BreakerCounters {
  std::uint64_t successes = 0;    // Outcome::Success
  std::uint64_t failures = 0;     // Outcome::Failure and Outcome::Timeout
  std::uint64_t timeouts = 0;     // Outcome::Timeout (also in failures)
  std::uint64_t slow_calls = 0;   // slow successes and failures, and timeouts
  std::uint64_t ignored = 0;      // Outcome::Ignored
  std::uint64_t rejected = 0;     // try_acquire() refusals
  std::uint64_t transitions = 0;  // state changes
  std::uint64_t opened = 0;       // state changes into Open (trips, failed probes, force_open)
};

class CircuitBreaker {
 public:
  using TransitionListener = std::function<void(State from, State to)>;

  // `jitter_seed` seeds the open-period jitter: tests pass a constant, production a random value
  // so that proxies do not synchronise. `config` should pass validate(); bad values are clamped.
  CircuitBreaker(const BreakerConfig& config, std::uint64_t jitter_seed,
                 TransitionListener listener = {});
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;
  ~CircuitBreaker();

  // Closed: always allowed. Open: rejected, unless the open period has elapsed, in which case the
  // breaker half-opens first. HalfOpen: allowed as a probe while fewer than half_open_probes are
  // in flight, else rejected.
  Permit try_acquire(TimePoint now) noexcept;
  // Reports how an allowed call ended (a rejected permit is ignored). `latency` decides slowness.
  void record(const Permit& permit, Outcome outcome, Duration latency, TimePoint now) noexcept;

  // The state at `now`; an Open breaker whose period has elapsed half-opens here.
  State state(TimePoint now) noexcept;
  Override override_mode() const noexcept;
  // When the current open period ends; meaningful only while Open and not forced.
  TimePoint open_until() const noexcept;
  // The calls in the sliding window at `now` (only calls made while Closed are counted there).
  WindowTotals window_totals(TimePoint now) const noexcept;
  BreakerCounters counters() const noexcept;
  const BreakerConfig& config() const noexcept { return config_; }

  // Pins the breaker Open (every call rejected, no half-open) until reset() or force_close().
  void force_open() noexcept;
  // Pins the breaker Closed (nothing trips it) with an empty window until reset() or force_open().
  void force_close() noexcept;
  // Back to automatic operation: Closed, empty window, backoff restarted. Counters are kept.
  void reset() noexcept;

  // Ends the current open period at `now`, as if it had run out: the breaker half-opens, so the
  // next calls are probes. For a health check that saw the upstream answer outside the breaker's
  // permits: traffic then resumes as soon as Redis is back, not when an open period that grew
  // with the outage's length runs out. The backoff level is kept, so a failed probe still reopens
  // for longer. Returns false, changing nothing, unless the breaker is Open and not forced.
  bool end_open_period(TimePoint now) noexcept;

  // Takes over `old`'s state as of `now`, for a reload that replaces `old` with a breaker of new
  // thresholds: Open keeps its remaining open period (capped at this breaker's
  // max_open_duration), HalfOpen restarts its probes with none in flight, Closed keeps the run of
  // consecutive failures; the backoff level and a ForcedOpen / ForcedClosed override carry over.
  // Not carried over: the sliding window (its shape may have changed; it starts empty) and the
  // counters (this breaker's start at zero; UpstreamState sums those of retired breakers).
  // Reports no transition. Meant for a breaker no caller has seen yet; `old` may be in use, and
  // a permit it issued keeps recording into it.
  void adopt_state_of(const CircuitBreaker& old, TimePoint now) noexcept;

 private:
  static constexpr std::size_t kCacheLine = 64;

  struct Change {
    State from = State::Closed;
    State to = State::Closed;
    bool changed = false;
  };

  Permit try_probe(std::uint32_t epoch) noexcept;
  void record_call(const Permit& permit, CallSample sample, TimePoint now) noexcept;
  void record_probe(const Permit& permit, Outcome outcome, bool slow, TimePoint now) noexcept;
  bool should_trip(const WindowTotals& totals, std::uint32_t consecutive) const noexcept;

  // Transitions. Each re-checks, under mutex_, that the state is still the one it was decided on.
  void maybe_half_open(TimePoint now) noexcept;
  void trip(std::uint32_t epoch, TimePoint now) noexcept;
  void reopen(std::uint32_t epoch, TimePoint now) noexcept;
  void close_after_probes(std::uint32_t epoch) noexcept;
  // Runs `enter(word, change)` under mutex_ if the breaker is still in `from`, in `epoch`, with
  // no override; then reports the change.
  template <class Enter>
  void transition_from(State from, std::uint32_t epoch, Enter&& enter) noexcept;
  void set_override(State to, Override mode) noexcept;
  // Requires mutex_ and `word` Open: starts a half-open period with no probe in flight.
  Change half_open_locked(std::uint64_t word) noexcept;
  // Requires mutex_. Publishes the new state word and returns what changed.
  Change enter_locked(std::uint64_t word, State to, Override mode) noexcept;
  void enter_open_locked(std::uint64_t word, TimePoint now, Change& change) noexcept;
  Duration next_open_period_locked() noexcept;
  void notify(const Change& change) const;

  const BreakerConfig config_;
  const TransitionListener listener_;
  // Config values converted once for the hot path.
  const Duration slow_call_duration_;
  const bool slow_trip_enabled_;

  // Read on every call; written only by transitions. Layout: epoch << 32 | mode << 8 | state.
  alignas(kCacheLine) std::atomic<std::uint64_t> state_word_;
  std::atomic<Clock::rep> open_until_{0};

  // Half-open bookkeeping: epoch << 32 | probes in flight << 16 | probe successes.
  alignas(kCacheLine) std::atomic<std::uint64_t> half_open_{0};

  alignas(kCacheLine) std::atomic<std::uint32_t> consecutive_failures_{0};
  SlidingWindow window_;

  enum Counter : std::size_t {
    kSuccesses,
    kFailures,
    kTimeouts,
    kSlowCalls,
    kIgnored,
    kRejected,
    kTransitions,
    kOpened,
    kCounterCount,
  };
  alignas(kCacheLine) std::array<std::atomic<std::uint64_t>, kCounterCount> counters_{};

  // Guards transitions and the fields below.
  alignas(kCacheLine) mutable std::mutex mutex_;
  std::uint32_t backoff_level_ = 0;  // reopens since the breaker last closed
  std::uint64_t rng_state_;          // splitmix64 state for the jitter
};

}  // namespace seawall::breaker
