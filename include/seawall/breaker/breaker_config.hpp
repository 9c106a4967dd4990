#pragma once
// Settings of one CircuitBreaker: what trips it, how long it stays open, how it probes recovery.
// Plain value type; the config loader fills it from YAML, validate() reports bad values.
// Thread safety: a value type; copy or share as const freely.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace seawall::breaker {

// How the sliding window that the rate thresholds look at is measured.
enum class WindowKind : std::uint8_t {
  Count,  // the last `window_size` calls
  Time,   // the calls of the last `window_duration`, in `window_buckets` buckets
};

struct BreakerConfig {
  WindowKind window_kind = WindowKind::Count;
  // Count window: how many of the most recent calls the rates are computed over.
  std::uint32_t window_size = 100;
  // Time window: how far back the rates look, and into how many buckets that span is cut. Old
  // calls leave the window one bucket (window_duration / window_buckets) at a time.
  std::chrono::milliseconds window_duration{10000};
  std::uint32_t window_buckets = 10;
  // The rate thresholds are not evaluated until the window holds at least this many calls, so one
  // failure out of two calls does not open the breaker.
  std::uint32_t minimum_calls = 20;
  // Percent (0..100] of failed calls (errors and timeouts) in the window that opens the breaker;
  // 0 disables the trigger.
  double failure_rate_threshold = 50.0;
  // This many failures in a row open the breaker regardless of minimum_calls (a hard-down Redis
  // trips at once); 0 disables the trigger.
  std::uint32_t consecutive_failures = 5;
  // A call at least this slow is a slow call, whatever its outcome; a timeout is always slow.
  std::chrono::milliseconds slow_call_duration{50};
  // Percent (0..100] of slow calls in the window that opens the breaker; 0 disables the trigger
  // (and then slow probes do not fail the half-open state either).
  double slow_call_rate_threshold = 80.0;
  // First open period; each reopen from half-open multiplies it by backoff_multiplier, up to
  // max_open_duration. Closing resets it.
  std::chrono::milliseconds open_duration{1000};
  std::chrono::milliseconds max_open_duration{30000};
  double backoff_multiplier = 2.0;
  // Each open period is shortened by a random fraction in [0, jitter) of itself, so that many
  // proxies do not probe a recovering Redis in lockstep; the cap is never exceeded. 0 disables.
  double jitter = 0.2;
  // Half-open: at most this many probe calls in flight at once ...
  std::uint32_t half_open_probes = 3;
  // ... and this many successful probes (in total) close the breaker. One failed probe reopens it.
  std::uint32_t half_open_successes_to_close = 3;

  bool operator==(const BreakerConfig&) const = default;
};

// Every problem with `config`, each as "field: message" (empty when valid). A CircuitBreaker built
// from an invalid config clamps the offending values to the nearest valid ones.
std::vector<std::string> validate(const BreakerConfig& config);

}  // namespace seawall::breaker
