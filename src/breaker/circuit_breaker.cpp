#include "seawall/breaker/circuit_breaker.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace seawall::breaker {
namespace {

// State word: epoch << 32 | override << 8 | state. The epoch changes on every transition, so a
// permit remembers which period it was issued in.
constexpr unsigned kEpochShift = 32;
constexpr unsigned kModeShift = 8;
constexpr std::uint64_t kByteMask = 0xff;

std::uint64_t pack_state(State state, Override mode, std::uint32_t epoch) {
  return (std::uint64_t{epoch} << kEpochShift) |
         (std::uint64_t{static_cast<std::uint8_t>(mode)} << kModeShift) |
         std::uint64_t{static_cast<std::uint8_t>(state)};
}
State state_of(std::uint64_t word) { return static_cast<State>(word & kByteMask); }
Override mode_of(std::uint64_t word) {
  return static_cast<Override>((word >> kModeShift) & kByteMask);
}
std::uint32_t epoch_of(std::uint64_t word) {
  return static_cast<std::uint32_t>(word >> kEpochShift);
}

// Half-open word: epoch << 32 | probes in flight << 16 | successful probes. Packing the epoch in
// means a probe slot claimed or released for an earlier half-open period can never leak into the
// current one.
constexpr unsigned kInFlightShift = 16;
constexpr std::uint64_t kInFlightOne = std::uint64_t{1} << kInFlightShift;
constexpr std::uint64_t kHalfMask = 0xffff;
constexpr std::uint32_t kMaxProbes = 0xffff;

std::uint64_t pack_half_open(std::uint32_t epoch) { return std::uint64_t{epoch} << kEpochShift; }
std::uint32_t half_open_epoch(std::uint64_t word) {
  return static_cast<std::uint32_t>(word >> kEpochShift);
}
std::uint64_t in_flight_of(std::uint64_t word) { return (word >> kInFlightShift) & kHalfMask; }
std::uint64_t successes_of(std::uint64_t word) { return word & kHalfMask; }

double to_ns(std::chrono::milliseconds duration) {
  return std::chrono::duration<double, std::nano>(duration).count();
}

// Brings every field into the range the breaker relies on; validate() reports the same problems.
BreakerConfig sanitize(BreakerConfig config) {
  const auto percent = [](double value) {
    return std::isfinite(value) ? std::clamp(value, 0.0, 100.0) : 0.0;
  };
  config.failure_rate_threshold = percent(config.failure_rate_threshold);
  config.slow_call_rate_threshold = percent(config.slow_call_rate_threshold);
  config.slow_call_duration = std::max(config.slow_call_duration, std::chrono::milliseconds{0});
  config.open_duration = std::max(config.open_duration, std::chrono::milliseconds{0});
  config.max_open_duration = std::max(config.max_open_duration, config.open_duration);
  config.backoff_multiplier = std::isfinite(config.backoff_multiplier)
                                  ? std::clamp(config.backoff_multiplier, 1.0, 100.0)
                                  : 1.0;
  config.jitter = std::isfinite(config.jitter) ? std::clamp(config.jitter, 0.0, 1.0) : 0.0;
  config.half_open_probes = std::clamp<std::uint32_t>(config.half_open_probes, 1, kMaxProbes);
  config.half_open_successes_to_close =
      std::clamp<std::uint32_t>(config.half_open_successes_to_close, 1, kMaxProbes);
  return config;
}

}  // namespace

namespace {

// Names by enumerator value (metrics labels, logs, the admin API).
constexpr std::array<std::string_view, 3> kStateNames{"closed", "open", "half_open"};
constexpr std::array<std::string_view, 3> kOverrideNames{"none", "forced_open", "forced_closed"};
constexpr std::array<std::string_view, 4> kOutcomeNames{"success", "failure", "timeout", "ignored"};

template <std::size_t N, class Enum>
std::string_view name_of(const std::array<std::string_view, N>& names, Enum value) noexcept {
  const auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : std::string_view("unknown");
}

}  // namespace

std::string_view to_string(State state) noexcept { return name_of(kStateNames, state); }
std::string_view to_string(Override mode) noexcept { return name_of(kOverrideNames, mode); }
std::string_view to_string(Outcome outcome) noexcept { return name_of(kOutcomeNames, outcome); }

namespace {

// The error code of an error reply ("LOADING"), or "" when `reply_bytes` is not one.
std::string_view error_code_of(std::string_view reply_bytes) noexcept {
  std::string_view body = reply_bytes;
  if (body.empty()) {
    return {};
  }
  if (body.front() == '-') {
    body.remove_prefix(1);
  } else if (body.front() == '!') {
    const auto line_end = body.find("\r\n");
    if (line_end == std::string_view::npos) {
      return {};
    }
    body.remove_prefix(line_end + 2);
  } else if (body.front() < 'A' || body.front() > 'Z') {
    return {};  // another RESP type, or not an error code at all
  }
  const auto code_end = body.find_first_of(" \r\n");
  return body.substr(0, code_end);
}

}  // namespace

bool classify_error_reply(std::string_view reply_bytes) noexcept {
  const std::string_view code = error_code_of(reply_bytes);
  // Exact codes: -BUSYGROUP and -BUSYKEY are command errors that merely start with BUSY.
  return code == "LOADING" || code == "BUSY" || code == "MASTERDOWN" || code == "TRYAGAIN";
}

bool classify_not_master_reply(std::string_view reply_bytes) noexcept {
  const std::string_view code = error_code_of(reply_bytes);
  return code == "READONLY" || code == "MASTERDOWN";
}

bool refused_unrun(std::string_view reply_bytes) noexcept {
  static constexpr std::array<std::string_view, 14> kCodes{
      "LOADING",     "BUSY",     "OOM",   "MISCONF", "NOREPLICAS", "READONLY", "MASTERDOWN",
      "CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK",     "CROSSSLOT",  "NOAUTH",   "NOPERM"};
  const std::string_view code = error_code_of(reply_bytes);
  return !code.empty() && std::find(kCodes.begin(), kCodes.end(), code) != kCodes.end();
}

CircuitBreaker::CircuitBreaker(const BreakerConfig& config, std::uint64_t jitter_seed,
                               TransitionListener listener)
    : config_(sanitize(config)),
      listener_(std::move(listener)),
      slow_call_duration_(config_.slow_call_duration),
      slow_trip_enabled_(config_.slow_call_rate_threshold > 0.0),
      state_word_(pack_state(State::Closed, Override::None, 0)),
      window_(config_),
      rng_state_(jitter_seed) {}

CircuitBreaker::~CircuitBreaker() = default;

Permit CircuitBreaker::try_acquire(TimePoint now) noexcept {
  std::uint64_t word = state_word_.load(std::memory_order_acquire);
  if (state_of(word) == State::Open && mode_of(word) == Override::None &&
      now.time_since_epoch().count() >= open_until_.load(std::memory_order_relaxed)) {
    maybe_half_open(now);
    word = state_word_.load(std::memory_order_acquire);
  }
  switch (state_of(word)) {
    case State::Closed:
      return Permit{Permit::Kind::Call, epoch_of(word)};
    case State::HalfOpen: {
      const Permit permit = try_probe(epoch_of(word));
      if (permit.allowed()) {
        return permit;
      }
      break;
    }
    case State::Open:
      break;
  }
  counters_[kRejected].fetch_add(1, std::memory_order_relaxed);
  return Permit{};
}

Permit CircuitBreaker::try_probe(std::uint32_t epoch) noexcept {
  std::uint64_t word = half_open_.load(std::memory_order_acquire);
  for (;;) {
    if (half_open_epoch(word) != epoch || in_flight_of(word) >= config_.half_open_probes) {
      return Permit{};
    }
    if (half_open_.compare_exchange_weak(word, word + kInFlightOne, std::memory_order_acq_rel)) {
      return Permit{Permit::Kind::Probe, epoch};
    }
  }
}

void CircuitBreaker::record(const Permit& permit, Outcome outcome, Duration latency,
                            TimePoint now) noexcept {
  if (!permit.allowed()) {
    return;
  }
  if (outcome == Outcome::Ignored) {
    counters_[kIgnored].fetch_add(1, std::memory_order_relaxed);
    if (permit.is_probe()) {
      record_probe(permit, outcome, false, now);
    }
    return;
  }
  const bool failure = outcome != Outcome::Success;
  const bool slow = outcome == Outcome::Timeout ||
                    (slow_call_duration_ > Duration::zero() && latency >= slow_call_duration_);
  counters_[failure ? kFailures : kSuccesses].fetch_add(1, std::memory_order_relaxed);
  if (outcome == Outcome::Timeout) {
    counters_[kTimeouts].fetch_add(1, std::memory_order_relaxed);
  }
  if (slow) {
    counters_[kSlowCalls].fetch_add(1, std::memory_order_relaxed);
  }
  if (permit.is_probe()) {
    record_probe(permit, outcome, slow, now);
  } else {
    record_call(permit, CallSample{failure, slow}, now);
  }
}

void CircuitBreaker::record_call(const Permit& permit, CallSample sample, TimePoint now) noexcept {
  const std::uint64_t word = state_word_.load(std::memory_order_acquire);
  if (state_of(word) != State::Closed || epoch_of(word) != permit.epoch_) {
    return;  // a late outcome of an earlier period says nothing about this one
  }
  std::uint32_t consecutive = 0;
  if (sample.failure) {
    consecutive = consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  } else if (consecutive_failures_.load(std::memory_order_relaxed) != 0) {
    // Load first: successes are the common case and should not write a shared cache line.
    consecutive_failures_.store(0, std::memory_order_relaxed);
  }
  const WindowTotals totals = window_.add(sample, now);
  if (mode_of(word) == Override::None && should_trip(totals, consecutive)) {
    trip(permit.epoch_, now);
  }
}

bool CircuitBreaker::should_trip(const WindowTotals& totals,
                                 std::uint32_t consecutive) const noexcept {
  if (config_.consecutive_failures > 0 && consecutive >= config_.consecutive_failures) {
    return true;
  }
  if (totals.calls == 0 || totals.calls < config_.minimum_calls) {
    return false;
  }
  const double calls = totals.calls;
  if (config_.failure_rate_threshold > 0.0 &&
      100.0 * totals.failures >= config_.failure_rate_threshold * calls) {
    return true;
  }
  return slow_trip_enabled_ && 100.0 * totals.slow >= config_.slow_call_rate_threshold * calls;
}

void CircuitBreaker::record_probe(const Permit& permit, Outcome outcome, bool slow,
                                  TimePoint now) noexcept {
  // While the upstream is still slow, closing would only trip again: a slow probe fails.
  const bool failed =
      outcome == Outcome::Failure || outcome == Outcome::Timeout || (slow && slow_trip_enabled_);
  std::uint64_t word = half_open_.load(std::memory_order_acquire);
  for (;;) {
    if (half_open_epoch(word) != permit.epoch_ || in_flight_of(word) == 0) {
      return;  // the half-open period this probe belonged to is over
    }
    if (failed) {
      reopen(permit.epoch_, now);
      return;
    }
    std::uint64_t next = word - kInFlightOne;
    if (outcome == Outcome::Success) {
      ++next;
    }
    if (half_open_.compare_exchange_weak(word, next, std::memory_order_acq_rel)) {
      if (outcome == Outcome::Success &&
          successes_of(next) >= config_.half_open_successes_to_close) {
        close_after_probes(permit.epoch_);
      }
      return;
    }
  }
}

State CircuitBreaker::state(TimePoint now) noexcept {
  std::uint64_t word = state_word_.load(std::memory_order_acquire);
  if (state_of(word) == State::Open && mode_of(word) == Override::None &&
      now.time_since_epoch().count() >= open_until_.load(std::memory_order_relaxed)) {
    maybe_half_open(now);
    word = state_word_.load(std::memory_order_acquire);
  }
  return state_of(word);
}

Override CircuitBreaker::override_mode() const noexcept {
  return mode_of(state_word_.load(std::memory_order_acquire));
}

TimePoint CircuitBreaker::open_until() const noexcept {
  return TimePoint{Duration{open_until_.load(std::memory_order_relaxed)}};
}

WindowTotals CircuitBreaker::window_totals(TimePoint now) const noexcept {
  return window_.totals(now);
}

BreakerCounters CircuitBreaker::counters() const noexcept {
  const auto get = [this](Counter counter) {
    return counters_[counter].load(std::memory_order_relaxed);
  };
  BreakerCounters out;
  out.successes = get(kSuccesses);
  out.failures = get(kFailures);
  out.timeouts = get(kTimeouts);
  out.slow_calls = get(kSlowCalls);
  out.ignored = get(kIgnored);
  out.rejected = get(kRejected);
  out.transitions = get(kTransitions);
  out.opened = get(kOpened);
  return out;
}

void CircuitBreaker::force_open() noexcept { set_override(State::Open, Override::ForcedOpen); }

void CircuitBreaker::force_close() noexcept { set_override(State::Closed, Override::ForcedClosed); }

void CircuitBreaker::reset() noexcept { set_override(State::Closed, Override::None); }

void CircuitBreaker::maybe_half_open(TimePoint now) noexcept {
  Change change;
  {
    const std::lock_guard lock(mutex_);
    const std::uint64_t word = state_word_.load(std::memory_order_relaxed);
    if (state_of(word) != State::Open || mode_of(word) != Override::None ||
        now.time_since_epoch().count() < open_until_.load(std::memory_order_relaxed)) {
      return;  // another thread got here first, or an override intervened
    }
    change = half_open_locked(word);
  }
  notify(change);
}

bool CircuitBreaker::end_open_period(TimePoint now) noexcept {
  Change change;
  {
    const std::lock_guard lock(mutex_);
    const std::uint64_t word = state_word_.load(std::memory_order_relaxed);
    if (state_of(word) != State::Open || mode_of(word) != Override::None) {
      return false;  // nothing to end, or an operator keeps it open
    }
    // The period is over now: open_until() must not claim it runs on.
    open_until_.store(
        std::min(open_until_.load(std::memory_order_relaxed), now.time_since_epoch().count()),
        std::memory_order_relaxed);
    change = half_open_locked(word);
  }
  notify(change);
  return true;
}

void CircuitBreaker::adopt_state_of(const CircuitBreaker& old, TimePoint now) noexcept {
  if (&old == this) {
    return;
  }
  // Both mutexes: old's transitions are serialised against this copy, so what is copied is one
  // state of old, not half of two. std::scoped_lock orders the two locks, so no deadlock.
  const std::scoped_lock lock(mutex_, old.mutex_);
  const std::uint64_t theirs = old.state_word_.load(std::memory_order_acquire);
  const std::uint64_t word = state_word_.load(std::memory_order_relaxed);
  const State state = state_of(theirs);
  const Override mode = mode_of(theirs);
  // A new epoch: a permit this breaker issued before the adoption counts for nothing after it.
  const std::uint32_t epoch = epoch_of(word) + 1;
  backoff_level_ = old.backoff_level_;
  window_.clear();
  consecutive_failures_.store(state == State::Closed && mode == Override::None
                                  ? old.consecutive_failures_.load(std::memory_order_relaxed)
                                  : 0,
                              std::memory_order_relaxed);
  if (state == State::Open) {
    const Clock::rep cap = (now + config_.max_open_duration).time_since_epoch().count();
    open_until_.store(std::min(old.open_until_.load(std::memory_order_relaxed), cap),
                      std::memory_order_relaxed);
  } else if (state == State::HalfOpen) {
    half_open_.store(pack_half_open(epoch), std::memory_order_relaxed);
  }
  state_word_.store(pack_state(state, mode, epoch), std::memory_order_release);
}

template <class Enter>
void CircuitBreaker::transition_from(State from, std::uint32_t epoch, Enter&& enter) noexcept {
  Change change;
  {
    const std::lock_guard lock(mutex_);
    const std::uint64_t word = state_word_.load(std::memory_order_relaxed);
    if (state_of(word) != from || epoch_of(word) != epoch || mode_of(word) != Override::None) {
      return;
    }
    enter(word, change);
  }
  notify(change);
}

void CircuitBreaker::trip(std::uint32_t epoch, TimePoint now) noexcept {
  transition_from(State::Closed, epoch, [&](std::uint64_t word, Change& change) {
    backoff_level_ = 0;
    enter_open_locked(word, now, change);
  });
}

void CircuitBreaker::reopen(std::uint32_t epoch, TimePoint now) noexcept {
  transition_from(State::HalfOpen, epoch, [&](std::uint64_t word, Change& change) {
    // Grow the exponent only while below the cap, so it stays small and pow() stays finite.
    const double uncapped =
        to_ns(config_.open_duration) * std::pow(config_.backoff_multiplier, backoff_level_);
    if (uncapped < to_ns(config_.max_open_duration)) {
      ++backoff_level_;
    }
    enter_open_locked(word, now, change);
  });
}

void CircuitBreaker::close_after_probes(std::uint32_t epoch) noexcept {
  transition_from(State::HalfOpen, epoch, [&](std::uint64_t word, Change& change) {
    window_.clear();
    consecutive_failures_.store(0, std::memory_order_relaxed);
    backoff_level_ = 0;
    change = enter_locked(word, State::Closed, Override::None);
  });
}

void CircuitBreaker::set_override(State to, Override mode) noexcept {
  Change change;
  {
    const std::lock_guard lock(mutex_);
    const std::uint64_t word = state_word_.load(std::memory_order_relaxed);
    if (to == State::Closed) {
      window_.clear();
      consecutive_failures_.store(0, std::memory_order_relaxed);
      backoff_level_ = 0;
    }
    change = enter_locked(word, to, mode);
  }
  notify(change);
}

CircuitBreaker::Change CircuitBreaker::half_open_locked(std::uint64_t word) noexcept {
  // Published by the release store of the state word in enter_locked().
  half_open_.store(pack_half_open(epoch_of(word) + 1), std::memory_order_relaxed);
  return enter_locked(word, State::HalfOpen, Override::None);
}

CircuitBreaker::Change CircuitBreaker::enter_locked(std::uint64_t word, State to,
                                                    Override mode) noexcept {
  state_word_.store(pack_state(to, mode, epoch_of(word) + 1), std::memory_order_release);
  Change change;
  change.from = state_of(word);
  change.to = to;
  change.changed = change.from != to;
  if (change.changed) {
    counters_[kTransitions].fetch_add(1, std::memory_order_relaxed);
    if (to == State::Open) {
      counters_[kOpened].fetch_add(1, std::memory_order_relaxed);
    }
  }
  return change;
}

void CircuitBreaker::enter_open_locked(std::uint64_t word, TimePoint now, Change& change) noexcept {
  const Duration period = next_open_period_locked();
  open_until_.store((now + period).time_since_epoch().count(), std::memory_order_relaxed);
  change = enter_locked(word, State::Open, Override::None);
}

Duration CircuitBreaker::next_open_period_locked() noexcept {
  double period_ns =
      std::min(to_ns(config_.open_duration) * std::pow(config_.backoff_multiplier, backoff_level_),
               to_ns(config_.max_open_duration));
  if (config_.jitter > 0.0) {
    // splitmix64: tiny, seedable, and the same sequence on every platform (unlike std:: dists).
    std::uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const double unit = static_cast<double>(z >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    period_ns -= period_ns * config_.jitter * unit;
  }
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::nano>(period_ns));
}

void CircuitBreaker::notify(const Change& change) const {
  if (change.changed && listener_) {
    listener_(change.from, change.to);
  }
}

}  // namespace seawall::breaker
