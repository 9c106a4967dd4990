#pragma once
// Per-thread shard selection for counters and histograms. Each thread gets a small index on first
// use (round-robin over the process), or the one it asks for with bind_thread_shard(); a metric
// with N shards (a power of two) writes to shard `index & (N - 1)`. Threads on distinct shards
// never write the same cache line, so incrementing a hot counter costs one uncontended relaxed
// atomic add. Sharing a shard is still correct, only slower.
// Thread safety: every function may be called from any thread.
#include <cstddef>

namespace seawall::metrics {

// Shards are padded to this so that two threads never write one cache line.
inline constexpr std::size_t kCacheLine = 64;
inline constexpr unsigned kMaxShards = 64;

namespace detail {
inline constexpr unsigned kNoShard = ~0u;
extern constinit thread_local unsigned t_shard;
unsigned assign_shard() noexcept;
}  // namespace detail

// The calling thread's shard index (not yet reduced modulo a metric's shard count).
inline unsigned this_thread_shard() noexcept {
  const unsigned shard = detail::t_shard;
  return shard != detail::kNoShard ? shard : detail::assign_shard();
}

// Makes the calling thread use shard `index`: worker i calling bind_thread_shard(i) guarantees
// that N workers never share a shard of a metric with at least N shards.
void bind_thread_shard(unsigned index) noexcept;

// The shard count for `threads` writer threads: the next power of two, within [1, kMaxShards].
unsigned shard_count_for(unsigned threads) noexcept;

}  // namespace seawall::metrics
