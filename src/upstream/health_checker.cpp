#include "seawall/upstream/health_checker.hpp"

#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace {

constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
constexpr std::size_t kReplayBatch = 256;

// The health connection answers within the health-check deadline, not the request timeout.
config::UpstreamConfig health_connection_config(const config::UpstreamConfig& config) {
  config::UpstreamConfig own = config;
  own.connections = 1;
  own.request_timeout = std::max(config.health_check.timeout, config.request_timeout);
  return own;
}

}  // namespace

HealthChecker::HealthChecker(asio::any_io_executor ex, const config::UpstreamConfig& config,
                             UpstreamState& state, std::uint32_t max_depth, HealthCounters counters)
    : ex_(ex),
      config_(health_connection_config(config)),
      state_(state),
      connection_(std::make_shared<Connection>(ex, config_, max_depth)),
      replies_signal_(ex),
      counters_(counters) {}

void HealthChecker::start() {
  connection_->start();
  asio::co_spawn(
      ex_, [self = shared_from_this()] { return self->run(); },
      [](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            util::logger("upstream")->error("health checker failed: {}", ex.what());
          }
        }
      });
}

void HealthChecker::stop() {
  stopped_ = true;
  connection_->stop();
  replies_signal_.notify();
}

void HealthChecker::on_reply(std::uint64_t, std::string_view, ReplyStatus status,
                             std::chrono::steady_clock::time_point) {
  if (status != ReplyStatus::Ok) {
    ++failed_;
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

awaitable<bool> HealthChecker::replay_batch() {
  const std::vector<std::string> batch = state_.journal().front(kReplayBatch);
  if (batch.empty()) {
    co_return true;
  }
  failed_ = 0;
  outstanding_ = batch.size();
  const auto now = Connection::Clock::now();
  for (const std::string& command : batch) {
    connection_->submit(command, this, 0, now);
  }
  co_await wait_for_replies();
  if (failed_ > 0 || stopped_) {
    co_return false;
  }
  state_.journal().pop(batch.size());
  util::logger("upstream")
      ->info("upstream={} replayed {} journaled writes, {} left", state_.name(), batch.size(),
             state_.journal().entries());
  co_return true;
}

awaitable<void> HealthChecker::run() {
  auto self = shared_from_this();
  asio::steady_timer timer(ex_);
  const bool checks_enabled = config_.health_check.enabled;
  while (!stopped_) {
    const auto now = Connection::Clock::now();
    if (!state_.journal().empty() && connection_->connected() &&
        state_.breaker().state(now) != breaker::State::Open) {
      if (co_await replay_batch()) {
        continue;  // next batch right away
      }
    } else if (checks_enabled) {
      breaker::CircuitBreaker& issuer = state_.breaker();
      const breaker::Permit permit = issuer.try_acquire(now);
      if (permit.allowed()) {
        failed_ = 0;
        outstanding_ = 1;
        ++checks_;
        connection_->submit(kPing, this, 0, now, permit, &issuer);
        co_await wait_for_replies();
        if (failed_ > 0) {
          ++check_failures_;
        }
        metrics::Counter* counter = failed_ > 0 ? counters_.failed : counters_.ok;
        if (counter != nullptr) {
          counter->inc();
        }
      }
    }
    // While a journal waits, look again soon; otherwise once per interval.
    timer.expires_after(state_.journal().empty() ? config_.health_check.interval
                                                 : std::chrono::milliseconds(50));
    co_await timer.async_wait(use_nothrow);
  }
}

}  // namespace seawall::upstream
