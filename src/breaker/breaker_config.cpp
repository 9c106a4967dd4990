#include <cmath>
#include <string_view>

#include "seawall/breaker/breaker_config.hpp"
#include "seawall/breaker/sliding_window.hpp"

namespace seawall::breaker {
namespace {

constexpr std::uint32_t kMaxProbes = 0xffff;  // the half-open word keeps 16 bits per counter

bool valid_percent(double value) { return std::isfinite(value) && value >= 0.0 && value <= 100.0; }

}  // namespace

std::vector<std::string> validate(const BreakerConfig& config) {
  std::vector<std::string> errors;
  const auto require = [&errors](bool ok, std::string_view field, std::string_view message) {
    if (!ok) {
      errors.push_back(std::string(field) + ": " + std::string(message));
    }
  };
  if (config.window_kind == WindowKind::Count) {
    require(config.window_size >= 1 && config.window_size <= SlidingWindow::kMaxWindowSize,
            "window_size",
            "must be between 1 and " + std::to_string(SlidingWindow::kMaxWindowSize));
    require(config.minimum_calls <= config.window_size, "minimum_calls",
            "must be <= window_size, or the rates never trip");
  } else {
    require(config.window_buckets >= 1 && config.window_buckets <= SlidingWindow::kMaxBuckets,
            "window_buckets",
            "must be between 1 and " + std::to_string(SlidingWindow::kMaxBuckets));
    require(config.window_duration.count() > 0, "window_duration", "must be > 0");
  }
  require(valid_percent(config.failure_rate_threshold), "failure_rate_threshold",
          "must be a percentage between 0 (off) and 100");
  require(valid_percent(config.slow_call_rate_threshold), "slow_call_rate_threshold",
          "must be a percentage between 0 (off) and 100");
  require(config.failure_rate_threshold > 0.0 || config.slow_call_rate_threshold > 0.0 ||
              config.consecutive_failures > 0,
          "consecutive_failures", "at least one trigger must be enabled");
  require(config.slow_call_rate_threshold == 0.0 || config.slow_call_duration.count() > 0,
          "slow_call_duration", "must be > 0 when slow_call_rate_threshold is set");
  require(config.open_duration.count() > 0, "open_duration", "must be > 0");
  require(config.max_open_duration >= config.open_duration, "max_open_duration",
          "must be >= open_duration");
  require(std::isfinite(config.backoff_multiplier) && config.backoff_multiplier >= 1.0 &&
              config.backoff_multiplier <= 100.0,
          "backoff_multiplier", "must be between 1 and 100");
  require(std::isfinite(config.jitter) && config.jitter >= 0.0 && config.jitter <= 1.0, "jitter",
          "must be a fraction between 0 and 1");
  require(config.half_open_probes >= 1 && config.half_open_probes <= kMaxProbes, "half_open_probes",
          "must be between 1 and 65535");
  require(
      config.half_open_successes_to_close >= 1 && config.half_open_successes_to_close <= kMaxProbes,
      "half_open_successes_to_close", "must be between 1 and 65535");
  return errors;
}

}  // namespace seawall::breaker
