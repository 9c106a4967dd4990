#pragma once
// Named loggers (one per module, made by app at startup) and a rate limiter for repeated lines,
// so an outage at 50k req/s does not write 50k log lines a second.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace seawall::util {

// The logger called `name`, created on first use with the process-wide sinks.
std::shared_ptr<spdlog::logger> logger(const std::string& name);

// Creates the process-wide sinks and level. `json` selects one JSON object per line.
void init_logging(const std::string& level, bool json);

// Allows `per_interval` events per interval; counts the ones it suppressed so the next allowed
// line can say how many were dropped. Thread safety: lock-free, shareable.
class LogRateLimiter {
 public:
  explicit LogRateLimiter(std::chrono::milliseconds interval = std::chrono::seconds(1),
                          std::uint32_t per_interval = 5)
      : interval_ns_(std::chrono::nanoseconds(interval).count()), per_interval_(per_interval) {}

  // True when this event may be logged; `suppressed` receives the count dropped since the last
  // allowed event.
  bool allow(std::uint64_t& suppressed);

 private:
  std::int64_t interval_ns_;
  std::uint32_t per_interval_;
  std::atomic<std::int64_t> window_start_{0};
  std::atomic<std::uint32_t> in_window_{0};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace seawall::util
