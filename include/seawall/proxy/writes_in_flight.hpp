#pragma once
// Which keys have a write sent to Redis whose outcome seawall does not know yet. A write's send
// drops the key's L1 copy (a read through Redis may see the new value at once), so a read of the
// key that Redis then fails to answer (it stalled, died) finds no copy, although the write is
// about to be acknowledged or journaled: such a read waits for that outcome (see ParkedReads)
// and answers the written value instead of a miss.
//
// Counters per hash bucket, not per key: two keys sharing a bucket only make a degraded read
// wait for the other key's write too (never longer than its outcome takes), and marking costs
// one atomic add per write, no allocation.
//
// Ownership: in SharedState. Thread safety: every worker thread.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace seawall::proxy {

class WritesInFlight {
 public:
  static constexpr std::size_t kBuckets = 4096;

  void mark(std::string_view key) { bucket(key).fetch_add(1, std::memory_order_relaxed); }
  // After the write's outcome is in the L1 or the journal (release: a reader that sees the
  // count drop also sees that).
  void release(std::string_view key) { bucket(key).fetch_sub(1, std::memory_order_release); }
  bool any(std::string_view key) const {
    return buckets_[index(key)].load(std::memory_order_acquire) != 0;
  }

 private:
  static std::size_t index(std::string_view key) {
    return std::hash<std::string_view>{}(key) & (kBuckets - 1);
  }
  std::atomic<std::uint32_t>& bucket(std::string_view key) { return buckets_[index(key)]; }

  std::array<std::atomic<std::uint32_t>, kBuckets> buckets_{};
};

}  // namespace seawall::proxy
