#pragma once
// Which of Redis Cluster's 16384 hash slots a key belongs to, exactly as Redis computes it
// (cluster.c keyHashSlot): CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the key, or of
// its hash tag, modulo 16384. The hash tag is what lies between the first '{' and the first '}'
// after it, when that is not empty; applications use it to keep related keys in one slot
// ("{user1000}.following" and "{user1000}.followers").
// Thread safety: pure functions.
#include <cstdint>
#include <string_view>

namespace seawall::cluster {

inline constexpr std::uint16_t kSlots = 16384;

// CRC16-XMODEM of `bytes`.
std::uint16_t crc16(std::string_view bytes);

// The part of `key` that is hashed: its hash tag, or the whole key.
std::string_view hash_tag(std::string_view key);

// The key's slot, in [0, kSlots).
inline std::uint16_t key_slot(std::string_view key) {
  return static_cast<std::uint16_t>(crc16(hash_tag(key)) & (kSlots - 1));
}

}  // namespace seawall::cluster
