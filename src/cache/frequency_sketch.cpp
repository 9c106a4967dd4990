#include "seawall/cache/frequency_sketch.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>

namespace seawall::cache {
namespace {

constexpr std::uint64_t kHalfMask = 0x7777777777777777ull;  // each nibble's top bit cleared
constexpr std::size_t kMinWords = 8;
constexpr std::size_t kMaxWords = std::size_t{1} << 24;
constexpr std::size_t kCacheLine = 64;

// Re-mixes the caller's hash: the L1 picks its shard with the low bits of the same hash, so
// within one shard's sketch those bits never vary.
std::uint64_t mix(std::uint64_t hash) noexcept {
  std::uint64_t x = hash * 0x9e3779b97f4a7c15ull;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ull;
  return x ^ (x >> 32);
}

}  // namespace

FrequencySketch::FrequencySketch(std::size_t words)
    : storage_(std::bit_ceil(std::clamp(words, kMinWords, kMaxWords)) + kBlockWords, 0),
      table_(nullptr),
      mask_(std::bit_ceil(std::clamp(words, kMinWords, kMaxWords)) / kBlockWords - 1),
      sample_size_(10 * (mask_ + 1) * kBlockWords) {
  const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
  const std::size_t skip = (kCacheLine - address % kCacheLine) % kCacheLine / sizeof(std::uint64_t);
  table_ = storage_.data() + skip;
}

std::uint64_t* FrequencySketch::block(std::uint64_t hash) const noexcept {
  // The top bits pick the block; the low 32 (below) pick the counters in it.
  return table_ + ((mix(hash) >> 40) & mask_) * kBlockWords;
}

std::array<FrequencySketch::Slot, 4> FrequencySketch::slots(std::uint64_t hash) const noexcept {
  const std::uint64_t x = mix(hash);
  std::uint64_t* const base = table_ + ((x >> 40) & mask_) * kBlockWords;
  std::array<Slot, 4> out{};
  for (unsigned row = 0; row < out.size(); ++row) {
    // Eight bits per row: one picks which of the row's two words, four the counter in it.
    const auto bits = static_cast<unsigned>(x >> (8 * row));
    out[row] = Slot{base + 2 * row + (bits & 1u), ((bits >> 1) & 0xfu) * 4};
  }
  return out;
}

void FrequencySketch::increment(std::uint64_t hash) noexcept {
  const std::array<Slot, 4> counters = slots(hash);
  std::uint32_t least = kMaxCount;
  for (const Slot& s : counters) {
    least = std::min(least, static_cast<std::uint32_t>((*s.word >> s.shift) & 0xfu));
  }
  if (least == kMaxCount) {
    return;  // saturated: counts nothing, and does not hasten the halving either
  }
  for (const Slot& s : counters) {
    if (((*s.word >> s.shift) & 0xfu) == least) {
      *s.word += std::uint64_t{1} << s.shift;
    }
  }
  if (++additions_ >= sample_size_) {
    halve();
  }
}

std::uint32_t FrequencySketch::frequency(std::uint64_t hash) const noexcept {
  std::uint32_t least = kMaxCount;
  for (const Slot& s : slots(hash)) {
    least = std::min(least, static_cast<std::uint32_t>((*s.word >> s.shift) & 0xfu));
  }
  return least;
}

void FrequencySketch::halve() noexcept {
  for (std::uint64_t* word = table_; word != table_ + word_count(); ++word) {
    *word = (*word >> 1) & kHalfMask;
  }
  additions_ /= 2;
}

}  // namespace seawall::cache
