#pragma once
// The sliding window a CircuitBreaker computes its failure and slow-call rates over: either the
// last N calls (a ring of one atomic byte per call) or the calls of the last T (a ring of time
// buckets, one atomic word each). Lock-free: adding a call is a few atomic operations, no mutex.
// Owned by its CircuitBreaker; usable alone for tests and metrics.
// A time window counts a call in the bucket of its own `now`; a call whose `now` is already older
// than the window (a thread that read the clock long before recording) is dropped.
// Thread safety: add(), totals() and clear() may be called concurrently from any thread. Totals
// read while other threads are inside add() may miss those calls (at most one per thread); none
// is lost or counted twice. In a count window racing threads may leave a slot holding a call a
// little older than the one that overwrote it. clear() racing with add() may let the racing calls
// land in the cleared window.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>

#include "seawall/breaker/breaker_config.hpp"

namespace seawall::breaker {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

// What one call contributes to the window.
struct CallSample {
  bool failure = false;  // an I/O error, a timeout or a failure error reply
  bool slow = false;     // at least slow_call_duration, or a timeout
};

struct WindowTotals {
  std::uint32_t calls = 0;
  std::uint32_t failures = 0;
  std::uint32_t slow = 0;
};

class SlidingWindow {
 public:
  // Largest count window, and most time buckets, a window accepts (validate() enforces them).
  // Every add() to a time window reads all its buckets, hence the small bucket limit.
  static constexpr std::uint32_t kMaxWindowSize = 1'000'000;
  static constexpr std::uint32_t kMaxBuckets = 100;
  // A time bucket keeps at most this many calls; past it the bucket's counts are halved, which
  // keeps its rates while bounding the word.
  static constexpr std::uint32_t kMaxBucketCalls = (1u << 14) - 1;

  // Uses window_kind, window_size, window_duration and window_buckets; out-of-range values are
  // clamped into range.
  explicit SlidingWindow(const BreakerConfig& config);
  SlidingWindow(const SlidingWindow&) = delete;
  SlidingWindow& operator=(const SlidingWindow&) = delete;
  ~SlidingWindow();

  // Adds one call observed at `now` (ignored by a count window) and returns the totals including
  // it. In a time window, a call stamped older than the bucket it falls in is dropped.
  WindowTotals add(CallSample sample, TimePoint now) noexcept;
  // The calls currently in the window.
  WindowTotals totals(TimePoint now) const noexcept;
  // Empties the window.
  void clear() noexcept;

  WindowKind kind() const noexcept { return kind_; }

 private:
  WindowTotals add_count(CallSample sample) noexcept;
  WindowTotals add_time(CallSample sample, TimePoint now) noexcept;
  WindowTotals count_totals() const noexcept;
  WindowTotals time_totals(TimePoint now) const noexcept;
  std::int64_t epoch_of(TimePoint now) const noexcept;
  std::size_t index_of(std::int64_t epoch) const noexcept;
  void advance_to(std::int64_t epoch) noexcept;

  static constexpr std::int64_t kNoEpoch = std::numeric_limits<std::int64_t>::min();

  WindowKind kind_;
  std::uint32_t size_;      // count window: slots; time window: buckets
  std::int64_t bucket_ns_;  // time window: nanoseconds per bucket
  // Count window: one byte per call (present | failure | slow bits); time window: one word per
  // bucket (epoch tag | calls | failures | slow).
  std::unique_ptr<std::atomic<std::uint8_t>[]> slots_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::uint64_t> head_{0};    // count window: sequence number of the next call
  std::atomic<std::uint64_t> totals_{0};  // count window: packed running sums of slots_
  std::atomic<std::int64_t> latest_epoch_{kNoEpoch};  // time window: newest epoch counted
};

}  // namespace seawall::breaker
