#include "seawall/policy/token_bucket.hpp"

#include <algorithm>
#include <limits>

namespace seawall::policy {
namespace {
constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
}  // namespace

TokenBucket::TokenBucket(std::uint32_t rate_per_second, std::uint32_t burst) noexcept
    : rate_per_second_(rate_per_second),
      burst_(burst),
      // Rounded up so that the admitted rate never exceeds the configured one.
      interval_ns_(
          rate_per_second == 0 ? 0 : (kNanosPerSecond + rate_per_second - 1) / rate_per_second),
      tolerance_ns_(burst == 0 ? 0 : static_cast<std::int64_t>(burst - 1) * interval_ns_),
      tat_ns_(std::numeric_limits<std::int64_t>::min()) {}

bool TokenBucket::try_take(Clock::time_point now) noexcept {
  if (rate_per_second_ == 0 || burst_ == 0) {
    return false;
  }
  const std::int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  std::int64_t tat = tat_ns_.load(std::memory_order_relaxed);
  while (true) {
    const std::int64_t start = std::max(tat, now_ns);
    if (start - now_ns > tolerance_ns_) {
      return false;
    }
    // Only this word is shared, so relaxed ordering is enough: nothing else is published.
    if (tat_ns_.compare_exchange_weak(tat, start + interval_ns_, std::memory_order_relaxed)) {
      return true;
    }
  }
}

}  // namespace seawall::policy
