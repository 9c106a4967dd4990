#pragma once
#include <cstdint>

namespace seawall::resp {

// Bounds applied while framing; every one is configurable (proxy::LimitsConfig).
struct Limits {
  std::uint64_t max_bulk = 512ull * 1024 * 1024;
  std::uint64_t max_array = 1024ull * 1024;
  std::uint64_t max_inline = 64ull * 1024;
  std::uint32_t max_depth = 64;
};

}  // namespace seawall::resp
