#include "seawall/metrics/counter.hpp"

#include <bit>
#include <stdexcept>

namespace seawall::metrics {

Counter::Counter(unsigned shards) : mask_(shards - 1) {
  if (shards == 0 || shards > kMaxShards || !std::has_single_bit(shards)) {
    throw std::invalid_argument("metric shard count must be a power of two <= 64");
  }
  cells_ = std::make_unique<Cell[]>(shards);
}

std::uint64_t Counter::value() const noexcept {
  std::uint64_t total = 0;
  for (unsigned i = 0; i <= mask_; ++i) {
    total += cells_[i].value.load(std::memory_order_relaxed);
  }
  return total;
}

}  // namespace seawall::metrics
