#pragma once
// What a write does about writes of its keys still in flight from other senders, so that
// seawall always knows which of two writes of a key Redis ran last (see WritesInFlight): both
// on one connection, where Redis runs them in the order sent, or one after the other's outcome.
// Pure: reads WritesInFlight, decides, does no I/O (Session acts on the plan).
// Thread safety: as WritesInFlight.
#include <cstdint>
#include <span>
#include <string_view>

#include "seawall/proxy/writes_in_flight.hpp"

namespace seawall::proxy {

enum class WriteOrder : std::uint8_t {
  Send,  // no other sender's write of its keys is in flight (or their order is lost already)
  Move,  // send it on the connection of `owner`, the one sender whose writes are in flight
  Wait,  // wait for the other senders' writes to have their outcome
};

struct WriteOrderPlan {
  WriteOrder order = WriteOrder::Send;
  WritesInFlight::Owner owner = 0;  // Move: the sender to follow
};

// `me`: the sender the write would go through. `can_move`: the client has nothing in flight,
// so its next command may go on any connection without overtaking one of its own.
WriteOrderPlan plan_write(const WritesInFlight& writes, std::span<const std::string_view> keys,
                          WritesInFlight::Owner me, bool can_move);

}  // namespace seawall::proxy
