#pragma once
// A monotonically increasing count, sharded per thread (see shard.hpp): add() is one relaxed
// atomic add on the calling thread's own cache line, with no lock and no allocation.
// Ownership: created by a Family, which keeps it at a stable address until the registry dies;
// hot-path code holds a `Counter&` obtained once at startup.
// Thread safety: add() and value() from any thread; value() sums the shards without stopping
// writers, so it may miss adds that race with it, never double-count.
#include <atomic>
#include <cstdint>
#include <memory>

#include "seawall/metrics/shard.hpp"

namespace seawall::metrics {

class Counter {
 public:
  // `shards` must be a power of two in [1, kMaxShards].
  explicit Counter(unsigned shards = 1);
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void inc() noexcept { add(1); }
  void add(std::uint64_t n) noexcept {
    cells_[this_thread_shard() & mask_].value.fetch_add(n, std::memory_order_relaxed);
  }

  std::uint64_t value() const noexcept;

 private:
  struct alignas(kCacheLine) Cell {
    std::atomic<std::uint64_t> value{0};
  };

  std::unique_ptr<Cell[]> cells_;
  unsigned mask_;
};

}  // namespace seawall::metrics
