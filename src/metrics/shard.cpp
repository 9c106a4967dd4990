#include "seawall/metrics/shard.hpp"

#include <atomic>
#include <bit>

namespace seawall::metrics {
namespace detail {

constinit thread_local unsigned t_shard = kNoShard;

unsigned assign_shard() noexcept {
  static std::atomic<unsigned> next{0};
  // Wraps modulo kMaxShards so the index never reaches kNoShard.
  t_shard = next.fetch_add(1, std::memory_order_relaxed) % kMaxShards;
  return t_shard;
}

}  // namespace detail

void bind_thread_shard(unsigned index) noexcept { detail::t_shard = index % kMaxShards; }

unsigned shard_count_for(unsigned threads) noexcept {
  if (threads <= 1) {
    return 1;
  }
  if (threads >= kMaxShards) {
    return kMaxShards;
  }
  return std::bit_ceil(threads);
}

}  // namespace seawall::metrics
