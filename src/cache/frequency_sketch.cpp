#include "seawall/cache/frequency_sketch.hpp"

#include <algorithm>
#include <array>
#include <bit>

namespace seawall::cache {
namespace {

// One odd multiplier per row: the rows index the table through independent-looking hashes.
constexpr std::array<std::uint64_t, 4> kRowSeeds{0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full,
                                                 0x165667b19e3779f9ull, 0xd6e8feb86659fd93ull};
constexpr std::uint64_t kHalfMask = 0x7777777777777777ull;  // each nibble's top bit cleared
constexpr std::size_t kMinWords = 8;
constexpr std::size_t kMaxWords = std::size_t{1} << 24;

}  // namespace

FrequencySketch::FrequencySketch(std::size_t words)
    : table_(std::bit_ceil(std::clamp(words, kMinWords, kMaxWords)), 0),
      mask_(table_.size() - 1),
      sample_size_(10 * table_.size()) {}

FrequencySketch::Slot FrequencySketch::slot(std::uint64_t hash, unsigned row) const noexcept {
  std::uint64_t x = (hash + row) * kRowSeeds[row];
  x ^= x >> 29;
  // Low bits pick the word, the top four the counter in it: disjoint bits of the mixed hash.
  return Slot{static_cast<std::size_t>(x) & mask_, static_cast<unsigned>(x >> 60) * 4};
}

void FrequencySketch::increment(std::uint64_t hash) noexcept {
  std::array<Slot, 4> slots{};
  std::uint32_t least = kMaxCount;
  for (unsigned row = 0; row < slots.size(); ++row) {
    slots[row] = slot(hash, row);
    const auto count =
        static_cast<std::uint32_t>((table_[slots[row].word] >> slots[row].shift) & 0xfu);
    least = std::min(least, count);
  }
  if (least == kMaxCount) {
    return;  // saturated: counts nothing, and does not hasten the halving either
  }
  for (const Slot& s : slots) {
    if (((table_[s.word] >> s.shift) & 0xfu) == least) {
      table_[s.word] += std::uint64_t{1} << s.shift;
    }
  }
  if (++additions_ >= sample_size_) {
    halve();
  }
}

std::uint32_t FrequencySketch::frequency(std::uint64_t hash) const noexcept {
  std::uint32_t least = kMaxCount;
  for (unsigned row = 0; row < 4; ++row) {
    const Slot s = slot(hash, row);
    least = std::min(least, static_cast<std::uint32_t>((table_[s.word] >> s.shift) & 0xfu));
  }
  return least;
}

void FrequencySketch::halve() noexcept {
  for (std::uint64_t& word : table_) {
    word = (word >> 1) & kHalfMask;
  }
  additions_ /= 2;
}

}  // namespace seawall::cache
