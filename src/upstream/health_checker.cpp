#include "seawall/upstream/health_checker.hpp"

#include <algorithm>

#include "seawall/command/sent.hpp"
#include "seawall/upstream/cluster_topology.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace {

constexpr std::size_t kReplayBatch = 256;
// Tokens of the health connection's requests: the replies of a replay are only counted.
constexpr std::uint64_t kReplayToken = 0;
constexpr std::uint64_t kPingToken = 1;
// How often to look again while a journal waits, or while the breaker is open and the health
// connection is down (a cheap look at a flag: the PING goes as soon as it is connected).
constexpr std::chrono::milliseconds kJournalPoll{50};
constexpr std::chrono::milliseconds kReconnectPoll{50};
// A replay waits for requests that timed out to settle (their late replies come as soon as
// Redis runs again), but not for ever: one lost in a half-dead connection must not keep the
// upstream unavailable.
constexpr std::chrono::seconds kInDoubtWaitMax{5};

UpstreamConfig health_connection_config(const UpstreamConfig& config) {
  UpstreamConfig own = config;
  own.connections = 1;
  // One timeout per connection (see Connection): the health-check deadline, unless the request
  // timeout is longer, which the replayed batches may need.
  own.request_timeout = std::max(config.health_check.timeout, config.request_timeout);
  // While Redis refuses connections, the health connection's attempts are the probes: a long
  // reconnect_backoff_max must not add seconds between Redis coming back and seawall noticing.
  own.reconnect_backoff_max =
      std::min(config.reconnect_backoff_max, HealthChecker::kMaxReconnectBackoff);
  own.reconnect_backoff_min = std::min(config.reconnect_backoff_min, own.reconnect_backoff_max);
  return own;
}

}  // namespace

HealthChecker::HealthChecker(asio::any_io_executor ex, const UpstreamConfig& config,
                             UpstreamState& state, std::uint32_t max_depth, HealthCounters counters,
                             PoolReadiness pool)
    : ex_(ex),
      config_(health_connection_config(config)),
      state_(state),
      // Its PING waits out a pause a client asked Redis for too (ALL pauses it): no failed check.
      connection_(std::make_shared<Connection>(
          ex, config_, max_depth,
          ConnectionMetrics{.paused_until = &state.paused_until(), .connects = &state.connects()})),
      replies_signal_(ex),
      counters_(counters),
      pool_(pool),
      // By then every shared connection has made a connect attempt since Redis answered.
      pool_wait_max_(config.reconnect_backoff_max + config.connect_timeout) {}

void HealthChecker::start() {
  connection_->start();
  asio::co_spawn(
      ex_, [self = shared_from_this()] { return self->run(); },
      util::on_coroutine_done("upstream", "health checker"));
}

void HealthChecker::stop() {
  stopped_ = true;
  connection_->stop();
  replies_signal_.notify();
}

void HealthChecker::on_reply(std::uint64_t token, std::string_view, ReplyStatus status,
                             Clock::time_point now) {
  if (status != ReplyStatus::Ok) {
    ++failed_;
  } else if (token == kReplayToken && failed_ == 0) {
    ++replayed_prefix_;  // replies come in order: these entries reached Redis
  } else if (token == kPingToken) {
    const Clock::duration latency = now - ping_sent_at_;
    state_.record_health_check_latency(latency);
    if (counters_.latency != nullptr) {
      counters_.latency->observe(latency);
    }
  }
  if (--outstanding_ == 0) {
    replies_signal_.notify();
  }
}

awaitable<void> HealthChecker::wait_for_replies() {
  while (outstanding_ > 0 && !stopped_) {
    co_await replies_signal_.wait();
  }
}

void HealthChecker::count_check(bool ok, bool while_open) {
  if (!ok) {
    ++check_failures_;
  }
  metrics::Counter* counter = ok ? counters_.ok : counters_.failed;
  if (counter != nullptr) {
    counter->inc();
  }
  if (while_open) {
    counter = ok ? counters_.open_probes_ok : counters_.open_probes_failed;
    if (counter != nullptr) {
      counter->inc();
    }
  }
}

awaitable<bool> HealthChecker::ping(Clock::time_point now, breaker::Permit permit,
                                    breaker::CircuitBreaker* issuer) {
  failed_ = 0;
  outstanding_ = 1;
  ++checks_;
  ping_sent_at_ = now;
  connection_->submit(command::sent::kPingRequest, this, kPingToken, now, permit, issuer);
  co_await wait_for_replies();
  co_return failed_ == 0 && !stopped_;
}

awaitable<bool> HealthChecker::replay_batch() {
  const std::vector<std::string> batch = state_.journal().front(kReplayBatch);
  if (batch.empty()) {
    co_return true;
  }
  const auto now = Clock::now();
  if (!replaying_) {
    replaying_ = true;
    replay_started_ = now;
    replayed_ = 0;
  }
  failed_ = 0;
  replayed_prefix_ = 0;
  outstanding_ = batch.size();
  for (const std::string& command : batch) {
    connection_->submit(command, this, kReplayToken, now);
  }
  co_await wait_for_replies();
  // What Redis confirmed is done, even when a later entry failed: sending it again would take
  // its key back to that value for a while, after newer entries of the batch.
  state_.journal().pop(replayed_prefix_);
  replayed_ += replayed_prefix_;
  co_return failed_ == 0 && !stopped_;
}

void HealthChecker::finish_replay(breaker::State breaker_state) {
  // One line per replay, not per batch: a long outage's journal is thousands of batches. And not
  // before the breaker leaves open: until then clients still journal, and those writes are part
  // of the same replay.
  if (!replaying_ || !state_.journal().empty() || breaker_state == breaker::State::Open) {
    return;
  }
  replaying_ = false;
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - replay_started_);
  util::logger("upstream")
      ->info("upstream={} replayed {} journaled writes in {} ms", state_.name(), replayed_,
             took.count());
}

awaitable<HealthChecker::Clock::duration> HealthChecker::probe_while_open(Clock::time_point now) {
  const bool connected = connection_->connected();
  if (!in_open_) {
    // Redis has just failed: the first probe waits one interval, the next ones twice as long
    // each time, up to kMaxOpenProbeDelay.
    in_open_ = true;
    was_connected_ = connected;
    answered_at_.reset();
    open_probe_delay_ =
        std::min<Clock::duration>(config_.health_check.interval, kMaxOpenProbeDelay);
    next_open_probe_ = now + open_probe_delay_;
  }
  // A reconnect means Redis accepts connections again: ask it at once, do not wait for the pace.
  const bool reconnected = connected && !was_connected_;
  was_connected_ = connected;
  if (answered_at_ && !connected) {
    answered_at_.reset();  // gone again before the shared connections were back
  }
  if (answered_at_) {
    co_return end_open_period_when_pools_ready(now);
  }
  if (!reconnected && now < next_open_probe_) {
    const Clock::duration until_due = next_open_probe_ - now;
    co_return connected ? until_due : std::min<Clock::duration>(until_due, kReconnectPoll);
  }
  // Outside the breaker's permits (it refuses them while open) and not recorded in it: only an
  // answer changes anything, by ending the open period.
  const bool answered = connected && co_await ping(now, breaker::Permit{}, nullptr);
  if (!connected) {
    ++checks_;
  }
  count_check(answered, true);
  const auto after = Clock::now();
  if (answered) {
    answered_at_ = after;
    co_return end_open_period_when_pools_ready(after);
  }
  next_open_probe_ = after + open_probe_delay_;
  const Clock::duration wait = open_probe_delay_;
  open_probe_delay_ = std::min<Clock::duration>(open_probe_delay_ * 2, kMaxOpenProbeDelay);
  co_return connected ? wait : std::min<Clock::duration>(wait, kReconnectPoll);
}

bool HealthChecker::in_doubt_settled(Clock::time_point now) {
  if (state_.in_doubt_requests() <= 0) {
    in_doubt_since_.reset();
    return true;
  }
  if (!in_doubt_since_) {
    in_doubt_since_ = now;
  }
  if (now - *in_doubt_since_ < kInDoubtWaitMax) {
    return false;
  }
  util::logger("upstream")
      ->warn("upstream={} replaying although {} timed-out requests never got their late reply",
             state_.name(), state_.in_doubt_requests());
  return true;
}

HealthChecker::Clock::duration HealthChecker::end_open_period_when_pools_ready(
    Clock::time_point now) {
  const bool pools_up = pool_.connected == nullptr || pool_.connected->value() >= pool_.expected;
  if (!pools_up && now - *answered_at_ < pool_wait_max_) {
    return kReconnectPoll;
  }
  // False when the period ran out meanwhile, or an operator forced the breaker: fine either way.
  state_.breaker().end_open_period(now);
  in_open_ = false;
  answered_at_.reset();
  return Clock::duration::zero();  // half-open: replay or probe right away
}

awaitable<void> HealthChecker::run() {
  auto self = shared_from_this();
  asio::steady_timer timer(ex_);
  const bool checks_enabled = config_.health_check.enabled;
  while (!stopped_) {
    if (spare_shard(config_)) {
      // A spare cluster shard: nothing to check until a master takes it (which restarts this).
      timer.expires_after(config_.health_check.interval);
      co_await timer.async_wait(use_nothrow);
      continue;
    }
    const auto now = Clock::now();
    breaker::CircuitBreaker& breaker = state_.breaker();  // the live one: a reload may swap it
    const breaker::State breaker_state = breaker.state(now);
    // Forced open means nothing goes to Redis, probes and replays included, until an operator
    // says otherwise.
    const bool forced_open = breaker.override_mode() == breaker::Override::ForcedOpen;
    Clock::duration wait = config_.health_check.interval;
    if (breaker_state != breaker::State::Open) {
      in_open_ = false;
      answered_at_.reset();
    }
    finish_replay(breaker_state);
    // Replay once Redis answers, even while the open period waits for the shared connections:
    // client requests cannot pass before the journal is empty anyway (UpstreamState::ready()).
    const bool redis_back =
        breaker_state != breaker::State::Open || (answered_at_.has_value() && !forced_open);
    if (!state_.journal().empty() && connection_->connected() && redis_back &&
        in_doubt_settled(now)) {
      if (co_await replay_batch()) {
        continue;  // next batch right away
      }
    } else if (breaker_state == breaker::State::Open) {
      if (checks_enabled && !forced_open) {
        wait = co_await probe_while_open(now);
        if (wait == Clock::duration::zero()) {
          continue;
        }
      }
    } else if (checks_enabled) {
      const breaker::Permit permit = breaker.try_acquire(now);
      if (permit.allowed()) {
        count_check(co_await ping(now, permit, &breaker), false);
      }
    }
    if (!state_.journal().empty()) {
      state_.journal().sync_if_due(now);  // journal.fsync: everysec while appends pause
      // While a journal waits, look again soon.
      wait = std::min<Clock::duration>(wait, kJournalPoll);
    }
    timer.expires_after(wait);
    co_await timer.async_wait(use_nothrow);
  }
}

}  // namespace seawall::upstream
