#include "seawall/metrics/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

namespace seawall::metrics {

void Histogram::check_bounds(std::span<const double> bounds) {
  if (bounds.empty()) {
    throw std::invalid_argument("histogram needs at least one bucket bound");
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      throw std::invalid_argument("histogram bucket bounds must be finite (+Inf is implicit)");
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      throw std::invalid_argument("histogram bucket bounds must be strictly increasing");
    }
  }
}

std::size_t Histogram::bucket_index(std::span<const double> bounds, double value) noexcept {
  return static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) -
                                  bounds.begin());
}

Histogram::Histogram(std::span<const double> bounds, unsigned shards)
    : bounds_(bounds.begin(), bounds.end()),
      sum_slot_(bounds.size() + 1),
      blocks_per_shard_((bounds.size() + 2 + kSlotsPerBlock - 1) / kSlotsPerBlock),
      shards_(shards),
      mask_(shards - 1) {
  check_bounds(bounds);
  if (shards == 0 || shards > kMaxShards || !std::has_single_bit(shards)) {
    throw std::invalid_argument("metric shard count must be a power of two <= 64");
  }
  blocks_ = std::make_unique<Block[]>(blocks_per_shard_ * shards);
}

void Histogram::observe(double value) noexcept {
  if (std::isnan(value)) {
    return;
  }
  const unsigned shard = this_thread_shard() & mask_;
  slot(shard, bucket_index(bounds_, value)).fetch_add(1, std::memory_order_relaxed);
  // The shard is (almost always) this thread's alone, so the loop runs once.
  std::atomic<std::uint64_t>& sum = slot(shard, sum_slot_);
  std::uint64_t old_bits = sum.load(std::memory_order_relaxed);
  while (!sum.compare_exchange_weak(
      old_bits, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old_bits) + value),
      std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot out;
  out.cumulative.assign(bounds_.size() + 1, 0);
  for (unsigned shard = 0; shard < shards_; ++shard) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      out.cumulative[i] += slot(shard, i).load(std::memory_order_relaxed);
    }
    out.sum += std::bit_cast<double>(slot(shard, sum_slot_).load(std::memory_order_relaxed));
  }
  for (std::size_t i = 1; i < out.cumulative.size(); ++i) {
    out.cumulative[i] += out.cumulative[i - 1];
  }
  out.count = out.cumulative.back();
  return out;
}

}  // namespace seawall::metrics
