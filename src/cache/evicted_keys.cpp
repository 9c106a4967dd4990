#include "seawall/cache/evicted_keys.hpp"

#include <functional>

namespace seawall::cache {

std::uint64_t EvictedKeys::hash_of(std::string_view key) {
  // std::hash of a string_view is a 64-bit murmur/FNV-like hash; the top bits pick the shard and
  // the whole word is the key. A collision could only serve one key's copy for another's miss
  // while both were evicted lately: 2^-64 per pair.
  const auto h = static_cast<std::uint64_t>(std::hash<std::string_view>{}(key));
  return h * 0x9e3779b97f4a7c15ull;  // spreads the bits the shard index is taken from
}

void EvictedKeys::evicted(std::string_view key, Clock::time_point now) {
  events_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t h = hash_of(key);
  Shard& shard = shard_of(h);
  std::lock_guard lock(shard.mutex);
  if (shard.at.size() >= kMaxPerShard && !shard.at.contains(h)) {
    size_.fetch_sub(shard.at.size(), std::memory_order_relaxed);
    shard.at.clear();
  }
  if (shard.at.insert_or_assign(h, now).second) {
    size_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool EvictedKeys::recently(std::string_view key, Clock::time_point now,
                           Clock::duration window) const {
  if (empty()) {
    return false;
  }
  const std::uint64_t h = hash_of(key);
  Shard& shard = shard_of(h);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.at.find(h);
  return it != shard.at.end() && now - it->second <= window;
}

void EvictedKeys::forget(std::string_view key) {
  if (empty()) {
    return;
  }
  const std::uint64_t h = hash_of(key);
  Shard& shard = shard_of(h);
  std::lock_guard lock(shard.mutex);
  if (shard.at.erase(h) != 0) {
    size_.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace seawall::cache
