#pragma once
// Bounds of the L1 reply cache.
// Thread safety: a value type; immutable once loaded, share as const freely.
#include <cstdint>

namespace seawall::cache {

struct CacheConfig {
  std::uint64_t max_bytes = 64ull * 1024 * 1024;
  std::uint64_t max_entry_bytes = 1024ull * 1024;  // larger replies are never cached

  bool operator==(const CacheConfig&) const = default;
};

}  // namespace seawall::cache
