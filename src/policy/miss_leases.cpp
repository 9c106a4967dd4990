#include "seawall/policy/miss_leases.hpp"

#include <functional>

namespace seawall::policy {

MissLeases::Shard& MissLeases::shard_of(std::string_view key) const {
  // The high bits: unordered_map buckets by the low ones.
  return shards_[(std::hash<std::string_view>{}(key) >> 56) % kShards];
}

void MissLeases::granted_until(Clock::time_point until) {
  const Clock::rep ticks = until.time_since_epoch().count();
  Clock::rep last = last_until_.load(std::memory_order_relaxed);
  while (last < ticks &&
         !last_until_.compare_exchange_weak(last, ticks, std::memory_order_release)) {
  }
  granted_.fetch_add(1, std::memory_order_relaxed);
}

void MissLeases::sweep(Shard& shard, Clock::time_point now) {
  const std::size_t removed =
      std::erase_if(shard.until, [now](const auto& entry) { return entry.second <= now; });
  size_.fetch_sub(removed, std::memory_order_relaxed);
}

MissLeases::Result MissLeases::take(std::string_view key, Clock::time_point now,
                                    Clock::duration lease) {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  if (auto it = shard.until.find(key); it != shard.until.end()) {
    if (it->second > now) {
      waited_.fetch_add(1, std::memory_order_relaxed);
      return {Take::Held, it->second};
    }
    it->second = now + lease;  // the last one ran out: this reader takes the key's next lease
    granted_until(it->second);
    return {Take::Granted, it->second};
  }
  // Leases that ran out stay until their key's next miss or a sweep: sweep when the shard has
  // doubled (amortised constant time), and before refusing a lease for want of room.
  const std::size_t entries = shard.until.size();
  if (entries >= 64 && (entries & (entries - 1)) == 0) {
    sweep(shard, now);
  }
  if (size_.load(std::memory_order_relaxed) >= kMaxLeases) {
    sweep(shard, now);
    if (size_.load(std::memory_order_relaxed) >= kMaxLeases) {
      return {Take::Full, now};
    }
  }
  shard.until.emplace(std::string(key), now + lease);
  size_.fetch_add(1, std::memory_order_relaxed);
  granted_until(now + lease);
  return {Take::Granted, now + lease};
}

bool MissLeases::held(std::string_view key, Clock::time_point now) const {
  if (none_running(now)) {
    return false;
  }
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.until.find(key);
  return it != shard.until.end() && it->second > now;
}

void MissLeases::release(std::string_view key, Clock::time_point now) {
  if (none_running(now)) {
    return;
  }
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  if (const auto it = shard.until.find(key); it != shard.until.end()) {
    shard.until.erase(it);
    size_.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace seawall::policy
