#include "seawall/proxy/write_order.hpp"

#include <atomic>

namespace seawall::proxy {

std::uint64_t WritesInFlight::next_write_id() {
  // The thread's number in the top 16 bits, its own count below.
  static std::atomic<std::uint64_t> threads{0};
  thread_local std::uint64_t next = (threads.fetch_add(1, std::memory_order_relaxed) + 1) << 48;
  return ++next;
}

WriteOrderPlan plan_write(const WritesInFlight& writes, std::span<const std::string_view> keys,
                          WritesInFlight::Owner me, bool can_move) {
  WritesInFlight::Owner other = 0;
  bool several = false;
  for (std::string_view key : keys) {
    const WritesInFlight::Owner owner = writes.owner(key);
    if (owner == 0 || owner == me) {
      continue;
    }
    if (owner == WritesInFlight::kMixed) {
      // Writes of two senders are in flight already (one waited past its deadline, a blocking
      // command, another thread's race): their order is lost whatever this one does, and waiting
      // for the bucket to empty could take as long as its traffic lasts.
      return {WriteOrder::Send, 0};
    }
    several = several || (other != 0 && other != owner);
    other = owner;
  }
  if (other == 0) {
    return {WriteOrder::Send, 0};
  }
  if (can_move && !several) {
    return {WriteOrder::Move, other};
  }
  return {WriteOrder::Wait, other};
}

}  // namespace seawall::proxy
