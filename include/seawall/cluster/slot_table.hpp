#pragma once
// Which shard serves each of a cluster's 16384 slots, as the data path reads it: one relaxed
// atomic load per routed key, no lock. Written by the cluster's topology (upstream/
// cluster_topology.hpp) after each refresh and on each MOVED; a reader may see a slot's old
// shard a moment longer, which costs that request a MOVED redirect, never a wrong answer.
//
// Ownership: shared_ptr, held by the topology and by every config snapshot's shard upstreams.
// Thread safety: every member may be used from any thread.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "seawall/cluster/key_slot.hpp"

namespace seawall::cluster {

class SlotTable {
 public:
  // `shard_upstreams[k]` is the internal upstream index serving shard k; every slot starts on
  // shard 0.
  explicit SlotTable(std::vector<std::size_t> shard_upstreams)
      : shard_upstreams_(std::move(shard_upstreams)) {
    for (auto& slot : slots_) {
      slot.store(0, std::memory_order_relaxed);
    }
  }

  std::uint16_t shard(std::uint16_t slot) const {
    return slots_[slot].load(std::memory_order_relaxed);
  }
  std::size_t upstream_of_slot(std::uint16_t slot) const { return shard_upstreams_[shard(slot)]; }
  void set(std::uint16_t slot, std::uint16_t shard) {
    slots_[slot].store(shard, std::memory_order_relaxed);
  }
  // Entries of kNoShard or beyond the shards are left as they were.
  void assign(std::span<const std::uint16_t> shards) {
    for (std::size_t slot = 0; slot < shards.size() && slot < kSlots; ++slot) {
      if (shards[slot] < shard_upstreams_.size()) {
        slots_[slot].store(shards[slot], std::memory_order_relaxed);
      }
    }
  }
  std::vector<std::uint16_t> snapshot() const {
    std::vector<std::uint16_t> out(kSlots);
    for (std::size_t slot = 0; slot < kSlots; ++slot) {
      out[slot] = slots_[slot].load(std::memory_order_relaxed);
    }
    return out;
  }
  std::size_t slots_of(std::uint16_t shard) const {
    std::size_t n = 0;
    for (const auto& slot : slots_) {
      n += slot.load(std::memory_order_relaxed) == shard ? 1U : 0U;
    }
    return n;
  }
  std::size_t shards() const { return shard_upstreams_.size(); }
  std::size_t shard_upstream(std::size_t shard) const { return shard_upstreams_[shard]; }
  const std::vector<std::size_t>& shard_upstreams() const { return shard_upstreams_; }

 private:
  const std::vector<std::size_t> shard_upstreams_;
  std::array<std::atomic<std::uint16_t>, kSlots> slots_;
};

}  // namespace seawall::cluster
