#pragma once
// The fall-through limit of the fallback chain (policy::Fallback's token bucket).
// Thread safety: a value type; immutable once loaded, share as const freely.
#include <cstdint>

namespace seawall::policy {

// While an upstream is unavailable, at most this many reads per second (per process) are
// answered "miss" (nil) so the application falls through to its database; beyond it, an error.
struct ProtectDatabaseConfig {
  std::uint32_t fallthrough_per_second = 500;
  std::uint32_t burst = 0;  // 0 = same as fallthrough_per_second

  // The bucket's size: burst, or fallthrough_per_second when burst is 0.
  std::uint32_t effective_burst() const { return burst == 0 ? fallthrough_per_second : burst; }
  bool operator==(const ProtectDatabaseConfig&) const = default;
};

}  // namespace seawall::policy
