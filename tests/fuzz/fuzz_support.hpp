#pragma once
// Shared by the libFuzzer targets in this directory.
//
// A broken property aborts with a message: libFuzzer reports the abort and saves the input, and
// the message says which property it was (a bare __builtin_trap says nothing).
// Reads are split pseudo-randomly, but the split points come from the input's own bytes, so a
// saved crash input replays exactly the same reads.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace seawall::fuzz {

[[noreturn]] inline void fail(const char* property) {
  std::fprintf(stderr, "fuzz property broken: %s\n", property);
  std::abort();
}

inline void check(bool holds, const char* property) {
  if (!holds) {
    fail(property);
  }
}

// Read sizes summing to data.size(): mostly 1 to 8 bytes, where boundary bugs live, with an
// occasional large read. `salt` gives a second, different split of the same input.
inline std::vector<std::size_t> random_reads(std::string_view data, std::uint64_t salt) {
  std::uint64_t state = 0xcbf29ce484222325ull ^ salt;  // FNV-1a of the input seeds splitmix64
  for (const char c : data) {
    state = (state ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  }
  const auto next = [&state] {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  std::vector<std::size_t> reads;
  for (std::size_t left = data.size(); left > 0;) {
    const std::uint64_t r = next();
    const std::uint64_t cap = r % 8 == 0 ? left : 8;
    const std::size_t n = std::min<std::size_t>(left, 1 + static_cast<std::size_t>((r >> 8) % cap));
    reads.push_back(n);
    left -= n;
  }
  return reads;
}

// One read of everything, and one byte per read.
inline std::vector<std::size_t> whole_read(std::string_view data) {
  return data.empty() ? std::vector<std::size_t>{} : std::vector<std::size_t>{data.size()};
}
inline std::vector<std::size_t> byte_reads(std::string_view data) {
  return std::vector<std::size_t>(data.size(), 1);
}

}  // namespace seawall::fuzz
