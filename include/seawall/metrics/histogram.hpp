#pragma once
// A distribution over fixed buckets, in base units (seconds, bytes). observe() finds the bucket by
// binary search over the bounds and does two relaxed atomic operations (bucket count and sum) on
// the calling thread's shard: no lock, no allocation. Each shard's buckets and sum are packed
// together and padded to whole cache lines.
// Ownership: created by a Family, stable address until the registry dies.
// Thread safety: observe() and snapshot() from any thread. A snapshot taken while writers run
// may miss observations that race with it; its +Inf bucket always equals its count, because the
// count is the sum of the bucket counts it read.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "seawall/metrics/shard.hpp"

namespace seawall::metrics {

class Histogram {
 public:
  struct Snapshot {
    // Cumulative counts, one per bound and a last one for +Inf (== count), as `_bucket{le=...}`.
    std::vector<std::uint64_t> cumulative;
    double sum = 0.0;
    std::uint64_t count = 0;
  };

  // `bounds`: finite, strictly increasing upper bounds (inclusive); +Inf is implicit. Throws
  // std::invalid_argument otherwise (startup only). `shards`: a power of two in [1, kMaxShards].
  explicit Histogram(std::span<const double> bounds, unsigned shards = 1);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // NaN is ignored: it belongs to no bucket and would poison the sum.
  void observe(double value) noexcept;
  template <typename Rep, typename Period>
  void observe(std::chrono::duration<Rep, Period> elapsed) noexcept {
    observe(std::chrono::duration<double>(elapsed).count());
  }

  Snapshot snapshot() const;
  std::span<const double> bounds() const { return bounds_; }

  // The bucket `value` falls in: the first bound >= value (Prometheus `le` is inclusive), or
  // bounds.size() for the +Inf bucket.
  static std::size_t bucket_index(std::span<const double> bounds, double value) noexcept;
  // Throws std::invalid_argument unless `bounds` is non-empty, finite and strictly increasing.
  static void check_bounds(std::span<const double> bounds);

 private:
  static constexpr std::size_t kSlotsPerBlock = kCacheLine / sizeof(std::uint64_t);
  struct alignas(kCacheLine) Block {
    std::array<std::atomic<std::uint64_t>, kSlotsPerBlock> slots{};
  };

  // Slot i of one shard: 0..bounds.size() are bucket counts (the last is +Inf), then the sum as
  // the bits of a double.
  std::atomic<std::uint64_t>& slot(unsigned shard, std::size_t i) const noexcept {
    return blocks_[shard * blocks_per_shard_ + i / kSlotsPerBlock].slots[i % kSlotsPerBlock];
  }

  std::vector<double> bounds_;
  std::size_t sum_slot_;
  std::size_t blocks_per_shard_;
  unsigned shards_;
  unsigned mask_;
  std::unique_ptr<Block[]> blocks_;
};

}  // namespace seawall::metrics
