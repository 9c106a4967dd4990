#pragma once
// TokenBucket: the fall-through limiter. While the breaker is open, a read that nothing can answer
// gets a miss so the application falls through to its database; the bucket lets at most `burst`
// such misses through at once and `rate_per_second` after that, and the rest get the policy's
// error, so an outage never sends the whole read load to the database.
//
// Implemented as GCRA (a virtual-scheduling token bucket): one atomic "theoretical arrival time",
// advanced by 1/rate per admitted call. Equivalent to a bucket of `burst` tokens refilled at `rate`
// per second, without a separate token count and refill timestamp to keep consistent.
// Rate 0 or burst 0 admits nothing.
// Thread safety: try_take may be called concurrently from any thread; lock-free (one CAS loop).
#include <atomic>
#include <chrono>
#include <cstdint>

namespace seawall::policy {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(std::uint32_t rate_per_second, std::uint32_t burst) noexcept;

  // Takes one token if available at `now`. Times may come slightly out of order from different
  // threads; an earlier `now` simply finds fewer tokens.
  bool try_take(Clock::time_point now) noexcept;

  std::uint32_t rate_per_second() const noexcept { return rate_per_second_; }
  std::uint32_t burst() const noexcept { return burst_; }

 private:
  std::uint32_t rate_per_second_;
  std::uint32_t burst_;
  std::int64_t interval_ns_;   // time one token takes to refill, rounded up
  std::int64_t tolerance_ns_;  // (burst - 1) * interval: how far ahead of now the schedule may run
  std::atomic<std::int64_t> tat_ns_;  // theoretical arrival time of the next conforming call
};

}  // namespace seawall::policy
